#!/usr/bin/env bash
# Syscall errors: open() of a missing file in scope gives syscall events with ENOENT;
# the same call from a process out of scope gives nothing.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "missing",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "missing", "kind": "syscall", "syscalls": ["open", "openat"],
             "errnos": ["ENOENT"]}]}'
start_salved "$WORK/p.json"

"$TARGETS/calls" open "$WORK/no-such-file" > "$WORK/out"
pid=$(field "$WORK/out" pid)
cat "$WORK/no-such-file-either" 2>/dev/null &
other=$!
wait "$other"
for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge 3 ] && break; sleep 0.05; done
drain
# The dynamic loader's search for libraries fails with ENOENT too: at least the 3 opens.
[ "$(count_events ".pid == $pid")" -ge 3 ] || fail "expected 3 events or more, got $(count_events ".pid == $pid")"
[ "$(count_events ".pid == $pid and .errno != \"ENOENT\"")" = 0 ] || fail "an errno other than ENOENT"
ev=$(jq -c "select(.pid == $pid)" "$EVENTS" | tail -n1) # the target's own last open
expect "$ev" .kind syscall
expect "$ev" .probe missing
expect "$ev" .syscall openat
expect "$ev" .errno ENOENT
[ "$(count_events ".pid == $other")" = 0 ] || fail "a process out of scope was reported"
pass "ENOENT from open() in scope reported, out of scope not"
