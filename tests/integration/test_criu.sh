#!/usr/bin/env bash
# CRIU where it works: Debian sid's criu 4.2 (tests/integration/lib/criu_tree.sh makes the
# tree under build/, or this test skips saying why) checks this host, dumps a running
# target with criu_dump's exact arguments, and after the target is killed restores it:
# the restored process goes on from where it was dumped (its counter continues, its 2 MiB
# of memory still holds what it wrote, its flock is held again) rather than starting
# again. The same for a process with an established TCP connection (both ends its own:
# dumped under the nftables network lock, repaired on restore, it carries the next
# message), and for a target that has hit a uretprobe, as every process salve probes has:
# its [uprobes] mapping makes criu refuse without --allow-uprobes. Prints dump, frozen and
# restore times.
#
# The arguments are daemon/actions/criu.h's (asserted by tests/unit/test_criu.c): keep
# DUMP_ARGS and RESTORE_ARGS below the same.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (criu, debootstrap)"

# The tree depends on Debian's archive, not on this host: when it cannot be made (no
# network, sid's criu uninstallable today) this is a skip even under SALVE_REQUIRE_BPF.
tree=$("$ROOT/tests/integration/lib/criu_tree.sh" "$BUILD"); rc=$?
[ -n "$tree" ] && echo "$tree"
if [ "$rc" = 77 ]; then echo "SKIP: $tree"; EXITCODE=77; exit 77; fi
[ "$rc" = 0 ] || fail "criu_tree.sh exited $rc"
CRIU=$BUILD/criu-sid/criu
echo "criu: $(cat "$BUILD/criu-sid/done") ($CRIU)"

out=$("$CRIU" check 2>&1) || fail "criu check: $out"

# criu_dump's and criu_restore's arguments (criu.h), for a process without a terminal.
dump_args() { # dump_args PID DIR
	echo dump -t "$1" -D "$2" -o dump.log -v4 --leave-running --allow-uprobes \
		--tcp-established --network-lock nftables --file-locks
}
restore_args() { # restore_args DIR
	echo restore -D "$1" -o restore.log -v4 --restore-detached --pidfile "$1/restore.pid" \
		--allow-uprobes --tcp-established --file-locks
}
# As criu.c runs criu: stdin /dev/null, stdout and stderr to DIR/VERB.out.
run_criu() { # run_criu VERB DIR ARGS...
	local verb=$1 dir=$2; shift 2
	"$CRIU" "$@" < /dev/null > "$dir/$verb.out" 2>&1
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# criu_stat IMAGE FIELD: a varint of the first entry of criu's stats image (stats.proto:
# dump_stats_entry 2 = frozen_time, restore_stats_entry 4 = restore_time, in µs).
criu_stat() {
	local -a b
	read -r -a b <<<"$(od -An -v -tu1 "$1" | tr -s ' \n' ' ')"
	local i=14 end=$((14 + b[13])) key v shift
	while [ "$i" -lt "$end" ]; do
		key=${b[i]}; i=$((i + 1)); v=0; shift=0
		while :; do
			v=$(( v | (b[i] & 0x7f) << shift )); shift=$((shift + 7))
			[ $((b[i] & 0x80)) = 0 ] && break
			i=$((i + 1))
		done
		i=$((i + 1))
		[ $((key >> 3)) = "$2" ] && { echo "$v"; return 0; }
	done
	return 1
}

# A target in a session of its own, no terminal, its output a file it holds, and no
# other fd of this shell: flock(1)'s fd of the shared BPF lock, inherited, is a lock held
# with processes outside the dumped tree, which criu cannot take again on restore.
start_detached() { # start_detached COMMAND...
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec setsid "$@" < /dev/null > /dev/null 2>&1
	) &
	PIDS+=($!)
}
start_counter() { # start_counter OUT: sets pid
	start_detached "$TARGETS/counter" "$1"
	for _ in $(seq 100); do grep -q ready "$1" 2>/dev/null && break; sleep 0.05; done
	pid=$(field "$1" pid)
	[ "$pid" = "$!" ] || fail "counter did not start as $! ($(cat "$1" 2>/dev/null))"
}
# bump OUT N: one SIGUSR1, then the counter's line "count=N check=ok" (signals sent
# before it answers could merge into one).
bump() {
	kill -USR1 "$pid"
	for _ in $(seq 200); do [ "$(tail -n1 "$1")" = "count=$2 check=ok" ] && return 0; sleep 0.05; done
	fail "after SIGUSR1 expected 'count=$2 check=ok', got '$(tail -n1 "$1")' from pid $pid"
}
kill_and_reap() {
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	for _ in $(seq 100); do [ -e "/proc/$pid" ] || return 0; sleep 0.05; done
	fail "pid $pid still held after SIGKILL"
}
restore() { # restore DIR: the restored pid is the dumped one
	local t0
	t0=$(date +%s%N)
	run_criu restore "$1" $(restore_args "$1") ||
		fail "criu restore: $(grep 'Error (' "$1/restore.log" | tail -n2) $(cat "$1/restore.out")"
	restore_ms=$(ms_since "$t0")
	[ "$(cat "$1/restore.pid")" = "$pid" ] || fail "restored as pid $(cat "$1/restore.pid"), not $pid"
}

