#!/usr/bin/env bash
# salved as a Type=notify service, with systemd's two sockets faked (systemd is not PID 1
# here, journald not running): tests/integration/lib/fake_systemd.py binds them and
# writes what comes as JSON lines.
#
# 1. NOTIFY_SOCKET, WATCHDOG_USEC=2 s: READY=1 comes once the probes are attached (the
#    fake stops salved the moment READY=1 arrives and asks bpftool which programs are
#    linked: the signal program and the function probe's are), with a STATUS= that
#    counts what the policy has, and again when an incident fired; WATCHDOG=1 never a
#    period apart; RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around SIGHUP and
#    around `salvectl reload`; STOPPING=1 at SIGTERM.
# 2. A start that fails (no such policy): STATUS= says what salved logged, ERRNO= why.
# 3. The journal: salved in a private mount namespace whose /run/systemd/journal/socket
#    is the fake's, JOURNAL_STREAM naming its stderr. Its info line is an entry with
#    PRIORITY=6 and where in salved it was logged; the log action of a rule that fired
#    on a real target is an entry with PRIORITY=4, MESSAGE, RULE=, POLICY=, ACTION=,
#    INCIDENT= (the incident line's id) and OBJECT_PID= (the target's pid); nothing
#    goes to stderr. WATCHDOG_USEC=500 ms there: a ping at least every 500 ms, where the
#    1 s tick alone would miss it.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v python3 > /dev/null || fail "no python3 (the fake systemd sockets need it)"
command -v bpftool > /dev/null || fail "no bpftool"
command -v unshare > /dev/null || fail "no unshare (util-linux)"
FAKE=$ROOT/tests/integration/lib/fake_systemd.py
NOTIFY=$WORK/notify.jsonl
JOURNAL=$WORK/journal.jsonl

die() {
	echo "--- notify"; cat "$NOTIFY" 2> /dev/null
	echo "--- journal"; cat "$JOURNAL" 2> /dev/null
	fail "$@"
}

# fake MODE SOCKET OUT [ARGS...]: the fake systemd socket, listening when this returns;
# FAKE_PID its process.
fake() {
	: > "$3"
	python3 "$FAKE" "$@" &
	FAKE_PID=$!
	disown # killed at cleanup without a word from bash
	PIDS+=("$FAKE_PID")
	wait_json "$3" '.listening' 10 > /dev/null || die "the fake $1 socket did not come up"
}

# launch ENV... -- PREFIX...: salved in the background with the arguments start_salved
# gives it, ENV exported and WATCHDOG_PID its own pid (as systemd sets it), run through
# PREFIX (nothing, or a command that ends by exec'ing its arguments).
launch() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: > "$EVENTS"
	(
		export "${envs[@]}"
		export WATCHDOG_PID=$BASHPID
		exec "$@" "$BUILD/salved" --policy "$WORK/p.json" --log "$EVENTS" \
			--pin-dir "$PIN_DIR" --state-dir "$WORK/state" --socket "$SOCKET" \
			--stats-interval 0
	) 2> "$WORK/salved.err" &
	SALVED_PID=$!
}

write_policy "$WORK/p.json" '{"salve": 1, "name": "sd",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "crashes", "kind": "signal"},
            {"id": "parse-errors", "kind": "return", "binary": "'"$TARGETS/calls"'",
             "symbol": "parse_item", "type": "int", "when": "< 0"}],
 "rules": [{"id": "parse-failing", "by": "process",
            "when": {"probe": "parse-errors", "count": 3, "within": "1s"},
            "actions": [{"do": "log", "message": "parse_item fails"}]}]}'

# ---- 1. sd_notify --------------------------------------------------------------------
fake notify "$WORK/notify.sock" "$NOTIFY" --on-ready "bpftool -j link show"
launch NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=2000000 --
ready=$(wait_json "$NOTIFY" '.fields.READY == "1"' 60) || die "no READY=1 within 60 s"
expect "$ready" .pid "$SALVED_PID"
expect "$ready" .fields.STATUS \
	"watching 1 policy: 2 probes at 1 site, 1 rule; 0 incidents, 0 repairs in effect"
grep -q 'watching with 1 policy' "$WORK/salved.err" || die "READY=1 before salved said it watches"

