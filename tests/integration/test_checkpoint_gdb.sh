#!/usr/bin/env bash
# A checkpoint of a program as Debian builds it, held against gdb attached to the same
# process: Debian's python3.11 (stripped, no frame pointers) with three threads waiting
# on events and its main thread blocked reading stdin, so nothing moves between the two
# looks. salvectl checkpoint saves it; gdb opens the extracted core, then attaches to the
# live process: every thread (by LWP) must have the same frames, pc for pc, and the
# same registers where the stack starts (rip, rsp). gdb is the oracle of both.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v gdb >/dev/null || fail "gdb is not installed: run 'make deps'"
PYTHON=/usr/bin/python3.11 # Debian's, not one on PATH
[ -x "$PYTHON" ] || fail "$PYTHON is not installed: run 'make deps'"

write_policy "$WORK/p.json" '{"salve": 1, "name": "checkpoint-gdb",
 "scope": {"binaries": ["'"$PYTHON"'"]}, "probes": [{"id": "starts", "kind": "exec"}]}'
start_salved "$WORK/p.json"

mkfifo "$WORK/in"
"$PYTHON" -c '
import sys, threading
events = [threading.Event() for _ in range(3)]
threads = [threading.Thread(target=e.wait, name=f"waiter{i}") for i, e in enumerate(events)]
for t in threads:
    t.start()
print("ready", flush=True)
sys.stdin.readline()
for e in events:
    e.set()
' < "$WORK/in" > "$WORK/out" 2>&1 &
PIDS+=($!)
pid=$!
exec 3> "$WORK/in"
for _ in $(seq 100); do grep -q ready "$WORK/out" && break; sleep 0.05; done
grep -q ready "$WORK/out" || fail "python did not start: $(cat "$WORK/out")"
sleep 0.2 # the threads reach their waits

"$BUILD/salvectl" checkpoint "$pid" --socket "$SOCKET" > /dev/null || fail "checkpoint failed"
id=$("$BUILD/salvectl" checkpoints -j --socket "$SOCKET" | jq -r '.checkpoints[0].id')
"$BUILD/salvectl" extract "$id" "$WORK/core" --socket "$SOCKET" > /dev/null || fail "extract failed"

# Per thread, by LWP: "LWP rip rsp" then each frame's pc.
cat > "$WORK/frames.py" <<'PY'
import gdb
for t in sorted(gdb.selected_inferior().threads(), key=lambda t: t.ptid[1]):
    t.switch()
    f = gdb.newest_frame()
    print("THREAD %d %s %s" % (t.ptid[1], f.read_register("rip"), f.read_register("rsp")))
    while f is not None:
        print("  %#x" % f.pc())
        f = f.older()
PY
gdb -batch -nx -x "$WORK/frames.py" "$PYTHON" "$WORK/core" 2>/dev/null |
	sed -e 's/ <[^>]*>//g' | grep -E '^(THREAD|  0x)' > "$WORK/core.frames"
gdb -batch -nx -p "$pid" -x "$WORK/frames.py" 2>/dev/null |
	sed -e 's/ <[^>]*>//g' | grep -E '^(THREAD|  0x)' > "$WORK/live.frames"
[ "$(grep -c '^THREAD' "$WORK/live.frames")" = 4 ] ||
	fail "gdb attached sees not 4 threads: $(cat "$WORK/live.frames")"
[ "$(grep -c '^  0x' "$WORK/core.frames")" -ge 16 ] ||
	fail "the core's stacks are short: $(cat "$WORK/core.frames")"
diff "$WORK/live.frames" "$WORK/core.frames" > "$WORK/diff" ||
	fail "the core's threads differ from the live process's: $(head -20 "$WORK/diff")"
kill -0 "$pid" || fail "python died"
echo >&3
pass "python3.11's core: $(grep -c '^THREAD' "$WORK/core.frames") threads, $(grep -c '^  0x' "$WORK/core.frames") frames, as gdb sees the live process"
