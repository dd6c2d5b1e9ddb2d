#!/usr/bin/env bash
# make run as a new user meets it: before salved starts it says what the default policy
# watches and how to see it work (the demo's commands, salvectl stats on its socket); its
# state, socket and pins are scratch ones, gone or in build/ after, /var/lib/salve left
# alone; ARGS reaches salved. The demo's crash and abort are reported host-wide, its
# non-zero exit only when it runs as a service (in a cgroup under /system.slice).
. "$(dirname "$0")/lib.sh"
need_bpf

RUN=$BUILD/run
RUN_PINS=/sys/fs/bpf/salve-run
DEMO=$BUILD/salve-demo
[ -x "$DEMO" ] || fail "no $DEMO: run make"
[ ! -e "$RUN_PINS" ] || skip "$RUN_PINS exists: a make run is running on this host"
journal_before=$(stat -c %Y:%s /var/lib/salve/journal.jsonl 2>/dev/null || echo none)

CG_ROOT=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
made_slice=
SERVICE=$CG_ROOT/system.slice/salve-demo-$$.service
cg_cleanup() {
	rmdir "$SERVICE" 2>/dev/null
	[ -n "$made_slice" ] && rmdir "$CG_ROOT/system.slice" 2>/dev/null
	cleanup
}
trap cg_cleanup EXIT

: > "$EVENTS"
make --no-print-directory -C "$ROOT" BUILD="$BUILD" run \
	ARGS="--log $EVENTS --stats-interval 0" > "$WORK/run.out" 2> "$WORK/salved.err" &
MAKE_PID=$!
PIDS+=("$MAKE_PID")
for _ in $(seq 600); do
	grep -q 'watching with' "$WORK/salved.err" 2>/dev/null && break
	kill -0 "$MAKE_PID" 2>/dev/null || fail "make run exited at start: $(cat "$WORK/run.out")"
	sleep 0.05
done
grep -q 'watching with 2 policies from policies/default' "$WORK/salved.err" ||
	fail "make run did not start salved on policies/default"
SALVED_PID=$(pgrep -P "$MAKE_PID" -x salved) || fail "no salved under make run"
SOCKET=$RUN/salved.sock

# What it says before salved starts.
out=$(cat "$WORK/run.out")
for want in "crashes (fatal signals, with the stack), aborts and OOM kills, host-wide" \
	"non-zero exits of services (processes in the cgroups under /system.slice)" \
	"Events are JSON lines in $EVENTS" \
	"  $DEMO crash" "  $DEMO abort" "  sudo systemd-run --wait $DEMO exit 3" \
	"\"probe\":\"crashes\"" "\"probe\":\"service-exits\"" \
	"  sudo $BUILD/salvectl stats --socket $SOCKET"; do
	grep -qF -- "$want" <<<"$out" || fail "make run does not say '$want': $out"
done
[ -S "$SOCKET" ] || fail "no control socket at $SOCKET"
[ -d "$RUN_PINS" ] || fail "no pins under $RUN_PINS"
[ -e "$RUN/state/journal.jsonl" ] || fail "no journal under $RUN/state"
"$BUILD/salvectl" stats --socket "$SOCKET" --json > "$WORK/stats" || fail "salvectl stats on $SOCKET"

# The demo, as the banner says: a crash with its stack, an abort; an exit outside the
# services is not reported.
( ulimit -c 0; cd "$WORK"; exec "$DEMO" crash ) > "$WORK/crash.out" 2>&1
pid=$(sed -n 's/^salve-demo: pid \([0-9]*\):.*/\1/p' "$WORK/crash.out")
ev=$(wait_event ".pid == $pid and .kind == \"signal\"") || fail "no event for the demo's crash"
expect "$ev" .probe crashes
expect "$ev" .comm salve-demo
expect "$ev" .signal SIGSEGV
expect "$ev" '.stack[0].symbol' parse_request
expect "$ev" '.stack[1].symbol' handle_request
( ulimit -c 0; cd "$WORK"; exec "$DEMO" exit 3 ) > "$WORK/exit.out" 2>&1
quiet=$(sed -n 's/^salve-demo: pid \([0-9]*\):.*/\1/p' "$WORK/exit.out")
( ulimit -c 0; cd "$WORK"; exec "$DEMO" abort ) > "$WORK/abort.out" 2>&1
pid=$(sed -n 's/^salve-demo: pid \([0-9]*\):.*/\1/p' "$WORK/abort.out")
ev=$(wait_event ".pid == $pid and .kind == \"signal\"") || fail "no event for the demo's abort"
expect "$ev" .probe crashes
expect "$ev" .signal SIGABRT
drain
[ "$(count_events ".pid == $quiet")" = 0 ] || fail "an exit outside the services was reported"
[ "$(count_events ".kind == \"exit\"")" = 0 ] || fail "exits outside the services were reported"

# The same exit as a service: a process in a cgroup under /system.slice.
if [ ! -d "$CG_ROOT/system.slice" ]; then
	mkdir "$CG_ROOT/system.slice" || fail "cannot create $CG_ROOT/system.slice"
	made_slice=1
	# salved watches the cgroup tree for the slice its policy names; it says so once the
	# scope that takes the slice in is in force.
	for _ in $(seq 200); do grep -q 'system.slice appeared' "$WORK/salved.err" && break; sleep 0.05; done
	grep -q 'system.slice appeared' "$WORK/salved.err" || fail "salved did not see /system.slice appear"
fi
mkdir "$SERVICE" || fail "cannot create $SERVICE"
( echo $BASHPID > "$SERVICE/cgroup.procs"; cd "$WORK"; exec "$DEMO" exit 3 ) > "$WORK/svc.out" 2>&1
pid=$(sed -n 's/^salve-demo: pid \([0-9]*\):.*/\1/p' "$WORK/svc.out")
ev=$(wait_event ".pid == $pid") || fail "no event for the service's exit"
expect "$ev" .kind exit
expect "$ev" .probe service-exits
expect "$ev" .exit_code 3

# Stopped: the pins are gone, the state stayed in build/, /var/lib/salve is untouched.
stop_salved
for _ in $(seq 100); do kill -0 "$MAKE_PID" 2>/dev/null || break; sleep 0.05; done
[ ! -e "$RUN_PINS" ] || fail "make run left $RUN_PINS"
[ "$(stat -c %Y:%s /var/lib/salve/journal.jsonl 2>/dev/null || echo none)" = "$journal_before" ] ||
	fail "make run wrote /var/lib/salve/journal.jsonl"
pass "make run: says what it watches and how to see it, scratch state, the demo's crash, abort and service exit"
