#!/usr/bin/env bash
# salved as an operator meets it: version and help, a broken policy refused at start
# with the file and JSON path, missing privileges named, and SIGHUP: a broken policy
# leaves the running one reporting, a good one takes over.
. "$(dirname "$0")/lib.sh"
need_bpf

"$BUILD/salved" --version | grep -q '^salved [0-9]' || fail "--version"
"$BUILD/salved" --help | grep -q -- '--policy PATH' || fail "--help"
"$BUILD/salvectl" --version | grep -q '^salvectl [0-9]' || fail "salvectl --version"
"$BUILD/salved" --no-such-option >/dev/null 2>&1; [ $? = 2 ] || fail "a bad option must exit 2"

# A broken policy at start: refused, naming file and JSON path.
write_policy "$WORK/bad.json" '{"salve": 1, "name": "bad", "probes": [{"id": "x", "kind": "exitt"}]}'
"$BUILD/salved" --policy "$WORK/bad.json" --pin-dir "$PIN_DIR" --state-dir "$WORK/state" \
	> /dev/null 2> "$WORK/bad.err" && fail "salved started on a broken policy"
grep -qF "$WORK/bad.json: probes[0].kind: unknown probe kind \"exitt\" (did you mean \"exit\"?)" "$WORK/bad.err" ||
	fail "broken policy message: $(cat "$WORK/bad.err")"

# A pin directory off bpffs: refused, saying where pins can go and how.
"$BUILD/salved" --policy "$ROOT/policies/default" --pin-dir "$WORK/pins" --state-dir "$WORK/state" \
	--socket "$WORK/pins.sock" > /dev/null 2> "$WORK/pins.err" && fail "salved pinned outside bpffs"
grep -qF -- "--pin-dir $WORK/pins: not on a bpf file system" "$WORK/pins.err" &&
	grep -qF "mount -t bpf bpf DIR" "$WORK/pins.err" || fail "pin-dir message: $(cat "$WORK/pins.err")"
[ ! -e "$WORK/pins" ] || fail "salved left the pin directory it made off bpffs"

# Without privileges: every missing capability named.
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$BUILD/salved" --policy "$ROOT/policies/default" > /dev/null 2> "$WORK/priv.err" &&
		fail "salved started without privileges"
	grep -q 'missing capabilities (run as root): CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_SYS_ADMIN' \
		"$WORK/priv.err" || fail "privilege message: $(cat "$WORK/priv.err")"
fi

# Reload: first scoped to crash-nopie.
policy() { write_policy "$WORK/p.json" '{"salve": 1, "name": "reload",
 "scope": {"binaries": ["'"$TARGETS/$1"'"]}, "probes": [{"id": "'"$2"'", "kind": "signal"}]}'; }
policy crash-nopie before
start_salved "$WORK/p.json"
crash() { ( ulimit -c 0; cd "$WORK"; exec "$TARGETS/$1" null ) > "$WORK/out" 2>&1; field "$WORK/out" pid; }

printf '{"salve": 1, "name": ' > "$WORK/p.json"   # cut short: a syntax error
kill -HUP "$SALVED_PID"
for _ in $(seq 100); do grep -q 'reload refused' "$WORK/salved.err" && break; sleep 0.05; done
grep -qF "reload refused, the running policy stays: $WORK/p.json:1:" "$WORK/salved.err" ||
	fail "broken reload not reported: $(cat "$WORK/salved.err")"
pid=$(crash crash-nopie)
ev=$(wait_event ".pid == $pid") || fail "the running policy stopped reporting after a broken reload"
expect "$ev" .probe before

policy crash after
kill -HUP "$SALVED_PID"
for _ in $(seq 100); do grep -q 'reloaded 1 policy' "$WORK/salved.err" && break; sleep 0.05; done
grep -q 'reloaded 1 policy' "$WORK/salved.err" || fail "good reload not applied"
old=$(crash crash-nopie)
pid=$(crash crash)
ev=$(wait_event ".pid == $pid") || fail "the new policy does not report"
expect "$ev" .probe after
drain
[ "$(count_events ".pid == $old")" = 0 ] || fail "the old scope still reports after reload"

# salvectl reload does the same through the control socket, and says how it went.
printf '{"salve": 1, "name": ' > "$WORK/p.json"
"$BUILD/salvectl" reload --socket "$SOCKET" > /dev/null 2> "$WORK/ctl.err" &&
	fail "salvectl reload accepted a broken policy"
grep -qF "salvectl: reload refused, the running policy stays: $WORK/p.json:1:" "$WORK/ctl.err" ||
	fail "salvectl reload did not say why: $(cat "$WORK/ctl.err")"
pid=$(crash crash)
ev=$(wait_event ".pid == $pid") || fail "the running policy stopped reporting after salvectl reload"
expect "$ev" .probe after
# A policy with two mistakes: the refusal says how many and the first; the log has each.
write_policy "$WORK/p.json" '{"salve": 1, "name": "two",
 "probes": [{"id": "a", "kind": "exitt"}, {"id": "b", "kind": "signal", "signals": ["SIGSEV"]}]}'
first="$WORK/p.json: probes[0].kind: unknown probe kind \"exitt\" (did you mean \"exit\"?)"
second="$WORK/p.json: probes[1].signals[0]: unknown signal \"SIGSEV\" (did you mean \"SIGSEGV\"?)"
"$BUILD/salvectl" reload --socket "$SOCKET" > /dev/null 2> "$WORK/ctl.err" &&
	fail "salvectl reload accepted a policy with two mistakes"
grep -qxF "salvectl: reload refused, the running policy stays: 2 errors in the policies, the first: $first" \
	"$WORK/ctl.err" || fail "salvectl reload of two mistakes: $(cat "$WORK/ctl.err")"
grep -qxF "salved: error: $first" "$WORK/salved.err" && grep -qxF "salved: error: $second" "$WORK/salved.err" ||
	fail "salved's log does not list both mistakes: $(cat "$WORK/salved.err")"
policy crash-nopie again
out=$("$BUILD/salvectl" reload --socket "$SOCKET") || fail "salvectl reload failed on a good policy"
[ "$out" = "reloaded: 1 policy" ] || fail "salvectl reload printed '$out'"
pid=$(crash crash-nopie)
ev=$(wait_event ".pid == $pid") || fail "the policy loaded by salvectl reload does not report"
expect "$ev" .probe again
"$BUILD/salvectl" reload --socket "$WORK/none.sock" 2> "$WORK/ctl.err" && fail "reload without salved"
grep -qF "$WORK/none.sock: No such file or directory (is salved running? see --socket)" \
	"$WORK/ctl.err" || fail "no-daemon message: $(cat "$WORK/ctl.err")"
# A second salved on the same state directory would interleave journals: refused.
"$BUILD/salved" --policy "$WORK/p.json" --state-dir "$WORK/state" --socket "$WORK/second.sock" \
	--pin-dir "$PIN_DIR-second" --log /dev/null 2> "$WORK/second.err" &&
	fail "a second salved ran on the same state directory"
grep -qF -- "--state-dir $WORK/state: another salved keeps its journal there" "$WORK/second.err" ||
	fail "second salved: $(cat "$WORK/second.err")"
pass "options, refusals with reasons, and reload by SIGHUP and salvectl"
