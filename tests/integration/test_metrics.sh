#!/usr/bin/env bash
# Metrics, three ways out of one page: `salvectl metrics`, --metrics-textfile and
# --metrics-listen. promtool (the Prometheus project's own checker) accepts each page;
# the values are what salved says elsewhere (salvectl stats) and what the targets did
# (calls counted and timed by the target itself); the listener serves /metrics and
# only it, and a client that connects and says nothing holds up neither the control
# socket nor other scrapes. Flags that cannot work stop salved at its start, naming
# the flag and the fix.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v promtool > /dev/null ||
	skip "promtool is not installed (Debian's prometheus package has it: make deps)"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TEXTFILE=$WORK/textfile/salve.prom
mkdir "$WORK/textfile"

write_policy "$WORK/p.json" '{"salve": 1, "name": "metrics",
 "scope": {"binaries": ["'"$TARGETS/calls"'", "'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"},
            {"id": "slow-query", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "query", "threshold": "20ms"},
            {"id": "slow-work", "kind": "latency", "binary": "'"$TARGETS/calls"'",
             "symbol": "work", "threshold": "20ms"}],
 "rules": [{"id": "crash-seen", "by": "process",
            "when": {"probe": "crashes", "count": 1, "within": "1m"},
            "actions": [{"do": "log", "message": "a crash"}]}]}'
start_salved "$WORK/p.json" --metrics-textfile "$TEXTFILE" --metrics-interval 1 \
	--metrics-listen "127.0.0.1:$PORT"

# check_page FILE WHAT: promtool accepts it, lint included; its words are shown.
check_page() {
	local out rc
	out=$(promtool check metrics < "$1" 2>&1); rc=$?
	echo "promtool check metrics ($2): exit $rc${out:+: $out}"
	[ "$rc" = 0 ] && [ -z "$out" ] || fail "promtool refused $2: $out"
}
# value FILE SERIES: the value of the sample whose name and labels are exactly SERIES.
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

# Every call of query (4, nested) and work (6 on each of 4 threads), timed by the
# target itself ("slow 0": it prints every call's ns); then a crash that fires the rule.
"$TARGETS/calls" slow 0 > "$WORK/calls.out"
grep -q '^pid=.* done' "$WORK/calls.out" || fail "calls did not finish: $(cat "$WORK/calls.out")"
run_target "$WORK/crash.out" "$TARGETS/crash" null
wait_event '.kind == "action" and .rule == "crash-seen"' 20 > /dev/null ||
	fail "the crash fired no action"
"$BUILD/salvectl" stats -j --socket "$SOCKET" > "$WORK/stats.json" || fail "salvectl stats failed"
"$BUILD/salvectl" metrics --socket "$SOCKET" > "$WORK/m.prom" || fail "salvectl metrics failed"
check_page "$WORK/m.prom" "salvectl metrics"

# The same counts as salvectl stats, taken just before (nothing happened in between).
for k in signal exit; do
	for c in reported seen suppressed stale received lost; do
		want=$(jq -r ".stats.events.$k.$c" "$WORK/stats.json")
		got=$(value "$WORK/m.prom" "salve_events_${c}_total{kind=\"$k\"}")
		[ "$got" = "$want" ] || fail "salve_events_${c}_total{kind=\"$k\"}: $got, stats says $want"
	done
done
[ "$(value "$WORK/m.prom" 'salve_events_reported_total{kind="signal"}')" -ge 1 ] ||
	fail "no signal event counted"
[ "$(value "$WORK/m.prom" 'salve_rule_fired_total{rule="crash-seen",policy="metrics"}')" = 1 ] ||
	fail "salve_rule_fired_total: $(grep rule_fired "$WORK/m.prom")"
[ "$(value "$WORK/m.prom" 'salve_actions_total{action="log",outcome="logged"}')" = 1 ] ||
	fail "salve_actions_total: $(grep actions_total "$WORK/m.prom")"
