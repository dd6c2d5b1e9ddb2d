#!/usr/bin/env bash
# Rescue: a service without a crash guard whose parse() faults (inside libc's strlen) on
# a request without "=". A rule fires as the service starts (its exec) and makes salved
# its tracer with parse() as the rescue point: 1,000 requests, 1 in 10 bad, every good one
# answered and every bad one refused with parse's -1, the process alive and its memory
# flat; each rescue a "rescued" line, salvectl repairs counts them. A thread's second
# fault within the window is delivered: it kills the process. salved killed with
# SIGKILL: the service carries on, untraced. Rolled back, a bad request kills it again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "rescue",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "starts", "kind": "exec"}],
 "rules": [{"id": "rescue-parse", "by": "process",
            "when": {"probe": "starts", "count": 1, "within": "1m"}, "budget": 150,
            "actions": [{"do": "rescue", "at": ["parse"], "return": -1, "window": "1us"}]}]}'
start_salved "$WORK/p.json"

service_start unguarded
svc_job=${PIDS[-1]}
rep=$(wait_event ".kind == \"repair\" and .do == \"rescue\" and .state == \"applied\" and .pid == $pid") ||
	fail "no rescue applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
id=$(jq .id <<<"$rep")
expect "$rep" '.at | join(",")' parse
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
[ "$tracer" = "$SALVED_PID" ] || fail "salved ($SALVED_PID) does not trace the service (TracerPid $tracer)"

# 1,000 requests, every tenth bad, written at once; the answers checked line by line.
send() { # send FIRST LAST: requests FIRST..LAST, and what each must get
	for i in $(seq "$1" "$2"); do
		if [ $((i % 10)) = 3 ]; then echo "bad$i"; echo "error -1" >> "$WORK/want"
		else echo "k=$(printf '%*s' $((i % 7 + 1)) v)"; echo "ok $((i % 7 + 1))" >> "$WORK/want"; fi
	done >&3
	answered=$((answered + $2 - $1 + 1))
	for _ in $(seq 600); do [ "$(wc -l < "$WORK/out")" -ge "$answered" ] && break; sleep 0.05; done
	diff <(tail -n +2 "$WORK/out") "$WORK/want" > "$WORK/diff" ||
		fail "answers differ from what was asked: $(head -5 "$WORK/diff")"
}
: > "$WORK/want"
send 1 100
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
send 101 1000
rss2=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
[ "$rss2" -le $((rss + 64)) ] || fail "memory grew from $rss kB to $rss2 kB over 900 requests"
kill -0 "$pid" || fail "the service died"
[ "$(count_events ".kind == \"repair\" and .state == \"rescued\" and .id == $id")" = 100 ] ||
	fail "not 100 rescued lines: $(count_events ".kind == \"repair\" and .state == \"rescued\"")"
res=$(jq -c "select(.kind == \"repair\" and .state == \"rescued\" and .id == $id)" "$EVENTS" | tail -n1)
expect "$res" .rescued_at parse
expect "$res" .signal SIGSEGV
# The stack it was rescued from: the fault in libc's strlen, up to parse.
jq -e '.stack | (.[0] | test("strlen")) and .[-1] == "parse"' <<<"$res" >/dev/null ||
	fail "the rescued line's stack is not strlen … parse: $res"
expect "$res" .budget_left 50
# Each rescue journaled first: a begin with its stack and where the thread goes on, an
# end saying it was rescued.
[ "$(jq -c 'select(.type == "begin" and .action.do == "rescue" and .action.repair == '"$id"')' \
	"$WORK/state/journal.jsonl" | wc -l)" = 100 ] || fail "not 100 rescues journaled"
bad=$(jq -c 'select(.type == "begin" and .action.do == "rescue" and .action.repair) | .action |
	select((.stack[-1] != "parse") or (.resume_ip | startswith("0x") | not))' \
	"$WORK/state/journal.jsonl" | head -n1)
[ -z "$bad" ] || fail "a journaled rescue lacks its stack or where it resumed: $bad"
"$BUILD/salvectl" repairs -j --socket "$SOCKET" |
	jq -e ".repairs[] | select(.id == $id and .do == \"rescue\" and .rescues == 100)" >/dev/null ||
	fail "salvectl repairs does not count the rescues: $("$BUILD/salvectl" repairs -j --socket "$SOCKET")"

# A second fault of a thread within the window is not rescued (no rescue loops): a
# second instance under a 10 s window survives its first bad request, dies of the next.
sed -i 's/"window": "1us"/"window": "10s"/' "$WORK/p.json"
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
mkfifo "$WORK/in2"
( cd "$WORK" && exec "$SVC" unguarded < "$WORK/in2" > "$WORK/out2" 2>&1 ) &
PIDS+=($!)
second=$!
exec 4> "$WORK/in2"
rep2=$(wait_event ".kind == \"repair\" and .do == \"rescue\" and .state == \"applied\" and .pid == $second") ||
	fail "no rescue for the second instance"
echo "bad" >&4
for _ in $(seq 100); do grep -q '^error -1$' "$WORK/out2" && break; sleep 0.05; done
grep -q '^error -1$' "$WORK/out2" || fail "the second instance's first fault was not rescued: $(cat "$WORK/out2")"
echo "bad" >&4
exec 4>&-
wait "$second" 2>/dev/null
[ $? = 139 ] || fail "the second instance's second fault within the window did not kill it"
del=$(wait_event ".kind == \"repair\" and .state == \"delivered\" and .pid == $second") ||
	fail "no delivered line for the second fault"
jq -e '.reason | test("second fault")' <<<"$del" >/dev/null || fail "delivered for another reason: $del"

# salved killed: the service goes on untraced.
kill -9 "$SALVED_PID"
wait "$SALVED_PID" 2>/dev/null
SALVED_PID=
for _ in $(seq 40); do [ "$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")" = 0 ] && break; sleep 0.05; done
[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")" = 0 ] || fail "the service is still traced"
ask "z=12" "ok 2"
echo "bad" >&3
exec 3>&-
wait "$svc_job" 2>/dev/null
kill -0 "$pid" 2>/dev/null && fail "untraced, the service survived a bad request"
pass "1000 requests, 100 faults rescued at parse(), every answer right, memory flat ($rss -> $rss2 kB); a second fault within the window delivered; salved killed, the service went on untraced"
