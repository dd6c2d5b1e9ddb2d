#!/usr/bin/env bash
# A probe on a stripped binary: its function is found where a debugger finds it, in
# each of the ways distributions ship symbols: the debug file the test installs under
# /usr/lib/debug/.build-id; a debug file beside the binary named by its .gnu_debuglink
# (with its CRC); MiniDebugInfo, the symbol table xz-compressed in .gnu_debugdata.
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

# Two more copies without a build id (so only the other ways can find their symbols):
# one with a .gnu_debuglink to a debug file beside it, one with MiniDebugInfo.
link=$WORK/calls-link mini=$WORK/calls-mini
cp "$bin" "$link" && objcopy --remove-section .note.gnu.build-id "$link"
cp "$WORK/calls.debug" "$WORK/calls-link.debug"
objcopy --add-gnu-debuglink="$WORK/calls-link.debug" "$link"
objcopy --strip-debug --remove-section .gdb_index --remove-section .comment "$WORK/calls.debug" "$WORK/mini"
xz -f "$WORK/mini"
cp "$bin" "$mini" && objcopy --remove-section .note.gnu.build-id \
	--add-section .gnu_debugdata="$WORK/mini.xz" "$mini"
readelf -n "$link" "$mini" | grep -q 'Build ID' && fail "a copy kept its build id"

probe() {
	echo '{"id": "'"$1"'", "kind": "return", "binary": "'"$2"'", "symbol": "parse_item", "when": "< 0"}'
}
write_policy "$WORK/p.json" '{"salve": 1, "name": "stripped",
 "scope": {"binaries": ["'"$bin"'", "'"$link"'", "'"$mini"'"]},
 "probes": ['"$(probe build-id "$bin"), $(probe debuglink "$link"), $(probe minidebuginfo "$mini")"']}'
start_salved "$WORK/p.json"
for b in "$bin" "$link" "$mini"; do
	"$b" fail 100 > "$WORK/out"
	pid=$(field "$WORK/out" pid); failures=$(field "$WORK/out" failures)
	for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge "$failures" ] && break; sleep 0.05; done
	drain
	[ "$(count_events ".pid == $pid")" = "$failures" ] ||
		fail "$b: expected $failures events, got $(count_events ".pid == $pid")"
	expect "$(jq -c "select(.pid == $pid)" "$EVENTS" | head -n1)" .site.symbol parse_item
done

# A binary with none of them: the message says where salve looked.
bare=$WORK/calls-bare
cp "$bin" "$bare" && objcopy --remove-section .note.gnu.build-id "$bare"
write_policy "$WORK/p.json" '{"salve": 1, "name": "bare", "probes": ['"$(probe bare "$bare")"']}'
out=$("$BUILD/salvectl" reload --socket "$SOCKET" 2>&1) && fail "a probe on a function no symbol names was loaded: $out"
grep -q 'no function "parse_item".*no .gnu_debuglink debug file or MiniDebugInfo names it' <<<"$out" ||
	fail "the message does not say where salve looked: $out"
pass "failing calls of stripped binaries, found through a build-id debug file, a debuglink and MiniDebugInfo"
