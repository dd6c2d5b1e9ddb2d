#!/usr/bin/env bash
# Stacks as good as gdb's: programs built as distributions build them (-O2, no frame
# pointers) crash, and salve's stack of each crash is held against gdb's backtrace of
# the same crash, read from its core: an -O2 C program faulting in a qsort comparator
# (target -> libc -> target), the same program with its own SIGSEGV handler that logs
# and re-raises (salve's stack is that of the fault it caught, gdb's that of the death,
# which the handler's return put back where the fault was), a worker thread (not main)
# faulting, a C++ method called from std::sort, and Debian's own python3.11 (stripped,
# 22 executable mappings, libc far down them) faulting in libc's strlen under ctypes and
# libffi, also with its faulthandler, which catches the fault and raises it again from
# inside its handler (gdb's frames past the signal frame are then the fault's). Every frame gdb finds on the stack (its pc) must be in salve's stack in the
# same order, innermost first; where gdb names a function of the crashing binary, salve
# names the same one; no frame of salve's lacks a module, and each says it was found by
# CFI.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v gdb >/dev/null || fail "gdb is not installed: run 'make deps'"

STACK_MAX=$(sed -n 's/^#define SALVE_STACK_MAX \([0-9]*\).*/\1/p' "$ROOT/include/salve/event.h")
PYTHON=/usr/bin/python3.11 # Debian's, not one on PATH
[ -x "$PYTHON" ] || fail "$PYTHON is not installed: run 'make deps'"
names=("\"$PYTHON\"")
for t in qsort_crash thread_crash sort_crash; do names+=("\"$TARGETS/$t\""); done
write_policy "$WORK/p.json" '{"salve": 1, "name": "unwind-gdb",
 "scope": {"binaries": ['"$(IFS=,; echo "${names[*]}")"']},
 "probes": [{"id": "crashes", "kind": "signal"}]}'
start_salved "$WORK/p.json"

# gdb's frames of the core's crashing thread, "pc name" per line (name "-" where gdb has
# none). Frames gdb infers without the stack are left out: inlined ones (they share the
# pc of the frame that holds them) and tail calls it rebuilds from DWARF call sites
# (a jump leaves no return address; no unwinder of the stack can see one). A signal
# frame is marked: what lies past it is the code the signal interrupted.
cat > "$WORK/frames.py" <<'PY'
import gdb
f = gdb.newest_frame()
while f is not None:
    if f.type() == gdb.SIGTRAMP_FRAME:
        print("SIGTRAMP")
    elif f.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
        f.select()
        print("FRAME " + gdb.execute("p $pc", to_string=True).strip())
    f = f.older()
PY
# gdb_frames EXE CORE HANDLED: with HANDLED=1, a handler that re-raised from inside
# itself left the core: the frames of the fault are those past the signal frame.
gdb_frames() {
	gdb -batch -nx -x "$WORK/frames.py" "$1" "$2" 2>/dev/null |
		awk -v h="$3" '{ l[NR] = $0 } h == 1 && $0 == "SIGTRAMP" { s = NR }
			END { for (i = s + 1; i <= NR; i++) print l[i] }' |
		sed -n 's/^FRAME \$[0-9]* = .*) \(0x[0-9a-f]*\)\( <\(.*\)>\)\{0,1\}$/\1 \3/p' |
		sed -e 's/+[0-9]*$//' -e 's/^\(0x[0-9a-f]*\) *$/\1 -/'
}

