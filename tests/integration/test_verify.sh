#!/usr/bin/env bash
# Verify for a crash rule, counted by process: the crashed process is gone, so the
# window watches its executable (the service restarted). A restart that crashes again
# within the window: "persists", after its incident's line. One that does not:
# "resolved", only when the window ends. The events inside an incident are the events'
# own lines (one timestamp per event).
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "verify",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit"}],
 "rules": [{"id": "crash-loop", "by": "process",
            "when": {"probe": "crashes", "count": 1, "within": "1m"},
            "verify": "3s", "budget": 10,
            "actions": [{"do": "log", "message": "crashed"}]}]}'
start_salved "$WORK/p.json"

crash() { { ( ulimit -c 0; cd "$WORK" && exec "$TARGETS/crash" null ) > "$WORK/out" 2>&1; } 2>/dev/null
	field "$WORK/out" pid; }
lineno() { grep -n . "$EVENTS" |
	while IFS= read -r l; do jq -e "$1" <<<"${l#*:}" >/dev/null 2>&1 && { echo "${l%%:*}"; break; }; done; }

pid1=$(crash)
inc1=$(wait_event ".kind == \"incident\" and .pid == $pid1") || fail "no incident for $pid1"
id1=$(jq .id <<<"$inc1")
sig1=$(wait_event ".kind == \"signal\" and .pid == $pid1")
[ "$(jq -c '.events.last[-1]' <<<"$inc1")" = "$sig1" ] ||
	fail "the incident's event is not the event's own line: $(jq -c '.events.last[-1]' <<<"$inc1") vs $sig1"
wait_event ".kind == \"exit\" and .pid == $pid1" > /dev/null || fail "no exit for $pid1"
drain
[ "$(count_events ".kind == \"verify\" and .incident == $id1")" = 0 ] ||
	fail "incident $id1 verified when its process exited: $(wait_event ".kind == \"verify\"")"

# The service restarts and crashes again within the window: the repair did not help.
pid2=$(crash)
v1=$(wait_event ".kind == \"verify\" and .incident == $id1") || fail "no verify line for incident $id1"
expect "$v1" .outcome persists
inc2=$(wait_event ".kind == \"incident\" and .pid == $pid2") || fail "no incident for $pid2"
id2=$(jq .id <<<"$inc2")
[ "$(lineno ".kind == \"incident\" and .id == $id1")" -lt "$(lineno ".kind == \"verify\" and .incident == $id1")" ] ||
	fail "the verify line of incident $id1 comes before its incident"

# Then it stays up: resolved, at the window's end, not when the process went.
wait_event ".kind == \"exit\" and .pid == $pid2" > /dev/null || fail "no exit for $pid2"
drain
[ "$(count_events ".kind == \"verify\" and .incident == $id2")" = 0 ] ||
	fail "incident $id2 verified when its process exited"
v2=$(wait_event ".kind == \"verify\" and .incident == $id2" 15) || fail "no verify line for incident $id2"
expect "$v2" .outcome resolved
t_inc=$(date -d "$(jq -r .time <<<"$inc2")" +%s.%N)
t_ver=$(date -d "$(jq -r .time <<<"$v2")" +%s.%N)
awk -v a="$t_inc" -v b="$t_ver" 'BEGIN { exit !(b - a >= 3 && b - a < 6) }' ||
	fail "resolved $(awk -v a="$t_inc" -v b="$t_ver" 'BEGIN { print b - a }') s after the incident, the window is 3 s"
[ "$(lineno ".kind == \"incident\" and .id == $id2")" -lt "$(lineno ".kind == \"verify\" and .incident == $id2")" ] ||
	fail "the verify line of incident $id2 comes before its incident"
pass "a crash rule's verify watches the restarted binary: persists on a second crash, resolved at the window's end"