# What bpftool saw linked while salved stood still at READY=1: its signal program and
# the program of the function probe, by the ids of what salved pinned.
linked=$(jq -r '.on_ready | fromjson | .[].prog_id' <<<"$ready")
for prog in signals/salve_sig_btf functions/salve_fn_ret; do
	id=$(bpftool -j prog show pinned "$PIN_DIR/$prog" | jq .id)
	[ -n "$id" ] || die "salved pinned no $prog under $PIN_DIR"
	grep -qx "$id" <<<"$linked" || die "at READY=1 $prog (id $id) was not attached: links to $linked"
done

# An incident: the status says so.
"$TARGETS/calls" fail 25 > "$WORK/out"
inc=$(wait_event '.kind == "incident"') || die "no incident for 3 errors within 1 s"
wait_json "$NOTIFY" '.fields.STATUS | test("; 1 incident, 0 repairs in effect$")' > /dev/null ||
	die "the status did not count the incident"

# Reloads: RELOADING=1, then READY=1.
kill -HUP "$SALVED_PID"
wait_json "$NOTIFY" '.fields.RELOADING' > /dev/null || die "no RELOADING=1 at SIGHUP"
"$BUILD/salvectl" reload --socket "$SOCKET" > /dev/null || die "salvectl reload failed"
[ "$(jq -s '[.[] | select(.fields.RELOADING)] | length' "$NOTIFY")" = 2 ] ||
	die "not one RELOADING=1 for SIGHUP and one for salvectl reload"
# Each RELOADING=1 has MONOTONIC_USEC= (CLOCK_MONOTONIC, as the fake's mono_us) between
# the arrival of the message before it and its own, and a READY=1 after it.
jq -se '[.[] | select(.fields)] as $m | [range(1; $m | length) | select($m[.].fields.RELOADING)]
	| length == 2 and all(.[]; . as $i | ($m[$i].fields.MONOTONIC_USEC | tonumber) as $t
		| $m[$i - 1].mono_us <= $t and $t <= $m[$i].mono_us
		  and ($m[$i + 1:] | any(.fields.READY == "1")))' "$NOTIFY" > /dev/null ||
	die "a RELOADING=1 without its MONOTONIC_USEC= or without a READY=1 after it"

# The watchdog: pings from salved, never as much as the period (2 s) apart.
wait_json "$NOTIFY" '.fields.WATCHDOG' > /dev/null || die "no WATCHDOG=1 within 10 s"
for _ in $(seq 100); do
	[ "$(jq -s '[.[] | select(.fields.WATCHDOG)] | length' "$NOTIFY")" -ge 4 ] && break
	sleep 0.05
done
pings=$(jq -c "select(.fields.WATCHDOG == \"1\")" "$NOTIFY")
[ "$(wc -l <<<"$pings")" -ge 4 ] || die "fewer than 4 WATCHDOG=1 in 5 s at WATCHDOG_USEC=2 s"
[ "$(jq -s --argjson pid "$SALVED_PID" 'all(.pid == $pid)' <<<"$pings")" = true ] ||
	die "a WATCHDOG=1 not from salved"
gap=$(jq -s '[.[].mono_us] | [range(1; length) as $i | .[$i] - .[$i - 1]] | max' <<<"$pings")
[ "$gap" -lt 2000000 ] || die "WATCHDOG=1 came $gap us after the last; the period is 2 s"

stop_salved
stopping=$(wait_json "$NOTIFY" '.fields.STOPPING == "1"' 1) || die "no STOPPING=1 at SIGTERM"
[ "$(jq -s 'map(select(.fields.ERRNO)) | length' "$NOTIFY")" = 0 ] ||
	die "ERRNO= though salved stopped cleanly"

# ---- 2. a start that fails ------------------------------------------------------------
kill "$FAKE_PID"
fake notify "$WORK/notify.sock" "$NOTIFY"
(
	export NOTIFY_SOCKET="$WORK/notify.sock"
	exec "$BUILD/salved" --policy "$WORK/missing.json" --log "$EVENTS" --pin-dir "$PIN_DIR" \
		--state-dir "$WORK/state" --socket "$SOCKET"
) 2> "$WORK/failed.err"
rc=$?
[ "$rc" = 1 ] || die "salved with a missing policy exited $rc"
failed=$(wait_json "$NOTIFY" '.fields.ERRNO' 5) || die "no ERRNO= from a failed start"
expect "$failed" .fields.ERRNO 2
said=$(sed -n 's/^salved: error: //p' "$WORK/failed.err" | grep -F "$WORK/missing.json" | tail -n1)
[ -n "$said" ] || die "salved did not name the missing policy: $(cat "$WORK/failed.err")"
expect "$failed" .fields.STATUS "failed: $said"
[ "$(jq -s 'map(select(.fields.READY)) | length' "$NOTIFY")" = 0 ] ||
	die "READY=1 from a salved that failed to start"

