#!/usr/bin/env bash
# Exactly one exit event per process: a 16-thread process whose threads all exit at once,
# killed by a signal raised in a worker (SIGKILL, or a fatal SIGSEGV), run 50 times. Each
# exit event names the process (its leader's comm), never the worker that went last.
# Both ways of watching exits: the BTF tracepoint and the classic one.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "exits",
 "scope": {"binaries": ["'"$TARGETS/threads"'"]},
 "probes": [{"id": "exits", "kind": "exit"}]}'
# check ARGS...: salved with ARGS, 50 processes, one exit event each.
check() {
	start_salved "$WORK/p.json" "$@"

	pids=()
	for i in $(seq 50); do
		# SIGSEGV dumps a core where the hard limit allows (into $WORK, removed): the
		# dumping thread outlives the others, one more way for threads to end apart.
		mode=kill core=0; [ $((i % 2)) = 0 ] && mode=segv core=unlimited
		{ ( ulimit -c $core; cd "$WORK" && exec "$TARGETS/threads" "$mode" ) > "$WORK/out" 2>&1; } 2>/dev/null
		rm -f "$WORK"/core*
		pid=$(field "$WORK/out" pid)
		[ -n "$pid" ] || fail "run $i: the target printed no pid: $(cat "$WORK/out")"
		pids+=("$pid:$mode")
	done
	for pm in "${pids[@]}"; do
		pid=${pm%%:*}
		wait_event ".kind == \"exit\" and .pid == $pid" > /dev/null || fail "no exit event for $pid"
	done
	drain
	for pm in "${pids[@]}"; do
		pid=${pm%%:*} mode=${pm##*:}
		n=$(count_events ".kind == \"exit\" and .pid == $pid")
		[ "$n" = 1 ] || fail "pid $pid ($mode): $n exit events, expected 1"
		ex=$(wait_event ".kind == \"exit\" and .pid == $pid")
		expect "$ex" .comm threads
		expect "$ex" .tid "$pid"
		expect "$ex" .exe "$TARGETS/threads"
		if [ "$mode" = kill ]; then expect "$ex" .signal SIGKILL; else expect "$ex" .signal SIGSEGV; fi
	done
	stop_salved
}

check
check --classic-tracepoints
pass "twice 50 processes of 16 threads killed by a signal: one exit event each, named by the process"
