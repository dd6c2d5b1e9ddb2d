#!/usr/bin/env bash
# Under overload the stats line stays true. salved is stopped while a storm fills the
# kernel's ring, so records are lost for real; then, running, it reads two storms at
# full speed while answering salvectl and writing its stats lines on time; then a rate
# limit holds records back. Each time, for the signal kind: what the kernel saw is
# what salved received plus what was lost plus what the limit held back, every record
# received has its line, and the lines in the file are what the stats call reported.
# Under the storms salved reads the ring on a timer: it is woken far fewer times than it
# reads records.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "overload",
 "scope": {"binaries": ["'"$TARGETS/storm"'"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}'

# check WHAT: the last stats line against the event lines, after a drain.
check() {
	local stats seen received reported lost suppressed lines
	drain
	stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
	seen=$(jq .events.signal.seen <<<"$stats")
	received=$(jq .events.signal.received <<<"$stats")
	reported=$(jq .events.signal.reported <<<"$stats")
	lost=$(jq .events.signal.lost <<<"$stats")
	suppressed=$(jq .events.signal.suppressed <<<"$stats")
	lines=$(count_events '.kind == "signal" and .probe == "traps"')
	[ "$seen" = "$((received + lost + suppressed))" ] ||
		fail "$1: seen $seen != received $received + lost $lost + suppressed $suppressed"
	[ "$reported" = "$received" ] || fail "$1: received $received but reported $reported"
	[ "$lines" = "$reported" ] || fail "$1: $lines lines in the file, the stats say $reported"
	echo "$seen $received $lost $suppressed"
}

# storms N: N storm processes at full speed for 2 s; the signals they raised.
storms() {
	local i sent=0
	for i in $(seq "$1"); do run_target "$WORK/storm.$i" "$TARGETS/storm" 0 2; done
	for i in $(seq "$1"); do wait "${PIDS[-$i]}"; done
	for i in $(seq "$1"); do sent=$((sent + $(field "$WORK/storm.$i" sent))); done
	echo "$sent"
}

# 1. salved stopped: the ring overflows, and the kernel's losses are counted.
start_salved "$WORK/p.json" --rate 0
kill -STOP "$SALVED_PID"
sent=$(storms 1)
kill -CONT "$SALVED_PID"
read -r seen received lost suppressed < <(check "stopped")
[ "$seen" = "$sent" ] || fail "stopped: the storm raised $sent, the kernel saw $seen"
[ "$lost" -gt 0 ] || fail "stopped: a storm into a stopped reader lost nothing ($seen seen)"
[ "$suppressed" = 0 ] || fail "stopped: $suppressed suppressed without a rate limit"
stopped="$seen seen, $received received, $lost lost"
stop_salved

# 2. Two storms at full speed: salvectl answers and the stats lines come every second.
start_salved "$WORK/p.json" --rate 0 --stats-interval 1
before=$(count_events '.kind == "stats"')
woken() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$SALVED_PID/status"; }
woken_before=$(woken)
storms 2 > "$WORK/sent" &
spid=$!
sleep 0.5
for i in 1 2 3; do
	timeout 5 "$BUILD/salvectl" status --socket "$SOCKET" > /dev/null ||
		fail "storms: salvectl status got no answer within 5 s"
	sleep 0.3
done
wait "$spid"
woke=$(( $(woken) - woken_before ))
sent=$(cat "$WORK/sent")
during=$(( $(count_events '.kind == "stats"') - before ))
[ "$during" -ge 1 ] || fail "storms: no stats line was written during 2 s of storms"
read -r seen received lost suppressed < <(check "storms")
[ "$seen" = "$sent" ] || fail "storms: the storms raised $sent, the kernel saw $seen"
# Under a storm the ring is read on a timer, not on a wake-up per record.
[ $((woke * 10)) -lt "$received" ] ||
	fail "storms: salved slept and woke $woke times for $received records"
storms_said="$seen seen, $received received, $lost lost, $woke wake-ups"
stop_salved

# 3. A rate limit: what it held back is counted, not lost.
start_salved "$WORK/p.json" --rate 100/200
sent=$(storms 1)
read -r seen received lost suppressed < <(check "rate limit")
[ "$seen" = "$sent" ] || fail "rate limit: the storm raised $sent, the kernel saw $seen"
[ "$suppressed" -gt 0 ] || fail "rate limit: nothing was held back of $seen"
[ "$lost" = 0 ] || fail "rate limit: $lost lost"

pass "stats true under overload: stopped reader ($stopped); two storms ($storms_said," \
	"salvectl answered); rate limit ($seen seen, $received received, $suppressed held back)"
