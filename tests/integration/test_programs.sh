#!/usr/bin/env bash
# salved loads only the BPF programs its policies need, and each one it holds runs: with
# the default policy every program salved holds has a link (bpftool link show) and no
# function or syscall program is loaded; a reload that adds a latency probe and a
# syscall probe loads and attaches their programs, and they report; a reload back
# unloads them. The info lines say sys_exit comes and goes with the syscall probe.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v bpftool > /dev/null || skip "needs bpftool"

# The ids of the BPF programs salved holds, from its file descriptors.
held_progs() {
	local fd
	for fd in /proc/"$SALVED_PID"/fd/*; do
		[ "$(readlink "$fd")" = anon_inode:bpf-prog ] || continue
		sed -n 's/^prog_id:[[:space:]]*//p' "/proc/$SALVED_PID/fdinfo/${fd##*/}"
	done | sort -un
}

# check WHEN: every program salved holds is attached (bpftool, the outside view, lists a
# link running it); prints the names of salved's programs, sorted.
check_attached() {
	local when=$1 id name linked
	linked=$(bpftool link show -j | jq -r '.[].prog_id' | sort -un) || fail "bpftool link show"
	for id in $(held_progs); do
		name=$(bpftool prog show id "$id" -j | jq -r .name) || fail "bpftool prog show id $id"
		grep -qx "$id" <<<"$linked" || fail "$when: $name (program $id) is loaded but attached to nothing"
		echo "$name"
	done | sort
}

mkdir "$WORK/pol"
cp "$ROOT"/policies/default/*.json "$WORK/pol/"
start_salved "$WORK/pol"

# The default policy: signals and exits, nothing per site.
names=$(check_attached "default policy") || exit 1
grep -q '^salve_sig' <<<"$names" && grep -q '^salve_exit' <<<"$names" ||
	fail "default policy: the signal and exit programs are not loaded: $names"
grep -q '^salve_fn\|^salve_sys' <<<"$names" &&
	fail "default policy: function or syscall programs loaded: $names"
grep -q 'sys_exit' "$WORK/salved.err" && fail "sys_exit said at start without a syscall probe: $(cat "$WORK/salved.err")"

# A latency probe and a syscall probe come with a reload: their programs load and run.
write_policy "$WORK/pol/extra.json" '{"salve": 1, "name": "extra",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "slow-work", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "work", "threshold": "20ms"},
            {"id": "missing", "kind": "syscall", "syscalls": ["openat"], "errnos": ["ENOENT"]}]}'
out=$("$BUILD/salvectl" reload --socket "$SOCKET") || fail "reload adding probes: $out"
names=$(check_attached "with a latency and a syscall probe") || exit 1
grep -q '^salve_fn_session$\|^salve_fn_entry$' <<<"$names" ||
	fail "the latency probe's program is not loaded: $names"
grep -q '^salve_sys' <<<"$names" || fail "the syscall probe's program is not loaded: $names"
grep -q '^salve_fn_ret$\|^salve_fn_call$\|^salve_fn_throw$' <<<"$names" &&
	fail "programs of kinds no probe has are loaded: $names"
grep -q 'syscalls: sys_exit attached on' "$WORK/salved.err" ||
	fail "no info line for sys_exit attaching: $(cat "$WORK/salved.err")"

"$TARGETS/calls" slow 20 > "$WORK/slow.out"
pid=$(sed -n 's/^pid=\([0-9]*\) done/\1/p' "$WORK/slow.out")
ev=$(wait_event ".pid == $pid and .probe == \"slow-work\"") || fail "no latency event after the reload"
expect "$ev" .kind latency
"$TARGETS/calls" open "$WORK/no-such-file" > "$WORK/open.out"
pid=$(field "$WORK/open.out" pid)
ev=$(wait_event ".pid == $pid and .probe == \"missing\"") || fail "no syscall event after the reload"
expect "$ev" .errno ENOENT

# And back: the programs no probe needs are gone.
rm "$WORK/pol/extra.json"
out=$("$BUILD/salvectl" reload --socket "$SOCKET") || fail "reload back: $out"
names=$(check_attached "back to the default policy") || exit 1
grep -q '^salve_fn\|^salve_sys' <<<"$names" &&
	fail "after the reload back, function or syscall programs are still loaded: $names"
grep -q 'syscalls: sys_exit detached (no syscall probe left)' "$WORK/salved.err" ||
	fail "no info line for sys_exit detaching: $(cat "$WORK/salved.err")"
# The crash probe still reports.
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/crash.out" 2>&1
pid=$(field "$WORK/crash.out" pid)
wait_event ".pid == $pid and .probe == \"crashes\"" > /dev/null || fail "no crash event after the reloads"
pass "only the programs the policies need are loaded, each attached; a reload loads and unloads them"
