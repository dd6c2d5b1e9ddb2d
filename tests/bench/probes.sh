#!/usr/bin/env bash
# Probe cost: what one call of a hot function costs (1) with no probe, (2) with empty BPF
# programs at the same site, the kernel's floor, (3) with salve's return probe, (4) with
# salve's latency probe, and (5) with bpftrace doing the same filtering; on an ordinary
# entry (an int3 uprobe) and on a 5-byte NOP entry (which the kernel optimizes).
#
# A return probe is a uretprobe, so its floor is an empty uretprobe; a latency probe is a
# uprobe and a uretprobe, so its floor is that pair. Each figure is the median over
# ROUNDS (default 5) rounds that run every row in turn; the ratios compare figures of
# this one run.
set -u
BUILD=$(realpath "${1:-build}")
TARGETS=$BUILD/tests/targets
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
PIN_DIR=/sys/fs/bpf/salve-bench-$$
ROUNDS=${ROUNDS:-5}
PROBER=
trap 'stop_prober; rm -rf "$WORK"' EXIT
[ "$(id -u)" = 0 ] || { echo "probes bench: needs root"; exit 77; }
command -v bpftrace >/dev/null || { echo "probes bench: needs bpftrace (sudo make deps)"; exit 1; }

stop_prober() {
	[ -n "$PROBER" ] || return 0
	kill -INT "$PROBER" 2>/dev/null
	wait "$PROBER" 2>/dev/null
	PROBER=
}

# wait_for FILE TEXT: until the prober writes TEXT, or fail if it exits first.
wait_for() {
	for _ in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$PROBER" 2>/dev/null || break
		sleep 0.05
	done
	echo "probes bench: the prober did not start:" >&2
	cat "$1" >&2
	exit 1
}

# floor MODE BIN: empty programs at hot_call's entry, return or both.
floor() {
	"$BUILD/tests/bench/floor" "$BUILD/tests/bench/floor.bpf.o" "$2" hot_call "$1" \
		> "$WORK/prober" 2>&1 &
	PROBER=$!
	wait_for "$WORK/prober" attached
}

# salve KIND BIN: salved with one probe of KIND on hot_call, scoped to BIN.
salve() {
	local what
	case $1 in
	return) what='"type": "int", "when": "< 0"' ;;
	latency) what='"threshold": "1ms"' ;;
	esac
	cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$2"]},
 "probes": [{"id": "hot", "kind": "$1", "binary": "$2", "symbol": "hot_call", $what}]}
JSON
	"$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state" --stats-interval 0 > /dev/null 2> "$WORK/prober" &
	PROBER=$!
	wait_for "$WORK/prober" 'watching with'
}

# bpftrace_probe KIND BIN: the same filtering written for bpftrace.
bpftrace_probe() {
	local prog
	case $1 in
	return) prog="uretprobe:$2:hot_call /(int32)retval < 0/ { printf(\"%d %d\\n\", pid, (int32)retval); }" ;;
	latency) prog="uprobe:$2:hot_call { @start[tid] = nsecs; }
uretprobe:$2:hot_call /@start[tid]/ { \$d = nsecs - @start[tid]; delete(@start[tid]); @hist = hist(\$d);
  if (\$d > 1000000) { printf(\"%d %d\\n\", pid, \$d); } }" ;;
	esac
	bpftrace -e "$prog" > "$WORK/prober" 2>&1 &
	PROBER=$!
	wait_for "$WORK/prober" Attaching
	sleep 1 # bpftrace says it attaches before it has
}

# cost BIN N: ns per call over one run of N calls.
cost() { "$1" "$2" | sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p'; }

# measure LABEL BIN N [PROBER ARGS...]: one run's figure for a row, the prober attached
# around it; the figures of the rounds gather in RUNS.
declare -A RUNS NS
measure() {
	local label=$1 bin=$2 n=$3 got
	shift 3
	[ $# -gt 0 ] && "$@"
	got=$(cost "$bin" "$n")
	stop_prober
	[ -n "$got" ] || { echo "probes bench: $label: the target printed no figure" >&2; exit 1; }
	RUNS[$label]="${RUNS[$label]:-} $got"
}

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Rounds of every row in turn, so a slow spell of the machine spreads over all rows
# rather than landing on one; each row's figure is its median.
run_entry() {
	local title=$1 bin=$2 n=$3
	RUNS=()
	for _ in $(seq "$ROUNDS"); do
		measure none "$bin" "$n"
		measure floor-ret "$bin" "$n" floor return "$bin"
		measure salve-ret "$bin" "$n" salve return "$bin"
		measure bpftrace-ret "$bin" "$n" bpftrace_probe return "$bin"
		measure floor-lat "$bin" "$n" floor both "$bin"
		measure salve-lat "$bin" "$n" salve latency "$bin"
		measure bpftrace-lat "$bin" "$n" bpftrace_probe latency "$bin"
	done
	for label in "${!RUNS[@]}"; do NS[$label]=$(median "${RUNS[$label]}"); done

	printf '\n%s (%s, median of %d runs of %d calls)\n' "$title" "$(basename "$bin")" "$ROUNDS" "$n"
	printf '  %-34s %12s %10s\n' "" "ns/call" "x floor"
	printf '  %-34s %12.1f\n' "no probe" "${NS[none]}"
	for kind in ret lat; do
		for who in floor salve bpftrace; do
			case $who-$kind in
			floor-ret) label="empty uretprobe (floor)" ;;
			floor-lat) label="empty uprobe + uretprobe (floor)" ;;
			salve-ret) label="salve return probe (< 0)" ;;
			salve-lat) label="salve latency probe (> 1ms)" ;;
			bpftrace-ret) label="bpftrace, same filter" ;;
			bpftrace-lat) label="bpftrace, same filter + hist" ;;
			esac
			printf '  %-34s %12.1f %10s\n' "$label" "${NS[$who-$kind]}" \
				"$(ratio "${NS[$who-$kind]}" "${NS[floor-$kind]}")"
		done
	done
	printf '  salve / floor: return %s, latency %s (target <= 1.15)\n' \
		"$(ratio "${NS[salve-ret]}" "${NS[floor-ret]}")" "$(ratio "${NS[salve-lat]}" "${NS[floor-lat]}")"
	printf '  salve / bpftrace: return %s, latency %s (target <= 1.00)\n' \
		"$(ratio "${NS[salve-ret]}" "${NS[bpftrace-ret]}")" "$(ratio "${NS[salve-lat]}" "${NS[bpftrace-lat]}")"
}

echo "probe cost per call of hot_call(); figures of this run, compare the ratios"
run_entry "ordinary entry: int3 uprobe" "$TARGETS/hot" 40000
run_entry "5-byte NOP entry: optimized uprobe" "$TARGETS/hot-nop5" 400000
