#!/usr/bin/env bash
# A reload is all or nothing, with real kernel refusals:
# - the kernel refuses the second of three new attachments (a function whose first
#   instruction, hlt, uprobes cannot take, in a process that maps it);
# - the kernel refuses the new scope (its comm map is full: filled here through its pin).
# Each leaves `bpftool link show`, the pins, the rules and the events exactly as they
# were; `salvectl reload --check` says what would change and changes nothing; a later
# reload succeeds.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v bpftool > /dev/null || skip "needs bpftool"

svc=$TARGETS/unprobeable
run_target "$WORK/svc.out" "$svc" 50
for _ in $(seq 100); do grep -q ready "$WORK/svc.out" && break; sleep 0.05; done

fails='{"id": "fails", "kind": "return", "binary": "'"$svc"'", "symbol": "fail_often",
        "type": "int", "when": "< 0"}'
fine='{"id": "fine", "kind": "return", "binary": "'"$svc"'", "symbol": "also_fine",
       "type": "int", "when": "== 99"}'
refused='{"id": "refused", "kind": "return", "binary": "'"$svc"'", "symbol": "not_probeable",
          "type": "int", "when": "< 0"}'
third='{"id": "third", "kind": "latency", "binary": "'"$svc"'", "symbol": "also_fine",
        "threshold": "1s"}'
rule() { printf '{"id": "%s", "when": {"probe": "fails", "count": 100000, "within": "1s"},
                  "actions": [{"do": "log"}]}' "$1"; }
# policy FILE SCOPE PROBES RULES
policy() { write_policy "$1" '{"salve": 1, "name": "svc", "scope": '"$2"',
 "probes": ['"$3"'], "rules": ['"$4"']}'; }
bin_scope='{"binaries": ["'"$svc"'"]}'

policy "$WORK/p.json" "$bin_scope" "$fails" "$(rule r1)"
start_salved "$WORK/p.json" --stats-interval 1
wait_event '.probe == "fails"' > /dev/null || fail "no event from the running probe"

links() { bpftool link show | grep -E '^[0-9]+:' | sort; }
pins() { find "$PIN_DIR" | sort; }
# rules_now: the rule count of the next stats line salved writes.
rules_now() {
	local n
	n=$(count_events '.kind == "stats"')
	for _ in $(seq 100); do
		[ "$(count_events '.kind == "stats"')" -gt "$n" ] && break
		sleep 0.05
	done
	jq -c 'select(.kind == "stats") | .rules.rules' "$EVENTS" | tail -n1
}
# events_go_on: a new event of the running probe arrives after this point.
events_go_on() {
	local n
	n=$(count_events '.probe == "fails"')
	for _ in $(seq 100); do
		[ "$(count_events '.probe == "fails"')" -gt "$n" ] && return 0
		sleep 0.05
	done
	fail "events of the running probe stopped after $1"
}
reload() { "$BUILD/salvectl" reload --socket "$SOCKET" "$@"; }

links_before=$(links) pins_before=$(pins)
[ "$(rules_now)" = 1 ] || fail "expected 1 rule at start"

# --check says what would change, and changes nothing.
policy "$WORK/p.json" "$bin_scope" "$fails, $fine, $third" "$(rule r1), $(rule r2)"
check=$(reload --check --json) || fail "reload --check failed: $check"
expect "$check" '[.attach[].probe] | sort | join(",")' "fine,third"
expect "$check" '.detach | length' 0
expect "$check" '.keep' 1
[ "$(links)" = "$links_before" ] || fail "--check changed the kernel's links"
[ "$(rules_now)" = 1 ] || fail "--check changed the rules"

# 1. Three new attachments, the kernel refuses the second.
policy "$WORK/p.json" "$bin_scope" "$fails, $fine, $refused, $third" "$(rule r1), $(rule r2)"
out=$(reload 2>&1) && fail "a reload the kernel refuses was reported done: $out"
grep -qF 'probe "refused": cannot attach at '"$svc" <<<"$out" ||
	fail "the refusal does not name the probe and binary: $out"
[ "$(links)" = "$links_before" ] || fail "links changed: before
$links_before
after
$(links)"
[ "$(pins)" = "$pins_before" ] || fail "pins changed"
[ "$(rules_now)" = 1 ] || fail "the rules changed"
events_go_on "a refused attachment"

# 2. The scope map is full: the new scope cannot be staged.
junk=$WORK/junk.batch
for i in $(seq 1024); do
	printf 'map update pinned %s/maps/salve_scope_comm key hex %s value hex %s\n' "$PIN_DIR" \
		"$(printf 'junk%012d' "$i" | od -An -tx1 | tr -d '\n')" "$(printf '00 %.0s' $(seq 32))"
done > "$junk"
bpftool batch file "$junk" > /dev/null 2>&1 || true
[ "$(bpftool map dump pinned "$PIN_DIR/maps/salve_scope_comm" -j | jq length)" -ge 1024 ] ||
	fail "could not fill the comm map"
policy "$WORK/p.json" '{"binaries": ["'"$svc"'"], "comms": ["unprobeable"]}' \
	"$fails, $fine, $third" "$(rule r1), $(rule r2)"
out=$(reload 2>&1) && fail "a reload with a full map was reported done: $out"
grep -qF 'the kernel refused the new scope' <<<"$out" || fail "the refusal does not say why: $out"
[ "$(links)" = "$links_before" ] || fail "links changed after a refused scope"
[ "$(pins)" = "$pins_before" ] || fail "pins changed after a refused scope"
[ "$(rules_now)" = 1 ] || fail "the rules changed after a refused scope"
events_go_on "a refused scope"
sed 's/^map update \(pinned [^ ]* key hex [^v]*\)value.*/map delete \1/' "$junk" > "$junk.del"
bpftool batch file "$junk.del" > /dev/null 2>&1 || true

# 3. The same reload, with room in the map: it goes through.
out=$(reload 2>&1) || fail "a good reload after two refused ones failed: $out"
[ "$(rules_now)" = 2 ] || fail "the new rules are not in force"
[ "$(links | wc -l)" -gt "$(wc -l <<<"$links_before")" ] || fail "no new link after the reload"
events_go_on "a good reload"
pass "refused attachments and scopes left the kernel, the rules and the events as they were"
