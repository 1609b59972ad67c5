#!/usr/bin/env python3
"""A misbehaving vtest client for tests/gpu/run.sh.

Usage: vtest_client.py SOCKET SCENARIO

Sends SCENARIO's requests and succeeds when the server then closes the
connection (the client was dropped, or the server stopped) within 30 s.
Scenarios:
  garbage      bytes that are no vtest request at all
  oversize     a SUBMIT_CMD2 header announcing a 16 GiB payload
  no-context   a blob request before CONTEXT_INIT
  bad-submit   a Venus context, then a batch whose commands lie past the payload
  hold         introduce itself and send nothing more (waits for the server to stop)
  split        a well-behaved client instead (succeeds when served): a Venus
               context, a sync object, then a SUBMIT_CMD2 larger than the
               server's 64 KiB read-ahead (no commands; 6000 points on the
               sync) and a SYNC_READ, written in pieces of every size from 1
               byte up; the read must give the last point's value
"""
import socket
import struct
import sys

CREATE_RENDERER, PROTOCOL_VERSION, CONTEXT_INIT = 8, 11, 17
CREATE_BLOB, SYNC_CREATE, SYNC_READ, SUBMIT_CMD2 = 18, 19, 21, 24
VENUS = 4


def msg(cmd, *words):
    return struct.pack("<II", len(words), cmd) + struct.pack("<%dI" % len(words), *words)


def hello():
    name = b"vtest_client.py\0"
    return struct.pack("<II", len(name), CREATE_RENDERER) + name


SCENARIOS = {
    "garbage": b"GET / HTTP/1.1\r\nHost: gpu\r\n\r\n" + bytes(range(256)),
    "oversize": hello() + struct.pack("<II", 0xFFFFFFFF, SUBMIT_CMD2),
    "no-context": hello() + msg(CREATE_BLOB, 2, 1, 4096, 0, 0, 0),
    # one batch: commands at word 9, 100 words long, in a 10-word payload
    "bad-submit": hello() + msg(PROTOCOL_VERSION, 3) + msg(CONTEXT_INIT, VENUS)
    + msg(SUBMIT_CMD2, 1, 0, 9, 100, 10, 0, 0, 0, 0, 0),
    "hold": hello(),
}


def recv_reply(s, cmd):
    def exact(n):
        data = b""
        while len(data) < n:
            more = s.recv(n - len(data))
            if not more:
                raise ConnectionError("the server closed the connection")
            data += more
        return data

    length, got = struct.unpack("<II", exact(8))
    if got != cmd:
        raise ConnectionError("reply to command %d, want %d" % (got, cmd))
    return struct.unpack("<%dI" % length, exact(4 * length))


def split(s):
    points = 6000
    s.sendall(hello() + msg(PROTOCOL_VERSION, 3) + msg(CONTEXT_INIT, VENUS) + msg(SYNC_CREATE, 0, 0))
    recv_reply(s, PROTOCOL_VERSION)
    sync = recv_reply(s, SYNC_CREATE)[0]
    # one batch, no ring: its points are reached as soon as it is submitted
    words = [1, 0, 9, 0, 9, points, 0, 0, 0]
    for v in range(1, points + 1):
        words += [sync, v, 0]
    stream = msg(SUBMIT_CMD2, *words) + msg(SYNC_READ, sync)
    size, off = 1, 0
    while off < len(stream):
        s.sendall(stream[off:off + size])
        off += size
        size = size * 2 if size < 4096 else 1
    value = recv_reply(s, SYNC_READ)
    if value != (points, 0):
        print("vtest_client: split: SYNC_READ gave %r, want (%d, 0)" % (value, points))
        return 1
    print("vtest_client: split: served", flush=True)
    return 0


def main():
    path, scenario = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if scenario == "split":
        s.settimeout(30)
        return split(s)
    s.sendall(SCENARIOS[scenario])
    print("vtest_client: %s: sent" % scenario, flush=True)
    s.settimeout(30)
    try:
        while True:
            data = s.recv(4096)  # a PROTOCOL_VERSION reply may come first
            if not data:
                return 0
    except socket.timeout:
        print("vtest_client: %s: the server kept the connection open" % scenario)
        return 1
    except ConnectionResetError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
