#!/usr/bin/env bash
# Every salvectl verb against a running salved and real targets, as an operator runs
# them: the human output says what the --json answer holds. A latency probe on calls,
# a return probe and a rule that overrides parse() in the service: probes counts their
# calls (bpftool's dump of the pinned site table agrees), rules shows the rule fired
# and its budget spent, repairs and rollback undo it; checkpoint, checkpoints, extract
# and restore on the service; reload, validate, stats, top, version. A user who is not
# root is told why they are refused, and salved goes on; without salved, salvectl says
# to start it; a misused verb exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf
command -v setpriv > /dev/null || fail "needs setpriv (util-linux)"
command -v bpftool > /dev/null || fail "needs bpftool"

CALLS=$TARGETS/calls
ctl() { "$BUILD/salvectl" "$@" --socket "$SOCKET"; }
# json VERB JQ: the --json answer of VERB must satisfy JQ.
json() {
	local verb=$1 out
	shift
	out=$(ctl $verb -j) || fail "salvectl $verb -j failed: $out"
	jq -e "$1" <<<"$out" > /dev/null || fail "salvectl $verb -j: not $1: $out"
}
# human VERB PATTERN: a line of VERB's table must match the extended regex PATTERN.
human() {
	local verb=$1 out
	out=$(ctl $verb) || fail "salvectl $verb failed: $out"
	grep -qE "$2" <<<"$out" || fail "salvectl $verb: no line matches '$2':
$out"
}

policy() {
	write_policy "$1" '{"salve": 1, "name": "ops",
 "scope": {"binaries": ["'"$SVC"'", "'"$CALLS"'"]},
 "probes": [{"id": "faults", "kind": "signal"},
            {"id": "parse-fails", "kind": "return", "binary": "'"$SVC"'", "symbol": "parse",
             "when": "< 0"},
            {"id": "slow-query", "kind": "latency", "binary": "'"$CALLS"'", "symbol": "query",
             "threshold": "20ms"}'"$2"'],
 "rules": [{"id": "guarded-faults", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"},
            "budget": 5, "cooldown": "1m",
            "actions": [{"do": "override", "binary": "'"$SVC"'", "symbol": "parse", "return": -1}]}]}'
}
policy "$WORK/p.json" ""
start_salved "$WORK/p.json" --no-register-writes --criu /nonexistent/criu

# version, status, features, policies: what runs.
[ "$("$BUILD/salvectl" version)" = "salvectl $(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")" ] ||
	fail "salvectl version: $("$BUILD/salvectl" version)"
"$BUILD/salvectl" version -j | jq -e '.version | test("^[0-9]+\\.[0-9]+")' > /dev/null ||
	fail "salvectl version -j: $("$BUILD/salvectl" version -j)"
json status ".ok and .status.pid == $SALVED_PID and .status.policies == 1 and .status.probes == 3
	and .status.sites == 2 and .status.rules == 1 and .status.state_dir == \"$WORK/state\""
human status "^policies: +1 from $WORK/p.json: 3 probes at 2 function sites, 1 rule$"
human status "^salved [0-9.]+, pid $SALVED_PID, up "
json features '.features[] | select(.name == "kernel BTF") | .available'
json features '[.features[].name] | index("CRIU") != null'
human features '^kernel BTF +yes '
human features '^CRIU +no +/nonexistent/criu: not installed'
# The nop5 fast path is the kernel's when it has the function that makes it.
if grep -q ' arch_uprobe_optimize$' /proc/kallsyms; then nop5=yes; else nop5=no; fi
human features "^nop5 fast path +$nop5 "
json features '[.features[].name] | contains(["kernel BTF", "BPF ring buffer", "uprobe sessions",
	"nop5 fast path", "uprobe register writes", "cgroup connect hooks", "CRIU"])'
json policies '.policies[0] | .name == "ops" and .rules == ["guarded-faults"] and
	.probes == ["faults", "parse-fails", "slow-query"] and (.scope.binaries | length) == 2'
