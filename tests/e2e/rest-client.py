#!/usr/bin/python3
"""A client of kiln's REST API (--restful-uri) for the end-to-end checks.

rest-client.py URI get|stop|hardstop   one request; prints "STATUS BODY"
rest-client.py URI abuse               hostile clients; prints "NAME=STATUS" for each
URI is tcp://HOST:PORT or unix://PATH, as kiln's --restful-uri.
"""
import json
import socket
import sys
import time


def connect(uri, timeout=10.0):
    if uri.startswith("unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(uri[len("unix://"):])
    elif uri.startswith("tcp://"):
        host, port = uri[len("tcp://"):].rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=timeout)
    else:
        sys.exit(f"bad URI {uri}")
    return s


def read_reply(s):
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = parts[1].decode() if len(parts) > 1 else "none"
    return status, body.decode(errors="replace")


def exchange(uri, raw, shut=False, timeout=10.0):
    s = connect(uri, timeout)
    try:
        s.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    if shut:
        s.shutdown(socket.SHUT_WR)
    status, body = read_reply(s)
    s.close()
    return status, body


def request(method, body=None):
    raw = f"{method} /vm/state HTTP/1.1\r\nHost: localhost\r\n"
    if body is not None:
        raw += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (raw + "\r\n" + (body or "")).encode()


def abuse(uri):
    results = []

    def probe(name, raw, **kw):
        status, _ = exchange(uri, raw, **kw)
        results.append(f"{name}={status}")

    probe("garbage", b"garbage\r\n\r\n")
    probe("binary", bytes(range(256)) * 4 + b"\r\n\r\n")
    probe("huge-head", b"GET /vm/state HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
    probe("huge-body", b"POST /vm/state HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" +
          b"{" * 100000)
    probe("bad-method", request("PUT"))
    probe("bad-path", b"GET /vm/inspect HTTP/1.1\r\n\r\n")
    probe("bad-state", request("POST", json.dumps({"state": "Pause"})))
    probe("bad-json", request("POST", "{\"state\": Stop}"))
    probe("half-closed", b"GET /vm/sta", shut=True)
    # More idle half-requests than the server keeps: a new client still gets served.
    idle = []
    for _ in range(40):
        s = connect(uri)
        s.sendall(b"GET /vm/state HTTP/1.1\r\n")
        idle.append(s)
    t0 = time.monotonic()
    status, _ = exchange(uri, request("GET"))
    results.append(f"get-while-flooded={status}")
    results.append("flooded-get-fast=" + ("yes" if time.monotonic() - t0 < 3 else "no"))
    for s in idle:
        s.close()
    # A client that never finishes its request is answered 408 and dropped.
    s = connect(uri, timeout=15)
    s.sendall(b"GET /vm/state HTTP/1.1\r\n")
    t0 = time.monotonic()
    status, _ = read_reply(s)
    s.close()
    results.append(f"slow={status}")
    # The server allows 5 s for a whole request.
    results.append("slow-after-5s=" + ("yes" if 3 < time.monotonic() - t0 < 9 else "no"))
    print(" ".join(results))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    uri, what = sys.argv[1:]
    if what == "abuse":
        abuse(uri)
        return
    raw = {
        "get": request("GET"),
        "stop": request("POST", json.dumps({"state": "Stop"})),
        "hardstop": request("POST", json.dumps({"state": "HardStop"})),
    }[what]
    try:
        status, body = exchange(uri, raw)
    except OSError as e:
        status, body = "refused", str(e)
    print(status, body)


if __name__ == "__main__":
    main()
