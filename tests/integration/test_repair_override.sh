#!/usr/bin/env bash
# Repairs in a running process: a server-like target whose crash guard catches the
# SIGSEGV of parse() on bad requests. The first caught fault fires a rule that overrides
# parse() to return -1: the next bad request gets "error -1", no fault; salvectl repairs
# lists it; the rule's verify window passes without a fault: "verified". salvectl
# rollback puts the original bytes back: requests parse again. Then a rule whose repair
# does not stop the fault (it overrides audit(), not parse()): the fault comes back
# within the window, the repair is rolled back, and the process's bytes are the file's
# again. salve's own return probe on parse() sees the overridden returns: probe and
# patch do not fight. A redirect of parse() to parse_v1(), the fixed one: bad requests are refused,
# good ones served. Refused repairs write nothing and say why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

policy() { # policy FILE ACTION: the rule that fires on the first caught fault
	write_policy "$1" '{"salve": 1, "name": "repair",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "faults", "kind": "signal"},
            {"id": "parse-fails", "kind": "return", "binary": "'"$SVC"'", "symbol": "parse",
             "when": "< 0"}],
 "rules": [{"id": "guarded-faults", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"},
            "verify": "3s", "budget": 10, "cooldown": "1m", "actions": ['"$2"']}]}'
}
override() { echo '{"do": "override", "binary": "'"$SVC"'", "symbol": "'"$1"'", "return": '"$2"'}'; }
policy "$WORK/p.json" "$(override parse -1)"
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel

service_start

ask "a=12" "ok 2"
ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid") ||
	fail "no repair applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$rep" .do override
expect "$rep" .symbol parse
expect "$rep" .binary "$SVC"
expect "$rep" .mechanism hot_patch
expect "$rep" .return -1
id=$(jq .id <<<"$rep")
mem "$(jq -r .patched <<<"$rep")" "$(jq -r .address <<<"$rep")"
ask "bad" "error -1"
ask "b=1" "error -1"
# salve's own return probe on parse() keeps working on the patched function: its uprobe
# is on the first instruction, which the patch follows.
[ "$(jq -r .after_first <<<"$rep")" -gt 0 ] || fail "the patch is not after the first instruction: $rep"
ret=$(wait_event ".kind == \"return\" and .pid == $pid and .ret == -1") ||
	fail "the return probe saw no overridden return: $(jq -c 'select(.kind == "return")' "$EVENTS")"
"$BUILD/salvectl" repairs -j --socket "$SOCKET" | jq -e ".repairs[] | select(.id == $id and .symbol == \"parse\")" >/dev/null ||
	fail "salvectl repairs does not list repair $id: $("$BUILD/salvectl" repairs -j --socket "$SOCKET")"
"$BUILD/salvectl" repairs --socket "$SOCKET" | grep -q "parse in $SVC returns -1" ||
	fail "salvectl repairs: $("$BUILD/salvectl" repairs --socket "$SOCKET")"

# No fault within the window: the repair stays, verified.
wait_event ".kind == \"repair\" and .state == \"verified\" and .id == $id" 8 >/dev/null ||
	fail "repair $id not verified: $(grep -E '"verify"|"repair"' "$EVENTS")"

# Undone on request: the file's bytes back, requests parse again.
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "salvectl rollback $id failed"
back=$(wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id") ||
	fail "no rolled_back line for $id"
expect "$back" .reason "asked for (salvectl rollback)"
mem "$(jq -r .original <<<"$rep")" "$(jq -r .address <<<"$rep")"
ask "c=123" "ok 3"
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" 2>"$WORK/rb.err" && fail "a second rollback of $id succeeded"
grep -q "no repair $id is in effect" "$WORK/rb.err" || fail "second rollback: $(cat "$WORK/rb.err")"

# A repair that does not help: overriding audit() leaves parse() faulting.
policy "$WORK/p.json" "$(override audit -1)"
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
ask "bad" "fault"
rep2=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .symbol == \"audit\"") ||
	fail "no repair of audit: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
id2=$(jq .id <<<"$rep2")
ask "bad" "fault"
back2=$(wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id2" 8) ||
	fail "repair $id2 not rolled back: $(grep -E '"verify"|"repair"' "$EVENTS")"
expect "$back2" .reason "the fault did not stop within the rule's verify window"
mem "$(jq -r .original <<<"$rep2")" "$(jq -r .address <<<"$rep2")"

# A redirect to the fixed parse_v1(): bad requests refused (-EINVAL), good ones served.
policy "$WORK/p.json" '{"do": "redirect", "binary": "'"$SVC"'", "symbol": "parse", "to": "parse_v1"}'
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
ask "bad" "fault"
rep3=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .do == \"redirect\"") ||
	fail "no redirect: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$rep3" .to parse_v1
expect "$rep3" .to_binary "$SVC"
ask "bad" "error -22"
ask "key=1234" "ok 4"
"$BUILD/salvectl" rollback "$(jq .id <<<"$rep3")" --socket "$SOCKET" >/dev/null || fail "rollback of the redirect failed"
mem "$(jq -r .original <<<"$rep3")" "$(jq -r .address <<<"$rep3")"

# Refused: a function the binary does not have; nothing applied, the reason named.
policy "$WORK/p.json" "$(override no_such_fn 0)"
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
ask "bad" "fault"
ref=$(wait_event ".kind == \"repair\" and .state == \"refused\"") || fail "no refused repair line"
jq -e '.reason | test("no_such_fn")' <<<"$ref" >/dev/null || fail "the refusal does not name the symbol: $ref"
exec 3>&-
pass "override applied in a running process ($id), verified, rolled back on request; a repair that did not stop the fault rolled back after its window; a redirect to the fixed function; a refusal named"