human policies "^ops +$WORK/p.json +3 +1  binaries $SVC,$CALLS$"

# probes: calls counted where they happen, the slow ones reported. query() recurses 4
# deep, the outer two levels over 20 ms (42 and 37 ms; calls.c).
"$CALLS" slow 20 > "$WORK/calls.out"
drain
slow=$(count_events '.probe == "slow-query"')
[ "$slow" = 2 ] || fail "query's two slow levels were not reported: $(cat "$EVENTS")"
probes=$(ctl probes -j) || fail "salvectl probes -j failed"
q=$(jq -c '.probes[] | select(.probe == "slow-query")' <<<"$probes")
expect "$q" .kind latency
expect "$q" .symbol query
expect "$q" .binary "$CALLS"
expect "$q" .events "$slow"
expect "$q" '.hits == (.hist_log2_ns | add) and .hits == 4' true
expect "$q" '.mechanism | test("^uprobe")' true
expect "$q" .fast_path false
expect "$q" '.fast_path_hint | test("-fpatchable-function-entry=5")' true
human probes "^slow-query +latency +query in calls +uprobe.* no +[0-9]+ +$slow +0$"
human probes "^slow-query \(query in calls\): the entry is not a 5-byte NOP"
human probes "^faults +signal +host-wide +(tp_btf|tracepoint) signal_generate +- .*\*$"
# The pinned site table, dumped by bpftool, holds the site salvectl names, by its id:
# struct salve_site (include/salve/site.h) begins with its kind (2: latency), and its
# threshold_ns is at byte 40. bpftool prints the raw bytes; le(FROM; N) reads them.
LE='def byte: ltrimstr("0x") | explode | map(if . >= 97 then . - 87 else . - 48 end) | .[0] * 16 + .[1];
    def le(from; n): [.[from:from + n][] | byte] | reverse | reduce .[] as $b (0; . * 256 + $b);'
site=$(jq .site <<<"$q")
bpftool -j map dump pinned "$PIN_DIR/maps/salve_sites" > "$WORK/sites.json" ||
	fail "bpftool cannot dump $PIN_DIR/maps/salve_sites: $(cat "$WORK/sites.json")"
jq -e "$LE"' .[] | select((.key | le(0; 4)) == '"$site"') | .value |
	le(0; 4) == 2 and le(40; 8) == 20000000' "$WORK/sites.json" > /dev/null ||
	fail "bpftool's dump of salve_sites has no latency site $site of 20 ms"
# site_hits SITE: the calls salve_site_hits counts for SITE, summed over the CPUs.
site_hits() {
	bpftool -j map dump pinned "$PIN_DIR/maps/salve_site_hits" |
		jq "$LE"' [.[] | select((.key | le(0; 4)) == '"$1"') | .values[].value | le(0; 8)] | add'
}
parse_site=$(jq '.probes[] | select(.probe == "parse-fails") | .site' <<<"$probes")

# A fault in the service: the rule fires and overrides parse(); rules and repairs say so.
service_start
ask "a=12" "ok 2"
ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid") ||
	fail "no repair applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
id=$(jq .id <<<"$rep")
ask "bad" "error -1"
drain
json rules '.rules[0] | .rule == "guarded-faults" and .policy == "ops" and .fired == 1 and
	.budget == 5 and .budget_left == 4 and (.last_fired | test("Z$")) and .state == "verifying" and .verifying == 1'
human rules "^guarded-faults +ops +verifying +1 [0-9T:-]{19} +4/5 an hour +1$"
json probes ".probes[] | select(.probe == \"parse-fails\") | .hits == 2 and .events == 1"
[ "$(site_hits "$parse_site")" = 2 ] ||
	fail "bpftool's salve_site_hits for parse-fails (site $parse_site): $(site_hits "$parse_site"), not 2"
