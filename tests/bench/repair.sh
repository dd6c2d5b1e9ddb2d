#!/usr/bin/env bash
# Repair latency: from a fault's kernel timestamp (its event's "time") to the first
# overridden return the faulting process sees (CLOCK_REALTIME in the target, the same
# clock salved writes event times in), over ROUNDS (default 100) repairs of a running
# process: each round a caught SIGSEGV fires a rule that overrides work(), the target
# calls work() until it returns the override, and the repair is rolled back for the next
# round. Prints p50 and p99, and p99 against the 5 ms the repair issue allows. The
# process's first fault is shown apart: it also pays for salved's first CFI unwind of
# that process (its files opened, libc's debug file read), once per process.
#
# Run twice, side by side: salved's state directory (its journal, fsync'd before every
# write into a process) on the disk, as /var/lib/salve is, and in RAM (/dev/shm, as
# /run is): the difference is the disk's fsync.
set -u
BUILD=$(realpath "${1:-build}")
ROUNDS=${ROUNDS:-100}
[ "$(id -u)" = 0 ] || { echo "repair bench: needs root"; exit 77; }
T=$BUILD/tests/targets/repair_loop
SALVED=
WORK=
trap '[ -n "$SALVED" ] && kill "$SALVED" 2>/dev/null; exec 3>&- 2>/dev/null; wait; [ -n "$WORK" ] && rm -rf "$WORK"' EXIT

# bench BASE LABEL: the rounds with salved's files under BASE.
bench() {
WORK=$(mktemp -d "$1/salve-bench.XXXXXX")
SOCKET=$WORK/salved.sock

cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$T"]},
 "probes": [{"id": "faults", "kind": "signal"}],
 "rules": [{"id": "repair-work", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"}, "budget": 65536,
            "actions": [{"do": "override", "binary": "$T", "symbol": "work", "return": -1}]}]}
JSON
"$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --state-dir "$WORK/state" \
	--no-register-writes \
	--pin-dir "/sys/fs/bpf/salve-bench-$$" --socket "$SOCKET" --stats-interval 0 2> "$WORK/err" &
SALVED=$!
for _ in $(seq 400); do grep -q 'watching with' "$WORK/err" && break; sleep 0.05; done
grep -q 'watching with' "$WORK/err" || { echo "repair bench: salved did not start"; cat "$WORK/err"; exit 1; }

mkfifo "$WORK/in" "$WORK/out"
"$T" < "$WORK/in" > "$WORK/out" &
exec 3> "$WORK/in" 4< "$WORK/out"
read -r ready <&4
: > "$WORK/lat"
last=
for i in $(seq 0 "$ROUNDS"); do
	echo fault >&3
	read -r seen <&4
	seen=${seen#seen=}
	[ "$seen" != 0 ] || { echo "repair bench: round $i: the override never reached the target"; exit 1; }
	id=
	for _ in $(seq 200); do
		id=$(jq -r 'select(.kind == "repair" and .state == "applied") | .id' "$WORK/events" 2>/dev/null | tail -n1)
		[ -n "$id" ] && [ "$id" != "$last" ] 2>/dev/null && break
		sleep 0.01
	done
	last=$id
	ev=$(jq -r 'select(.kind == "signal" and .handled == true) | .time' "$WORK/events" 2>/dev/null | tail -n1)
	python3 -c 'import sys, datetime as d
t, seen = sys.argv[1], int(sys.argv[2])
base, frac = t.rstrip("Z").split(".")
s = d.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=d.timezone.utc).timestamp()
print(seen - (int(s) * 10**9 + int(frac.ljust(9, "0"))))' "$ev" "$seen" >> "$WORK/lat"
	"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" > /dev/null ||
		{ echo "repair bench: rollback of $id failed"; exit 1; }
done
python3 - "$WORK/lat" "$2" <<'PY'
import sys
lat = [int(l) for l in open(sys.argv[1])]
first, v = lat[0], sorted(lat[1:])
p50, p99 = v[len(v) // 2], v[(len(v) * 99 + 99) // 100 - 1]
print(f"  {sys.argv[2]:<22} p50 {p50 / 1e3:6.0f} us  p99 {p99 / 1e3:6.0f} us  p99 / 5 ms target {p99 / 5e6:.2f}"
      f"  first fault of the process (its first unwind too) {first / p50:.1f}x the p50")
PY
exec 3>&- 4<&-
kill "$SALVED"
wait "$SALVED" 2>/dev/null
SALVED=
rm -rf "$WORK"
WORK=
}

echo "repair: fault (kernel timestamp) to the first overridden return, $ROUNDS repairs of a running process"
bench /var/tmp "state dir on the disk:" || exit 1
bench /dev/shm "state dir in RAM:" || exit 1
