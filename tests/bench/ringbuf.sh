#!/usr/bin/env bash
# Ring-buffer path benchmark: records from kernel producers to salved's JSON lines, with a
# stack and without, for this build ("after") and for salved built from an older revision
# ("before"), in one run.
#
#   tests/bench/ringbuf.sh [BUILD] [--before REV]      (or BEFORE=REV; default 461aa2d)
#
# With stacks: storm processes raise caught SIGTRAPs under a signal probe, each record a
# stack snapshot that salved unwinds by CFI. Without: storm's close(-1) failing with EBADF
# under a syscall probe with "stack": false. Each is driven harder step by step, first by
# rate, then by more storms at full speed, until both builds lose records (two storms at
# full speed at least); at each step the before and after salved run one after the other.
# For each: records per second the kernel produced, what salved received and formatted,
# the share lost, and salved's records per CPU-second. The summary gives each build's best
# records per CPU-second, the after/before ratios, and what two storms at full speed
# produced and salved received. The older tree is built once, kept in BUILD/bench-before-*.
# Figures are of one run; they move between machines and between runs.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${BEFORE:-461aa2d}
BUILD_ARG=
while [ $# -gt 0 ]; do
	case $1 in
	--before) [ $# -gt 1 ] || { echo "ringbuf bench: --before needs a revision" >&2; exit 2; }
		BEFORE=$2; shift ;;
	--before=*) BEFORE=${1#*=} ;;
	-*) echo "usage: ringbuf.sh [BUILD] [--before REV]" >&2; exit 2 ;;
	*) BUILD_ARG=$1 ;;
	esac
	shift
done
BUILD=$(realpath "${BUILD_ARG:-build}")
STORM=$BUILD/tests/targets/storm
SECS=${SECS:-2}
STEPS=${STEPS:-"1x5000 1x20000 1x80000 1x0 2x0 4x0 8x0"}
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
PIN_DIR=/sys/fs/bpf/salve-bench-$$
SALVED_PID=
STORM_PIDS=()
trap 'kill -9 $SALVED_PID "${STORM_PIDS[@]}" 2>/dev/null; rm -rf "$WORK" "$PIN_DIR"' EXIT
[ "$(id -u)" = 0 ] || { echo "ringbuf bench: needs root"; exit 77; }
[ -x "$BUILD/salved" ] && [ -x "$STORM" ] || { echo "ringbuf bench: no $BUILD/salved or storm: run make"; exit 1; }

# ---- the salved before: REV's tree, built once ------------------------------------------
rev=$(git -C "$ROOT" rev-parse --verify --quiet "$BEFORE^{commit}") ||
	{ echo "ringbuf bench: no revision $BEFORE in $ROOT (a clone with its history has it)"; exit 1; }
OLD=$BUILD/bench-before-$(git -C "$ROOT" rev-parse --short=12 "$rev")
if [ ! -x "$OLD/src/build/salved" ] || [ ! -x "$OLD/src/build/salvectl" ]; then
	echo "building salved of $BEFORE ($rev) in $OLD ..."
	rm -rf "$OLD" && mkdir -p "$OLD/src" &&
		git -C "$ROOT" archive "$rev" | tar -x -C "$OLD/src" ||
		{ echo "ringbuf bench: cannot extract $BEFORE into $OLD"; exit 1; }
	make -C "$OLD/src" -j"$(nproc)" build/salved build/salvectl > "$OLD/make.log" 2>&1 ||
		{ tail -n 20 "$OLD/make.log"; echo "ringbuf bench: building $BEFORE failed (log: $OLD/make.log)"; exit 1; }
fi
declare -A SALVED=([before]=$OLD/src/build/salved [after]=$BUILD/salved)
declare -A SALVECTL=([before]=$OLD/src/build/salvectl [after]=$BUILD/salvectl)
# Each build's own flags, as its --help names them: no rate limit, stats only at exit.
declare -A FLAGS
for b in before after; do
	help=$("${SALVED[$b]}" --help 2>&1)
	FLAGS[$b]=
	grep -q -- '--rate ' <<<"$help" && FLAGS[$b]+=" --rate 0"
	grep -q -- '--stats-interval ' <<<"$help" && FLAGS[$b]+=" --stats-interval 0"
done

# ---- the two loads ----------------------------------------------------------------------
cat > "$WORK/stacks.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$STORM"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}
JSON
cat > "$WORK/nostacks.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$STORM"]},
 "probes": [{"id": "closes", "kind": "syscall", "syscalls": ["close"], "errnos": ["EBADF"],
             "stack": false, "rate": {"per_second": 1000000000, "burst": 1000000000}}]}
JSON
declare -A KIND=([stacks]=signal [nostacks]=syscall) PROBE=([stacks]=traps [nostacks]=closes)
declare -A MODE_ARG=([stacks]="" [nostacks]=close) # storm's mode: raise, or close(-1)
declare -A MODE_NAME=([stacks]=with [nostacks]=without)

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_sec() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%d", (t > 0 ? n / t : 0) }'; }

