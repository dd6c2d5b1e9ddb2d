#!/usr/bin/env bash
# --watch-policy on a directory laid out as kubelet mounts a ConfigMap: each key a link
# through ..data to a ..<timestamp> directory, an update swapping ..data by rename. An
# update that adds a key (a policy with a new probe) is reloaded by itself, once for the
# whole swap, and the new probe reports; an update with a broken file is refused,
# naming it, and the running policies keep reporting; an update that removes a key
# (its link dangling until kubelet removes it) detaches that key's probe.
. "$(dirname "$0")/lib.sh"
need_bpf

calls=$TARGETS/calls
DIR=$WORK/policies.d
fleet='{"salve": 1, "name": "fleet", "scope": {"binaries": ["'"$calls"'"]},
 "probes": [{"id": "parse-errors", "kind": "return", "binary": "'"$calls"'",
             "symbol": "parse_item", "type": "int", "when": "< 0"}]}'
opens='{"salve": 1, "name": "opens", "scope": {"binaries": ["'"$calls"'"]},
 "probes": [{"id": "missing", "kind": "syscall", "syscalls": ["openat"], "errnos": ["ENOENT"]}]}'
broken='{"salve": 1, "name": "fleet", "probes": ['

# publish KEY=JSON...: what kubelet's atomic writer does on a ConfigMap update: the keys
# written into a new ..<timestamp> directory, ..data swapped to it by rename, links made
# for new keys and removed for keys gone, the old directory removed.
version=0
publish() {
	local old new kv key link
	old=$(readlink "$DIR/..data" 2>/dev/null)
	version=$((version + 1))
	new="..2026_11_26_12_00_0$version.$$"
	mkdir -p "$DIR/$new"
	for kv in "$@"; do printf '%s\n' "${kv#*=}" > "$DIR/$new/${kv%%=*}"; done
	ln -s "$new" "$DIR/..data_tmp"
	mv -T "$DIR/..data_tmp" "$DIR/..data"
	for kv in "$@"; do
		key=${kv%%=*}
		[ -L "$DIR/$key" ] || ln -s "..data/$key" "$DIR/$key"
	done
	for link in "$DIR"/*.json; do [ -e "$link" ] || rm "$link"; done
	[ -z "$old" ] || rm -rf "${DIR:?}/$old"
}

# wait_log TEXT N: until salved's log has N lines with TEXT.
wait_log() {
	for _ in $(seq 200); do
		[ "$(grep -cF "$1" "$WORK/salved.err")" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "no ${2}th '$1' in salved's log"
}

check() { "$BUILD/salvectl" reload --check --json --socket "$SOCKET"; }

publish fleet.json="$fleet"
start_salved "$DIR" --watch-policy
drain # the control socket answers: the loop runs, the watch is set
grep -qF "reloading the policy when its files in $DIR change" "$WORK/salved.err" ||
	fail "salved does not say it watches $DIR"

# A key added, with a new probe: one reload for the whole update, and the probe reports.
publish fleet.json="$fleet" opens.json="$opens"
wait_log 'reloaded 2 policies' 1
[ "$(check | jq -c '[.ok, .attach, .detach]')" = '[true,[],[]]' ] ||
	fail "after the reload, salvectl reload --check still has work: $(check)"
"$calls" open "$WORK/no-such-file" > "$WORK/open1"
pid=$(field "$WORK/open1" pid)
wait_event ".pid == $pid and .probe == \"missing\"" > /dev/null ||
	fail "the probe the update added does not report"

# A broken file: refused, naming it as the pod sees it; the running policies stay.
publish fleet.json="$broken" opens.json="$opens"
wait_log 'reload refused' 1
grep -qF "reload refused, the running policy stays: $DIR/fleet.json:" "$WORK/salved.err" ||
	fail "the refusal does not name $DIR/fleet.json"
reply=$(check)
expect "$reply" .ok false
[[ "$(jq -r .error <<<"$reply")" == "$DIR/fleet.json:"* ]] ||
	fail "salvectl reload --check does not name the broken file: $reply"
"$calls" open "$WORK/no-such-file" > "$WORK/open2"
pid=$(field "$WORK/open2" pid)
wait_event ".pid == $pid and .probe == \"missing\"" > /dev/null ||
	fail "the running policy stopped reporting after a broken update"
"$calls" fail 10 > /dev/null &
PIDS+=($!)
pid=$!
wait "$pid"
wait_event ".pid == $pid and .probe == \"parse-errors\"" > /dev/null ||
	fail "the running fleet policy stopped reporting after a broken update"

# Fixed, with the opens key removed: its link dangles until kubelet removes it, within
# the same update, so the one reload sees one policy and the probe is detached.
publish fleet.json="$fleet"
wait_log 'reloaded 1 policy' 1
"$calls" open "$WORK/no-such-file" > "$WORK/open3"
gone=$(field "$WORK/open3" pid)
"$calls" fail 10 > /dev/null &
PIDS+=($!)
pid=$!
wait "$pid"
wait_event ".pid == $pid and .probe == \"parse-errors\"" > /dev/null ||
	fail "the fleet policy does not report after the third update"
drain
[ "$(count_events ".pid == $gone")" = 0 ] || fail "the removed key's probe still reports"

# One reload per update: three updates, each a burst of events.
[ "$(grep -cF "policy watch: $DIR changed: reloading" "$WORK/salved.err")" = 3 ] ||
	fail "expected 3 reloads for 3 updates: $(grep -F 'policy watch' "$WORK/salved.err")"
# Refusals: the broken update's, and salvectl reload --check's of the same files; none
# for the third update's link left dangling for a moment.
[ "$(grep -c 'reload refused' "$WORK/salved.err")" = 2 ] ||
	fail "a refusal besides the broken update's: $(grep 'reload refused' "$WORK/salved.err")"
pass "ConfigMap updates reloaded once each; a broken one refused naming the file"
