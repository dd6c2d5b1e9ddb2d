#!/usr/bin/env bash
# `salved | head -n 1`: once the reader has gone, salved's next event line meets a closed
# pipe. It must not die of SIGPIPE with its programs pinned; it stops as on SIGTERM (exit
# status 1, saying why on stderr) and leaves nothing under its pin directory and no
# program of its own loaded.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v bpftool >/dev/null || fail "bpftool missing: run make deps"

write_policy "$WORK/p.json" '{"salve": 1, "name": "sigpipe",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'

# salved writes its events to standard output, into a pipe that head reads.
mkfifo "$WORK/out"
"$BUILD/salved" --policy "$WORK/p.json" --pin-dir "$PIN_DIR" --state-dir "$WORK/state" \
	--socket "$SOCKET" --stats-interval 0 > "$WORK/out" 2> "$WORK/salved.err" &
SALVED_PID=$!
head -n 1 < "$WORK/out" > "$WORK/first" &
head_pid=$!
PIDS+=("$head_pid")
for _ in $(seq 200); do
	grep -q 'watching with' "$WORK/salved.err" 2>/dev/null && break
	kill -0 "$SALVED_PID" 2>/dev/null || { SALVED_PID=; fail "salved exited at start"; }
	sleep 0.05
done
grep -q 'watching with' "$WORK/salved.err" || fail "salved did not start within 10s"
ids=$(for f in "$PIN_DIR"/*/salve_*; do bpftool prog show pinned "$f" 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p'; done)
[ -n "$ids" ] || fail "no program pinned under $PIN_DIR"

crash() { ( ulimit -c 0; cd "$WORK" && exec "$TARGETS/crash" null ) > "$WORK/target" 2>&1; }

# The first crash's line reaches head, which then exits and closes the pipe.
crash
for _ in $(seq 200); do kill -0 "$head_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$head_pid" 2>/dev/null && fail "head read no line within 10s"
jq -e '.kind == "signal" and .probe == "crashes"' "$WORK/first" > /dev/null ||
	fail "the line head read is not the crash: $(cat "$WORK/first")"

# Later lines meet the closed pipe: salved stops (a few crashes, in case the first after
# head went into the pipe's buffer before head closed it).
for _ in $(seq 20); do
	kill -0 "$SALVED_PID" 2>/dev/null || break
	crash
	for _ in $(seq 10); do kill -0 "$SALVED_PID" 2>/dev/null || break; sleep 0.05; done
done
pid=$SALVED_PID
SALVED_PID=
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && { SALVED_PID=$pid; fail "salved still runs with its output closed"; }
wait "$pid"
status=$?
[ "$status" -ne $((128 + 13)) ] || fail "salved was killed by SIGPIPE"
[ "$status" = 1 ] || fail "salved exited with status $status, not 1 for its closed output"

for _ in $(seq 60); do
	left=$(for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 && echo "$id"; done)
	[ -z "$left" ] && break
	sleep 0.05 # programs are freed shortly after their last fd closes (RCU)
done
[ -z "$left" ] || fail "programs $left still loaded after salved stopped"
[ -e "$PIN_DIR" ] && fail "$PIN_DIR left behind: $(ls -R "$PIN_DIR")"
pass "salved | head -n 1: salved stopped with status 1, unpinned, not killed by SIGPIPE"