# run MODE STEP BUILD: one salved, the storms of the step, one row; R[...] keeps figures.
declare -A R
run() {
	local mode=$1 step=$2 b=$3 procs=${2%x*} rate=${2#*x} t0 t1 start secs stats
	local seen received lost reported cpu load
	rm -f "$WORK/events"
	# shellcheck disable=SC2086 # FLAGS are words
	"${SALVED[$b]}" --policy "$WORK/$mode.json" --log "$WORK/events" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state-$b" --socket "$WORK/sock" ${FLAGS[$b]} 2> "$WORK/err" &
	SALVED_PID=$!
	for _ in $(seq 600); do
		grep -q 'watching with' "$WORK/err" && break
		kill -0 "$SALVED_PID" 2>/dev/null || { cat "$WORK/err"; echo "ringbuf bench: $b salved exited"; exit 1; }
		sleep 0.05
	done
	t0=$(cpu_ticks "$SALVED_PID")
	start=$(date +%s.%N)
	STORM_PIDS=()
	for _ in $(seq "$procs"); do
		# shellcheck disable=SC2086 # no word when raising
		"$STORM" "$rate" "$SECS" ${MODE_ARG[$mode]} > /dev/null &
		STORM_PIDS+=($!)
	done
	wait "${STORM_PIDS[@]}"
	STORM_PIDS=()
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
	# salved reads what its ring holds before it answers: then it is done with the step.
	"${SALVECTL[$b]}" stats --socket "$WORK/sock" > /dev/null 2>&1 || sleep 1
	t1=$(cpu_ticks "$SALVED_PID")
	kill -TERM "$SALVED_PID"; wait "$SALVED_PID"; SALVED_PID=
	stats=$(grep '"kind":"stats"' "$WORK/events" | tail -n1)
	seen=$(jq ".events.${KIND[$mode]}.seen" <<<"$stats")
	received=$(jq ".events.${KIND[$mode]}.received" <<<"$stats")
	lost=$(jq ".events.${KIND[$mode]}.lost" <<<"$stats")
	reported=$(grep -c "\"probe\":\"${PROBE[$mode]}\"" "$WORK/events")
	[ "$reported" = "$received" ] || echo "warning: $b: $received received but $reported formatted"
	cpu=$((t1 - t0))
	R[$mode $step $b cpu]=$(awk -v r="$received" -v c="$cpu" -v k="$clk" 'BEGIN { printf "%d", c ? r * k / c : 0 }')
	R[$mode $step $b produced]=$(per_sec "$seen" "$secs")
	R[$mode $step $b received]=$(per_sec "$received" "$secs")
	R[$mode $step $b lost]=$lost
	R[$mode $step $b share]=$(awk -v l="$lost" -v s="$seen" 'BEGIN { printf "%.2f", s ? 100 * l / s : 0 }')
	load="$procs x $([ "$rate" = 0 ] && echo max || echo "$rate/s")"
	printf '%-8s %-12s %-7s %10d %10d %10s %8s %12s\n' "${MODE_NAME[$mode]}" "$load" "$b" \
		"${R[$mode $step $b produced]}" "${R[$mode $step $b received]}" "$lost" \
		"${R[$mode $step $b share]}" "${R[$mode $step $b cpu]}"
}

echo "before: salved of $BEFORE ($OLD); after: $BUILD/salved; each step ${SECS}s"
printf '%-8s %-12s %-7s %10s %10s %10s %8s %12s\n' stacks load build produced/s received/s lost lost% rec/cpu-s
for mode in stacks nostacks; do
	for step in $STEPS; do
		for b in before after; do run "$mode" "$step" "$b"; done
		[ "${step%x*}" -ge 2 ] && [ "${R[$mode $step before lost]}" -gt 0 ] &&
			[ "${R[$mode $step after lost]}" -gt 0 ] && break
	done
done

# ---- summary ----------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
best() {
	local m=0 step
	for step in $STEPS; do
		[ "${R[$1 $step $2 cpu]:-0}" -gt "$m" ] && m=${R[$1 $step $2 cpu]}
	done
	echo "$m"
}
echo
printf '%-52s %10s %10s %12s\n' summary before after after/before
for mode in stacks nostacks; do
	name="${MODE_NAME[$mode]} stacks"
	bb=$(best "$mode" before) ba=$(best "$mode" after)
	printf '%-52s %10s %10s %12s\n' "$name: records per CPU-second (best step)" "$bb" "$ba" "$(ratio "$ba" "$bb")"
	for f in produced received share; do
		vb=${R[$mode 2x0 before $f]:--} va=${R[$mode 2x0 after $f]:--}
		case $f in
		produced) what="2 storms at full speed: produced/s" ;;
		received) what="2 storms at full speed: received/s" ;;
		share) what="2 storms at full speed: lost %" ;;
		esac
		printf '%-52s %10s %10s %12s\n' "$name: $what" "$vb" "$va" "$(ratio "$va" "$vb")"
	done
done
