#!/usr/bin/env bash
# Latency over a fixed threshold: a recursive function and a function called from 4
# threads at once. Exactly the slow calls are reported, each with a duration within
# 10% (or 2 ms) of what the target measured itself, on the thread that made it. Both
# ways of timing a call are checked: a uprobe session (where the kernel has them) and
# the uprobe and uretprobe pair salved falls back to.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "latency",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "slow-query", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "query", "threshold": "20ms"},
            {"id": "slow-work", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "work", "threshold": "20ms"}]}'
# check ARGS...: salved with ARGS, one run of the target, every slow call matched.
check() {
	start_salved "$WORK/p.json" "$@"

	"$TARGETS/calls" slow 20 > "$WORK/out"
	pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/out")
	[ -n "$pid" ] || fail "target did not finish: $(cat "$WORK/out")"
	want=$(grep -c '^slow ' "$WORK/out")
	for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge "$want" ] && break; sleep 0.05; done
	drain
	[ "$(count_events ".pid == $pid")" = "$want" ] ||
		fail "the target measured $want slow calls, salve reported $(count_events ".pid == $pid")"
	[ "$(count_events ".pid == $pid and .probe == \"slow-query\"")" = 2 ] || fail "expected 2 slow query levels"

	mapfile -t got < <(jq -r "select(.pid == $pid) | \"\(.tid) \(.duration_ns)\"" "$EVENTS")
	while read -r _ tid ns; do
		tid=${tid#tid=} ns=${ns#ns=}
		tol=$(( ns / 10 > 2000000 ? ns / 10 : 2000000 ))
		found=
		for i in "${!got[@]}"; do
			read -r etid ens <<<"${got[$i]}"
			d=$(( ens > ns ? ens - ns : ns - ens ))
			if [ "$etid" = "$tid" ] && [ "$d" -le "$tol" ]; then found=$i; break; fi
		done
		[ -n "$found" ] || fail "no event on thread $tid within $tol ns of $ns: ${got[*]}"
		unset "got[$found]"
	done < <(grep '^slow ' "$WORK/out")
	ev=$(wait_event ".pid == $pid")
	expect "$ev" .kind latency
	expect "$ev" .exe "$TARGETS/calls"
	[ "$(count_events ".pid == $pid and .site.module == \"$TARGETS/calls\" and
		((.probe == \"slow-query\" and .site.symbol == \"query\") or
		 (.probe == \"slow-work\" and .site.symbol == \"work\"))")" = "$want" ] ||
		fail "latency events without their function: $(jq -c "select(.pid == $pid) | .site" "$EVENTS")"
	stop_salved
}

check
grep -q 'latency probes: one uprobe session per site' "$WORK/salved.err" ||
	echo "note: this kernel has no uprobe sessions; both runs used the pair"
check --no-uprobe-sessions
grep -q 'latency probes: a uprobe and a uretprobe per site (uprobe sessions turned off)' \
	"$WORK/salved.err" || fail "--no-uprobe-sessions did not take the pair"
pass "$want slow calls, recursion and 4 threads, each within 10% or 2 ms"
