#!/usr/bin/env bash
# Circuit breakers against a fake backend the test stops and starts again. A client
# (backend_client) calls fetch() every 5 ms, which connects to its backend and echoes a
# byte; it counts ok, refused and turned-away results.
#   - Around fetch(): a return probe on it, and a rule (3 failures within 2 s) with a
#     function breaker. The backend stopped: open (calls turned away at once, none
#     reaching connect and none reported), half-open after open_for (the backend still
#     down: at most half_open_calls calls run, fail, and it opens again for twice as
#     long), the backend started: half-open, then closed, calls served again and the
#     gate's pages gone. Tripped again it opens for the base open_for; rolled back, it
#     closes at once and leaves nothing.
#   - Around 127.0.0.1:PORT and [::1]:PORT for the client's cgroup (a scratch cgroup
#     here): a syscall probe on connect failing with ECONNREFUSED, the same cycle; while
#     open every connect is refused at once and the probe reports none of them; closed
#     or rolled back, no program of salve's is left on the cgroup.
#   - salved restarted (SIGTERM) while a function and an endpoint breaker are open:
#     both resumed open, the client still turned away / refused, then half-open and
#     closed once the backends are back.
# Each transition is a {"kind":"breaker"} line; salvectl repairs lists the breakers.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v bpftool > /dev/null || skip "needs bpftool"

CLIENT=$TARGETS/backend_client
CG_ROOT=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
CG=salve-breaker-$$
mkdir -p "$CG_ROOT/$CG/fn" "$CG_ROOT/$CG/v4" "$CG_ROOT/$CG/v6" ||
	fail "cannot create a cgroup under $CG_ROOT"
# The processes in the cgroups go first, or the cgroups cannot be removed.
cg_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rmdir "$CG_ROOT/$CG/fn" "$CG_ROOT/$CG/v4" "$CG_ROOT/$CG/v6" "$CG_ROOT/$CG" 2>/dev/null
}
trap 'cg_cleanup; cleanup' EXIT

# free_port: a TCP port no socket uses, other than those this test took already.
USED_PORTS=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		case $USED_PORTS in *" $p "*) continue ;; esac
		[ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ] || continue
		USED_PORTS="$USED_PORTS$p "
		echo "$p"
		return
	done
}
PF=$(free_port); P4=$(free_port); P6=$(free_port)

# backend_start PORT FAMILY: the fake backend, once it listens.
BACKEND=()
backend_start() {
	run_target "$WORK/backend-$1.out" "$TARGETS/backend" "$1" "$2"
	BACKEND[$1]=$LAST_PID
	for _ in $(seq 200); do
		grep -q '^listening$' "$WORK/backend-$1.out" && return 0
		kill -0 "$LAST_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "the backend on port $1 did not start: $(cat "$WORK/backend-$1.out")"
}
backend_stop() { kill -TERM "${BACKEND[$1]}"; wait "${BACKEND[$1]}" 2>/dev/null; }

# client_start NAME PORT FAMILY: a client in the scratch cgroup NAME, its lines in
# $WORK/NAME.out; sets cpid.
client_start() {
	( echo $BASHPID > "$CG_ROOT/$CG/$1/cgroup.procs" && cd "$WORK" && exec "$CLIENT" "$2" "$3" ) \
		> "$WORK/$1.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do grep -q ready "$WORK/$1.out" && break; sleep 0.05; done
	cpid=$(field "$WORK/$1.out" pid)
	[ "$cpid" = "${PIDS[-1]}" ] || fail "the client $1 did not start: $(cat "$WORK/$1.out")"
}

# counts NAME: the client's counts so far (SIGUSR1) in OK, REFUSED, AWAY and OTHER.
counts() {
	local out=$WORK/$1.out pid n line
	pid=$(field "$out" pid)
	n=$(wc -l < "$out")
	kill -USR1 "$pid" 2>/dev/null || fail "the client $1 ($pid) is gone: $(cat "$out")"
	for _ in $(seq 200); do [ "$(wc -l < "$out")" -gt "$n" ] && break; sleep 0.01; done
	line=$(tail -n1 "$out")
	[[ $line == ok=* ]] || fail "the client $1 did not give its counts: $(cat "$out")"
	read -r OK REFUSED AWAY OTHER < <(sed 's/[a-z_]*=//g' <<<"$line")
}

