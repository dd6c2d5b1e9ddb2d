#!/usr/bin/env bash
# A policy scoped to one binary reports its crash and not a crash of another binary run
# at the same time.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "one-binary",
 "scope": {"binaries": ["'"$TARGETS/crash-nopie"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/out1" 2>&1 &
one=$!
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash-nopie" null ) > "$WORK/out2" 2>&1 &
two=$!
wait "$one" "$two"
other=$(field "$WORK/out1" pid); mine=$(field "$WORK/out2" pid)
[ -n "$other" ] && [ -n "$mine" ] || fail "targets did not run"
ev=$(wait_event ".kind == \"signal\" and .pid == $mine") || fail "no event for the scoped binary"
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[0].module' "$TARGETS/crash-nopie"
sleep 0.5
[ "$(count_events ".pid == $other")" = 0 ] || fail "the binary out of scope was reported"
pass "scope by binary"
