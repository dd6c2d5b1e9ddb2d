#!/usr/bin/env bash
# The rest of the scope: a systemd unit (found as its cgroup in whatever slice), a uid,
# exclusions, a binary's build id, and two lists that must both match. Six policies in
# one directory; each event names the probes of the policies whose scope holds the
# process, and only those.
. "$(dirname "$0")/lib.sh"
need_bpf

CG_ROOT=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
SLICE=salve-test-$$.slice UNIT=salve-test-$$.service
mkdir -p "$CG_ROOT/$SLICE/$UNIT" || fail "cannot create a cgroup under $CG_ROOT"
trap 'rmdir "$CG_ROOT/$SLICE/$UNIT" "$CG_ROOT/$SLICE" 2>/dev/null; cleanup' EXIT
id=$(readelf -n "$TARGETS/crash-nopie" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$id" ] || fail "crash-nopie has no build id"
wrong=$(printf '%s' "$id" | tr '0-9a-f' '1-9a-f0')

mkdir "$WORK/d"
policy() { write_policy "$WORK/d/$1.json" '{"salve": 1, "name": "'"$1"'", "scope": '"$2"',
 "probes": [{"id": "'"$1"'", "kind": "signal"}]}'; }
policy unit '{"units": ["'"$UNIT"'"]}'
policy nobody '{"uids": [65534]}'
policy all-but-nopie '{"exclude": {"comms": ["crash-nopie"]}}'
policy wrong-build '{"binaries": [{"path": "'"$TARGETS/crash"'", "build_id": "'"$wrong"'"}]}'
policy crash-as-nobody '{"binaries": ["'"$TARGETS/crash"'"], "uids": [65534]}'
policy right-build '{"binaries": [{"path": "'"$TARGETS/crash-nopie"'", "build_id": "'"$id"'"}]}'
start_salved "$WORK/d"
grep -q "wrong-build.json: scope.binaries\[0\]: $TARGETS/crash has build id" "$WORK/salved.err" ||
	fail "the build id mismatch was not said: $(cat "$WORK/salved.err")"

crash() { ( ulimit -c 0; cd /; exec "$@" null ) > "$WORK/out" 2>&1; field "$WORK/out" pid; }
in_unit=$(cd /; sh -c 'echo $$ > "'"$CG_ROOT/$SLICE/$UNIT"'/cgroup.procs"; ulimit -c 0; exec "'"$TARGETS/crash"'" null' 2>&1 |
	sed -n 's/.*\bpid=\([0-9]*\).*/\1/p' | head -n1)
as_nobody=$(crash setpriv --reuid=65534 --regid=65534 --clear-groups "$TARGETS/crash-nopie")
plain=$(crash "$TARGETS/crash")
crash_nobody=$(crash setpriv --reuid=65534 --regid=65534 --clear-groups "$TARGETS/crash")
[ -n "$in_unit" ] && [ -n "$as_nobody" ] && [ -n "$plain" ] && [ -n "$crash_nobody" ] ||
	fail "targets did not run"

# probes_of PID: the probes that reported the process, sorted, on one line.
probes_of() { jq -r "select(.kind == \"signal\" and .pid == $1) | .probe" "$EVENTS" | sort | xargs; }
wait_event ".pid == $crash_nobody" > /dev/null || fail "no event at all"
drain
[ "$(probes_of "$in_unit")" = "all-but-nopie unit" ] || fail "in the unit: $(probes_of "$in_unit")"
[ "$(probes_of "$as_nobody")" = "nobody right-build" ] || fail "as nobody: $(probes_of "$as_nobody")"
[ "$(probes_of "$plain")" = "all-but-nopie" ] || fail "plain: $(probes_of "$plain")"
[ "$(probes_of "$crash_nobody")" = "all-but-nopie crash-as-nobody nobody" ] ||
	fail "crash as nobody: $(probes_of "$crash_nobody")"
pass "scope by unit, uid, exclusion, build id, and two lists at once"
