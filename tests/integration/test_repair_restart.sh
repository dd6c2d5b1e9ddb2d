#!/usr/bin/env bash
# Repairs survive salved: killed with SIGKILL with a repair in effect, salved started
# again adopts it (its process still holds salve's bytes); and the two moments a kill can
# fall between, rebuilt from the same run: journaled but not yet written (the process
# has the file's bytes: nothing to adopt, the journal says interrupted), written but not
# yet recorded (the process has salve's bytes: adopted from the journal's begin entry).
# A repair whose rule is gone when salved starts again is undone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

policy() { # policy FILE RULE_ID
	write_policy "$1" '{"salve": 1, "name": "repair",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "faults", "kind": "signal"}],
 "rules": [{"id": "'"$2"'", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"},
            "verify": "10m", "budget": 10, "cooldown": "1m",
            "actions": [{"do": "override", "binary": "'"$SVC"'", "symbol": "parse",
                         "return": -1}]}]}'
}
policy "$WORK/p.json" guarded
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel

service_start
# restart: SIGKILL salved, then start it again on the same state directory.
restart() {
	kill -9 "$SALVED_PID"
	wait "$SALVED_PID" 2>/dev/null
	SALVED_PID=
	start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel
}
# forget_end: the journal as if salved died before the repair's end entry, and before
# it kept the repair in repairs.json.
forget_end() {
	python3 - "$WORK/state/journal.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
keep = [l for l in lines if json.loads(l).get("type") != "end"]
open(sys.argv[1], "w").write("".join(l + "\n" for l in keep))
PY
	rm -f "$WORK/state/repairs.json"
}

ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\"") || fail "no repair applied"
id=$(jq .id <<<"$rep")
addr=$(jq -r .address <<<"$rep")
orig=$(jq -r .original <<<"$rep")
code=$(jq -r .patched <<<"$rep")

# 1. Killed with the repair in effect: the process keeps it, salved adopts it.
restart
ask "bad" "error -1"
ad=$(wait_event ".kind == \"repair\" and .state == \"adopted\"") || fail "repair $id not adopted: $(cat "$EVENTS")"
expect "$ad" .id "$id"
expect "$ad" .pid "$pid"
"$BUILD/salvectl" repairs -j --socket "$SOCKET" | jq -e ".repairs[] | select(.id == $id)" >/dev/null ||
	fail "salvectl repairs does not list the adopted repair"

# 2. Written but not recorded: adopted from the journal's begin entry.
forget_end
restart
wait_event ".kind == \"repair\" and .state == \"adopted\" and .symbol == \"parse\"" >/dev/null ||
	fail "a written, unrecorded repair was not adopted: $(cat "$EVENTS")"
grep -q '"outcome":"interrupted"' "$WORK/state/journal.jsonl" ||
	fail "the journal does not say the entry was interrupted"

# 3. Journaled but not written: the process has the file's bytes; nothing is adopted.
forget_end
mem "$orig" "$addr" write
restart
drain
[ "$(count_events '.kind == "repair"')" = 0 ] || fail "a repair never written was adopted: $(cat "$EVENTS")"
ask "k=12" "ok 2"
mem "$orig" "$addr"

# 4. A repair whose rule is gone when salved starts again is undone.
mem "$code" "$addr" write
forget_end
policy "$WORK/p.json" another
restart
back=$(wait_event ".kind == \"repair\" and .state == \"rolled_back\"") || fail "not undone: $(cat "$EVENTS")"
expect "$back" .reason "its rule is no longer loaded"
mem "$orig" "$addr"
ask "k=123" "ok 3"
exec 3>&-
pass "a repair in effect adopted after SIGKILL; written-unrecorded adopted, journaled-unwritten left original, rule gone undone"
