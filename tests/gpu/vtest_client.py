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
"""
import socket
import struct
import sys

CREATE_RENDERER, PROTOCOL_VERSION, CONTEXT_INIT = 8, 11, 17
CREATE_BLOB, SUBMIT_CMD2 = 18, 24
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


def main():
    path, scenario = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
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