# ---- 3. the journal -------------------------------------------------------------------
kill "$FAKE_PID"
fake notify "$WORK/notify.sock" "$NOTIFY"
mkdir "$WORK/journal"
fake journal "$WORK/journal/socket" "$JOURNAL"
: > "$WORK/salved.err"
stream=$(stat -c '%d:%i' "$WORK/salved.err")
# /run/systemd (or /run, where there is none) is a tmpfs in salved's mount namespace
# only, with the fake's directory as its journal.
if [ -d /run/systemd ]; then under=/run/systemd; else under=/run; fi
launch JOURNAL_STREAM="$stream" NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=500000 -- \
	unshare -m sh -c 'mount -t tmpfs tmpfs "$0" && mkdir -p /run/systemd/journal &&
		mount --bind "$1" /run/systemd/journal && shift && exec "$@"' \
	"$under" "$WORK/journal"
info=$(wait_json "$JOURNAL" '.fields.MESSAGE // "" | startswith("watching with 1 policy")' 60) ||
	die "no journal entry for salved's watching line within 60 s"
expect "$info" .pid "$SALVED_PID"
expect "$info" .fields.PRIORITY 6
expect "$info" .fields.SYSLOG_IDENTIFIER salved
expect "$info" .fields.CODE_FILE daemon/main.c
expect "$info" .fields.CODE_FUNC start
expect "$info" '.fields.CODE_LINE | test("^[0-9]+$")' true

"$TARGETS/calls" fail 25 > "$WORK/out"
pid=$(sed -n 's/^pid=\([0-9]*\).*/\1/p' "$WORK/out")
[ -n "$pid" ] || die "the target did not run: $(cat "$WORK/out")"
inc=$(wait_event '.kind == "incident"') || die "no incident for 3 errors within 1 s"
id=$(jq -r .id <<<"$inc")
entry=$(wait_json "$JOURNAL" '.fields.RULE == "parse-failing"') ||
	die "no journal entry with RULE=parse-failing"
expect "$entry" .fields.PRIORITY 4
expect "$entry" .fields.RULE parse-failing
expect "$entry" .fields.POLICY sd
expect "$entry" .fields.ACTION log
expect "$entry" .fields.INCIDENT "$id"
expect "$entry" .fields.OBJECT_PID "$pid"
expect "$entry" .fields.CODE_FILE daemon/actions/log.c
expect "$entry" '.fields.MESSAGE | startswith("incident '"$id"' (rule parse-failing, policy sd): parse_item fails: {")' true
# The incident in the message is the incident line.
expect "$(jq -r '.fields.MESSAGE | sub("^[^{]*"; "") | fromjson | .id' <<<"$entry")" . "$id"

# The watchdog at 500 ms: pings no more than 500 ms apart.
for _ in $(seq 100); do
	[ "$(jq -s '[.[] | select(.fields.WATCHDOG)] | length' "$NOTIFY")" -ge 6 ] && break
	sleep 0.05
done
gap=$(jq -s '[.[] | select(.fields.WATCHDOG) | .mono_us] | [range(1; length) as $i | .[$i] - .[$i - 1]]
	| if length < 5 then "few" else max end' "$NOTIFY")
[ "$gap" != '"few"' ] || die "fewer than 6 WATCHDOG=1 in 5 s at WATCHDOG_USEC=500 ms"
[ "$gap" -lt 500000 ] || die "WATCHDOG=1 came $gap us after the last; the period is 500 ms"

stop_salved
wait_json "$JOURNAL" '.fields.MESSAGE // "" | endswith(": stopping")' 5 > /dev/null ||
	die "no journal entry for the stop"
[ ! -s "$WORK/salved.err" ] || die "salved wrote to stderr though it is the journal's: $(cat "$WORK/salved.err")"
[ "$(jq -s 'map(select(.error)) | length' "$JOURNAL")" = 0 ] ||
	die "journal datagrams not in the native protocol: $(jq -c 'select(.error)' "$JOURNAL")"
pass "READY=1 after the probes attached, STATUS, WATCHDOG=1, RELOADING=1/READY=1, STOPPING=1, ERRNO= on a failed start; journal entries with PRIORITY and RULE/POLICY/ACTION/INCIDENT/OBJECT_PID"
