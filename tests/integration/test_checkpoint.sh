#!/usr/bin/env bash
# Checkpoints, salve's own: a process of five threads keeping known values (keeper) is
# saved with salvectl checkpoint; salvectl lists it, shows its meta.json and extracts
# its core, and gdb (the oracle) opens that core: every thread with its backtrace, the
# known values, the marker string, the heap. salvectl restore rolls a corruption back in
# place and the keeper goes on; after it unmaps a region, the rollback is refused, saying
# which. Rules: one saves the keeper once it checked itself, another restores it when its
# verify() fails, and the keeper finds its values again; a rule's checkpoint of 1 GiB is
# written while salved answers salvectl. A rule's checkpoint action keeps its last `keep`. A quota too small for a checkpoint refuses it and leaves nothing; so
# does a process killed while its memory is being copied.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v gdb >/dev/null || fail "gdb is not installed: run 'make deps'"

KEEPER=$TARGETS/keeper
CKDIR=$WORK/state/checkpoints
write_policy "$WORK/p.json" '{"salve": 1, "name": "checkpoint",
 "scope": {"binaries": ["'"$KEEPER"'"]},
 "probes": [{"id": "starts", "kind": "exec"},
            {"id": "sound", "kind": "return", "binary": "'"$KEEPER"'", "symbol": "verify", "when": "== 0"},
            {"id": "broken", "kind": "return", "binary": "'"$KEEPER"'", "symbol": "verify", "when": "< 0"}],
 "rules": [{"id": "save-at-start", "by": "process",
            "when": {"probe": "starts", "count": 1, "within": "1m"},
            "actions": [{"do": "checkpoint", "keep": 2}]},
           {"id": "save-when-sound", "by": "process", "cooldown": "1h",
            "when": {"probe": "sound", "count": 1, "within": "1m"},
            "actions": [{"do": "checkpoint", "backend": "core", "keep": 5}]},
           {"id": "heal", "by": "process",
            "when": {"probe": "broken", "count": 1, "within": "1m"},
            "actions": [{"do": "restore"}]}]}'
ctl() { "$BUILD/salvectl" "$@" --socket "$SOCKET"; }

# keeper_start NAME: a keeper reading the FIFO $WORK/NAME.in, its output in NAME.out;
# KPID its pid once it is ready.
keeper_start() {
	mkfifo "$WORK/$1.in"
	( exec "$KEEPER" < "$WORK/$1.in" > "$WORK/$1.out" 2>&1 ) &
	PIDS+=($!)
	KPID=$!
	eval "exec {fd_$1}> \"\$WORK/$1.in\""
	for _ in $(seq 100); do grep -q ready "$WORK/$1.out" 2>/dev/null && return 0; sleep 0.05; done
	fail "keeper $1 did not start"
}
# keeper_say NAME LINE EXPECT: send a command, wait for a new answer line EXPECT.
keeper_say() {
	local fd="fd_$1" before
	before=$(grep -cxF "$3" "$WORK/$1.out")
	echo "$2" >&"${!fd}"
	for _ in $(seq 200); do
		[ "$(grep -cxF "$3" "$WORK/$1.out")" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "keeper $1 did not answer '$2' with '$3': $(cat "$WORK/$1.out")"
}

# A quota no checkpoint fits in: refused, saying so, and nothing left.
write_policy "$WORK/none.json" '{"salve": 1, "name": "none", "scope": {"binaries": ["'"$KEEPER"'"]},
 "probes": [{"id": "starts", "kind": "exec"}]}'
start_salved "$WORK/none.json" --checkpoint-quota 64KiB
keeper_start small
out=$(ctl checkpoint "$KPID" 2>&1) && fail "a checkpoint past the quota was taken: $out"
grep -q "quota (65536 bytes)" <<<"$out" || fail "the refusal does not name the quota: $out"
[ -z "$(ls -A "$CKDIR")" ] || fail "a refused checkpoint left files: $(ls -A "$CKDIR")"
stop_salved

