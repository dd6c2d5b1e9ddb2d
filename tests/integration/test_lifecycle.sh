#!/usr/bin/env bash
# salved pins its programs and maps under its bpffs directory while it runs, names the
# stack of a process that exited before salved read its record, and after SIGTERM leaves
# no salve program loaded and nothing pinned.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v bpftool >/dev/null || fail "bpftool missing: run make deps"

salve_progs() { bpftool prog show 2>/dev/null | grep -c ' name salve_'; }
# Programs of a salved that just stopped are freed shortly after (RCU).
settle() { for _ in $(seq 60); do [ "$(salve_progs)" = "$1" ] && break; sleep 0.05; done; }
settle 0
others=$(salve_progs) # another salved on this host keeps its own

write_policy "$WORK/p.json" '{"salve": 1, "name": "lifecycle",
 "scope": {"binaries": ["'"$TARGETS/crash-stripped"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

ids=$(for f in "$PIN_DIR"/*/salve_*; do bpftool prog show pinned "$f" | sed -n 's/^\([0-9]*\): .*/\1/p'; done)
[ "$(wc -w <<<"$ids")" -ge 4 ] || fail "expected salve programs pinned under $PIN_DIR, found: $ids"
[ -e "$PIN_DIR/maps/salve_events" ] || fail "ring buffer not pinned under $PIN_DIR"
bpftool map show pinned "$PIN_DIR/maps/salve_events" | grep -q ringbuf || fail "pinned map is not the ring buffer"
ls "$PIN_DIR/signals" | grep -q salve_sig || fail "signal program not pinned"

# Freeze salved so the target is gone before its record is read.
kill -STOP "$SALVED_PID"
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash-stripped" null ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
kill -0 "$pid" 2>/dev/null && fail "target still alive"
[ -e "/proc/$pid" ] && fail "target not reaped"
kill -CONT "$SALVED_PID"
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "no event for the exited target"
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[0].module' "$TARGETS/crash-stripped"

stop_salved
settle "$others"
for id in $ids; do
	bpftool prog show id "$id" >/dev/null 2>&1 && fail "program $id still loaded after SIGTERM"
done
[ "$(salve_progs)" = "$others" ] || fail "salve programs still loaded after SIGTERM: $(bpftool prog show | grep salve_)"
[ -e "$PIN_DIR" ] && fail "$PIN_DIR left behind"
pass "pinned while running, symbolized after exit, nothing left after SIGTERM"
