#!/usr/bin/env bash
# A rule whose command runs long (sleep 60): the incident line is written at once, the
# action running, and its verify line after it; salved stopped with SIGTERM waits 5 s
# for the command, then kills it, writes its action line as "interrupted", ends its
# journal entry the same way, and exits 0.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "slow",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "parse-errors", "kind": "return", "binary": "'"$TARGETS/calls"'",
             "symbol": "parse_item", "type": "int", "when": "< 0"}],
 "rules": [{"id": "slow-repair", "by": "process",
            "when": {"probe": "parse-errors", "count": 3, "within": "1s"},
            "verify": "1s",
            "actions": [{"do": "exec", "timeout": "5m",
                         "command": ["/bin/sh", "-c", "echo $$ > '"$WORK/pid"'; exec sleep 60"]},
                        {"do": "log", "message": "after the command"}]}]}'
start_salved "$WORK/p.json"

"$TARGETS/calls" fail 25 > "$WORK/out"
pid=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$WORK/out")
[ -n "$pid" ] || fail "the target did not run: $(cat "$WORK/out")"

# The incident comes while its command sleeps.
inc=$(wait_event '.kind == "incident"') || fail "no incident for 3 errors within 1 s"
id=$(jq -r .id <<<"$inc")
expect "$inc" .pid "$pid"
expect "$inc" '.actions | length' 2
expect "$inc" '.actions[0].do' exec
expect "$inc" '.actions[0].state' running
expect "$inc" '.actions[1].state' queued
for _ in $(seq 200); do [ -s "$WORK/pid" ] && break; sleep 0.05; done
sleeper=$(cat "$WORK/pid" 2>/dev/null)
[ -n "$sleeper" ] && kill -0 "$sleeper" 2>/dev/null || fail "the command is not running"
[ "$(count_events '.kind == "action"')" = 0 ] || fail "an action line before the command ended"

# The verify line (the target exits: resolved) comes after its incident's.
wait_event ".kind == \"verify\" and .incident == $id" > /dev/null ||
	fail "no verify line for incident $id"
order=$(jq -r "select((.kind == \"incident\" and .id == $id) or
		      (.kind == \"verify\" and .incident == $id)) | .kind" "$EVENTS" | paste -sd,)
[ "$order" = "incident,verify" ] || fail "lines in the order $order"
kill -0 "$sleeper" 2>/dev/null || fail "the command ended before salved was stopped"

# Stop: the command is given the bound, then killed and recorded.
start_ns=$(date +%s%N)
salved=$SALVED_PID
SALVED_PID=
kill -TERM "$salved"
for _ in $(seq 300); do kill -0 "$salved" 2>/dev/null || break; sleep 0.05; done
kill -0 "$salved" 2>/dev/null && { kill -9 "$salved"; fail "salved still runs 15 s after SIGTERM"; }
wait "$salved"
rc=$?
waited_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
[ "$rc" = 0 ] || fail "salved exited $rc"
[ "$waited_ms" -ge 4500 ] && [ "$waited_ms" -lt 10000 ] ||
	fail "salved took $waited_ms ms to stop; the bound is 5 s"
kill -0 "$sleeper" 2>/dev/null && fail "the command $sleeper outlived salved"

act=$(jq -c "select(.kind == \"action\" and .incident == $id and .index == 0)" "$EVENTS")
[ -n "$act" ] || fail "no action line for the command"
expect "$act" .do exec
expect "$act" .outcome interrupted
expect "$act" '.duration_ms >= 5000' true
act=$(jq -c "select(.kind == \"action\" and .incident == $id and .index == 1)" "$EVENTS")
expect "$act" .do log
expect "$act" .outcome "skipped: salved stopping"

journal=$WORK/state/journal.jsonl
seq=$(jq -r "select(.type == \"begin\" and .incident == $id and .index == 0) | .seq" "$journal")
[ -n "$seq" ] || fail "the journal has no begin entry for the command: $(cat "$journal")"
expect "$(jq -c "select(.type == \"end\" and .seq == $seq)" "$journal")" .outcome.outcome interrupted
[ "$(jq -c "select(.type == \"begin\" and .incident == $id and .index == 1)" "$journal")" = "" ] ||
	fail "the log action, never started, has a journal entry"
pass "the incident line came at once; at SIGTERM the command got 5 s, then was interrupted and recorded"