# until_counts NAME CONDITION [SECONDS]: polls the client's counts until the arithmetic
# CONDITION (on OK, REFUSED, AWAY, OTHER) holds.
until_counts() {
	for _ in $(seq $((${3:-5} * 20))); do
		counts "$1"
		(( $2 )) && return 0
		sleep 0.05
	done
	fail "the client $1 never had $2: ok=$OK refused=$REFUSED turned_away=$AWAY other=$OTHER"
}

# breaker_line SELECT STATE N [SECONDS]: the Nth line in state STATE of the breaker the
# jq condition SELECT picks.
breaker_line() {
	local line
	for i in $(seq 0 $((${4:-10} * 20))); do
		[ "$i" = 0 ] || sleep 0.05
		line=$(jq -c "select(.kind == \"breaker\" and ($1) and .state == \"$2\")" "$EVENTS" \
			2>/dev/null | sed -n "${3}p")
		[ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
	done
	return 1
}
breakers() { jq -c 'select(.kind == "breaker")' "$EVENTS"; }

# listed ID: the breaker ID as salvectl repairs lists it (nothing when it is not listed).
listed() {
	"$BUILD/salvectl" repairs -j --socket "$SOCKET" > "$WORK/repairs.json" ||
		fail "salvectl repairs failed: $(cat "$WORK/repairs.json")"
	jq -c ".repairs[] | select(.do == \"breaker\" and .id == $1)" "$WORK/repairs.json"
}

# rollback ID: salvectl rollback, and the breaker is no longer listed.
# A thread inside the gate at that moment makes salved say "try again", as it is told.
rollback() {
	for _ in 1 2 3; do
		"$BUILD/salvectl" rollback "$1" --socket "$SOCKET" > "$WORK/rollback.out" 2>&1 && break
		grep -q "try again" "$WORK/rollback.out" ||
			fail "salvectl rollback $1 failed: $(cat "$WORK/rollback.out")"
	done
	for _ in $(seq 100); do [ -z "$(listed "$1")" ] && return 0; sleep 0.05; done
	fail "breaker $1 is still listed after its rollback: $(listed "$1")"
}

# The anonymous executable mappings of a process: where a trampoline would be.
exec_pages() { awk '$2 ~ /x/ && $6 == "" { print $1 }' "/proc/$1/maps"; }

# salve's programs attached to a cgroup (none when it has no breaker).
cg_progs() { bpftool -j cgroup show "$CG_ROOT/$CG/$1" | jq -r '.[] | select(.name | startswith("salve")) | .name'; }

fn_policy() { # fn_policy OPEN_FOR MAX_OPEN_FOR: the function breaker's policy
	write_policy "$WORK/d/fn.json" '{"salve": 1, "name": "fn",
 "scope": {"binaries": ["'"$CLIENT"'"], "cgroups": ["/'"$CG"'/fn"]},
 "probes": [{"id": "fetch-fails", "kind": "return", "binary": "'"$CLIENT"'", "symbol": "fetch",
             "type": "int", "when": "< 0"}],
 "rules": [{"id": "fetch-failing", "by": "process", "cooldown": "200ms", "budget": 1000,
            "when": {"probe": "fetch-fails", "count": 3, "within": "2s"},
            "actions": [{"do": "breaker", "binary": "'"$CLIENT"'", "symbol": "fetch", "return": -1000,
                         "open_for": "'"$1"'", "max_open_for": "'"$2"'", "half_open_calls": 2,
                         "half_open_watch": "300ms"}]}]}'
}
ep_policy() { # ep_policy CGROUP ENDPOINT OPEN_FOR MAX_OPEN_FOR: an endpoint breaker's policy
	write_policy "$WORK/d/ep.json" '{"salve": 1, "name": "ep",
 "scope": {"cgroups": ["/'"$CG"'/'"$1"'"]},
 "probes": [{"id": "conn-refused", "kind": "syscall", "syscalls": ["connect"],
             "errnos": ["ECONNREFUSED"]}],
 "rules": [{"id": "backend-refusing", "by": "process", "cooldown": "200ms", "budget": 1000,
            "when": {"probe": "conn-refused", "count": 3, "within": "2s"},
            "actions": [{"do": "breaker", "endpoint": "'"$2"'", "open_for": "'"$3"'",
                         "max_open_for": "'"$4"'", "half_open_calls": 2,
                         "half_open_watch": "300ms"}]}]}'
}
reload() { "$BUILD/salvectl" reload --socket "$SOCKET" > /dev/null || fail "salvectl reload failed"; }

