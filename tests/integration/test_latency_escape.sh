#!/usr/bin/env bash
# Calls that never return (left by longjmp, as an exception unwinding through them
# would) leave no trace in the latency probe's per-thread stack: after 40 of them, more
# than the pair's per-thread stack holds, the next call that does return is still timed
# and reported; with uprobe sessions and with the uprobe and uretprobe pair.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "escape",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "slow-leap", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "leap", "threshold": "10ms"}]}'
# check ARGS...: salved with ARGS, the target's escapes, then its one slow call.
check() {
	start_salved "$WORK/p.json" "$@"

	"$TARGETS/calls" leap > "$WORK/out"
	pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/out")
	ns=$(sed -n 's/^slow tid=[0-9]* ns=\([0-9]*\)/\1/p' "$WORK/out")
	[ -n "$pid" ] && [ -n "$ns" ] || fail "target did not finish: $(cat "$WORK/out")"
	ev=$(wait_event ".pid == $pid") || fail "the 25 ms call after 40 escapes was not reported"
	drain
	[ "$(count_events ".pid == $pid")" = 1 ] || fail "expected 1 event, got $(count_events ".pid == $pid")"
	d=$(jq .duration_ns <<<"$ev")
	diff=$(( d > ns ? d - ns : ns - d ))
	[ "$diff" -le 2000000 ] || fail "duration $d, the target measured $ns"
	stop_salved
}

check
check --no-uprobe-sessions
pass "the call after 40 longjmp escapes timed at $d ns (the target measured $ns)"
