#!/usr/bin/env bash
# A scope may name a binary that is not installed yet. salved warns about it once (not
# once a second), watches where it will appear, survives a reload still watching, and
# when the binary is installed says so once and reports its crash.
. "$(dirname "$0")/lib.sh"
need_bpf

BIN=$WORK/later/bin/app # neither the file nor its directories exist yet
write_policy "$WORK/p.json" '{"salve": 1, "name": "later",
 "scope": {"binaries": ["'"$BIN"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

warnings() { grep -cF "warning: $WORK/p.json: scope.binaries[0]: $BIN: No such file" "$WORK/salved.err"; }
appeared() { grep -cF "info: $WORK/p.json: scope.binaries[0]: $BIN appeared" "$WORK/salved.err"; }
[ "$(warnings)" = 1 ] || fail "no warning at start for the missing $BIN"

# A reload plans the same set again: the name is still missing, and was said to be.
"$BUILD/salvectl" reload --socket "$SOCKET" > /dev/null || fail "salvectl reload"
# Its directories appear one by one, each a new plan. Across ticks (salved used to plan,
# and warn, every second) nothing more is said while the binary itself is missing.
mkdir -p "$WORK/later/bin"
cp "$TARGETS/libfault.so" "$WORK/later/bin/" # crash finds its library beside itself
sleep 2.5
[ "$(warnings)" = 1 ] || fail "the missing binary was warned about $(warnings) times"
[ "$(appeared)" = 0 ] || fail "$BIN said to appear before it did"

cp "$TARGETS/crash" "$BIN"
for _ in $(seq 200); do [ "$(appeared)" = 1 ] && break; sleep 0.05; done
[ "$(appeared)" = 1 ] || fail "salved did not see $BIN installed within 10s"

( ulimit -c 0; cd "$WORK"; exec "$BIN" null ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
[ -n "$pid" ] || fail "the installed target did not run"
ev=$(wait_event ".kind == \"signal\" and .pid == $pid" 20) || fail "no crash event for $BIN"
expect "$ev" .probe crashes
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[0].module' "$BIN"
[ "$(warnings)" = 1 ] || fail "the warning for $BIN appeared $(warnings) times"
[ "$(appeared)" = 1 ] || fail "the line saying $BIN appeared came $(appeared) times"
pass "a binary installed after start is watched, warned about once, announced once"