start_salved "$WORK/p.json"
keeper_start k
kill -0 "$KPID" || fail "keeper died"
out=$(ctl checkpoint "$KPID") || fail "salvectl checkpoint failed: $out"
id=$(ctl checkpoints -j | jq -r ".checkpoints[] | select(.pid == $KPID and .trigger == \"salvectl\") | .id")
[ -n "$id" ] || fail "salvectl checkpoints does not list the checkpoint: $(ctl checkpoints -j)"
grep -q "^checkpoint $id of process $KPID (keeper)" <<<"$out" || fail "salvectl checkpoint said: $out"
line=$(wait_event ".kind == \"checkpoint\" and .id == \"$id\"") || fail "no checkpoint line"
expect "$line" .backend core
expect "$line" .pid "$KPID"
expect "$line" .path "$CKDIR/$id"
jq -e '.pause_ns > 0 and .bytes > 0' <<<"$line" >/dev/null || fail "no pause or size: $line"
ctl checkpoints | grep -q "^$id .* keeper .*(salvectl)" || fail "the table lacks it: $(ctl checkpoints)"

# meta.json: the process as it was, and why it was saved.
meta=$(ctl checkpoints "$id" -j | jq -c .checkpoint)
expect "$meta" .binary "$KEEPER"
expect "$meta" '.cmdline[0]' "$KEEPER"
expect "$meta" .trigger salvectl
expect "$meta" '.threads | length' 5
expect "$meta" ".threads | index($KPID) != null" true
expect "$meta" '.fds[] | select(.fd == 0) | .target' "$WORK/k.in"
expect "$meta" '.build_id | test("^[0-9a-f]{40}$")' true
expect "$meta" '.repairs | length' 0
[ "$(jq -r .bytes <<<"$meta")" = "$(stat -c %s "$CKDIR/$id/core.gz")" ] ||
	fail "meta.json's bytes are not core.gz's size"

# The core, extracted, as gdb sees it.
ctl extract "$id" "$WORK/core" | grep -q "gdb $KEEPER $WORK/core" || fail "extract did not say how to open it"
gdb -batch -nx -ex 'info threads' -ex 'thread apply all bt' -ex 'p/x known[5]' -ex 'p marker' \
	-ex 'p heap_block[3]' "$KEEPER" "$WORK/core" > "$WORK/gdb.out" 2>&1
want=$(printf '0x%x' $(( (5 + 1) * 0x9E3779B97F4A7C15 )))
grep -q "= $want\$" "$WORK/gdb.out" || fail "gdb does not print known[5] = $want: $(tail -5 "$WORK/gdb.out")"
grep -q '= "salve-checkpoint-marker' "$WORK/gdb.out" || fail "gdb does not print the marker"
grep -q "= 21 '" "$WORK/gdb.out" || fail "gdb does not print the heap block's byte"
[ "$(grep -c '^Thread [0-9]* (Thread 0x[0-9a-f]* (LWP [0-9]*))' "$WORK/gdb.out")" = 5 ] ||
	fail "gdb does not show 5 threads: $(grep '^Thread\|^\*\? *[0-9] *Thread' "$WORK/gdb.out")"
[ "$(grep -c ' in worker_wait (mine=' "$WORK/gdb.out")" = 4 ] ||
	fail "gdb's backtraces do not show 4 workers in worker_wait: $(cat "$WORK/gdb.out")"
grep -q ' in main () at .*keeper.c' "$WORK/gdb.out" || fail "gdb's backtrace lacks main"
# Extract refuses to write over a file.
ctl extract "$id" "$WORK/core" 2>/dev/null && fail "extract wrote over an existing file"

# In place: the keeper's corruption after the checkpoint rolled back; it goes on, sound.
keeper_say k corrupt corrupted
out=$(ctl restore "$id") || fail "salvectl restore failed: $out"
grep -q "^process $KPID restored to checkpoint $id" <<<"$out" || fail "salvectl restore said: $out"
line=$(wait_event ".kind == \"restore\" and .checkpoint == \"$id\"") || fail "no restore line"
expect "$line" .backend core
expect "$line" .pid "$KPID"
keeper_say k check "check ok"
# The keeper unmaps a region the checkpoint holds: a rollback is refused, saying which.
keeper_say k unmap unmapped
out=$(ctl restore "$id" 2>&1) && fail "a rollback over an unmapped region was done: $out"
grep -q "process $KPID: the mapping at 0x[0-9a-f]* (anonymous) is gone" <<<"$out" ||
	fail "the refusal does not name the mapping gone: $out"
