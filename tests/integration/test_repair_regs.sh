#!/usr/bin/env bash
# Overrides by uprobes that write the registers, where the kernel lets uprobe programs
# do so (Linux 6.18 upstream). salved probes for it at start and says which mechanism it
# uses. Where the writes load: an override of parse() with "when" takes effect with the
# process's text untouched ("mechanism": "uprobe_regs"), only on the calls that pass the
# test, and ends on rollback. Where the kernel refuses them: salved names the kernel's
# reason, and the same override is a hot patch; the uprobe path is not run, and this
# test says why. salvectl features says which, with the kernel's reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "repair",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "faults", "kind": "signal"}],
 "rules": [{"id": "guarded-faults", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"},
            "verify": "30s", "budget": 10,
            "actions": [{"do": "override", "binary": "'"$SVC"'", "symbol": "parse",
                         "return": -7, "when": "arg0 != 0"}]}]}'
start_salved "$WORK/p.json"
if grep -q "repairs: overrides by uprobes that write the registers" "$WORK/salved.err"; then
	mech=uprobe_regs
else
	why=$(sed -n 's/.*uprobe register writes refused: \(.*\))$/\1/p' "$WORK/salved.err")
	[ -n "$why" ] || fail "salved names no mechanism: $(cat "$WORK/salved.err")"
	mech=hot_patch
fi

# salvectl features says the same.
feat=$("$BUILD/salvectl" features -j --socket "$SOCKET") || fail "salvectl features failed"
avail=$(jq -r '.features[] | select(.name == "uprobe register writes") | .available' <<<"$feat")
[ "$avail" = "$([ "$mech" = uprobe_regs ] && echo true || echo false)" ] ||
	fail "salvectl features disagrees with salved's log: $feat"
[ "$mech" = uprobe_regs ] || jq -e --arg w "$why" \
	'.features[] | select(.name == "uprobe register writes") | .detail == $w' <<<"$feat" >/dev/null ||
	fail "salvectl features does not give the kernel's reason: $feat"
"$BUILD/salvectl" features --socket "$SOCKET" | grep -q "^uprobe register writes" ||
	fail "salvectl features: $("$BUILD/salvectl" features --socket "$SOCKET")"

service_start
ask "a=12" "ok 2"
ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid") ||
	fail "no repair applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$rep" .mechanism "$mech"
ask "bad" "error -7"
ask "b=1" "error -7"
id=$(jq .id <<<"$rep")
if [ "$mech" = uprobe_regs ]; then
	# Nothing written: the function's first bytes are the file's.
	off=$(jq -r .file_offset <<<"$rep")
	want=$(od -An -tx1 -j "$((off))" -N 8 "$SVC" | tr -d ' \n')
	mem "$want" "$(jq -r .address <<<"$rep")"
fi
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "salvectl rollback $id failed"
wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id" >/dev/null ||
	fail "no rolled_back line for $id"
ask "c=123" "ok 3"
if [ "$mech" = uprobe_regs ]; then
	pass "an override by a uprobe writing the registers: applied with the text untouched, rolled back"
else
	pass "this kernel refuses uprobe register writes ($why): the override was a hot patch; the uprobe path is not run here"
fi