json repairs ".repairs[] | select(.id == $id) | .do == \"override\" and .symbol == \"parse\" and .pid == $pid"
human repairs "^$id +override +[a-z]+ +$pid +guarded-faults +hot_patch +parse in $SVC returns -1$"
[ "$(ctl rollback "$id")" = "repair $id rolled back" ] || fail "salvectl rollback $id"
ask "b=1" "ok 1"
human repairs "^no repairs in effect$"
json status ".status.incidents == 1 and .status.repairs == 0"
json incidents ".incidents[0] | .rule == \"guarded-faults\" and .pid == $pid and
	.actions[0].do == \"override\""
human incidents "^[0-9]+ +[0-9-]{10} [0-9:.]{12} +guarded-faults +$pid +service +[a-z-]+ +override:"
# events: the last lines, as written and as read; a follower sees the next.
json "events -n 3" '.kind' # each line is one JSON object
[ "$(ctl events -n 3 | wc -l)" = 3 ] || fail "salvectl events -n 3: $(ctl events -n 3)"
ctl events --follow --kind signal --pid "$pid" --json > "$WORK/follow" 2>&1 &
PIDS+=($!)
follower=$!
for _ in $(seq 100); do [ "$(ctl status -j | jq .status.followers)" = 1 ] && break; sleep 0.05; done
json status '.status.followers == 1'
ask "bad" "fault"
for _ in $(seq 100); do [ -s "$WORK/follow" ] && break; sleep 0.05; done
jq -e "select(.kind == \"signal\" and .pid == $pid and .signal == \"SIGSEGV\")" "$WORK/follow" > /dev/null ||
	fail "the follower did not get the fault: $(cat "$WORK/follow")"
kill "$follower"

# Checkpoints of the service: taken, listed, extracted, restored.
out=$(ctl checkpoint "$pid") || fail "salvectl checkpoint $pid: $out"
ck=$(ctl checkpoints -j | jq -r ".checkpoints[] | select(.pid == $pid) | .id")
[ -n "$ck" ] || fail "salvectl checkpoints does not list it: $(ctl checkpoints -j)"
grep -q "^checkpoint $ck of process $pid (service): " <<<"$out" || fail "salvectl checkpoint said: $out"
human checkpoints "^$ck +[0-9T:-]{19} +$pid +service +\(salvectl\) "
json "checkpoints $ck" ".checkpoint.pid == $pid and .checkpoint.backend == \"core\""
ctl extract "$ck" "$WORK/core" | grep -q "gdb $SVC $WORK/core" || fail "salvectl extract"
[ "$(head -c 4 "$WORK/core" | od -An -c | tr -d ' ')" = '177ELF' ] || fail "the core is not ELF"
[ "$(ctl restore "$ck")" = "process $pid restored to checkpoint $ck" ] || fail "salvectl restore"
ask "c=3" "ok 1"

# reload, validate, stats, metrics, top.
human "reload --check" "^would keep 2 probe sites as they are$"
[ "$(ctl reload)" = "reloaded: 1 policy" ] || fail "salvectl reload"
json status '.status.last_reload.ok'
policy "$WORK/bad.json" ', {"id": "oops", "kind": "latency"}'
out=$("$BUILD/salvectl" validate "$WORK/p.json" "$WORK/bad.json" 2>&1) && fail "validate passed a broken file"
grep -q "^$WORK/p.json: ok (3 probes, 1 rule)$" <<<"$out" || fail "validate: $out"
grep -q "^$WORK/bad.json: probes\[3\]" <<<"$out" || fail "validate does not name the broken probe: $out"
# --json: a line per argument, its policies or every error of it (the probe's three).
out=$("$BUILD/salvectl" validate --json "$WORK/p.json" "$WORK/bad.json") && fail "validate --json passed a broken file"
jq -se ".[0] | .ok and .policies[0].name == \"ops\"" <<<"$out" > /dev/null || fail "validate --json: $out"
jq -se '.[1] | (.ok | not) and (.errors | length) == 3 and
	all(.errors[]; test("probes\\[3\\]: missing required field"))' <<<"$out" > /dev/null ||
	fail "validate --json does not give the broken probe's three errors: $out"
