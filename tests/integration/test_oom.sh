#!/usr/bin/env bash
# An OOM kill: a target in a memory cgroup with a small limit allocates until the OOM
# killer chooses it; salve reports the victim with its memory figures, then its death
# by SIGKILL.
. "$(dirname "$0")/lib.sh"
need_bpf

# The memory controller: cgroup v2 where it is enabled there, else the v1 hierarchy.
if grep -qw memory /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null ||
   grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	root=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
	CG=$root/salve-oom-$$
	mkdir "$CG" || fail "cannot create $CG"
	echo 64M > "$CG/memory.max"; echo 0 > "$CG/memory.swap.max" 2>/dev/null
elif [ -d /sys/fs/cgroup/memory ]; then
	CG=/sys/fs/cgroup/memory/salve-oom-$$
	mkdir "$CG" || fail "cannot create $CG"
	echo 64M > "$CG/memory.limit_in_bytes"
	echo 64M > "$CG/memory.memsw.limit_in_bytes" 2>/dev/null
else
	skip "no memory cgroup controller"
fi
trap 'rmdir "$CG" 2>/dev/null; cleanup' EXIT

write_policy "$WORK/p.json" '{"salve": 1, "name": "oom",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "oom", "kind": "oom"}, {"id": "exits", "kind": "exit", "nonzero": true}]}'
start_salved "$WORK/p.json"

( echo $BASHPID > "$CG/cgroup.procs"; ulimit -c 0; exec "$TARGETS/crash" hog ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
ev=$(wait_event ".kind == \"oom\" and .pid == $pid") || fail "no oom event for pid $pid"
expect "$ev" .probe oom
expect "$ev" .comm crash
jq -e '.anon_rss_kb > 32768 and .total_vm_kb >= .anon_rss_kb' <<<"$ev" >/dev/null ||
	fail "memory figures do not show the hog: $ev"
ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "no exit event"
expect "$ex" .signal SIGKILL
pass "OOM kill reported with memory figures"
