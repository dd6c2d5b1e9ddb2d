#!/usr/bin/env bash
# A probe on a stripped binary: its function is found in the debug file the test
# installs under /usr/lib/debug/.build-id, the way distributions ship them.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v objcopy >/dev/null || fail "objcopy missing: run make deps"

bin=$WORK/calls-stripped
cp "$TARGETS/calls" "$TARGETS/libfault.so" "$WORK/" && mv "$WORK/calls" "$bin" # $ORIGIN finds libfault.so
objcopy --only-keep-debug "$bin" "$WORK/calls.debug"
strip --strip-all "$bin"
nm "$bin" 2>/dev/null | grep -q parse_item && fail "strip left parse_item in .symtab"
id=$(readelf -n "$bin" | sed -n 's/.*Build ID: *//p')
[ -n "$id" ] || fail "no build id in $bin"
DEBUG=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
[ -e "$DEBUG" ] && skip "a debug file for this build id is installed already: $DEBUG"
mkdir -p "$(dirname "$DEBUG")"
cp "$WORK/calls.debug" "$DEBUG"
trap 'rm -f "$DEBUG"; rmdir "$(dirname "$DEBUG")" 2>/dev/null; cleanup' EXIT

write_policy "$WORK/p.json" '{"salve": 1, "name": "stripped",
 "scope": {"binaries": ["'"$bin"'"]},
 "probes": [{"id": "parse-errors", "kind": "return", "binary": "'"$bin"'",
             "symbol": "parse_item", "when": "< 0"}]}'
start_salved "$WORK/p.json"
"$bin" fail 100 > "$WORK/out"
pid=$(field "$WORK/out" pid); failures=$(field "$WORK/out" failures)
for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge "$failures" ] && break; sleep 0.05; done
drain
[ "$(count_events ".pid == $pid")" = "$failures" ] ||
	fail "expected $failures events, got $(count_events ".pid == $pid")"
pass "$failures failing calls of a stripped binary, found through its build-id debug file"