# ---- around a function -----------------------------------------------------------
mkdir "$WORK/d"
fn_policy 1s 4s
start_salved "$WORK/d"
feat=$("$BUILD/salvectl" features -j --socket "$SOCKET") || fail "salvectl features failed"
hooks=$(jq -r '.features[] | select(.name == "cgroup connect hooks") | .available' <<<"$feat")
[ -n "$hooks" ] || fail "salvectl features says nothing of the cgroup connect hooks: $feat"

backend_start "$PF" 4
client_start fn "$PF" 4
fpid=$cpid
pages=$(exec_pages "$fpid")
until_counts fn 'OK >= 20'
drain
[ "$(breakers | wc -l)" = 0 ] || fail "a breaker with the backend up: $(breakers)"
[ "$(count_events ".kind == \"return\" and .pid == $fpid")" = 0 ] ||
	fail "fetch() reported failing with the backend up"

# The backend stopped: fetch() fails, the rule trips the breaker.
backend_stop "$PF"
open=$(breaker_line ".pid == $fpid" open 1) || fail "no breaker opened: $(breakers)"
id=$(jq .id <<<"$open")
expect "$open" .rule fetch-failing
expect "$open" .policy fn
expect "$open" .binary "$CLIENT"
expect "$open" .symbol fetch
expect "$open" .open_for_ms 1000
# Open: calls are turned away, none runs (refused stays put) and none is reported.
drain
events1=$(count_events ".kind == \"return\" and .pid == $fpid")
counts fn; ok1=$OK refused1=$REFUSED away1=$AWAY
until_counts fn "AWAY >= away1 + 20"
drain
events2=$(count_events ".kind == \"return\" and .pid == $fpid")
let_through=0 # once half-open, up to half_open_calls calls run
[ "$(breaker_line ".id == $id" half_open 1 0)" ] && let_through=2
[ "$REFUSED" -le $((refused1 + let_through)) ] && [ "$OK" = "$ok1" ] ||
	fail "calls ran while the breaker was open: refused $refused1 -> $REFUSED, ok $ok1 -> $OK"
[ "$events2" -le $((events1 + let_through)) ] ||
	fail "calls the breaker turned away were reported: $events1 -> $events2 return events"
brk=$(listed "$id")
[ -n "$brk" ] || fail "salvectl repairs does not list breaker $id: $(cat "$WORK/repairs.json")"
expect "$brk" .state open
expect "$brk" .open_for_ms 1000
[ "$(jq .turned_away <<<"$brk")" -gt 0 ] || fail "salvectl repairs counts no call turned away: $brk"
# The gate's page, and its counter's after it, are mapped while it is there.
gate=$(jq -r '.gate.page // empty' <<<"$brk")
[ -n "$gate" ] || fail "salvectl repairs gives no page for the gate: $brk"
gate_pages() { grep -E "^(${gate#0x}|$(printf '%x' $((gate + 4096))))-" "/proc/$fpid/maps"; }
[ "$(gate_pages | wc -l)" = 2 ] || fail "the gate's pages at $gate are not mapped: $(cat "/proc/$fpid/maps")"

# Half-open with the backend still down: the calls let through fail, open again for
# twice as long.
breaker_line ".id == $id" half_open 1 5 > /dev/null || fail "breaker $id never half-open: $(breakers)"
again=$(breaker_line ".id == $id" open 2 5) || fail "breaker $id did not open again: $(breakers)"
expect "$again" .open_for_ms 2000
jq -e '.reason | test("let through") and test("failed")' <<<"$again" > /dev/null ||
	fail "the reason does not say a call let through failed: $again"