[ "$(value "$WORK/m.prom" 'salve_probe_sites')" = 2 ] || fail "salve_probe_sites: not 2"
[ "$(value "$WORK/m.prom" 'salve_policies_loaded')" = 1 ] || fail "salve_policies_loaded: not 1"
[ "$(value "$WORK/m.prom" 'salve_up')" = 1 ] || fail "salve_up: not 1"
[ "$(value "$WORK/m.prom" 'process_open_fds')" -gt 5 ] || fail "process_open_fds: $(value "$WORK/m.prom" process_open_fds)"
[ "$(value "$WORK/m.prom" 'process_resident_memory_bytes')" -gt 1000000 ] || fail "process_resident_memory_bytes"

# The latency histograms: every call counted, cumulative buckets, and a sum within 10%
# of what the target measured of its own calls (it reads the clock around the same
# calls the probe times).
for probe in slow-query:query:4 slow-work:work:24; do
	IFS=: read -r id fn calls <<<"$probe"
	l="probe=\"$id\",policy=\"metrics\""
	got=$(value "$WORK/m.prom" "salve_call_latency_seconds_count{$l}")
	[ "$got" = "$calls" ] || fail "$id: _count $got, the target made $calls calls of $fn"
	[ "$(value "$WORK/m.prom" "salve_call_latency_seconds_bucket{$l,le=\"+Inf\"}")" = "$calls" ] ||
		fail "$id: the +Inf bucket is not every call"
	awk -v l="$l" 'index($1, "salve_call_latency_seconds_bucket{" l) == 1 {
		if ($2 < last) { print "falls at " $1; exit 1 } last = $2 }' "$WORK/m.prom" ||
		fail "$id: buckets not cumulative"
done
sum=$(value "$WORK/m.prom" 'salve_call_latency_seconds_sum{probe="slow-work",policy="metrics"}')
measured=$(grep -c '^slow ' "$WORK/calls.out")
[ "$measured" = 28 ] || fail "the target reported $measured calls, not 28"
python3 - "$WORK/calls.out" "$sum" <<'PY' || fail "slow-work: _sum $sum is not within 10% of the target's own"
import re, sys
# work() runs on the 4 worker threads, query() on the main one: its tid is the pid.
lines = open(sys.argv[1]).read().split("\n")
pid = re.search(r"pid=(\d+)", "\n".join(lines)).group(1)
own = sum(int(m.group(2)) for m in (re.match(r"slow tid=(\d+) ns=(\d+)", l) for l in lines)
          if m and m.group(1) != pid) / 1e9
got = float(sys.argv[2])
print(f"slow-work: _sum {got:.6f} s, the target measured {own:.6f} s")
sys.exit(0 if abs(got - own) <= 0.1 * own else 1)
PY

# The text file: rewritten every second, the same families, readable by node_exporter.
for _ in $(seq 100); do
	[ "$(value "$TEXTFILE" 'salve_rule_fired_total{rule="crash-seen",policy="metrics"}' 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
[ "$(value "$TEXTFILE" 'salve_rule_fired_total{rule="crash-seen",policy="metrics"}')" = 1 ] ||
	fail "the text file does not show the incident within 10 s"
check_page "$TEXTFILE" "--metrics-textfile"
[ "$(stat -c %a "$TEXTFILE")" = 644 ] || fail "the text file's mode is $(stat -c %a "$TEXTFILE"), not 644"
families() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort; }
[ "$(families "$TEXTFILE")" = "$(families "$WORK/m.prom")" ] || fail "the text file's families differ"
[ ! -e "$TEXTFILE.tmp" ] || fail "a temporary file stays beside the text file"

