#!/usr/bin/env python3
"""The two sockets of systemd that a service writes to, for tests on a host where systemd
is not PID 1 or journald is not running. Each datagram becomes one JSON line in OUT,
written and flushed as it comes, so that a test waits on it with jq.

  fake_systemd.py notify SOCKET OUT [--on-ready CMD]
      sd_notify's socket (NOTIFY_SOCKET=SOCKET). A line per datagram:
      {"pid": sender, "mono_us": when, "text": "READY=1\\nSTATUS=...",
       "fields": {"READY": "1", "STATUS": "..."}}
      With --on-ready, the first READY=1 stops the sender (SIGSTOP) at once, runs CMD
      (a shell command) and adds what it printed as "on_ready", then continues the
      sender: CMD sees the sender as it was when it said it was ready.

  fake_systemd.py journal SOCKET OUT
      journald's native socket (/run/systemd/journal/socket): an entry per datagram,
      {"pid": sender, "fields": {"PRIORITY": "4", "MESSAGE": "...", ...}}, decoded from
      KEY=value lines and the binary form KEY\\n<le64 size><data>\\n; an entry too big
      for a datagram comes as a memfd (SCM_RIGHTS) and is read from it.

The socket is made (and a stale one removed) before the first line of OUT, {"listening":
SOCKET}, is written. It runs until killed.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

UCRED = struct.Struct("iII")


def parse_native(data):
    """journald's native protocol: KEY=value\\n, or KEY\\n<le64 n><n bytes>\\n."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            raise ValueError("entry ends without a newline at byte %d" % i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (n,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 1 + 8
            value = data[start:start + n]
            if data[start + n:start + n + 1] != b"\n":
                raise ValueError("binary field %r not followed by a newline" % key)
            i = start + n + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


def receive(sock):
    """One datagram: its bytes (a memfd's contents when one was passed), the sender's pid."""
    cmsg_space = socket.CMSG_SPACE(UCRED.size) + socket.CMSG_SPACE(4 * 8)
    data, ancdata, _, _ = sock.recvmsg(1 << 17, cmsg_space)
    pid = None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = UCRED.unpack_from(payload)[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for (fd,) in struct.iter_unpack("i", payload[:len(payload) - len(payload) % 4]):
                with os.fdopen(fd, "rb") as f:
                    f.seek(0)
                    data = f.read()
    return data, pid


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("notify", "journal"):
        sys.exit(__doc__)
    mode, path, out_path = sys.argv[1:4]
    on_ready = None
    if len(sys.argv) == 6 and sys.argv[4] == "--on-ready":
        on_ready = sys.argv[5]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(path)
    os.chmod(path, 0o666)
    out = open(out_path, "a")

    def emit(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    emit({"listening": path})
    ready_seen = False
    while True:
        data, pid = receive(sock)
        if mode == "journal":
            try:
                emit({"pid": pid, "fields": parse_native(data)})
            except ValueError as e:
                emit({"pid": pid, "error": str(e), "raw": data.decode(errors="replace")})
            continue
        text = data.decode(errors="replace")
        line = {"pid": pid, "mono_us": time.monotonic_ns() // 1000, "text": text,
                "fields": dict(kv.split("=", 1) for kv in text.split("\n") if "=" in kv)}
        if on_ready and not ready_seen and line["fields"].get("READY") == "1" and pid:
            ready_seen = True
            os.kill(pid, signal.SIGSTOP)
            try:
                line["on_ready"] = subprocess.run(on_ready, shell=True, capture_output=True,
                                                  text=True).stdout
            finally:
                os.kill(pid, signal.SIGCONT)
        emit(line)


if __name__ == "__main__":
    main()
