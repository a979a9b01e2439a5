#!/usr/bin/env python3
"""Opens N keep-alive HTTP/1.1 connections, sends one GET on each, reads the response and then
holds every connection open until it gets SIGTERM/SIGINT or stdin closes.

    idle_conns.py HOST PORT PATH N [CA_FILE]

With CA_FILE the connections are HTTPS (TLS 1.3, the server's certificate verified against it).

Prints one line when all connections are held (or failed), which load/run.sh waits for:

    held=9998 failed=2 closed_by_server=0 first_error=ConnectionResetError(...) seconds=1.9

`closed_by_server` counts responses that carried "Connection: close" (the peer will not keep the
connection, so it does not count as held). Needs `ulimit -n` above N.
"""
import os
import signal
import socket
import ssl
import sys
import time


def read_response(sock):
    """Reads one response with a Content-Length body; returns (status, keep_alive)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            keep_alive = False
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        rest += chunk
    return status, keep_alive


def main():
    host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    tls = None
    if len(sys.argv) > 5:
        tls = ssl.create_default_context(cafile=sys.argv[5])
        tls.minimum_version = ssl.TLSVersion.TLSv1_3
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    held = []
    failed = 0
    closed = 0
    first_error = ""
    start = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(10)
            s.connect((host, port))
            if tls:
                s = tls.wrap_socket(s, server_hostname=host)
            s.sendall(request)
            status, keep_alive = read_response(s)
            if status != 200:
                raise ConnectionError(f"HTTP status {status}")
            if not keep_alive:
                closed += 1
                s.close()
                continue
            held.append(s)
        except Exception as e:  # noqa: BLE001 - counted and reported, not fatal
            failed += 1
            if not first_error:
                first_error = repr(e)
            s.close()
    elapsed = time.monotonic() - start
    print(f"held={len(held)} failed={failed} closed_by_server={closed} "
          f"first_error={first_error or '-'} seconds={elapsed:.1f}", flush=True)

    def stop(*_):
        for s in held:
            s.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while sys.stdin.read(1):
            pass
    except OSError:
        pass
    # stdin closed (or /dev/null): keep holding until signalled.
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
