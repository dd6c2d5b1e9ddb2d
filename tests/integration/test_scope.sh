#!/usr/bin/env bash
# A policy scoped to one binary reports its crash and not a crash of another binary run
# at the same time.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "one-binary",
 "scope": {"binaries": ["'"$TARGETS/crash-nopie"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/out1" 2>&1 &
one=$!
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash-nopie" null ) > "$WORK/out2" 2>&1 &
two=$!
wait "$one" "$two"
other=$(field "$WORK/out1" pid); mine=$(field "$WORK/out2" pid)
[ -n "$other" ] && [ -n "$mine" ] || fail "targets did not run"
ev=$(wait_event ".kind == \"signal\" and .pid == $mine") || fail "no event for the scoped binary"
expect "$ev" '.stack[0].symbol' fault_null_deref
expect "$ev" '.stack[0].module' "$TARGETS/crash-nopie"
drain
[ "$(count_events ".pid == $other")" = 0 ] || fail "the binary out of scope was reported"
stop_salved

# Scope by cgroup (a child of the named cgroup counts) and by comm, in two policies:
# each event names the probe of the policy whose scope holds the process.
CG_ROOT=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
CG=salve-scope-$$
mkdir -p "$CG_ROOT/$CG/child" || fail "cannot create a cgroup under $CG_ROOT"
trap 'rmdir "$CG_ROOT/$CG/child" "$CG_ROOT/$CG" 2>/dev/null; cleanup' EXIT
mkdir "$WORK/d"
write_policy "$WORK/d/a.json" '{"salve": 1, "name": "by-cgroup", "scope": {"cgroups": ["/'"$CG"'"]},
 "probes": [{"id": "cgroup-crashes", "kind": "signal"}]}'
write_policy "$WORK/d/b.json" '{"salve": 1, "name": "by-comm", "scope": {"comms": ["crash-nopie"]},
 "probes": [{"id": "comm-crashes", "kind": "signal"}]}'
start_salved "$WORK/d"

( echo $BASHPID > "$CG_ROOT/$CG/child/cgroup.procs"; ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/out1" 2>&1
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash-nopie" null ) > "$WORK/out2" 2>&1
( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" null ) > "$WORK/out3" 2>&1
in_cg=$(field "$WORK/out1" pid); by_comm=$(field "$WORK/out2" pid); neither=$(field "$WORK/out3" pid)
ev=$(wait_event ".pid == $in_cg") || fail "no event for the process in the cgroup"
expect "$ev" .probe cgroup-crashes
expect "$ev" .cgroup_id "$(stat -c %i "$CG_ROOT/$CG/child")"
ev=$(wait_event ".pid == $by_comm") || fail "no event for the process by comm"
expect "$ev" .probe comm-crashes
drain
[ "$(count_events ".pid == $in_cg")" = 1 ] || fail "the cgroup crash was reported twice"
[ "$(count_events ".pid == $neither")" = 0 ] || fail "a process in neither scope was reported"
pass "scope by binary, cgroup and comm"