# ---- a plain target: dump, go on, kill, restore, continue from the dump ----
start_counter "$WORK/out"
[ "$(awk '{print $7}' "/proc/$pid/stat")" = 0 ] || fail "counter has a terminal: no --shell-job case"
bump "$WORK/out" 1
bump "$WORK/out" 2
bump "$WORK/out" 3
mkdir "$WORK/img"
t0=$(date +%s%N)
run_criu dump "$WORK/img" $(dump_args "$pid" "$WORK/img") ||
	fail "criu dump: $(grep 'Error (' "$WORK/img/dump.log" | tail -n2) $(cat "$WORK/img/dump.out")"
dump_ms=$(ms_since "$t0")
frozen_us=$(criu_stat "$WORK/img/stats-dump" 2) || fail "no frozen_time in stats-dump"
bump "$WORK/out" 4 # --leave-running: it went on
kill_and_reap
restore "$WORK/img"
restore_us=$(criu_stat "$WORK/img/stats-restore" 4) || fail "no restore_time in stats-restore"
# From the dump's 3, with the memory it had then: 4 again, not 1.
bump "$WORK/out" 4
bump "$WORK/out" 5
[ "$(grep -c '^count=' "$WORK/out")" = 6 ] || fail "unexpected lines: $(cat "$WORK/out")"
# Its flock on the file came back with it (--file-locks).
flock -n "$WORK/out" true && fail "the restored counter does not hold its flock: $(cat /proc/locks)"
echo "criu: 2 MiB target: dump ${dump_ms} ms (frozen $((frozen_us / 1000)).$(((frozen_us % 1000) / 100)) ms), restore ${restore_ms} ms (criu's restore_time $((restore_us / 1000)).$(((restore_us % 1000) / 100)) ms)"
# The pid is taken by the restored process now: a second restore is refused by criu too.
run_criu restore "$WORK/img" $(restore_args "$WORK/img") && fail "restore over a live pid succeeded"
kill_and_reap

# ---- an established TCP connection (both ends in the process) ----
start_detached python3 -c '
import os, signal, socket, sys
out = open(sys.argv[1], "a", buffering=1)
srv = socket.socket()
# As servers do: the killed connection leaves the port in TIME_WAIT, and criu binds
# the restored listener to it again.
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
peer, _ = srv.accept()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
n = 0
out.write("pid=%d ready\n" % os.getpid())
while True:
    signal.sigwaitinfo({signal.SIGUSR1})
    n += 1
    cli.sendall(b"ping %d" % n)
    out.write("count=%s check=ok\n" % peer.recv(100).decode().split()[1])
' "$WORK/tcp.out"
for _ in $(seq 100); do grep -q ready "$WORK/tcp.out" 2>/dev/null && break; sleep 0.05; done
pid=$(field "$WORK/tcp.out" pid)
[ -n "$pid" ] || fail "the TCP target did not start"
bump "$WORK/tcp.out" 1
grep -q ESTAB <(ss -tnp | grep "pid=$pid,") || fail "no established connection in pid $pid"
mkdir "$WORK/img-tcp"
run_criu dump "$WORK/img-tcp" $(dump_args "$pid" "$WORK/img-tcp") ||
	fail "criu dump with TCP: $(grep 'Error (' "$WORK/img-tcp/dump.log" | tail -n2)"
