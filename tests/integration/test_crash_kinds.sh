#!/usr/bin/env bash
# The same fault in a shared library and in a second thread; abort(); a divide by zero;
# kill -9 from another process; exit(3); a binary without frame pointers.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "kinds",
 "scope": {"binaries": ["'"$TARGETS/crash"'", "'"$TARGETS/crash-nofp"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit", "nonzero": true}]}'
start_salved "$WORK/p.json"

crash() { ( ulimit -c 0; cd "$WORK" && exec "$TARGETS/${BIN:-crash}" "$@" ) > "$WORK/out" 2>&1; }

# shared library
crash lib; pid=$(field "$WORK/out" pid); addr=$(field "$WORK/out" addr)
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "lib: no signal event"
expect "$ev" .signal SIGSEGV
expect "$ev" .addr "$addr"
expect "$ev" '.stack[0].symbol' fault_lib_write
expect "$ev" '.stack[0].module' "$TARGETS/libfault.so"
expect "$ev" '.stack[1].symbol' fault_in_library

# second thread
crash thread; pid=$(field "$WORK/out" pid); tid=$(field "$WORK/out" tid)
[ "$pid" != "$tid" ] || fail "thread: target faulted in its main thread"
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "thread: no signal event"
expect "$ev" .tid "$tid"
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[1].symbol' thread_main

# abort()
crash abort; pid=$(field "$WORK/out" pid)
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "abort: no signal event"
expect "$ev" .signal SIGABRT
expect "$ev" .code SI_TKILL
expect "$ev" .sender_pid "$pid"
# Debian's libc has no frame pointers and no .symtab: its innermost frame is named by
# module only, and the walk may not get past it.
jq -e '.stack[0].module | test("/libc\\.so\\.6$")' <<<"$ev" >/dev/null || fail "abort: not raised in libc: $ev"
ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "abort: no exit event"
expect "$ex" .signal SIGABRT

# divide by zero
crash fpe; pid=$(field "$WORK/out" pid)
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "fpe: no signal event"
expect "$ev" .signal SIGFPE
expect "$ev" .code FPE_INTDIV
expect "$ev" '.stack[0].symbol' fault_divide
expect "$ev" .addr "$(jq -r .ip <<<"$ev")"

# kill -9 by another process, whose pid we know
run_target "$WORK/sleep.out" "$TARGETS/crash" sleep
victim=$LAST_PID
for _ in $(seq 100); do [ -s "$WORK/sleep.out" ] && break; sleep 0.05; done
killer=$(bash -c 'echo $$; exec kill -9 '"$victim")
ev=$(wait_event ".kind == \"signal\" and .pid == $victim") || fail "kill: no signal event"
expect "$ev" .signal SIGKILL
expect "$ev" .code SI_USER
expect "$ev" .sender_pid "$killer"
expect "$ev" .fatal true
ex=$(wait_event ".kind == \"exit\" and .pid == $victim") || fail "kill: no exit event"
expect "$ex" .signal SIGKILL
expect "$ex" .core_dumped false

# a debugger's breakpoints are its own: the SIGTRAP of gdb's call into the process (its
# return breakpoint) is not reported when the process ends later by SIGTERM
run_target "$WORK/traced.out" "$TARGETS/crash" sleep
traced=$LAST_PID
for _ in $(seq 100); do [ -s "$WORK/traced.out" ] && break; sleep 0.05; done
gdb -p "$traced" -batch -nx -ex 'print (int)getpid()' -ex detach >"$WORK/gdb.out" 2>&1
grep -q "^\$1 = $traced\$" "$WORK/gdb.out" || fail "gdb could not call into $traced: $(tail -3 "$WORK/gdb.out")"
kill -TERM "$traced"
ex=$(wait_event ".kind == \"exit\" and .pid == $traced") || fail "traced: no exit event"
expect "$ex" .signal SIGTERM
[ "$(count_events ".kind == \"signal\" and .pid == $traced")" = 0 ] ||
	fail "traced: a signal event for a debugger's breakpoint: $(grep "\"pid\":$traced" "$EVENTS")"

# exit(3)
crash exit 3; pid=$(field "$WORK/out" pid)
ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "exit: no exit event"
expect "$ex" .exit_code 3
expect "$ex" '.signal // "none"' none
expect "$ex" .exe "$TARGETS/crash"
[ "$(count_events ".kind == \"signal\" and .pid == $pid")" = 0 ] || fail "exit: a signal event for exit(3)"

# no frame pointers: at least the faulting frame
BIN=crash-nofp crash null; pid=$(field "$WORK/out" pid)
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "nofp: no signal event"
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[0].module' "$TARGETS/crash-nofp"
pass "library, thread, abort, divide, kill -9, a debugger's breakpoint, exit(3) and no-frame-pointer faults"
