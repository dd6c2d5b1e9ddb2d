#!/usr/bin/env bash
# Probe cost: what one call of a hot function costs (1) with no probe, (2) with empty BPF
# programs at the same site, the kernel's floor, (3) with salve's return probe, (4) with
# salve's latency probe, and (5) with bpftrace doing the same filtering; on an ordinary
# entry (an int3 uprobe) and on a 5-byte NOP entry (which the kernel optimizes).
#
# A return probe is a uretprobe, so its floor is an empty uretprobe. A latency probe is a
# uprobe session program where the kernel has them (its floor: an empty session
# program) and a uprobe and a uretprobe otherwise (its floor: that pair); both are
# measured. One more row shows what timing a call costs by itself: a session program
# that only reads the clock at both ends.
#
# Each round runs every row in turn, the target on one CPU and the probers on the
# other; a figure is a row's median over ROUNDS (default 7) rounds, and a ratio the
# median of the rounds' own ratios, whose two rows ran one after the other.
set -u
BUILD=$(realpath "${1:-build}")
TARGETS=$BUILD/tests/targets
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
PIN_DIR=/sys/fs/bpf/salve-bench-$$
ROUNDS=${ROUNDS:-7}
# The target runs alone on the last CPU; salved, bpftrace and the floor loader elsewhere.
TARGET_CPU=$(($(nproc) - 1))
PROBER_CPUS=0-$((TARGET_CPU > 0 ? TARGET_CPU - 1 : 0))
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
	local obj=$BUILD/tests/bench/floor.bpf.o
	[[ $1 = session* ]] && obj=$BUILD/tests/bench/floor_session.bpf.o
	taskset -c "$PROBER_CPUS" "$BUILD/tests/bench/floor" "$obj" "$2" hot_call "$1" > "$WORK/prober" 2>&1 &
	PROBER=$!
	wait_for "$WORK/prober" attached
}

# salve KIND BIN [ARGS...]: salved with one probe of KIND on hot_call, scoped to BIN.
salve() {
	local kind=$1 bin=$2 what
	shift 2
	case $kind in
	return) what='"type": "int", "when": "< 0"' ;;
	latency) what='"threshold": "1ms"' ;;
	esac
	cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$bin"]},
 "probes": [{"id": "hot", "kind": "$kind", "binary": "$bin", "symbol": "hot_call", $what}]}
JSON
	taskset -c "$PROBER_CPUS" "$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state" --socket "$WORK/salved.sock" --stats-interval 0 "$@" \
		> /dev/null 2> "$WORK/prober" &
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
	taskset -c "$PROBER_CPUS" bpftrace -e "$prog" > "$WORK/prober" 2>&1 &
	PROBER=$!
	wait_for "$WORK/prober" Attaching
	sleep 1 # bpftrace says it attaches before it has
}

# cost BIN N: ns per call over one run of N calls.
cost() { taskset -c "$TARGET_CPU" "$1" "$2" | sed -n 's/^ns_per_call=\([0-9.]*\).*/\1/p'; }

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

# ratio A B: the median over the rounds of row A's figure over row B's in that round.
ratio() {
	paste -d' ' <(tr ' ' '\n' <<<"${RUNS[$1]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${RUNS[$2]}" | sed '/^$/d') |
		awk '{ print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}

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
		measure floor-lat "$bin" "$n" floor session "$bin"
		measure salve-lat "$bin" "$n" salve latency "$bin"
		measure floor-clock "$bin" "$n" floor session-clock "$bin"
		measure floor-pair "$bin" "$n" floor both "$bin"
		measure salve-pair "$bin" "$n" salve latency "$bin" --no-uprobe-sessions
		measure bpftrace-lat "$bin" "$n" bpftrace_probe latency "$bin"
	done
	for label in "${!RUNS[@]}"; do NS[$label]=$(median "${RUNS[$label]}"); done

	printf '\n%s (%s, median of %d runs of %d calls)\n' "$title" "$(basename "$bin")" "$ROUNDS" "$n"
	printf '  %-44s %12s %10s\n' "" "ns/call" "x floor"
	printf '  %-44s %12.1f\n' "no probe" "${NS[none]}"
	row() { printf '  %-44s %12.1f %10s\n' "$1" "${NS[$2]}" "$(ratio "$2" "$3")"; }
	row "empty uretprobe (floor)" floor-ret floor-ret
	row "salve return probe (< 0)" salve-ret floor-ret
	row "bpftrace, same filter" bpftrace-ret floor-ret
	row "empty uprobe session (floor)" floor-lat floor-lat
	row "salve latency probe (> 1ms), session" salve-lat floor-lat
	row "  session reading the clock at both ends" floor-clock floor-lat
	row "empty uprobe + uretprobe (floor of the pair)" floor-pair floor-pair
	row "salve latency probe, --no-uprobe-sessions" salve-pair floor-pair
	row "bpftrace, same filter + hist (x pair floor)" bpftrace-lat floor-pair
	printf '  salve / floor: return %s, latency %s (pair: %s) (target <= 1.15)\n' \
		"$(ratio salve-ret floor-ret)" "$(ratio salve-lat floor-lat)" "$(ratio salve-pair floor-pair)"
	printf '  salve latency / the clock reads alone: %s\n' "$(ratio salve-lat floor-clock)"
	printf '  salve / bpftrace: return %s, latency %s (pair: %s) (target <= 1.00)\n' \
		"$(ratio salve-ret bpftrace-ret)" "$(ratio salve-lat bpftrace-lat)" \
		"$(ratio salve-pair bpftrace-lat)"
}

echo "probe cost per call of hot_call(); figures of this run, compare the ratios"
run_entry "ordinary entry: int3 uprobe" "$TARGETS/hot" 200000
run_entry "5-byte NOP entry: optimized uprobe" "$TARGETS/hot-nop5" 1000000
