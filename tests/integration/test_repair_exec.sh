#!/usr/bin/env bash
# Repairs outlive the process: a service without a crash guard dies of its first bad
# request; the rule overrides its parse(). The process is gone, so the repair stands
# for the binary: the next instance, started as a supervisor would, is stopped at its
# entry point, patched and continued before it serves, and survives every bad request.
# Rolled back, the instance after crashes again. Each instance that gets the repair has
# its own "applied" line; the standing repair is listed by salvectl repairs. An instance
# stopped at its entry when salved is killed is repaired and continued by the next salved.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "repair",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}],
 "rules": [{"id": "parse-crashes", "by": "process",
            "when": {"probe": "crashes", "count": 1, "within": "1m"},
            "verify": "1m", "budget": 10,
            "actions": [{"do": "override", "binary": "'"$SVC"'", "symbol": "parse",
                         "return": -1}]}]}'
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel

# serve NAME REQUESTS...: one instance, the requests on its stdin; its output in $WORK/NAME.
serve() {
	local name=$1; shift
	printf '%s\n' "$@" | ( ulimit -c 0; cd "$WORK" && exec "$SVC" unguarded ) > "$WORK/$name" 2>&1
	echo $? > "$WORK/$name.rc"
}

serve first "a=1" "bad" "b=22"
[ "$(cat "$WORK/first.rc")" = 139 ] || fail "the first instance did not die of SIGSEGV: $(cat "$WORK/first" "$WORK/first.rc")"
st=$(wait_event '.kind == "repair" and .state == "standing"') ||
	fail "no standing repair: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$st" .exe "$SVC"
expect "$st" .symbol parse
id=$(jq .id <<<"$st")
"$BUILD/salvectl" repairs -j --socket "$SOCKET" | jq -e ".repairs[] | select(.id == $id and .state == \"standing\")" >/dev/null ||
	fail "salvectl repairs does not list the standing repair"

# The next instance is repaired before it serves: every bad request is refused, none crashes.
serve second "bad" "c=333" "bad" "bad"
[ "$(cat "$WORK/second.rc")" = 0 ] || fail "the repaired instance died: $(cat "$WORK/second" "$WORK/second.rc")"
[ "$(grep -c '^error -1$' "$WORK/second")" = 4 ] || fail "the second instance answered: $(cat "$WORK/second")"
pid2=$(field "$WORK/second" pid)
ap=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid2") ||
	fail "no applied line for the second instance $pid2"
expect "$ap" .symbol parse

# salved killed while an instance waits, stopped at its entry point, for its repair: the
# salved started next repairs and continues it (a stopped service never waits for a
# salved that will not come).
kill -STOP "$SALVED_PID"
( cd "$WORK" && exec "$SVC" unguarded ) < <(sleep 30) > "$WORK/waiting" 2>&1 &
PIDS+=($!)
waiting=$!
for _ in $(seq 100); do grep -q '^State:.*T' "/proc/$waiting/status" 2>/dev/null && break; sleep 0.05; done
grep -q '^State:.*T' "/proc/$waiting/status" || fail "the instance was not stopped at its entry"
kill -9 "$SALVED_PID"
wait "$SALVED_PID" 2>/dev/null
SALVED_PID=
sleep 0.5
grep -q '^State:.*T' "/proc/$waiting/status" || fail "the instance did not stay stopped with salved gone"
start_salved "$WORK/p.json" --no-register-writes
for _ in $(seq 100); do grep -q ready "$WORK/waiting" && break; sleep 0.05; done
grep -q ready "$WORK/waiting" || fail "the instance left stopped was not continued: $(cat "$WORK/salved.err")"
grep -q "process $waiting of $SVC was left stopped at its entry point by the last salved: repaired and continued" \
	"$WORK/salved.err" || fail "salved did not say it continued $waiting: $(cat "$WORK/salved.err")"
wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $waiting" >/dev/null ||
	fail "no applied line for the instance left stopped"
kill "$waiting"

# A long-running instance gets it too; rolling the repair back undoes it there as well.
service_start unguarded
pid3=$pid
ap3=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid3") ||
	fail "no applied line for the long-running instance $pid3"

# Rolled back: the instance after crashes again, as it did.
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "rollback of $id failed"
wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id" >/dev/null ||
	fail "no rolled_back line for the standing repair"
wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $(jq .id <<<"$ap3")" >/dev/null ||
	fail "the long-running instance's repair was not rolled back with the standing one"
echo "bad" >&3
exec 3>&-
wait "${PIDS[-1]}" 2>/dev/null
kill -0 "$pid3" 2>/dev/null && fail "the long-running instance survived a bad request after rollback"
serve third "d=1" "bad"
[ "$(cat "$WORK/third.rc")" = 139 ] || fail "after rollback the instance did not crash: $(cat "$WORK/third" "$WORK/third.rc")"
grep -q '^ok 1$' "$WORK/third" || fail "the third instance did not serve: $(cat "$WORK/third")"
pass "a crashed service's next instance repaired at its entry before it served ($pid2), one left stopped by a killed salved repaired and continued by the next, rolled back for the one after"