drain
counts fn
ran=$((REFUSED - refused1))
[ "$ran" -ge 1 ] && [ "$ran" -le 2 ] ||
	fail "half-open let $ran calls through, not 1 or 2 of its 2 (refused $refused1 -> $REFUSED)"
brk=$(listed "$id")
expect "$brk" .state open
expect "$brk" .open_for_ms 2000

# The backend back: half-open, its calls succeed, closed; calls run again, and nothing
# of the breaker stays.
backend_start "$PF" 4
breaker_line ".id == $id" half_open 2 5 > /dev/null || fail "breaker $id not half-open again: $(breakers)"
closed=$(breaker_line ".id == $id" closed 1 5) || fail "breaker $id did not close: $(breakers)"
counts fn; ok3=$OK away3=$AWAY
until_counts fn "OK >= ok3 + 20"
[ "$AWAY" = "$away3" ] || fail "calls turned away after the breaker closed: $away3 -> $AWAY"
[ -z "$(listed "$id")" ] || fail "breaker $id closed but still listed: $(listed "$id")"
[ -z "$(gate_pages)" ] || fail "the gate's pages left in the client after it closed: $(gate_pages)"
[ "$(exec_pages "$fpid")" = "$pages" ] ||
	fail "executable pages left in the client after the breaker closed: $(diff <(echo "$pages") <(exec_pages "$fpid"))"
[ "$(breakers | jq -s "[.[] | select(.pid == $fpid) | .id] | unique | length")" = 1 ] ||
	fail "more than one breaker for the client: $(breakers)"

# Tripped again: open for the base open_for again. Rolled back while open (the backend
# back first, else the rule trips it once more): closed at once, nothing of salve's left
# in the client, which goes on.
backend_stop "$PF"
open=$(breaker_line ".pid == $fpid and .id != $id" open 1) || fail "no breaker opened again: $(breakers)"
id=$(jq .id <<<"$open")
expect "$open" .open_for_ms 1000
gate=$(jq -r '.gate.page // empty' <<<"$(listed "$id")")
[ "$(gate_pages | wc -l)" = 2 ] || fail "the gate's pages at $gate are not mapped: $(cat "/proc/$fpid/maps")"
backend_start "$PF" 4
rollback "$id"
[ -z "$(gate_pages)" ] || fail "the gate's pages left in the client after the rollback: $(gate_pages)"
gone=$(breaker_line ".id == $id" closed 1 0) || fail "no closed line for the breaker rolled back: $(breakers)"
jq -e '.reason | test("rollback")' <<<"$gone" > /dev/null || fail "closed, not for the rollback: $gone"
[ "$(exec_pages "$fpid")" = "$pages" ] ||
	fail "executable pages left in the client after the rollback: $(diff <(echo "$pages") <(exec_pages "$fpid"))"
counts fn; away3=$AWAY
until_counts fn "OK >= $OK + 20"
[ "$AWAY" = "$away3" ] || fail "calls turned away after the rollback: $away3 -> $AWAY"
fn_done="function breaker: open, turned away, half-open -> open (2 s), half-open -> closed, rolled back"

