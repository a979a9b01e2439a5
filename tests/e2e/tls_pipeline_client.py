#!/usr/bin/env python3
"""Pipelined HTTPS requests in shapes that cross OpenSSL's read-ahead buffer.

usage: tls_pipeline_client.py PORT CA_FILE COUNT

Sends COUNT pipelined `GET /health/live` requests on one TLS 1.3 connection: the first half in
one write (several full 16 KiB records, more bytes than OpenSSL reads ahead at once), the second
half as one small record per request, written back to back. Reads until COUNT answers have
arrived (or 20 s pass) and prints how many did: a reader that stopped with bytes still in the
socket would leave the rest unanswered.
"""
import socket
import ssl
import sys
import time

port, ca, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context(cafile=ca)
context.minimum_version = ssl.TLSVersion.TLSv1_3
raw = socket.create_connection(("localhost", port), timeout=20)
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
conn = context.wrap_socket(raw, server_hostname="localhost")
request = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"
first = count // 2
conn.sendall(request * first)
for _ in range(count - first):
    conn.sendall(request)
seen = b""
answers = 0
deadline = time.monotonic() + 20
while answers < count and time.monotonic() < deadline:
    try:
        chunk = conn.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    seen += chunk
    answers = seen.count(b"HTTP/1.1 200 ")
print(answers)
