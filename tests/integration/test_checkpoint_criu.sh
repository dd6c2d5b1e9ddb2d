#!/usr/bin/env bash
# Checkpoints by criu, through salved: given Debian sid's criu 4.2 (--criu, the wrapper
# tests/integration/lib/criu_tree.sh makes under build/; this test skips saying why when
# the tree cannot be made), salved checks it at start and says so in its features; a
# checkpoint (backend auto) of a running counter is criu's dump, left running, its images
# and log in the checkpoint's directory; salvectl restore kills the counter and has criu
# bring it back under the same pid, going on from the dump: its count continues from
# where it was dumped, its memory checked. A rule's checkpoint with "backend": "criu" is
# criu's too; a salved without a working criu refuses that backend, saying so.
. "$(dirname "$0")/lib.sh"
need_bpf

tree=$("$ROOT/tests/integration/lib/criu_tree.sh" "$BUILD"); rc=$?
[ -n "$tree" ] && echo "$tree"
# The tree depends on Debian's archive, not on this host (as test_criu.sh).
if [ "$rc" = 77 ]; then echo "SKIP: $tree"; EXITCODE=77; exit 77; fi
[ "$rc" = 0 ] || fail "criu_tree.sh exited $rc"
CRIU=$BUILD/criu-sid/criu
COUNTER=$TARGETS/counter
ctl() { "$BUILD/salvectl" "$@" --socket "$SOCKET"; }

# The counter in a session of its own, no terminal, no fd of this shell's (the BPF lock's
# fd would be a lock shared with a process outside the dumped tree).
start_counter() { # start_counter OUT: sets pid
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec setsid "$COUNTER" "$1" < /dev/null > /dev/null 2>&1
	) &
	PIDS+=($!)
	for _ in $(seq 100); do grep -q ready "$1" 2>/dev/null && break; sleep 0.05; done
	pid=$(field "$1" pid)
	[ "$pid" = "$!" ] || fail "counter did not start as $! ($(cat "$1" 2>/dev/null))"
}
bump() { # bump OUT N: one SIGUSR1, then "count=N check=ok"
	kill -USR1 "$pid"
	for _ in $(seq 200); do [ "$(tail -n1 "$1")" = "count=$2 check=ok" ] && return 0; sleep 0.05; done
	fail "after SIGUSR1 expected 'count=$2 check=ok', got '$(tail -n1 "$1")' from pid $pid"
}

write_policy "$WORK/p.json" '{"salve": 1, "name": "criu",
 "scope": {"binaries": ["'"$COUNTER"'"]},
 "probes": [{"id": "ticks", "kind": "return", "binary": "'"$COUNTER"'", "symbol": "tick", "when": "== 3"}],
 "rules": [{"id": "save-at-three", "by": "process",
            "when": {"probe": "ticks", "count": 1, "within": "1m"},
            "actions": [{"do": "checkpoint", "backend": "criu", "keep": 1}]}]}'

# Without a working criu: the features say so, and the criu backend is refused.
start_salved "$WORK/p.json" --criu "$WORK/no-criu"
ctl features -j | jq -e '.features[] | select(.name == "CRIU" and .available == false and
	(.detail | contains("not installed")))' >/dev/null || fail "features: $(ctl features)"
start_counter "$WORK/out0"
for n in 1 2 3; do bump "$WORK/out0" "$n"; done
act=$(wait_event '.kind == "action" and .do == "checkpoint"') || fail "the rule did not fire"
jq -e '.outcome | startswith("refused: process '"$pid"': no working criu")' <<<"$act" >/dev/null ||
	fail "the criu backend without criu: $act"
stop_salved

start_salved "$WORK/p.json" --criu "$CRIU"
ctl features -j | jq -e '.features[] | select(.name == "CRIU" and .available == true and
	(.detail | test("^criu 4\\.[2-9]")))' >/dev/null || fail "features: $(ctl features)"

# salvectl checkpoint (auto: criu), restore after the counter went on.
start_counter "$WORK/out"
bump "$WORK/out" 1
bump "$WORK/out" 2
out=$(ctl checkpoint "$pid") || fail "salvectl checkpoint: $out"
id=$(ctl checkpoints -j | jq -r ".checkpoints[] | select(.pid == $pid and .trigger == \"salvectl\") | .id")
line=$(wait_event ".kind == \"checkpoint\" and .id == \"$id\"") || fail "no checkpoint line"
expect "$line" .backend criu
jq -e '.pause_ns > 0 and .bytes > 0' <<<"$line" >/dev/null || fail "no frozen time or size: $line"
dir=$(jq -r .path <<<"$line")
[ -s "$dir/images/dump.log" ] && [ -e "$dir/images/pstree.img" ] ||
	fail "no criu images and log in $dir/images: $(ls "$dir" "$dir/images")"
expect "$(ctl checkpoints "$id" -j | jq -c .checkpoint)" .images images
ctl extract "$id" "$WORK/core" 2>&1 | grep -q "was taken by criu: it holds no core" ||
	fail "extract of a criu checkpoint did not refuse"
bump "$WORK/out" 3 # left running: it went on (and the rule saved it at 3 too)
bump "$WORK/out" 4
out=$(ctl restore "$id") || fail "salvectl restore: $out"
grep -q "^process $pid restored to checkpoint $id" <<<"$out" || fail "salvectl restore said: $out"
restore=$(wait_event ".kind == \"restore\" and .checkpoint == \"$id\"") || fail "no restore line"
expect "$restore" .backend criu
expect "$restore" .pid "$pid"
[ -s "$dir/images/restore.log" ] || fail "criu's restore.log is not kept"
# From the dump's 2, its memory as it was: 3 again.
bump "$WORK/out" 3
[ "$(grep -c '^count=' "$WORK/out")" = 5 ] || fail "unexpected lines: $(cat "$WORK/out")"

# The rule's checkpoint at 3, by criu.
rule=$(wait_event ".kind == \"checkpoint\" and .rule == \"save-at-three\" and .pid == $pid") ||
	fail "the rule's checkpoint: $(jq -c 'select(.kind == "action")' "$EVENTS")"
expect "$rule" .backend criu

pass "checkpoint by criu through salved: features, dump left running, restore under the same pid going on from the dump"