# ---- around an endpoint, IPv4 and IPv6 --------------------------------------------
endpoint_cycle() { # endpoint_cycle NAME FAMILY PORT ENDPOINT
	local name=$1 fam=$2 port=$3 ep=$4 sel pid open id brk again closed ev1 ev2 ev3 ref1 ok1 ok3 ref3
	local let_through
	rm -f "$WORK/d/fn.json"
	ep_policy "$name" "$ep" 1s 4s
	reload
	backend_start "$port" "$fam"
	client_start "$name" "$port" "$fam"
	pid=$cpid
	until_counts "$name" 'OK >= 20'
	sel=".endpoint == \"$ep\""
	drain
	[ "$(breakers | jq -c "select($sel)" | wc -l)" = 0 ] || fail "a breaker with the backend up: $(breakers)"
	[ "$(count_events ".kind == \"syscall\" and .pid == $pid")" = 0 ] ||
		fail "connect reported failing with the backend up"

	backend_stop "$port"
	open=$(breaker_line "$sel" open 1) || fail "no breaker opened around $ep: $(breakers)"
	id=$(jq .id <<<"$open")
	expect "$open" .rule backend-refusing
	expect "$open" .policy ep
	expect "$open" .cgroup "$CG_ROOT/$CG/$name"
	expect "$open" .open_for_ms 1000
	[ -n "$(cg_progs "$name")" ] || fail "no program of salve's on the cgroup of $name"
	# Open: every connect refused at once, and salve's refusals are not reported.
	drain
	ev1=$(count_events ".kind == \"syscall\" and .pid == $pid")
	counts "$name"; ok1=$OK ref1=$REFUSED
	until_counts "$name" "REFUSED >= ref1 + 20"
	drain
	ev2=$(count_events ".kind == \"syscall\" and .pid == $pid")
	let_through=0
	[ "$(breaker_line ".id == $id" half_open 1 0)" ] && let_through=2
	[ "$ev2" -le $((ev1 + let_through)) ] ||
		fail "connects the breaker refused were reported: $ev1 -> $ev2 syscall events"
	[ "$OK" = "$ok1" ] || fail "connects went through while open: ok $ok1 -> $OK"
	brk=$(listed "$id")
	[ -n "$brk" ] || fail "salvectl repairs does not list breaker $id: $(cat "$WORK/repairs.json")"
	expect "$brk" .state open
	[ "$(jq .turned_away <<<"$brk")" -gt 0 ] || fail "salvectl repairs counts no connect turned away: $brk"

	breaker_line ".id == $id" half_open 1 5 > /dev/null || fail "breaker $id never half-open: $(breakers)"
	again=$(breaker_line ".id == $id" open 2 5) || fail "breaker $id did not open again: $(breakers)"
	expect "$again" .open_for_ms 2000
	jq -e '.reason | test("let through") and test("failed")' <<<"$again" > /dev/null ||
		fail "the reason does not say a connect let through failed: $again"
	drain
	ev3=$(count_events ".kind == \"syscall\" and .pid == $pid")
	[ $((ev3 - ev2)) -ge 1 ] && [ $((ev3 - ev2)) -le 2 ] ||
		fail "half-open let $((ev3 - ev2)) connects reach the backend, not 1 or 2 of its 2"

	backend_start "$port" "$fam"
	breaker_line ".id == $id" half_open 2 5 > /dev/null || fail "breaker $id not half-open again: $(breakers)"
	closed=$(breaker_line ".id == $id" closed 1 5) || fail "breaker $id did not close: $(breakers)"
	# Its last line counts every connect it refused, the map entry gone or not.
	jq -e '.turned_away > 0' <<<"$closed" > /dev/null ||
		fail "the closed line of breaker $id counts no connect turned away: $closed"
	counts "$name"; ok3=$OK ref3=$REFUSED
	until_counts "$name" "OK >= ok3 + 20"
	[ "$REFUSED" = "$ref3" ] || fail "connects refused after the breaker closed: $ref3 -> $REFUSED"
	[ -z "$(listed "$id")" ] || fail "breaker $id closed but still listed: $(listed "$id")"
	[ -z "$(cg_progs "$name")" ] || fail "salve's programs left on the cgroup of $name: $(cg_progs "$name")"

	# Tripped again, open for the base open_for; rolled back while open.
	backend_stop "$port"
	open=$(breaker_line "$sel and .id != $id" open 1) || fail "no breaker opened again around $ep: $(breakers)"
	id=$(jq .id <<<"$open")
	expect "$open" .open_for_ms 1000
	backend_start "$port" "$fam"
	rollback "$id"
	closed=$(breaker_line ".id == $id" closed 1 0) || fail "no closed line for the breaker rolled back: $(breakers)"
	jq -e '.reason | test("rollback")' <<<"$closed" > /dev/null || fail "closed, not for the rollback: $closed"
	[ -z "$(cg_progs "$name")" ] || fail "salve's programs left on the cgroup of $name: $(cg_progs "$name")"
	counts "$name"; ref3=$REFUSED
	until_counts "$name" "OK >= $OK + 20"
	[ "$REFUSED" = "$ref3" ] || fail "connects refused after the rollback: $ref3 -> $REFUSED"
	last_pid=$pid
}

