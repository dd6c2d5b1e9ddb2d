#!/usr/bin/env bash
# Latency over a learned baseline: calls of about 1 ms teach the site its p99; one call
# of 25 ms, far over p99 times the factor, is reported, and the usual ones are not.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "baseline",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "work-outliers", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "work", "baseline": {"percentile": 99, "factor": 3, "window": "1m"}}]}'
start_salved "$WORK/p.json"

"$TARGETS/calls" learn > "$WORK/out"
pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/out")
ns=$(sed -n 's/^slow tid=[0-9]* ns=\([0-9]*\)/\1/p' "$WORK/out")
[ -n "$pid" ] && [ -n "$ns" ] || fail "target did not finish: $(cat "$WORK/out")"
ev=$(wait_event ".pid == $pid") || fail "the 25 ms call was not reported"
sleep 0.3
[ "$(count_events ".pid == $pid")" = 1 ] || fail "expected 1 event, got $(count_events ".pid == $pid")"
expect "$ev" .probe work-outliers
d=$(jq .duration_ns <<<"$ev")
diff=$(( d > ns ? d - ns : ns - d ))
[ "$diff" -le 2500000 ] || fail "duration $d, the target measured $ns"
pass "the outlier over the learned p99 x 3 reported, the usual calls not"
