#!/usr/bin/env bash
# A return probe on a function of a shared library: every call from a process in scope
# whose value matches is reported, from the library the process loaded.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "library",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "big-results", "kind": "return", "binary": "'"$TARGETS/libfault.so"'",
             "symbol": "fault_lib_compute", "when": ">= 16",
             "rate": {"per_second": 1000000, "burst": 1000000}}]}'
start_salved "$WORK/p.json" --rate 0

"$TARGETS/calls" lib 100 > "$WORK/out"
pid=$(field "$WORK/out" pid)
# fault_lib_compute(i) is 3i + 1: i = 5 .. 99 give 16 or more.
for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge 95 ] && break; sleep 0.05; done
drain
[ "$(count_events ".pid == $pid")" = 95 ] || fail "expected 95 events, got $(count_events ".pid == $pid")"
got=$(jq -s "[.[] | select(.pid == $pid) | .ret] | add" "$EVENTS")
[ "$got" = "$(( (16 + 298) * 95 / 2 ))" ] || fail "return values sum to $got"
pass "95 matching returns from a shared-library function"