if [ "$hooks" = true ]; then
	endpoint_cycle v4 4 "$P4" "127.0.0.1:$P4"
	endpoint_cycle v6 6 "$P6" "[::1]:$P6"
	ep_done="endpoint breakers on 127.0.0.1 and [::1]: the same, salve's refusals unreported"
	v6_pid=$last_pid
else
	ep_done="endpoint breakers not tested: $(jq -r '.features[] | select(.name == "cgroup connect hooks") | .detail' <<<"$feat")"
fi

# ---- salved restarted while breakers are open ---------------------------------------
# open_for outlasts salved's start (seconds of BPF loading), so each breaker is still open
# when salved is back.
fn_policy 15s 30s
[ "$hooks" = true ] && ep_policy v6 "[::1]:$P6" 15s 30s
reload
seen=$(breakers | jq -s 'map(.id) | max // 0') # the breakers so far, all closed
backend_stop "$PF"
fopen=$(breaker_line ".pid == $fpid and .id > $seen" open 1) || fail "no breaker opened again: $(breakers)"
fid=$(jq .id <<<"$fopen")
expect "$fopen" .open_for_ms 15000
expect "$(listed "$fid")" .state open
if [ "$hooks" = true ]; then
	backend_stop "$P6"
	eopen=$(breaker_line ".endpoint == \"[::1]:$P6\" and .id > $seen" open 1) ||
		fail "no breaker opened around [::1]:$P6 again: $(breakers)"
	eid=$(jq .id <<<"$eopen")
	expect "$(listed "$eid")" .state open
fi
stop_salved
start_salved "$WORK/d"
for b in $fid ${eid:-}; do
	res=$(wait_event ".kind == \"breaker\" and .id == $b") || fail "breaker $b not resumed: $(breakers)"
	expect "$res" .reason "salved started again: resumed"
	expect "$res" .state open
	expect "$(listed "$b")" .state open
done
counts fn; refused1=$REFUSED ok1=$OK
until_counts fn "AWAY >= $AWAY + 20"
[ "$REFUSED" = "$refused1" ] && [ "$OK" = "$ok1" ] ||
	fail "calls ran after the restart while open: refused $refused1 -> $REFUSED, ok $ok1 -> $OK"
if [ "$hooks" = true ]; then
	drain
	ev1=$(count_events ".kind == \"syscall\" and .pid == $v6_pid")
	counts v6; ok1=$OK
	until_counts v6 "REFUSED >= $REFUSED + 20"
	drain
	[ "$(count_events ".kind == \"syscall\" and .pid == $v6_pid")" = "$ev1" ] ||
		fail "connects the breaker refused after the restart were reported"
	[ "$OK" = "$ok1" ] || fail "connects went through after the restart while open: ok $ok1 -> $OK"
	backend_start "$P6" 6
fi
backend_start "$PF" 4
for b in $fid ${eid:-}; do
	breaker_line ".id == $b" half_open 1 20 > /dev/null || fail "breaker $b never half-open: $(breakers)"
	breaker_line ".id == $b" closed 1 5 > /dev/null || fail "breaker $b did not close: $(breakers)"
done
counts fn
until_counts fn "OK >= $OK + 20"
if [ "$hooks" = true ]; then
	counts v6
	until_counts v6 "OK >= $OK + 20"
fi
for b in $fid ${eid:-}; do
	[ -z "$(listed "$b")" ] || fail "breaker $b closed but still listed: $(listed "$b")"
done
# Every breaker line has this year's time, those written before salved's first tick too.
[ -z "$(jq -r 'select(.kind == "breaker") | .time' "$EVENTS" | grep -v "^$(date -u +%Y)-")" ] ||
	fail "breaker lines with a wrong time: $(jq -r 'select(.kind == "breaker") | .time' "$EVENTS" | sort -u | head -3)"
pass "$fn_done; $ep_done; salved restarted with breakers open: still open, then closed"
