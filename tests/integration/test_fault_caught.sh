#!/usr/bin/env bash
# A program with its own SIGSEGV handler that logs and re-raises: the default signal
# probe reports the fault the kernel raised (its code, address and the stack where it
# happened, "handled": true), then the fatal re-raise, whose "cause" is that fault, and
# the exit, which names it too. A probe with "faults": "fatal" sees only the re-raise.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "caught",
 "scope": {"binaries": ["'"$TARGETS/catch"'"]},
 "probes": [{"id": "crashes", "kind": "signal"},
            {"id": "deaths", "kind": "signal", "signals": ["SIGSEGV"], "faults": "fatal"},
            {"id": "exits", "kind": "exit", "nonzero": true}]}'
start_salved "$WORK/p.json"

( ulimit -c 0; cd "$WORK" && exec "$TARGETS/catch" ) > "$WORK/out" 2> "$WORK/err"
grep -q 'caught SIGSEGV' "$WORK/err" || fail "the target's handler did not run: $(cat "$WORK/err")"
pid=$(field "$WORK/out" pid)
addr=$(field "$WORK/out" addr)
[ -n "$pid" ] && [ -n "$addr" ] || fail "target printed no pid/addr: $(cat "$WORK/out")"

# The fault, as the kernel raised it, in the faulting function.
ev=$(wait_event ".probe == \"crashes\" and .pid == $pid and .handled == true") ||
	fail "no event for the fault the program caught"
expect "$ev" .signal SIGSEGV
expect "$ev" .code SEGV_MAPERR
expect "$ev" .addr "$addr"
expect "$ev" .tid "$pid"
expect "$ev" .sender_pid "$pid"
expect "$ev" .fatal false
expect "$ev" .exe "$TARGETS/catch"
expect "$ev" '.stack[0].symbol' fault_caught
expect "$ev" '.stack[0].module' "$TARGETS/catch"
expect "$ev" '.stack[0].ip == .ip' true
jq -e '.stack | map(.symbol) | index("main") != null' <<<"$ev" >/dev/null ||
	fail "main is not on the fault's stack: $ev"
fault_time=$(jq -r .time <<<"$ev")

# The re-raise that killed it: raised by the process at itself, caused by the fault.
de=$(wait_event ".probe == \"crashes\" and .pid == $pid and .fatal == true") ||
	fail "no event for the fatal re-raise"
expect "$de" .signal SIGSEGV
expect "$de" .code SI_TKILL
expect "$de" .sender_pid "$pid"
expect "$de" '.handled // false' false
expect "$de" .cause.time "$fault_time"
expect "$de" .cause.code SEGV_MAPERR
expect "$de" .cause.addr "$addr"

ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "no exit event"
expect "$ex" .signal SIGSEGV
expect "$ex" .cause.time "$fault_time"
expect "$ex" .cause.code SEGV_MAPERR
expect "$ex" .cause.addr "$addr"

# "faults": "fatal": the death and its cause, never the caught fault itself.
dd=$(wait_event ".probe == \"deaths\" and .pid == $pid") || fail "deaths: no event for the re-raise"
expect "$dd" .code SI_TKILL
expect "$dd" .cause.addr "$addr"
drain
[ "$(count_events ".probe == \"deaths\" and .pid == $pid")" = 1 ] ||
	fail "deaths: the probe with \"faults\": \"fatal\" reported the caught fault"
[ "$(count_events ".probe == \"crashes\" and .pid == $pid")" = 2 ] ||
	fail "crashes: expected the fault and the re-raise, nothing more"
pass "caught fault reported at $addr in fault_caught, the re-raise and the exit name it as cause"
