#!/usr/bin/env bash
# Rescue latency: from a fault to its rescued return, as the target itself times the call
# that faulted (CLOCK_MONOTONIC around parse()), over ROUNDS (default 1000) rescues of a
# running process traced by salved; next to it, measured in the same run, what a
# supervisor gives today: a restart of the same target until it answers its first
# request (RESTARTS, default 50); and the floor of any rescue through ptrace
# (ptrace_floor: the same stop, wake-up and register writes, with nothing to unwind,
# decide or journal). Prints p50 and p99 of each, rescue p99 against the 1 ms target,
# restart / rescue (the target: at least 20x) and rescue / floor.
#
# Where the tracer and the target run decides most of it on a VM: waking a thread on
# the other, idle, CPU costs more than the rest of the round trip. So each is measured
# with salved and the target on one CPU and on two. The rescues with salved's state
# directory on this disk come last: each rescue is journaled (fsync'd) before it is
# written, and the disk's fsync is its floor; the others keep it in RAM (/dev/shm).
set -u
BUILD=$(realpath "${1:-build}")
ROUNDS=${ROUNDS:-1000}
RESTARTS=${RESTARTS:-50}
[ "$(id -u)" = 0 ] || { echo "rescue bench: needs root"; exit 77; }
T=$BUILD/tests/targets/rescue_loop
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
SOCKET=$WORK/salved.sock
SALVED=
RAM=$(mktemp -d /dev/shm/salve-bench.XXXXXX)
trap '[ -n "$SALVED" ] && kill "$SALVED" 2>/dev/null; exec 3>&- 2>/dev/null; wait; rm -rf "$WORK" "$RAM"' EXIT

cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$T"]},
 "probes": [{"id": "starts", "kind": "exec"}],
 "rules": [{"id": "rescue-parse", "by": "process",
            "when": {"probe": "starts", "count": 1, "within": "1m"},
            "budget": 65536,
            "actions": [{"do": "rescue", "at": ["parse"], "return": -1, "window": "1us"}]}]}
JSON

# What a supervisor gives: the target started again until it answers its first request.
python3 - "$T" "$RESTARTS" > "$WORK/restart" <<'PY'
import subprocess, sys, time
t, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    t0 = time.monotonic_ns()
    p = subprocess.Popen([t], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    p.stdin.write("a=1\n"); p.stdin.flush()
    p.stdout.readline()
    print(time.monotonic_ns() - t0)
    p.kill(); p.wait()
PY

# rescues STATE NAME SALVED_CPU TARGET_CPU: ROUNDS faults rescued with salved's state in
# STATE, salved and the target on the CPUs given, the target's timings into $WORK/NAME.
rescues() {
	: > "$WORK/events"
	taskset -c "$3" "$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --state-dir "$1" \
		--pin-dir "/sys/fs/bpf/salve-bench-$$" --socket "$SOCKET" --stats-interval 0 \
		2> "$WORK/err" &
	SALVED=$!
	for _ in $(seq 400); do grep -q 'watching with' "$WORK/err" && break; sleep 0.05; done
	grep -q 'watching with' "$WORK/err" || { echo "rescue bench: salved did not start"; cat "$WORK/err"; exit 1; }
	rm -f "$WORK/in"
	mkfifo "$WORK/in"
	taskset -c "$4" "$T" < "$WORK/in" > "$WORK/$2" &
	exec 3> "$WORK/in"
	for _ in $(seq 200); do grep -q '"do":"rescue","incident"' "$WORK/events" 2>/dev/null &&
		grep -q '"state":"applied"' "$WORK/events" && break; sleep 0.05; done
	grep -q '"state":"applied"' "$WORK/events" || { echo "rescue bench: no rescue applied"; exit 1; }
	for i in $(seq "$ROUNDS"); do echo "bad"; done >&3
	for _ in $(seq 1200); do [ "$(wc -l < "$WORK/$2")" -gt "$ROUNDS" ] && break; sleep 0.05; done
	exec 3>&-
	kill "$SALVED"
	wait "$SALVED" 2>/dev/null
	SALVED=
}
# Placements: one CPU (0 and 0), and two (salved on 0, the target on 1) where there are.
PLACES="one:0:0"
[ "$(nproc)" -ge 2 ] && PLACES="$PLACES two:0:1"
for place in $PLACES; do
	IFS=: read -r name tracer target <<< "$place"
	"$BUILD/tests/bench/ptrace_floor" "$ROUNDS" "$tracer" "$target" > "$WORK/floor-$name" ||
		{ echo "rescue bench: ptrace_floor failed"; exit 1; }
	rescues "$RAM" "ram-$name" "$tracer" "$target"
done
rescues "$WORK/state" disk "$tracer" "$target"

python3 - "$WORK" "$ROUNDS" $PLACES <<'PY'
import sys
work, rounds = sys.argv[1], int(sys.argv[2])
places = [p.split(":")[0] for p in sys.argv[3:]]
def times(name):
    v = sorted(int(l.split("ns=")[1]) for l in open(f"{work}/{name}") if l.startswith("error -1"))
    if len(v) != rounds:
        sys.exit(f"rescue bench: {len(v)} of {rounds} faults rescued ({name})")
    return v
q = lambda v, p: v[min(len(v) - 1, (len(v) * p + 99) // 100 - 1)]
restart = sorted(int(l) for l in open(f"{work}/restart"))
s50, s99 = q(restart, 50), q(restart, 99)
print(f"restart until the first request is answered, {len(restart)} restarts")
print(f"  p50 {s50 / 1e3:7.0f} us  p99 {s99 / 1e3:7.0f} us")
floors = {}
for place in places:
    f = floors[place] = times(f"floor-{place}")
    print(f"ptrace alone, the floor of a rescue, {place} CPU{'s' if place != 'one' else ''}")
    print(f"  p50 {q(f, 50) / 1e3:7.0f} us  p99 {q(f, 99) / 1e3:7.0f} us"
          f"  restart / floor: p50 {s50 / q(f, 50):.1f}x (the most a rescue can give here)")
def rescue(title, v, floor):
    r50, r99 = q(v, 50), q(v, 99)
    print(f"rescue, fault to rescued return, {len(v)} rescues, {title}")
    print(f"  p50 {r50 / 1e3:7.0f} us  p99 {r99 / 1e3:7.0f} us  p99 / 1 ms target {r99 / 1e6:.2f}")
    print(f"  restart / rescue: p50 {s50 / r50:.1f}x  p99 {s99 / r99:.1f}x (target 20x)")
    print(f"  rescue / floor: p50 {r50 / q(floor, 50):.2f}x  p99 {r99 / q(floor, 99):.2f}x")
for place in places:
    rescue(f"state in RAM, {place} CPU{'s' if place != 'one' else ''}", times(f"ram-{place}"),
           floors[place])
disk, ram = times("disk"), times(f"ram-{places[-1]}")
rescue(f"state on disk, {places[-1]} CPU{'s' if places[-1] != 'one' else ''}", disk,
       floors[places[-1]])
print(f"disk / RAM rescue p50 {q(disk, 50) / q(ram, 50):.1f}x: the journal's fsync per rescue")
PY
