#!/usr/bin/env bash
# The control socket under a steady stream of events: a client trickling a byte a
# second does not hold up the events or anyone else, and is dropped at its deadline;
# a hundred clients at once are all answered; a client that is not root is told so,
# by the file's mode or, past a loosened file, by salved; --socket-group lets a
# group's members in, by primary or supplementary group.
. "$(dirname "$0")/lib.sh"
need_bpf
command -v python3 > /dev/null || fail "needs python3"
command -v setpriv > /dev/null || fail "needs setpriv (util-linux)"

CTL=$BUILD/salvectl
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# A slow client and a watch on the events file, from outside salved:
#   ctl.py stall SOCKET EVENTS OUT: watches how often the events file grows for a second
#   (the pace without a slow client), then for five seconds while slow clients, one
#   after another, send a byte a second without ever finishing their line. OUT gets
#   the figures; OUT.connected appears once the first slow client is connected.
cat > "$WORK/ctl.py" <<'EOF'
import json, os, select, socket, sys, threading, time

def watch(path, secs):
    """Lines added to path in secs, and the longest time it did not grow."""
    start = last = time.time()
    size0 = size = os.path.getsize(path)
    lines0 = sum(1 for _ in open(path))
    gap = 0.0
    while time.time() - start < secs:
        time.sleep(0.005)
        s = os.path.getsize(path)
        now = time.time()
        if s != size:
            gap = max(gap, now - last)
            size, last = s, now
    gap = max(gap, time.time() - last)
    return sum(1 for _ in open(path)) - lines0, gap

def slow_client(path, until, out, flag):
    """Connect, send '{"cmd": "reload"' and then a space a second until salved answers;
    again until `until`."""
    while time.time() < until:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        t0 = time.time()
        if not os.path.exists(flag):
            open(flag, "w").close()
        s.sendall(b'{"cmd": "reload"')
        reply = b""
        while time.time() - t0 < 15:  # a salved that never lets go fails, not hangs, the test
            r, _, _ = select.select([s], [], [], 1.0)
            if r:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:  # closed with our last space unread
                    break
                if not chunk:
                    break
                reply += chunk
                continue
            try:
                s.send(b" ")
            except OSError:
                pass
        s.close()
        out.append({"connected": t0, "closed": time.time(), "held": time.time() - t0,
                    "reply": reply.decode()})

def stall(sock, events, out):
    before, gap_before = watch(events, 1.0)
    conns = []
    t = threading.Thread(target=slow_client,
                         args=(sock, time.time() + 5.0, conns, out + ".connected"))
    t.start()
    during, gap = watch(events, 5.0)
    t.join()
    json.dump({"before": before, "gap_before": gap_before, "during": during, "gap": gap,
               "slow": conns}, open(out, "w"))

if sys.argv[1] == "stall":
    stall(*sys.argv[2:5])
EOF

