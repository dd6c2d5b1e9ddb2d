#!/usr/bin/env bash
# A rule by process: 3 error returns within 1 s fire an exec action exactly once, with
# the incident on its stdin and its key fields in its environment; the 4th error, inside
# the cooldown, fires nothing; a sibling process with only 2 errors fires nothing. The
# incident line names the rule, the process, the events and the action it started; the
# action's own line its outcome (exit status, output); the journal holds the action
# before and after.
. "$(dirname "$0")/lib.sh"
need_bpf

cat > "$WORK/record.sh" <<'SH'
#!/bin/sh
# Leaves what it was given where the test looks: stdin, environment, arguments.
n=$(ls "$1" | wc -l)
cat > "$1/stdin.$n"
env > "$1/env.$n"
echo "recorded run $n"
SH
chmod +x "$WORK/record.sh"
mkdir "$WORK/runs"

write_policy "$WORK/p.json" '{"salve": 1, "name": "rules",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "parse-errors", "kind": "return", "binary": "'"$TARGETS/calls"'",
             "symbol": "parse_item", "type": "int", "when": "< 0"}],
 "rules": [{"id": "parse-failing", "by": "process",
            "when": {"probe": "parse-errors", "count": 3, "within": "1s"},
            "cooldown": "10s", "budget": 10,
            "actions": [{"do": "exec", "command": ["'"$WORK/record.sh"'", "'"$WORK/runs"'"],
                         "timeout": "5s"}]}]}'
start_salved "$WORK/p.json"

# calls fail N fails at i = 3, 10, 17, 24...: 17 calls give 2 errors, 25 give 4.
"$TARGETS/calls" fail 17 > "$WORK/sibling"
sibling=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$WORK/sibling")
"$TARGETS/calls" fail 25 > "$WORK/out"
pid=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$WORK/out")
[ -n "$pid" ] && [ -n "$sibling" ] || fail "targets did not run: $(cat "$WORK/out" "$WORK/sibling")"

inc=$(wait_event '.kind == "incident"') || fail "no incident for 3 errors within 1 s"
expect "$inc" .rule parse-failing
expect "$inc" .policy rules
expect "$inc" .pid "$pid"
expect "$inc" '.events.counts[0].probe' parse-errors
expect "$inc" '.events.counts[0].events' 3
expect "$inc" '.events.last | length' 3
expect "$inc" '.events.last[0].ret' -4
# Return events carry no stack here: the suspect is the probed function.
expect "$inc" '.suspect.symbol' parse_item
expect "$inc" '.suspect.module' "$TARGETS/calls"
expect "$inc" '.actions[0].do' exec
expect "$inc" '.actions[0].index' 0
expect "$inc" '.actions[0].state' running
id=$(jq -r .id <<<"$inc")
act=$(wait_event ".kind == \"action\" and .incident == $id") ||
	fail "no action line for incident $id"
expect "$act" .index 0
expect "$act" .do exec
expect "$act" .rule parse-failing
expect "$act" .outcome exited
expect "$act" .status 0
expect "$act" '.output == "recorded run 0\n"' true
drain
[ "$(count_events '.kind == "incident"')" = 1 ] ||
	fail "expected one incident (the 4th error is inside the cooldown, the sibling erred twice), got $(count_events '.kind == "incident"')"
[ "$(ls "$WORK/runs" | grep -c '^stdin')" = 1 ] || fail "the command ran $(ls "$WORK/runs" | grep -c '^stdin') times"

# What the command was given.
jq -e ".kind == \"incident\" and .rule == \"parse-failing\" and .pid == $pid" "$WORK/runs/stdin.0" \
	> /dev/null || fail "stdin was not the incident: $(cat "$WORK/runs/stdin.0")"
grep -qx "SALVE_RULE=parse-failing" "$WORK/runs/env.0" || fail "SALVE_RULE: $(cat "$WORK/runs/env.0")"
grep -qx "SALVE_PID=$pid" "$WORK/runs/env.0" || fail "SALVE_PID: $(cat "$WORK/runs/env.0")"
grep -qx "SALVE_POLICY=rules" "$WORK/runs/env.0" || fail "SALVE_POLICY: $(cat "$WORK/runs/env.0")"
grep -qx "SALVE_PROBE=parse-errors" "$WORK/runs/env.0" || fail "SALVE_PROBE: $(cat "$WORK/runs/env.0")"
grep -qx "SALVE_BINARY=$TARGETS/calls" "$WORK/runs/env.0" || fail "SALVE_BINARY: $(cat "$WORK/runs/env.0")"
grep -qx "SALVE_EVENTS=3" "$WORK/runs/env.0" || fail "SALVE_EVENTS: $(cat "$WORK/runs/env.0")"

# The journal: the action recorded before it ran, and its outcome after.
journal=$WORK/state/journal.jsonl
[ -s "$journal" ] || fail "no journal in --state-dir"
seq=$(jq -r 'select(.type == "begin" and .action.do == "exec" and .rule == "parse-failing") | .seq' \
	"$journal")
[ -n "$seq" ] || fail "the journal has no begin entry for the exec: $(cat "$journal")"
expect "$(jq -c "select(.type == \"begin\" and .seq == $seq)" "$journal")" .pid "$pid"
expect "$(jq -c "select(.type == \"end\" and .seq == $seq)" "$journal")" .outcome.outcome exited
# The stats line at exit counts the rule's incident; both processes were forgotten
# when they exited.
stop_salved
st=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
expect "$st" .rules.incidents 1
expect "$st" .rules.groups 0
pass "3 errors within 1 s fired exec once, with the incident on stdin and SALVE_* in env"