bump "$WORK/tcp.out" 2
kill_and_reap
restore "$WORK/img-tcp"
bump "$WORK/tcp.out" 2 # the connection, repaired, carries the next ping
kill_and_reap

# ---- a target that has hit a uretprobe: a [uprobes] mapping ----
if ! command -v bpftrace > /dev/null; then
	echo "SKIP (uprobes part): no bpftrace"
	pass "criu $(cat "$BUILD/criu-sid/done"): dump, kill, restore: the counter went on from the dump"
	exit 0
fi
start_counter "$WORK/out2"
bpftrace -e "uretprobe:$TARGETS/counter:tick /pid == $pid/ { printf(\"tick %d\\n\", pid); }" \
	> "$WORK/bpftrace.out" 2>&1 &
BT=$!
PIDS+=($BT)
for _ in $(seq 600); do grep -q 'Attaching' "$WORK/bpftrace.out" && break; sleep 0.05; done
grep -q 'Attaching' "$WORK/bpftrace.out" || fail "bpftrace did not attach: $(cat "$WORK/bpftrace.out")"
# bpftrace says "Attaching" before it has: bump until the probe reports a hit.
n=0
for _ in $(seq 100); do
	n=$((n + 1))
	bump "$WORK/out2" "$n"
	grep -q "^tick $pid" "$WORK/bpftrace.out" && break
done
grep -q "^tick $pid" "$WORK/bpftrace.out" || fail "the uretprobe never fired: $(cat "$WORK/bpftrace.out")"
grep -q '\[uprobes\]' "/proc/$pid/maps" || fail "no [uprobes] mapping after a uretprobe hit"
mkdir "$WORK/img-noallow" "$WORK/img2"
# Without --allow-uprobes criu refuses the [uprobes] mapping: the flag is needed.
dump_noallow=$(dump_args "$pid" "$WORK/img-noallow" | sed 's/ --allow-uprobes//')
run_criu dump "$WORK/img-noallow" $dump_noallow && fail "criu dumped a [uprobes] mapping without --allow-uprobes"
grep -q 'uprobes' "$WORK/img-noallow/dump.log" || fail "criu failed otherwise: $(grep 'Error (' "$WORK/img-noallow/dump.log" | tail -n2)"
bump "$WORK/out2" $((n + 1))
t0=$(date +%s%N)
run_criu dump "$WORK/img2" $(dump_args "$pid" "$WORK/img2") ||
	fail "criu dump with [uprobes]: $(grep 'Error (' "$WORK/img2/dump.log" | tail -n2)"
dump2_ms=$(ms_since "$t0")
bump "$WORK/out2" $((n + 2))
kill_and_reap
restore "$WORK/img2"
bump "$WORK/out2" $((n + 2)) # from the dump's n + 1
# The probe still fires in the restored process, and after bpftrace detaches (its
# breakpoint gone from the file's pages) the restored process still runs tick().
ticks=$(grep -c "^tick $pid" "$WORK/bpftrace.out")
bump "$WORK/out2" $((n + 3))
for _ in $(seq 100); do [ "$(grep -c "^tick $pid" "$WORK/bpftrace.out")" -gt "$ticks" ] && break; sleep 0.05; done
[ "$(grep -c "^tick $pid" "$WORK/bpftrace.out")" -gt "$ticks" ] ||
	fail "the uretprobe did not fire in the restored process: $(cat "$WORK/bpftrace.out")"
kill -INT "$BT"
wait "$BT" 2>/dev/null
bump "$WORK/out2" $((n + 4))
kill -0 "$pid" 2>/dev/null || fail "the restored process died after the uprobe went"
echo "criu: with [uprobes]: dump ${dump2_ms} ms, restore ${restore_ms} ms"
pass "criu $(cat "$BUILD/criu-sid/done"): dump, kill, restore: the counter went on from the dump, with its flock, a TCP connection, a uprobe"