write_policy "$WORK/p.json" '{"salve": 1, "name": "ctl",
 "scope": {"binaries": ["'"$TARGETS/storm"'"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}'
start_salved "$WORK/p.json" --rate 0
run_target "$WORK/storm.out" "$TARGETS/storm" 200 120
storm_pid=$LAST_PID
wait_event '.probe == "traps"' > /dev/null || fail "no events from the storm"

# The slow clients and, while the first is connected, a hundred salvectl at once.
python3 "$WORK/ctl.py" stall "$SOCKET" "$EVENTS" "$WORK/stall.json" &
PIDS+=($!)
stall_pid=$!
for _ in $(seq 200); do [ -e "$WORK/stall.json.connected" ] && break; sleep 0.05; done
[ -e "$WORK/stall.json.connected" ] || fail "the slow client did not connect"
clients=()
for i in $(seq 100); do
	"$CTL" reload --socket "$SOCKET" > "$WORK/reload.$i" 2>&1 &
	clients+=($!)
done
answered=0
for i in "${!clients[@]}"; do
	wait "${clients[$i]}" && [ "$(cat "$WORK/reload.$((i + 1))")" = "reloaded: 1 policy" ] &&
		answered=$((answered + 1))
done
clients_done=$(date +%s.%N)
[ "$answered" = 100 ] || fail "$answered of 100 concurrent clients answered: $(sort "$WORK"/reload.* | uniq -c)"
wait "$stall_pid" || fail "the slow client's script failed"
stall=$(cat "$WORK/stall.json")

# The first slow client was still connected when the hundred were done...
first_closed=$(jq '.slow[0].closed' <<<"$stall")
awk -v a="$clients_done" -v b="$first_closed" 'BEGIN { exit !(a < b) }' ||
	fail "the hundred clients were answered only after the slow one went ($clients_done >= $first_closed): $stall"
# ...and each slow client was dropped at its deadline, told why.
n_slow=$(jq '.slow | length' <<<"$stall")
[ "$n_slow" -ge 2 ] || fail "expected the slow clients to be dropped and to come back: $stall"
for i in $(seq 0 $((n_slow - 1))); do
	c=$(jq -c ".slow[$i]" <<<"$stall")
	jq -e '.held >= 1.9 and .held < 3.0' <<<"$c" > /dev/null ||
		fail "slow client $i held the socket for $(jq .held <<<"$c") s, not about 2 s"
	reply=$(jq -r .reply <<<"$c")
	expect "$reply" .ok false
	expect "$reply" .refused deadline
	expect "$reply" .error "the request did not arrive whole within 2000 ms"
done
# Events kept coming all along, at the pace they came without slow clients.
jq -e '.gap < 0.5' <<<"$stall" > /dev/null ||
	fail "the events stopped for $(jq .gap <<<"$stall") s while slow clients were connected: $stall"
jq -e '.before >= 50 and .during >= 5 * .before / 2' <<<"$stall" > /dev/null ||
	fail "events over 5 s with slow clients against 1 s without: $stall"

# Not root: the socket file (mode 0600) keeps them out, and salvectl says why.
chmod 0711 "$WORK"
[ "$(stat -c %a "$SOCKET")" = 600 ] || fail "socket mode $(stat -c %a "$SOCKET"), expected 600"
"${NOBODY[@]}" "$CTL" reload --socket "$SOCKET" > /dev/null 2> "$WORK/nobody.err"
rc=$?
[ "$rc" = 1 ] || fail "salvectl as nobody exited $rc, expected 1"
grep -qxF "salvectl: $SOCKET: Permission denied (salved's control socket answers root, or its --socket-group; run salvectl as root)" \
	"$WORK/nobody.err" || fail "salvectl as nobody said: $(cat "$WORK/nobody.err")"
# Past a loosened file, salved's own check refuses them, naming who it answers.
chmod 0666 "$SOCKET"
"${NOBODY[@]}" "$CTL" reload --socket "$SOCKET" > /dev/null 2> "$WORK/nobody.err"
rc=$?
[ "$rc" = 1 ] || fail "salvectl as nobody past a loosened socket exited $rc, expected 1"
grep -qxF "salvectl: $SOCKET: permission denied: salved's control socket answers root; you are uid 65534" \
	"$WORK/nobody.err" || fail "the refusal said: $(cat "$WORK/nobody.err")"
out=$("$CTL" reload --socket "$SOCKET") || fail "root was not answered after the refusals"
[ "$out" = "reloaded: 1 policy" ] || fail "root's reload printed '$out'"

# --socket-group: the group's members are answered, by primary or supplementary group.
gid=4242
group=$(getent group "$gid" | cut -d: -f1)
stop_salved
start_salved "$WORK/p.json" --rate 0 --socket-group "$gid"
[ "$(stat -c '%a %g' "$SOCKET")" = "660 $gid" ] ||
	fail "socket with --socket-group: $(stat -c '%a %g' "$SOCKET"), expected 660 $gid"
out=$(setpriv --reuid=65534 --regid="$gid" --clear-groups "$CTL" reload --socket "$SOCKET") ||
	fail "a member by primary group was not answered"
[ "$out" = "reloaded: 1 policy" ] || fail "member's reload printed '$out'"
out=$(setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL" reload --socket "$SOCKET") ||
	fail "a member by supplementary group was not answered"
"${NOBODY[@]}" "$CTL" reload --socket "$SOCKET" 2> "$WORK/nobody.err" && fail "nobody was answered"
grep -qF "Permission denied (salved's control socket answers root" "$WORK/nobody.err" ||
	fail "salvectl as a non-member said: $(cat "$WORK/nobody.err")"
chmod 0666 "$SOCKET"
"${NOBODY[@]}" "$CTL" reload --socket "$SOCKET" 2> "$WORK/nobody.err" && fail "nobody was answered"
grep -qxF "salvectl: $SOCKET: permission denied: salved's control socket answers root or group ${group:-$gid}; you are uid 65534" \
	"$WORK/nobody.err" || fail "the refusal with a group said: $(cat "$WORK/nobody.err")"
kill "$storm_pid" && wait "$storm_pid" 2> /dev/null
pass "a slow client held no one up ($(jq .during <<<"$stall") events in 5 s, longest pause" \
	"$(jq '.gap * 1000 | floor' <<<"$stall") ms), 100 clients answered at once, non-root refused"
