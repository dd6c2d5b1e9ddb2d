#!/usr/bin/env bash
# Latency over a learned baseline: calls of about 1 ms teach the site its p99 (the upper
# edge of its log2 bucket, so at least 3 ms once multiplied by 3); one call of 25 ms, far
# over it, is reported. The usual calls are not: every event must be a call the target
# itself measured over 3 ms, the 25 ms one or one a busy host really stretched.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "baseline",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "work-outliers", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "work", "baseline": {"percentile": 99, "factor": 3, "window": "1m"}}]}'
start_salved "$WORK/p.json"

"$TARGETS/calls" learn > "$WORK/out"
pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/out")
slow=$(sed -n 's/^slow tid=[0-9]* ns=\([0-9]*\)/\1/p' "$WORK/out")
ns=$(tail -n1 <<<"$slow")
[ -n "$pid" ] && [ -n "$ns" ] || fail "target did not finish: $(cat "$WORK/out")"

# near NS: whether the target measured a call within 2.5 ms of NS (uprobe and wakeup
# latency make the two clocks differ a little).
near() {
	local m
	for m in $slow; do
		[ $(( $1 > m ? $1 - m : m - $1 )) -le 2500000 ] && return 0
	done
	return 1
}

wait_event ".pid == $pid and ((.duration_ns - $ns) | fabs) <= 2500000" > /dev/null ||
	fail "the 25 ms call ($ns ns) was not reported"
drain
for d in $(jq -r "select(.pid == $pid) | .duration_ns" "$EVENTS"); do
	near "$d" || fail "reported a call of $d ns; the target measured none over 3 ms near it"
done
expect "$(wait_event ".pid == $pid")" .probe work-outliers
pass "the outlier over the learned p99 x 3 reported, the usual calls not"
