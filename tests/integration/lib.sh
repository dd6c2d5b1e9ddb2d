# Sourced by every integration test. A test fails unless it reaches `pass`; cleanup runs
# on every exit, kills only the processes the test recorded, and removes its files.
# SKIP_CLEANUP=1 keeps $WORK for a look; VERBOSE=1 traces.
set -u
[ "${VERBOSE:-0}" = 1 ] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$ROOT" && realpath "${BUILD:-build}")
TARGETS=$BUILD/tests/targets
WORK=$(mktemp -d "/tmp/salve-$(basename "$0" .sh).XXXXXX")
PIN_DIR=/sys/fs/bpf/salve-test-$$
EVENTS=$WORK/events.jsonl
SOCKET=$WORK/salved.sock
SALVED_PID=
PIDS=()
EXITCODE=1

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$SALVED_PID" ] && stop_salved
	if [ "$EXITCODE" -ne 0 ] && [ "$EXITCODE" -ne 77 ]; then
		echo "--- salved stderr"; cat "$WORK/salved.err" 2>/dev/null
		echo "--- events"; cat "$EVENTS" 2>/dev/null
	fi
	[ "${SKIP_CLEANUP:-0}" = 1 ] || rm -rf "$WORK"
	exit "$EXITCODE"
}
trap cleanup EXIT

pass() { EXITCODE=0; echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; EXITCODE=1; exit 1; }

# Skip naming what is missing; under SALVE_REQUIRE_BPF=1 (CI) a skip is a failure.
skip() {
	if [ "${SALVE_REQUIRE_BPF:-0}" = 1 ]; then fail "would skip, but SALVE_REQUIRE_BPF=1: $*"; fi
	echo "SKIP: $*"; EXITCODE=77; exit 77
}

need_bpf() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -r /sys/kernel/btf/vmlinux ] || skip "needs kernel BTF"
	[ -x "$BUILD/salved" ] || fail "no $BUILD/salved: run make"
}

# write_policy FILE JSON: a policy file in $WORK.
write_policy() { printf '%s\n' "$2" > "$1"; }

# start_salved POLICY [ARGS...]: runs salved until it says it is watching.
start_salved() {
	local policy=$1; shift
	: > "$EVENTS"
	"$BUILD/salved" --policy "$policy" --log "$EVENTS" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state" --socket "$SOCKET" --stats-interval 0 "$@" \
		2> "$WORK/salved.err" &
	SALVED_PID=$!
	# Loading and verifying the BPF programs takes seconds on a busy host.
	for _ in $(seq 600); do
		grep -q 'watching with' "$WORK/salved.err" 2>/dev/null && return 0
		kill -0 "$SALVED_PID" 2>/dev/null || { SALVED_PID=; fail "salved exited at start"; }
		sleep 0.05
	done
	fail "salved did not start within 30s"
}

stop_salved() {
	local pid=$SALVED_PID
	SALVED_PID=
	kill -TERM "$pid" 2>/dev/null
	# salved gives running actions up to 5 s before it kills them.
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "salved ignored SIGTERM"; }
	wait "$pid" 2>/dev/null
	return 0
}

# wait_json FILE JQ_SELECT [SECONDS]: prints the first JSON line of FILE matching the jq
# condition, waiting for it up to SECONDS (10).
wait_json() {
	local file=$1 cond=$2 secs=${3:-10} line
	for _ in $(seq $((secs * 20))); do
		line=$(jq -c "select($cond)" "$file" 2>/dev/null | head -n1)
		[ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
		sleep 0.05
	done
	return 1
}

# wait_event JQ_SELECT [SECONDS]: the same, of salved's events.
wait_event() { wait_json "$EVENTS" "$@"; }

# drain: salved reads all the kernel has written so far, and the rules see it, before it
# answers: the barrier before a negative or exact-count check, once the processes under
# test have done what they do ("salvectl stats" writes its stats line after them).
drain() {
	"$BUILD/salvectl" stats --socket "$SOCKET" > /dev/null || fail "salvectl stats failed"
}

# count_events JQ_SELECT: how many event lines match now.
count_events() { jq -c "select($1)" "$EVENTS" 2>/dev/null | wc -l; }

# expect JSON JQ_EXPR EXPECTED: the value of a field of an event, compared as text.
expect() {
	local got
	got=$(jq -r "$2" <<<"$1")
	[ "$got" = "$3" ] || fail "$2: expected '$3', got '$got' in $1"
}

# run_target OUTFILE ARGS...: starts a target in $WORK (where cores land), records its pid.
run_target() {
	local out=$1; shift
	( cd "$WORK" && exec "$@" ) > "$out" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# field FILE NAME: the value of "NAME=value" that a target printed.
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | head -n1; }
