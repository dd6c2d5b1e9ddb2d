#!/usr/bin/env bash
# Checkpoint pause: a process with MIB (default 1024) MiB of touched memory (keeper,
# "touch") is saved by salved (salvectl checkpoint); how long its threads stayed stopped
# is held against the time memcpy takes to copy as much on this machine, measured in the
# same run (memcopy: into pages already there, the copy alone). Prints both, their ratio
# (the target: the pause within 2x the copy), the checkpoint's total time and its size on
# disk. What a copy into fresh pages costs (a fault each) is printed too: salved makes its
# buffers ready before it stops the threads, so the pause does not pay for them.
set -u
BUILD=$(realpath "${1:-build}")
MIB=${MIB:-1024}
[ "$(id -u)" = 0 ] || { echo "checkpoint bench: needs root"; exit 77; }
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
SALVED=
trap '[ -n "$SALVED" ] && kill "$SALVED" 2>/dev/null; exec 3>&- 2>/dev/null; wait; rm -rf "$WORK"' EXIT
KEEPER=$BUILD/tests/targets/keeper

cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$KEEPER"]},
 "probes": [{"id": "starts", "kind": "exec"}]}
JSON
"$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --state-dir "$WORK/state" \
	--pin-dir "/sys/fs/bpf/salve-bench-$$" --socket "$WORK/s" --stats-interval 0 2> "$WORK/err" &
SALVED=$!
for _ in $(seq 400); do grep -q 'watching with' "$WORK/err" && break; sleep 0.05; done
grep -q 'watching with' "$WORK/err" || { echo "checkpoint bench: salved did not start"; cat "$WORK/err"; exit 1; }
mkfifo "$WORK/in"
"$KEEPER" < "$WORK/in" > "$WORK/out" &
exec 3> "$WORK/in"
echo "touch $MIB" >&3
for _ in $(seq 1200); do grep -q "^touched" "$WORK/out" && break; sleep 0.05; done
pid=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$WORK/out")
[ -n "$pid" ] && grep -q "^touched" "$WORK/out" || { echo "checkpoint bench: keeper did not start"; exit 1; }

t0=$(date +%s%N)
"$BUILD/salvectl" checkpoint "$pid" -j --socket "$WORK/s" > "$WORK/ck.json" ||
	{ echo "checkpoint bench: checkpoint failed: $(cat "$WORK/ck.json")"; exit 1; }
t1=$(date +%s%N)
"$BUILD/tests/bench/memcopy" "$MIB" > "$WORK/copy"
python3 - "$WORK/ck.json" "$WORK/copy" "$((t1 - t0))" "$MIB" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["checkpoint"]
copy = dict(kv.split("=") for kv in open(sys.argv[2]).read().split())
total, mib = int(sys.argv[3]), int(sys.argv[4])
pause, cp, fresh = c["pause_ns"], int(copy["copy_ns"]), int(copy["fresh_ns"])
print(f"checkpoint of {c['memory_bytes'] >> 20} MiB of memory ({mib} MiB touched)")
print(f"  threads stopped {pause / 1e6:8.1f} ms")
print(f"  memcpy of {mib} MiB {cp / 1e6:8.1f} ms (into fresh pages: {fresh / 1e6:.1f} ms)")
print(f"  stopped / memcpy: {pause / cp:.2f}x (target 2x)")
print(f"  total {total / 1e9:.2f} s, {c['bytes'] >> 10} KiB on disk (core.gz)")
PY
