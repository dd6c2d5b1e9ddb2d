#!/usr/bin/env bash
# Ring-buffer path benchmark: kernel producers (storm processes raising caught SIGTRAPs,
# each one a signal record with a captured stack) driven harder step by step, first by
# rate, then by running more of them at full speed, until records are lost. For each
# step: records per second the kernel produced, what salved decoded and formatted, the
# share lost, and salved's records per CPU-second. Figures are of one run; they move
# between machines.
set -u
BUILD=$(realpath "${1:-build}")
TARGETS=$BUILD/tests/targets
WORK=$(mktemp -d /tmp/salve-bench.XXXXXX)
PIN_DIR=/sys/fs/bpf/salve-bench-$$
trap 'kill -9 ${SALVED_PID:-} 2>/dev/null; rm -rf "$WORK"' EXIT
[ "$(id -u)" = 0 ] || { echo "ringbuf bench: needs root"; exit 77; }

cat > "$WORK/p.json" <<JSON
{"salve": 1, "name": "bench", "scope": {"binaries": ["$TARGETS/storm"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}
JSON

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%-16s %10s %10s %10s %8s %12s\n' load produced/s received/s lost lost% rec/cpu-s
for step in 1x5000 1x20000 1x80000 1x0 2x0 4x0 8x0; do
	procs=${step%x*} rate=${step#*x}
	"$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state" --rate 0 --stats-interval 0 2> "$WORK/err" &
	SALVED_PID=$!
	for _ in $(seq 200); do grep -q 'watching with' "$WORK/err" && break; sleep 0.05; done
	t0=$(cpu_ticks "$SALVED_PID")
	start=$(date +%s.%N)
	for _ in $(seq "$procs"); do "$TARGETS/storm" "$rate" 2 > /dev/null & done
	wait $(jobs -p | grep -v "^$SALVED_PID\$")
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
	sleep 0.5
	t1=$(cpu_ticks "$SALVED_PID")
	kill -TERM "$SALVED_PID"; wait "$SALVED_PID"; SALVED_PID=
	stats=$(grep '"kind":"stats"' "$WORK/events" | tail -n1)
	seen=$(jq .events.signal.seen <<<"$stats")
	received=$(jq .events.signal.received <<<"$stats")
	lost=$(jq .events.signal.lost <<<"$stats")
	reported=$(grep -c '"probe":"traps"' "$WORK/events")
	[ "$reported" = "$received" ] || echo "warning: $received received but $reported formatted"
	cpu=$(( t1 - t0 ))
	per_cpu=$(awk -v r="$received" -v c="$cpu" -v k="$clk" 'BEGIN { printf "%d", c ? r * k / c : 0 }')
	share=$(awk -v l="$lost" -v s="$seen" 'BEGIN { printf "%.2f", s ? 100 * l / s : 0 }')
	load="$procs x $([ "$rate" = 0 ] && echo max || echo "$rate/s")"
	printf '%-16s %10d %10d %10s %8s %12s\n' "$load" "$(awk -v n="$seen" -v t="$secs" 'BEGIN { printf "%d", n / t }')" \
		"$(awk -v n="$received" -v t="$secs" 'BEGIN { printf "%d", n / t }')" "$lost" "$share" "$per_cpu"
	rm -f "$WORK/events"
	[ "$lost" -gt 0 ] && break
done
