# Sourced by the repair tests (after lib.sh): the service-like target (tests/targets/
# service.c) run as a long-lived process fed one request at a time.
SVC=$TARGETS/service

# service_start [ARG...]: start it reading requests from a FIFO held open on fd 3, its
# answers in $WORK/out; sets pid once it is ready.
service_start() {
	mkfifo "$WORK/in"
	( cd "$WORK" && exec "$SVC" "$@" < "$WORK/in" > "$WORK/out" 2> "$WORK/err" ) &
	PIDS+=($!)
	exec 3> "$WORK/in"
	for _ in $(seq 100); do grep -q ready "$WORK/out" && break; sleep 0.05; done
	pid=$(field "$WORK/out" pid)
	[ -n "$pid" ] || fail "the service did not start: $(cat "$WORK/out" "$WORK/err")"
	answered=1
}

# ask REQUEST EXPECTED: one request, and its answer line must be EXPECTED.
ask() {
	echo "$1" >&3
	answered=$((answered + 1))
	for _ in $(seq 200); do [ "$(wc -l < "$WORK/out")" -ge "$answered" ] && break; sleep 0.05; done
	got=$(sed -n "${answered}p" "$WORK/out")
	[ "$got" = "$2" ] || fail "request '$1': expected '$2', got '$got'"
}

# mem HEX ADDRESS [write]: the service's bytes at ADDRESS must be HEX; with "write",
# make them so (as a salved killed at the wrong moment would have left them).
mem() {
	python3 - "$pid" "$2" "$1" "${3:-}" <<'PY' || fail "the bytes at $2 are not $1"
import sys
pid, addr, want, mode = sys.argv[1], int(sys.argv[2], 16), bytes.fromhex(sys.argv[3]), sys.argv[4]
with open(f"/proc/{pid}/mem", "r+b" if mode else "rb") as f:
    f.seek(addr)
    if mode:
        f.write(want)
        sys.exit(0)
    sys.exit(0 if f.read(len(want)) == want else 1)
PY
}
