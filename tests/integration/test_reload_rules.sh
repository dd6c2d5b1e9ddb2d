#!/usr/bin/env bash
# Hot reload keeps what did not change. A SIGHUP with a broken file keeps the old rules
# firing and reports the error. A SIGHUP that adds a probe attaches it while the sites
# already there keep their counters (a learned latency baseline survives, so an outlier
# right after the reload is still caught) and an unchanged rule keeps its window (two
# errors before the reloads and one after fire it).
. "$(dirname "$0")/lib.sh"
need_bpf

calls=$TARGETS/calls
probes='{"id": "parse-errors", "kind": "return", "binary": "'"$calls"'",
          "symbol": "parse_item", "type": "int", "when": "< 0"},
         {"id": "work-outliers", "kind": "latency", "binary": "'"$calls"'", "symbol": "work",
          "baseline": {"percentile": 99, "factor": 3, "window": "1m"}}'
rule='{"id": "parse-failing", "by": "binary",
       "when": {"probe": "parse-errors", "count": 3, "within": "30s"},
       "actions": [{"do": "log"}]}'
policy() { write_policy "$WORK/p.json" '{"salve": 1, "name": "reload",
 "scope": {"binaries": ["'"$calls"'"]}, "probes": ['"$1"'], "rules": ['"$rule"']}'; }
hup() {
	local before
	before=$(grep -c "$1" "$WORK/salved.err")
	kill -HUP "$SALVED_PID"
	for _ in $(seq 100); do
		[ "$(grep -c "$1" "$WORK/salved.err")" -gt "$before" ] && return 0
		sleep 0.05
	done
	fail "no '$1' after SIGHUP: $(cat "$WORK/salved.err")"
}

policy "$probes"
start_salved "$WORK/p.json"
"$calls" fail 17 > /dev/null # 2 errors: the rule's window holds 2 of its 3

# A broken file: refused, said so, and the rule still counts and fires.
printf '{"salve": 1, "name": "reload", "rules": [' > "$WORK/p.json"
hup 'reload refused'
grep -qF "reload refused, the running policy stays: $WORK/p.json:1:" "$WORK/salved.err" ||
	fail "the refusal does not name the file and position: $(cat "$WORK/salved.err")"

# Teach the latency site its baseline, then add a probe.
"$calls" learn > "$WORK/learn"
policy "$probes"',
 {"id": "beats", "kind": "stall", "binary": "'"$calls"'", "symbol": "tick", "every": "1s"}'
hup 'reloaded 1 policy'
grep -q 'probe beats: ' "$WORK/salved.err" || fail "the new probe was not attached"

# Outliers right after the reload, before any new call could teach a baseline: caught
# only if the site kept its learned threshold.
"$calls" slow 20 > "$WORK/slow"
pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/slow")
wait_event ".pid == $pid and .probe == \"work-outliers\"" > /dev/null ||
	fail "the 30 ms calls after the reload were not caught: the site lost its baseline"

# One more error: with the 2 from before both reloads, the unchanged rule fires.
[ "$(count_events '.kind == "incident"')" = 0 ] || fail "fired before its third error"
"$calls" fail 4 > /dev/null
inc=$(wait_event '.kind == "incident"') || fail "the rule lost its window across the reloads"
expect "$inc" .rule parse-failing
expect "$inc" '.events.counts[0].events' 3
pass "a broken reload kept the rules; an added probe kept the others' state"
