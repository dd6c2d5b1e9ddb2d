#!/usr/bin/env bash
# salvectl events and incidents against a real salved and real crashes. Two followers of
# --kind signal get the same crash lines as salved writes them, and nothing of another
# kind; a follower of another process's --pid gets that process's line only (it asks
# for the kept lines too, so a filter that let the first crash through would show it
# whenever it joined); the human view names signal, process and function. Followers
# ended by INT (exit 0) or killed leave salved answering. `events -n 5` gives the last
# five lines salved wrote, as it wrote them. `incidents` shows each rule firing with its
# actions' outcomes and the verify verdict, in the table and in --json. A follower of a
# salved that stops is told so (exit 1).
. "$(dirname "$0")/lib.sh"
need_bpf

CTL=$BUILD/salvectl
write_policy "$WORK/p.json" '{"salve": 1, "name": "follow",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit"}],
 "rules": [{"id": "crash-loop", "by": "process",
            "when": {"probe": "crashes", "count": 1, "within": "1m"},
            "verify": "2s", "budget": 10,
            "actions": [{"do": "log", "message": "crashed"},
                        {"do": "exec", "command": ["/bin/true"], "timeout": "5s"}]}]}'
start_salved "$WORK/p.json"

follow() { # follow NAME ARGS...: salvectl events --follow in the background
	local name=$1; shift
	"$CTL" events --follow --socket "$SOCKET" "$@" > "$WORK/$name" 2> "$WORK/$name.err" &
	PIDS+=($!)
	eval "$name=$!"
}

# The second crash's process, waiting on a fifo: its pid is known before it crashes.
mkfifo "$WORK/go"
( ulimit -c 0; read -r _ < "$WORK/go"; exec "$TARGETS/crash" null ) > "$WORK/b.out" 2>&1 &
B=$!
PIDS+=($B)

follow F1 --kind signal --kind stats --json
follow F2 --kind signal,stats -j
follow F3 -n 1000 --pid "$B" --kind signal --json
follow F4 --kind signal,stats

# Barrier: each follower of stats lines has had one, so all follow from here on.
for i in $(seq 200); do
	"$CTL" stats --socket "$SOCKET" > /dev/null || fail "salvectl stats failed"
	[ -s "$WORK/F1" ] && [ -s "$WORK/F2" ] && grep -q ' stats ' "$WORK/F4" && break
	[ "$i" = 200 ] && fail "the followers got no stats line: $(cat "$WORK"/F?.err)"
	sleep 0.05
done

{ ( ulimit -c 0; cd "$WORK" && exec "$TARGETS/crash" null ) > "$WORK/a.out" 2>&1; } 2>/dev/null
A=$(field "$WORK/a.out" pid)
[ -n "$A" ] || fail "the target printed no pid: $(cat "$WORK/a.out")"
sig_a=$(wait_event ".kind == \"signal\" and .pid == $A") || fail "no signal event for $A"
wait_event ".kind == \"exit\" and .pid == $A" > /dev/null || fail "no exit event for $A"
echo go > "$WORK/go"
sig_b=$(wait_event ".kind == \"signal\" and .pid == $B") || fail "no signal event for $B"
wait "$B" 2>/dev/null # its crash, not said by the shell

# The followers have the lines as salved wrote them, in order, and nothing else.
got=$(wait_json "$WORK/F1" ".kind == \"signal\" and .pid == $B") || fail "follower 1 did not get $B's crash"
[ "$got" = "$sig_b" ] || fail "follower 1's line differs from salved's: $got vs $sig_b"
[ "$(jq -c 'select(.kind == "signal")' "$WORK/F1")" = "$(printf '%s\n%s' "$sig_a" "$sig_b")" ] ||
	fail "follower 1's signal lines are not the two crashes': $(cat "$WORK/F1")"
[ "$(jq -r 'select(.kind != "signal" and .kind != "stats") | .kind' "$WORK/F1" | wc -l)" = 0 ] ||
	fail "--kind signal,stats let other lines through: $(cat "$WORK/F1")"
wait_json "$WORK/F2" ".kind == \"signal\" and .pid == $B" > /dev/null || fail "follower 2 did not get $B's crash"
[ "$(jq -c 'select(.kind == "signal")' "$WORK/F2")" = "$(jq -c 'select(.kind == "signal")' "$WORK/F1")" ] ||
	fail "two followers got different lines: $(cat "$WORK/F2") vs $(cat "$WORK/F1")"
got=$(wait_json "$WORK/F3" ".pid == $B") || fail "the follower of --pid $B did not get its crash"
[ "$got" = "$sig_b" ] || fail "--pid follower's line differs: $got"
[ "$(wc -l < "$WORK/F3")" = 1 ] || fail "--pid $B let others through: $(cat "$WORK/F3")"
# The human view: time, kind, pid/comm, signal, code, address and function.
grep -qE "^[0-9-]{10} [0-9:.]{12} signal +$A/crash +SIGSEGV SEGV_MAPERR addr 0x10 in fault_null_deref \[probe crashes\]$" \
	"$WORK/F4" || fail "the human view of $A's crash: $(cat "$WORK/F4")"

# INT ends a follower with 0; a killed one goes; salved answers on.
kill -INT "$F1"
wait "$F1"; rc=$?
[ "$rc" = 0 ] || fail "salvectl events --follow exited $rc on SIGINT: $(cat "$WORK/F1.err")"
kill -9 "$F2"
wait "$F2" 2>/dev/null
drain
kill -0 "$SALVED_PID" || fail "salved died"

