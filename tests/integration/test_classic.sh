#!/usr/bin/env bash
# The fallback: with classic tracepoints salve still reports a crash with its stack and
# the process's exit; only the fault address, which the classic record lacks, is absent.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "classic",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit", "nonzero": true}]}'
start_salved "$WORK/p.json" --classic-tracepoints
grep -q 'signal_generate on tracepoint: classic tracepoints requested' "$WORK/salved.err" ||
	fail "salved did not say it uses the classic tracepoint"

( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "no signal event"
expect "$ev" .signal SIGSEGV
expect "$ev" .code SEGV_MAPERR
expect "$ev" '.addr // "none"' none
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" .exe "$TARGETS/crash"
ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "no exit event"
expect "$ex" .signal SIGSEGV
pass "classic tracepoints report the crash"
