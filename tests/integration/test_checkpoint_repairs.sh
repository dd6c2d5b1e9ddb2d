#!/usr/bin/env bash
# A checkpoint taken while a repair is in effect says so: the keeper's verify() is
# overridden (a hot patch at its entry) as it starts, then saved with salvectl
# checkpoint. meta.json lists the override, and the core holds salve's patch: gdb reads
# the patched bytes of verify() (return 0 at once) from the core, not the binary's
# (which gdb reads from the file alone). Rolled back, a new checkpoint's core has the
# file's bytes again.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v gdb >/dev/null || fail "gdb is not installed: run 'make deps'"

KEEPER=$TARGETS/keeper
write_policy "$WORK/p.json" '{"salve": 1, "name": "checkpoint-repairs",
 "scope": {"binaries": ["'"$KEEPER"'"]},
 "probes": [{"id": "starts", "kind": "exec"}],
 "rules": [{"id": "pass-verify", "by": "process",
            "when": {"probe": "starts", "count": 1, "within": "1m"},
            "actions": [{"do": "override", "binary": "'"$KEEPER"'", "symbol": "verify", "return": 0}]}]}'
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel
ctl() { "$BUILD/salvectl" "$@" --socket "$SOCKET"; }

mkfifo "$WORK/in"
( exec "$KEEPER" < "$WORK/in" > "$WORK/out" 2>&1 ) &
PIDS+=($!)
pid=$!
exec 3> "$WORK/in"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid") ||
	fail "no override applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
repair=$(jq .id <<<"$rep")
for _ in $(seq 100); do grep -q ready "$WORK/out" && break; sleep 0.05; done

ctl checkpoint "$pid" > /dev/null || fail "salvectl checkpoint failed"
id=$(ctl checkpoints -j | jq -r ".checkpoints[] | select(.pid == $pid) | .id")
meta=$(ctl checkpoints "$id" -j | jq -c .checkpoint)
jq -e ".repairs[] | select(.id == $repair and .do == \"override\" and .symbol == \"verify\" and
	.pid == $pid)" <<<"$meta" >/dev/null || fail "meta.json does not list the override: $meta"

ctl extract "$id" "$WORK/core" > /dev/null || fail "extract failed"
# verify()'s first 16 bytes: in the core (the process, patched) and in the file.
gdb -batch -nx -ex 'x/16xb verify' "$KEEPER" "$WORK/core" 2>/dev/null | grep '^0x' | sed 's/^[^:]*://' > "$WORK/core.bytes"
gdb -batch -nx -ex 'x/16xb verify' "$KEEPER" 2>/dev/null | grep '^0x' | sed 's/^[^:]*://' > "$WORK/file.bytes"
[ -s "$WORK/core.bytes" ] && [ -s "$WORK/file.bytes" ] || fail "gdb read no bytes of verify()"
cmp -s "$WORK/core.bytes" "$WORK/file.bytes" &&
	fail "the core shows verify() as the file has it, not salve's patch: $(cat "$WORK/core.bytes")"
# What salve wrote: after the first instruction it keeps, return 0 at once.
gdb -batch -nx -ex 'x/4i verify' "$KEEPER" "$WORK/core" 2>/dev/null | grep '<verify' > "$WORK/core.insns"
grep -q 'xor    %eax,%eax' "$WORK/core.insns" && grep -q 'ret' "$WORK/core.insns" ||
	fail "the core's verify() does not return 0 at once: $(cat "$WORK/core.insns")"

# Rolled back, the next checkpoint's core shows the file's bytes again.
ctl rollback "$repair" > /dev/null || fail "rollback failed"
ctl checkpoint "$pid" > /dev/null || fail "second checkpoint failed"
id2=$(ctl checkpoints -j | jq -r "[.checkpoints[] | select(.pid == $pid)] | last | .id")
[ "$id2" != "$id" ] || fail "no second checkpoint"
expect "$(ctl checkpoints "$id2" -j | jq -c .checkpoint)" '.repairs | length' 0
ctl extract "$id2" "$WORK/core2" > /dev/null || fail "extract failed"
gdb -batch -nx -ex 'x/16xb verify' "$KEEPER" "$WORK/core2" 2>/dev/null | grep '^0x' | sed 's/^[^:]*://' > "$WORK/core2.bytes"
cmp -s "$WORK/core2.bytes" "$WORK/file.bytes" ||
	fail "after the rollback the core still differs from the file: $(cat "$WORK/core2.bytes")"

pass "a checkpoint under a repair: meta.json lists it, the core shows its patch bytes"