# Both incidents, verified: their verify lines are the barrier.
inc_a=$(wait_event ".kind == \"incident\" and .pid == $A") || fail "no incident for $A"
inc_b=$(wait_event ".kind == \"incident\" and .pid == $B") || fail "no incident for $B"
id_a=$(jq .id <<<"$inc_a")
id_b=$(jq .id <<<"$inc_b")
ver_a=$(wait_event ".kind == \"verify\" and .incident == $id_a" 15) || fail "no verify for incident $id_a"
ver_b=$(wait_event ".kind == \"verify\" and .incident == $id_b" 15) || fail "no verify for incident $id_b"
for id in "$id_a" "$id_b"; do
	wait_event ".kind == \"action\" and .incident == $id and .index == 1" > /dev/null ||
		fail "no exec action line for incident $id"
done
drain

# The last five lines, as salved wrote them.
"$CTL" events -n 5 --json --socket "$SOCKET" > "$WORK/last5" || fail "salvectl events -n 5 failed"
[ "$(cat "$WORK/last5")" = "$(tail -n 5 "$EVENTS")" ] ||
	fail "events -n 5: $(cat "$WORK/last5") -- the log ends with: $(tail -n 5 "$EVENTS")"
"$CTL" events -n 5 --socket "$SOCKET" > "$WORK/last5.txt" || fail "salvectl events -n 5 failed"
[ "$(wc -l < "$WORK/last5.txt")" = 5 ] || fail "events -n 5 printed: $(cat "$WORK/last5.txt")"
tail -n 1 "$WORK/last5.txt" | grep -qE ' stats +- +events reported [0-9]+, lost [0-9]+$' ||
	fail "the last line is not drain's stats line: $(cat "$WORK/last5.txt")"
# Without --follow: the kept lines of a kind, then the end.
"$CTL" events --kind incident --json --socket "$SOCKET" > "$WORK/incs" || fail "salvectl events --kind incident failed"
[ "$(jq -r .id "$WORK/incs" | tr '\n' ' ')" = "$id_a $id_b " ] || fail "events --kind incident: $(cat "$WORK/incs")"
"$CTL" events --kind nonsense --socket "$SOCKET" 2> "$WORK/bad.err"; rc=$?
[ "$rc" = 1 ] || fail "events --kind nonsense exited $rc"
grep -q 'no kind of line "nonsense" (kinds: signal, exit' "$WORK/bad.err" || fail "bad kind said: $(cat "$WORK/bad.err")"

# incidents: JSON, then the table.
"$CTL" incidents --json --socket "$SOCKET" > "$WORK/incidents.json" || fail "salvectl incidents --json failed"
j=$(cat "$WORK/incidents.json")
expect "$j" '.incidents | length' 2
expect "$j" '.incidents[0].id' "$id_a"
expect "$j" '.incidents[0].rule' crash-loop
expect "$j" '.incidents[0].policy' follow
expect "$j" '.incidents[0].pid' "$A"
expect "$j" '.incidents[0].comm' crash
expect "$j" '.incidents[0].exe' "$TARGETS/crash"
expect "$j" '.incidents[0].actions[0].do' log
expect "$j" '.incidents[0].actions[0].outcome' logged
expect "$j" '.incidents[0].actions[1].do' exec
expect "$j" '.incidents[0].actions[1].outcome' exited
expect "$j" '.incidents[0].actions[1].state' ended
expect "$j" '.incidents[0].verify' "$(jq -r .outcome <<<"$ver_a")"
expect "$j" '.incidents[1].pid' "$B"
expect "$j" '.incidents[1].verify' "$(jq -r .outcome <<<"$ver_b")"
"$CTL" incidents --socket "$SOCKET" > "$WORK/incidents.txt" || fail "salvectl incidents failed"
head -n1 "$WORK/incidents.txt" | grep -qE '^ID +TIME +RULE +PID +COMM +VERIFY +ACTIONS$' ||
	fail "incidents header: $(cat "$WORK/incidents.txt")"
grep -qE "^$id_a +[0-9-]{10} [0-9:.]{12} +crash-loop +$A +crash +$(jq -r .outcome <<<"$ver_a") +log:logged,exec:exited$" \
	"$WORK/incidents.txt" || fail "incident $id_a in the table: $(cat "$WORK/incidents.txt")"
grep -qE "^$id_b .* $B +crash " "$WORK/incidents.txt" || fail "incident $id_b in the table: $(cat "$WORK/incidents.txt")"

# A follower of a salved that stops: told, exit 1.
follow F5
for i in $(seq 200); do
	"$CTL" stats --socket "$SOCKET" > /dev/null || fail "salvectl stats failed"
	grep -q ' stats ' "$WORK/F5" && break
	[ "$i" = 200 ] && fail "follower 5 got no stats line: $(cat "$WORK/F5.err")"
	sleep 0.05
done
stop_salved
wait "$F5"; rc=$?
[ "$rc" = 1 ] || fail "salvectl events --follow exited $rc when salved stopped"
grep -qx 'salvectl: salved closed the stream (it stopped)' "$WORK/F5.err" || fail "F5 said: $(cat "$WORK/F5.err")"
pass "events --follow with filters, events -n, and incidents with their actions and verdicts"
