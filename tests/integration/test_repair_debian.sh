#!/usr/bin/env bash
# Repairs of a program salve did not build: Debian's python3.11 (stripped, no frame
# pointers) and Debian's libc. The first open() that fails with EISDIR fires a rule with
# two repairs of libc in that process: getcwd() overridden to return NULL (os.getcwd()
# raises), and gethostname() overridden to fail only when its length argument is 1023
# (what CPython's socket.gethostname() passes): a trampoline, through which a call with
# another length (ctypes, 64) still runs libc's. gdb, attached to the same process, is
# the oracle: it disassembles salve's patch in getcwd while applied and libc's own code
# after the rollback.
. "$(dirname "$0")/lib.sh"
need_bpf
PY=/usr/bin/python3.11
LIBC=/usr/lib/x86_64-linux-gnu/libc.so.6
[ -x "$PY" ] || fail "no $PY (make deps installs python3)"

write_policy "$WORK/p.json" '{"salve": 1, "name": "debian",
 "scope": {"binaries": ["'"$PY"'"]},
 "probes": [{"id": "isdir", "kind": "syscall", "syscalls": ["openat"], "errnos": ["EISDIR"]}],
 "rules": [{"id": "repair-libc", "by": "process",
            "when": {"probe": "isdir", "count": 1, "within": "1m"}, "verify": "1m",
            "actions": [{"do": "override", "binary": "'"$LIBC"'", "symbol": "getcwd", "return": null},
                        {"do": "override", "binary": "'"$LIBC"'", "symbol": "gethostname",
                         "return": -1, "when": "arg1 == 1023"}]}]}'
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel

mkfifo "$WORK/in"
( cd "$WORK" && exec "$PY" -u -c '
import ctypes, os, socket, sys
libc = ctypes.CDLL("libc.so.6", use_errno=True)
print("pid=%d ready" % os.getpid())
for line in sys.stdin:
    cmd = line.strip()
    try:
        if cmd == "cwd":
            print("cwd " + os.getcwd())
        elif cmd == "host":
            print("host " + socket.gethostname())
        elif cmd == "host64":
            print("host64 %d" % libc.gethostname(ctypes.create_string_buffer(64), 64))
        elif cmd == "trigger":
            open("/", "w")
    except OSError as e:
        print("%s error" % cmd)
' < "$WORK/in" > "$WORK/out" 2> "$WORK/err" ) &
PIDS+=($!)
exec 3> "$WORK/in"
for _ in $(seq 100); do grep -q ready "$WORK/out" && break; sleep 0.05; done
pid=$(field "$WORK/out" pid)
[ -n "$pid" ] || fail "python did not start: $(cat "$WORK/err")"
answered=1
ask() { # ask CMD EXPECTED
	echo "$1" >&3
	answered=$((answered + 1))
	for _ in $(seq 200); do [ "$(wc -l < "$WORK/out")" -ge "$answered" ] && break; sleep 0.05; done
	got=$(sed -n "${answered}p" "$WORK/out")
	[ "$got" = "$2" ] || fail "$1: expected '$2', got '$got' ($(cat "$WORK/err"))"
}
gdb_getcwd() { # gdb's disassembly of getcwd's first instructions, by whatever name it knows
	gdb -p "$pid" -batch -nx -ex 'x/3i getcwd' 2>/dev/null | grep -E '^ +0x[0-9a-f]+ <[^>]*getcwd[^>]*>:'
}

ask cwd "cwd $WORK"
ask host "host $(hostname)"
before=$(gdb_getcwd)
grep -q 'push   %r15' <<<"$before" || fail "gdb shows getcwd starting otherwise: $before"

ask trigger "trigger error"
for _ in $(seq 100); do
	[ "$(count_events ".kind == \"repair\" and .state == \"applied\" and .pid == $pid")" = 2 ] && break
	sleep 0.05
done
[ "$(count_events ".kind == \"repair\" and .state == \"applied\" and .pid == $pid")" = 2 ] ||
	fail "not both repairs applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
host=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .symbol == \"gethostname\"")
[ "$(jq -r .page <<<"$host")" != null ] || fail "gethostname's override has no trampoline: $host"

ask cwd "cwd error"
ask host "host error"
ask host64 "host64 0"
# gdb sees salve's patch after getcwd's first instruction: its undo, then return NULL.
after=$(gdb_getcwd)
grep -q 'push   %r15' <<<"$after" && grep -q 'pop    %r15' <<<"$after" &&
	grep -q 'xor    %eax,%eax' <<<"$after" || fail "gdb does not show the patch in getcwd: $after"

for id in $(jq -r 'select(.kind == "repair" and .state == "applied") | .id' "$EVENTS"); do
	"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "rollback of $id failed"
done
ask cwd "cwd $WORK"
ask host "host $(hostname)"
[ "$(gdb_getcwd)" = "$before" ] || fail "gdb shows getcwd changed after the rollback: $(gdb_getcwd)"
exec 3>&-
pass "Debian's python3.11 and libc repaired in place (getcwd overridden, gethostname overridden only for length 1023 through a trampoline), checked with gdb, rolled back"