keeper_say k check "check ok"

# By rules: saved once it checked itself sound, restored when it finds itself broken.
keeper_start h
keeper_say h check "check ok"
ck=$(wait_event ".kind == \"checkpoint\" and .pid == $KPID and .rule == \"save-when-sound\"") ||
	fail "the keeper was not saved when sound: $(jq -c 'select(.kind == "action")' "$EVENTS")"
keeper_say h corrupt corrupted
keeper_say h check "check bad: known[]"
act=$(wait_event ".kind == \"action\" and .do == \"restore\" and .pid == $KPID") ||
	fail "no restore action: $(jq -c 'select(.kind == "incident" and .rule == "heal")' "$EVENTS")"
expect "$act" .outcome "restored: process $KPID"
expect "$act" .from last
keeper_say h check "check ok"
wait_event ".kind == \"restore\" and .checkpoint == $(jq .id <<<"$ck")" >/dev/null ||
	fail "the restore was not from the checkpoint taken when sound"

# A rule's checkpoints: each keeper's start saves it, and the rule keeps its last two.
for n in r1 r2 r3; do
	keeper_start "$n"
	wait_event ".kind == \"checkpoint\" and .pid == $KPID and .rule == \"save-at-start\"" >/dev/null ||
		fail "no checkpoint of keeper $n by the rule: $(jq -c 'select(.kind == "action")' "$EVENTS")"
done
ctl checkpoints -j > "$WORK/list.json"
[ "$(jq '[.checkpoints[] | select(.rule == "save-at-start")] | length' "$WORK/list.json")" = 2 ] ||
	fail "the rule does not keep its last 2: $(cat "$WORK/list.json")"
jq -e ".checkpoints[] | select(.id == \"$id\")" "$WORK/list.json" >/dev/null ||
	fail "the rule's retention removed salvectl's checkpoint"
act=$(wait_event '.kind == "action" and .do == "checkpoint"') || fail "no checkpoint action line"
jq -e '.outcome | startswith("taken: checkpoint ")' <<<"$act" >/dev/null || fail "action outcome: $act"

# A process killed while its memory is copied: the checkpoint fails and leaves nothing.
keeper_start big
keeper_say big "touch 1024" "touched 1024"
# The rule's checkpoint of its 1 GiB is written in a thread: salved answers meanwhile.
keeper_say big check "check ok"
wait_event ".kind == \"incident\" and .rule == \"save-when-sound\" and .pid == $KPID" >/dev/null ||
	fail "the rule did not fire for the big keeper"
ctl stats > /dev/null || fail "salvectl stats failed"
[ "$(count_events ".kind == \"checkpoint\" and .pid == $KPID and .rule == \"save-when-sound\"")" = 0 ] ||
	fail "salved answered only once the 1 GiB checkpoint was written: its loop waited for it"
wait_event ".kind == \"checkpoint\" and .pid == $KPID and .rule == \"save-when-sound\"" 60 >/dev/null ||
	fail "the big keeper's checkpoint was not written"
before=$(ls -A "$CKDIR" | sort)
ctl checkpoint "$KPID" > "$WORK/big.out" 2>&1 &
ck=$!
sleep 0.05 # into the copy of its 1 GiB
kill -9 "$KPID"
wait "$ck" && fail "a checkpoint of a process killed while copied was taken: $(cat "$WORK/big.out")"
grep -q "process $KPID: \(exited\|no such process\)" "$WORK/big.out" ||
	fail "the failure does not say the process exited: $(cat "$WORK/big.out")"
[ "$(ls -A "$CKDIR" | sort)" = "$before" ] || fail "the failed checkpoint left files: $(ls -A "$CKDIR")"

pass "checkpoint: gdb opens the core (5 threads, known values), rollback in place and its refusal, by rules too, retention, quota, no partial files"