# The listener: /metrics is the page, anything else a 404.
python3 - "$PORT" "$WORK/http.prom" <<'PY' || fail "GET /metrics failed"
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5) as r:
    assert r.status == 200, r.status
    ctype = r.headers["Content-Type"]
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    open(sys.argv[2], "wb").write(r.read())
print("GET /metrics: 200,", ctype)
PY
check_page "$WORK/http.prom" "GET /metrics"
[ "$(families "$WORK/http.prom")" = "$(families "$WORK/m.prom")" ] || fail "GET /metrics has other families"
python3 - "$PORT" <<'PY' || fail "GET /other was not a 404"
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/other", timeout=5)
except urllib.error.HTTPError as e:
    print("GET /other:", e.code)
    sys.exit(0 if e.code == 404 else 1)
sys.exit(1)
PY

# A client that connects and sends nothing: salved answers salvectl and other scrapes
# meanwhile, and drops it at its deadline (5 s).
python3 - "$PORT" > "$WORK/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
s.settimeout(30)
start = time.monotonic()
print("closed by salved" if s.recv(1) == b"" else "got bytes", f"after {time.monotonic() - start:.1f} s",
      flush=True)
PY
SLOW=$!
PIDS+=("$SLOW")
for _ in $(seq 100); do grep -q connected "$WORK/slow.out" && break; sleep 0.05; done
grep -q connected "$WORK/slow.out" || fail "the silent client did not connect"
timeout 3 "$BUILD/salvectl" stats --socket "$SOCKET" > /dev/null ||
	fail "salvectl stats did not answer while a metrics client said nothing"
python3 -c "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/metrics', timeout=3).read()" ||
	fail "GET /metrics did not answer while another client said nothing"
grep -q 'closed by salved' "$WORK/slow.out" && fail "the silent client was dropped before its deadline"
wait "$SLOW"
grep -q 'closed by salved' "$WORK/slow.out" || fail "the silent client: $(cat "$WORK/slow.out")"
cat "$WORK/slow.out"

# salvectl metrics --json is the reply, its text the same page's.
"$BUILD/salvectl" metrics --json --socket "$SOCKET" | jq -r .text > "$WORK/json.prom"
[ "$(families "$WORK/json.prom")" = "$(families "$WORK/m.prom")" ] || fail "--json's text has other families"

stop_salved
[ ! -e "$TEXTFILE" ] || fail "the text file of a stopped salved stays (it would say salve_up 1)"

# What cannot work stops salved at its start, naming the flag and what to do.
out=$("$BUILD/salved" --metrics-listen "localhost:$PORT" 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q -- "--metrics-listen: expected ADDRESS:PORT with a numeric address" <<<"$out" ||
	fail "a name for an address: exit $rc, $out"
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT)); s.listen(); print('holding', flush=True); time.sleep(60)" \
	> "$WORK/holder.out" &
HOLDER=$!
PIDS+=("$HOLDER")
for _ in $(seq 100); do grep -q holding "$WORK/holder.out" && break; sleep 0.05; done
start_failing() {
	timeout 60 "$BUILD/salved" --policy "$WORK/p.json" --log "$WORK/events2.jsonl" \
		--pin-dir "$PIN_DIR-2" --state-dir "$WORK/state2" --socket "$WORK/s2.sock" "$@" 2>&1
}
out=$(start_failing --metrics-listen "127.0.0.1:$PORT"); rc=$?
[ "$rc" = 1 ] && grep -q -- "--metrics-listen 127.0.0.1:$PORT: the address is in use.*choose another port" <<<"$out" ||
	fail "a port in use: exit $rc, $out"
out=$(start_failing --metrics-textfile "$WORK/none/salve.prom"); rc=$?
[ "$rc" = 1 ] && grep -q -- "--metrics-textfile $WORK/none/salve.prom: No such file or directory (its directory must exist" <<<"$out" ||
	fail "a text file in no directory: exit $rc, $out"
kill "$HOLDER"
wait "$HOLDER" 2> /dev/null
pass "promtool accepts all three pages; counts equal stats' and the target's; 404 elsewhere; a silent client dropped after its deadline, salved answering meanwhile"
