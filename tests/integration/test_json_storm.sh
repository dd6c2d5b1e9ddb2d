#!/usr/bin/env bash
# Under a storm (four processes raising caught SIGTRAPs at full speed, no rate limit) whose
# names and executable paths hold quotes, backslashes, control bytes and bytes that are not
# UTF-8: every line salved writes is one JSON object that json-c parses strictly and
# renders back byte for byte (salved escapes as json-c does); each event's comm and exe are
# the process's, each maximal ill-formed subpart of UTF-8 replaced by one U+FFFD; and there
# are as many event lines as the stats line says were reported.
. "$(dirname "$0")/lib.sh"
need_bpf
ROUNDTRIP=$BUILD/tests/tools/json_roundtrip
[ -x "$ROUNDTRIP" ] || fail "no $ROUNDTRIP: run make"

# A policy is UTF-8 JSON (salved's parser validates it), so a path with \xff in it cannot
# be named in "binaries": the policy scopes the storm by its cgroup instead.
CG_ROOT=$( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified )
CG=salve-json-storm-$$
mkdir "$CG_ROOT/$CG" || fail "cannot create a cgroup under $CG_ROOT"
trap 'rmdir "$CG_ROOT/$CG" 2>/dev/null; cleanup' EXIT

F=$'\xef\xbf\xbd' # U+FFFD, as UTF-8
# The directory: a quote, a backslash, a space, SOH, a newline, DEL, \xff (one U+FFFD).
DIR=$WORK/$'d"ir\\ q\x01\n\x7f\xffx'
DIR_SHOWN=$WORK/$'d"ir\\ q\x01\n\x7f'"${F}x"
# One binary: a quote, a backslash, US, a well-formed é, a 4-byte sequence cut after 3.
BIN1=$DIR/$'st"o\\rm\x1f\xc3\xa9\xf0\x9f\x98'
BIN1_SHOWN=$DIR_SHOWN/$'st"o\\rm\x1f\xc3\xa9'"$F"
# The other: a cut 3-byte sequence, x, a surrogate (ED A0 80: three subparts), a tab.
BIN2=$DIR/$'\xe2\x82x\xed\xa0\x80\tz'
BIN2_SHOWN=$DIR_SHOWN/"${F}x${F}${F}${F}"$'\tz'
mkdir "$DIR" || fail "cannot make a directory named with those bytes"
cp "$TARGETS/storm" "$BIN1" && cp "$TARGETS/storm" "$BIN2" || fail "cannot copy storm"
cp "$TARGETS/libfault.so" "$DIR/" || fail "cannot copy libfault.so" # storm finds it beside it

write_policy "$WORK/p.json" '{"salve": 1, "name": "json-storm", "scope": {"cgroups": ["/'"$CG"'"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}'
start_salved "$WORK/p.json" --rate 0

SECS=1
PIDS_STORM=()
EXPECT=()
# storm BINARY BINARY_SHOWN COMM_SHOWN [--comm BYTES]: one process in the cgroup at full
# speed; what its events must say of it.
storm() {
	local bin=$1 bin_shown=$2 comm_shown=$3; shift 3
	( echo "$BASHPID" > "$CG_ROOT/$CG/cgroup.procs" && cd "$WORK" && exec "$bin" 0 "$SECS" "$@" ) \
		> "$WORK/storm.${#PIDS_STORM[@]}.out" 2>&1 &
	PIDS+=($!)
	PIDS_STORM+=($!)
	EXPECT+=("$(jq -cn --argjson pid $! --arg comm "$comm_shown" --arg exe "$bin_shown" '[$pid, $comm, $exe]')")
}
# A comm of a quote, a backslash, STX, \xff and a cut 3-byte sequence (one U+FFFD each).
storm "$BIN1" "$BIN1_SHOWN" $'c"o\\m\x02'"$F$F" --comm $'c"o\\m\x02\xff\xe2\x82'
# The kernel keeps 15 bytes of a name: this one is cut inside its é.
storm "$BIN1" "$BIN1_SHOWN" "abcdefghijklmn$F" --comm $'abcdefghijklmn\xc3\xa9'
# Without --comm the name is the binary's, as exec left it.
storm "$BIN1" "$BIN1_SHOWN" $'st"o\\rm\x1f\xc3\xa9'"$F"
storm "$BIN2" "$BIN2_SHOWN" "${F}x${F}${F}${F}"$'\tz'
for i in "${!PIDS_STORM[@]}"; do
	wait "${PIDS_STORM[$i]}" || fail "storm $i failed: $(cat "$WORK/storm.$i.out")"
	sent=$(field "$WORK/storm.$i.out" sent)
	[ "${sent:-0}" -gt 0 ] || fail "storm $i raised nothing: $(cat "$WORK/storm.$i.out")"
done
drain
stop_salved

# Every line, the stats line's included, is json-c's own rendering of itself.
out=$("$ROUNDTRIP" "$EVENTS" 2>&1) || fail "salved's JSON is not json-c's: $out"
lines=$(sed -n 's/^lines=//p' <<<"$out")

stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
[ -n "$stats" ] || fail "no stats line at exit"
reported=$(jq .events.signal.reported <<<"$stats")
events=$(count_events '.kind == "signal"')
[ "$events" = "$reported" ] || fail "$events signal lines, but the stats line says $reported reported"
[ "$(count_events '.kind != "signal" and .kind != "stats"')" = 0 ] || fail "lines of another kind"

# Each process's events name it as it was, and each process has some.
got=$(jq -c 'select(.kind == "signal") | [.pid, .comm, .exe]' "$EVENTS" | sort -u)
want=$(printf '%s\n' "${EXPECT[@]}" | sort -u)
[ "$got" = "$want" ] || fail "events name the processes as
$got
but they were
$want"
pass "$lines lines json-c renders byte for byte under a storm: $events events of 4 processes named with quotes, backslashes, control and non-UTF-8 bytes, as many as reported"