json stats '.stats.events.latency.reported >= 1'
ctl metrics > "$WORK/metrics.prom" || fail "salvectl metrics failed"
promtool check metrics < "$WORK/metrics.prom" || fail "promtool check metrics: $(promtool check metrics < "$WORK/metrics.prom" 2>&1)"
grep -qx 'salve_up 1' "$WORK/metrics.prom" || fail "no salve_up 1 in the metrics"
grep -qx "salve_site_hits_total{probe=\"parse-fails\",policy=\"ops\",site=\"$parse_site\"} [0-9]*" \
	"$WORK/metrics.prom" || fail "no hits of parse-fails in the metrics: $(grep site_ "$WORK/metrics.prom")"
json metrics '.text | test("salve_call_latency_seconds_count")'
human stats '^latency +[0-9]+ '
out=$(ctl top -d 0.2 -n 2) || fail "salvectl top failed: $out"
[ "$(grep -c '^salvectl top - ' <<<"$out")" = 2 ] || fail "top printed not 2 frames: $out"
grep -qE '^slow-query +latency +query in calls ' <<<"$out" || fail "top lacks slow-query: $out"
ctl top -d 0.2 -n 1 -j | jq -e '.sites | map(.probe) | index("slow-query") != null' > /dev/null ||
	fail "top --json lacks slow-query"
# While top watches, a histogram of the interval's calls is drawn.
( sleep 0.3; "$CALLS" slow 20 > /dev/null ) &
PIDS+=($!)
out=$(ctl top -d 1.5 -n 1)
grep -qE '^@slow-query: uprobe.* calls in the last 1\.5s \(ns\)$' <<<"$out" ||
	fail "top drew no histogram for slow-query: $out"
grep -qE '^\[(1|2|4|8|16|32)M, (2|4|8|16|32|64)M\) +[0-9]+ \|@+ *\|$' <<<"$out" ||
	fail "top's histogram has no bar in the milliseconds: $out"

# Not root: a user the test makes is refused with why, by the socket's mode, and past a
# loosened mode by salved itself; salved goes on. No salved: say so. Misuse: exit 2.
USER_NAME=salve-t$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" ||
	fail "cannot create the user $USER_NAME"
trap 'userdel "$USER_NAME" 2>/dev/null; cleanup' EXIT
as_user() { setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups "$@"; }
chmod 0711 "$WORK"
out=$(as_user "$BUILD/salvectl" status --socket "$SOCKET" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "salvectl status as $USER_NAME exited $rc, expected 1"
grep -qF "Permission denied (salved's control socket answers root, or its --socket-group; run salvectl as root)" <<<"$out" ||
	fail "salvectl as $USER_NAME said: $out"
chmod 0666 "$SOCKET"
out=$(as_user "$BUILD/salvectl" probes -j --socket "$SOCKET" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "salvectl probes as $USER_NAME past a loosened socket exited $rc, expected 1"
grep -qF "permission denied: salved's control socket answers root; you are uid $(id -u "$USER_NAME")" <<<"$out" ||
	fail "salved's refusal of $USER_NAME said: $out"
chmod 0600 "$SOCKET"
json status ".status.pid == $SALVED_PID"
out=$("$BUILD/salvectl" status --socket "$WORK/none.sock" 2>&1)
rc=$?
[ "$rc" = 1 ] || fail "salvectl status without salved exited $rc, expected 1"
grep -qF "is salved running?" <<<"$out" || fail "without salved, salvectl said: $out"
ctl rules extra > /dev/null 2>&1
[ $? = 2 ] || fail "salvectl rules with an extra argument did not exit 2"
"$BUILD/salvectl" bogus > /dev/null 2>&1
[ $? = 2 ] || fail "salvectl with an unknown verb did not exit 2"

pass "every salvectl verb, human and --json, against salved and real targets"