# check NAME CAUGHT EXE [ARG...]: EXE crashes in a directory of its own, printing
# "pid=N tid=N" first. CAUGHT, unless "-": what its own handler prints on the fault,
# and salve's stack is that of the fault it caught ("handled": true).
check() {
	local t=$1 caught=$2 exe=$3 dir=$WORK/$1 pid tid ev sel handled=0
	shift 2
	mkdir -p "$dir"
	( ulimit -c unlimited; cd "$dir" && exec "$@" ) > "$dir/out" 2>&1
	pid=$(field "$dir/out" pid)
	tid=$(field "$dir/out" tid)
	[ -n "$pid" ] || fail "$t printed no pid: $(cat "$dir/out")"
	[ -s "$dir/core" ] || fail "$t left no core in $dir (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
	sel=".kind == \"signal\" and .pid == $pid"
	if [ "$caught" != - ]; then
		grep -q "$caught" "$dir/out" || fail "$t: its handler did not run: $(cat "$dir/out")"
		sel="$sel and .handled == true"
		handled=1
	fi
	ev=$(wait_event "$sel") || fail "no signal event for $t ($pid)"
	[ -z "$tid" ] || expect "$ev" .tid "$tid"
	gdb_frames "$exe" "$dir/core" "$handled" > "$dir/gdb"
	[ "$(wc -l < "$dir/gdb")" -ge 3 ] || fail "gdb found under 3 frames for $t: $(cat "$dir/gdb")"
	jq -e '.stack | length > 0 and all(.[]; .module != null and .how == "cfi")' <<<"$ev" >/dev/null ||
		fail "$t: a frame without a module or not unwound by CFI: $ev"
	# salve's frames: pc, module, the symbol as a person reads it (demangled).
	jq -r '.stack[] | "\(.ip) \(.module) \(.symbol // "-")"' <<<"$ev" |
		while read -r ip mod sym; do
			[ "$sym" = - ] || sym=$(c++filt -- "$sym")
			printf '%s\t%s\t%s\n' "$((ip))" "$mod" "$sym"
		done > "$dir/salve"
	python3 - "$dir/gdb" "$dir/salve" "$exe" "$STACK_MAX" <<'PY' || fail "$t: salve's stack differs from gdb's
--- gdb
$(cat "$dir/gdb")
--- salve
$(cat "$dir/salve")"
import sys
gdb = [l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1]) if l.strip()]
salve = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
exe, at = sys.argv[3], 0
# A report keeps the innermost STACK_MAX frames: a deeper stack is held against as many
# of gdb's.
if len(salve) == int(sys.argv[4]):
    gdb = gdb[:len(salve)]

def base(name):
    """A function's qualified name without its parameters or return type: gdb writes
    "main()" and "std::f<T>(...)" where the demangler writes "main" and "void std::f<T>(...)"."""
    depth, out = 0, ""
    for ch in name:
        if ch == "(" and depth == 0:
            break
        depth += ch == "<"
        depth -= ch == ">"
        out += " " if ch == " " and depth == 0 else ("\0" if ch == " " else ch)
    return out.strip().split(" ")[-1].replace("\0", " ")

for pc, name in gdb:
    pc = int(pc, 16)
    while at < len(salve) and int(salve[at][0]) != pc:
        at += 1
    if at == len(salve):
        sys.exit(f"gdb's frame {pc:#x} {name} is not in salve's stack (in order)")
    ip, mod, sym = salve[at]
    if mod == exe and name != "-" and base(sym) != base(name):
        sys.exit(f"{pc:#x}: gdb names {name!r}, salve {sym!r}")
    at += 1
PY
}

for t in qsort_crash thread_crash sort_crash; do
	check "$t" - "$TARGETS/$t"
done
check qsort_crash-catch 'caught SIGSEGV' "$TARGETS/qsort_crash" catch
cat > "$WORK/crash.py" <<'PY'
import ctypes, ssl, sqlite3, decimal, json, hashlib, lzma, bz2, uuid, os, threading
print(f"pid={os.getpid()} tid={threading.get_native_id()}", flush=True)
ctypes.string_at(0)  # strlen(NULL) in libc, called from _ctypes through libffi
PY
check python3.11 - "$PYTHON" "$WORK/crash.py"
# The same with Python's own crash handler, which prints the Python traceback and
# raises the signal again from inside itself.
check python3.11-faulthandler 'Fatal Python error: Segmentation fault' "$PYTHON" -X faulthandler "$WORK/crash.py"
pass "salve's stacks hold every frame of gdb's backtrace, in order, for four -O2 crashes (one caught and re-raised) and Debian's python3.11 crashing in libc, with and without its faulthandler"
