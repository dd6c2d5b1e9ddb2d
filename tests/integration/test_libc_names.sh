#!/usr/bin/env bash
# A fault inside libc (strlen of NULL) is named as gdb names it, from libc6-dbg's debug
# file found by build id: the function (a CPU-specific __strlen_*, which libc itself
# does not export), its source file and line; the caller in the target with its file and
# line from the target's own DWARF. gdb -batch running the same binary is the oracle.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v gdb >/dev/null || skip "needs gdb (make deps installs it)"
LIBC=$(ldd "$TARGETS/nullarg" | awk '$1 ~ /^libc\.so/ { print $3 }')
[ -n "$LIBC" ] || fail "nullarg links no libc"
ID=$(readelf -n "$LIBC" | sed -n 's/.*Build ID: *//p')
[ -r "/usr/lib/debug/.build-id/${ID:0:2}/${ID:2}.debug" ] ||
	skip "needs libc6-dbg for $LIBC (make deps installs it)"

# gdb's answer: the innermost frame's function, file and line, and the caller's.
gdb -batch -nx -ex run -ex bt "$TARGETS/nullarg" > "$WORK/gdb" 2>&1
want_fn=$(sed -n 's/^#0  \([^ ]*\) (.*/\1/p' "$WORK/gdb")
want_loc=$(sed -n 's/^#0  .* at \([^ ]*\)$/\1/p' "$WORK/gdb")
caller_loc=$(sed -n 's/^#1  .* in measure (.*) at \([^ ]*\)$/\1/p' "$WORK/gdb")
[ -n "$want_fn" ] && [ -n "$want_loc" ] && [ -n "$caller_loc" ] ||
	fail "gdb gave no frame #0 with a line, or no measure: $(cat "$WORK/gdb")"
case $want_fn in strlen|__strlen_*) ;; *) fail "gdb names $want_fn, not a strlen: $(cat "$WORK/gdb")";; esac

write_policy "$WORK/p.json" '{"salve": 1, "name": "libc-names",
 "scope": {"binaries": ["'"$TARGETS/nullarg"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

( cd "$WORK" && exec "$TARGETS/nullarg" ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
[ -n "$pid" ] || fail "target printed no pid: $(cat "$WORK/out")"
ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "no signal event for pid $pid"
expect "$ev" .signal SIGSEGV
[ "$(realpath "$(jq -r '.stack[0].module' <<<"$ev")")" = "$(realpath "$LIBC")" ] ||
	fail "the innermost frame is not in $LIBC: $ev"
expect "$ev" '.stack[0].symbol' "$want_fn"
# gdb gives a file as DWARF names it; salved joins a relative one to the directory it
# was compiled in, as addr2line does: the same file, and the same line.
same_place() {
	case $1 in "$2"|*/"$2") return 0;; esac
	return 1
}
got=$(jq -r '.stack[0].file + ":" + (.stack[0].line | tostring)' <<<"$ev")
same_place "$got" "$want_loc" || fail "the fault at $got, gdb says $want_loc: $ev"
# The caller is the target's (when the frame-pointer walk from libc's assembly finds it).
got=$(jq -r '.stack[] | select(.symbol == "measure") | .file + ":" + (.line | tostring)' <<<"$ev" | head -n1)
[ -z "$got" ] || same_place "$got" "$caller_loc" || fail "measure at $got, gdb says $caller_loc: $ev"
# The frames in the target are named with the target's own lines.
got=$(jq -r '[.stack[] | select(.symbol == "main")][0].file' <<<"$ev")
[ "$got" = "$(realpath "$ROOT/tests/targets/nullarg.c")" ] || fail "main's file is $got: $ev"
pass "a fault in libc named as gdb names it: $want_fn at $want_loc"
