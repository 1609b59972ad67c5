#!/usr/bin/env python3
"""net-junk.py stream|gram SOCKET [REPORT]: a network backend that sends garbage.

stream: accepts one connection and sends random bytes between length prefixes
that lie (zero, short, larger than any frame, split across writes).
gram: waits for the first datagram (writes it to REPORT: vfkit sends "VFKT"),
then sends random datagrams of every size back to the sender.
Then it reads and discards whatever the VM sends until it goes away.
"""
import os
import socket
import struct
import sys

kind, path = sys.argv[1], sys.argv[2]
lengths = [0, 1, 13, 14, 60, 1514, 9000, 65549, 65550, 70000]
if kind == "stream":
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    for i in range(300):
        n = lengths[i % len(lengths)]
        blob = struct.pack(">I", n) + os.urandom(min(n, 2000) + i % 7)
        cut = i % len(blob)
        conn.sendall(blob[:cut])
        conn.sendall(blob[cut:])
    conn.sendall(struct.pack(">I", 0xFFFFFFFF) + os.urandom(4096))
    while conn.recv(65536):
        pass
else:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    first, peer = srv.recvfrom(65536)
    with open(sys.argv[3], "w") as f:
        f.write(first.decode("ascii", "replace"))
    for i in range(300):
        try:
            srv.sendto(os.urandom(lengths[i % len(lengths)] % 65000), peer)
        except OSError:
            pass
    while True:
        srv.recv(65536)
