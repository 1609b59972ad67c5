#!/usr/bin/env python3
"""The host end of the vsock checks (suite.sh check_vsock), on kiln's unix sockets.

  vsock-host.py ready SOCK OUT           play podman: listen on SOCK, write what one
                                         client sends (until its EOF) to OUT
  vsock-host.py echo SOCK CLIENTS BYTES  CLIENTS concurrent clients each send BYTES
                                         random bytes to the guest's echo service and
                                         check what comes back (sha256); prints "ok"
  vsock-host.py hostclose SOCK           send 64 KiB and close without reading
  vsock-host.py read SOCK                print what the guest sends until it closes
"""
import hashlib
import os
import socket
import sys
import threading

TIMEOUT = 120


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return s


def read_all(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def ready(path, out):
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)
    ls.settimeout(300)
    c, _ = ls.accept()
    c.settimeout(TIMEOUT)
    data = read_all(c)
    with open(out, "wb") as f:
        f.write(data)


def echo_one(path, size, results, i):
    try:
        data = os.urandom(size)
        s = connect(path)

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        back = read_all(s)
        t.join()
        s.close()
        if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            results[i] = "client %d: sent %d bytes, got %d back, different" % (i, size, len(back))
        else:
            results[i] = "ok"
    except Exception as e:  # any failure is the check's result, not a crash
        results[i] = "client %d: %s" % (i, e)


def echo(path, clients, size):
    results = [None] * clients
    threads = [threading.Thread(target=echo_one, args=(path, size, results, i)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results if r != "ok"]
    print("; ".join(bad) if bad else "ok")


def main():
    mode = sys.argv[1]
    if mode == "ready":
        ready(sys.argv[2], sys.argv[3])
    elif mode == "echo":
        echo(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "hostclose":
        s = connect(sys.argv[2])
        s.sendall(os.urandom(65536))
        s.close()
        print("closed")
    elif mode == "read":
        print(read_all(connect(sys.argv[2])).decode(errors="replace"))
    else:
        sys.exit("unknown mode " + mode)


main()
