#!/usr/bin/env python3
"""No cross-talk under faults: push N requests through the real stella-gw binary while demo
instances are killed, stopped and drained, and check that every response belongs to its request.

Python 3 standard library only. See load/README.md ("crosstalk.py").

Exit 0 only if there was no mismatch, no malformed or truncated response, no hung request,
and every request sent got either an answer or a clean close (connection closed before any
byte of its answer, or, as documented, a streamed answer cut without its final chunk).
"""

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# What /api/v1/demo/bytes/{n} sends: 64 KiB chunks of a..z repeated, each chunk from 'a'.
_CHUNK = (bytes(range(ord("a"), ord("z") + 1)) * (65536 // 26 + 1))[:65536]
PATTERN = _CHUNK * 9
MAX_HEAD = 64 * 1024

CONFIG = """\
transports: {{ tcp: {{ enabled: true, host: 127.0.0.1, port: 0 }} }}
http: {{ host: 127.0.0.1, port: 0, workers: {workers}, idleTimeout: 30s }}
routing: {{ defaultTimeout: 5s, ownershipGracePeriod: 0s }}
health: {{ heartbeatIntervalSeconds: 0.2, heartbeatTimeoutSeconds: 1, unhealthyThreshold: 2 }}
"""

# Outcome kinds. FAIL_KINDS make the run fail.
KINDS = ["ok", "502", "503", "504", "other", "closed", "cut", "truncated", "malformed",
         "mismatch", "hung"]
FAIL_KINDS = ["truncated", "malformed", "mismatch", "hung"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

class Procs:
    """Every process this script starts; all are stopped on exit, whatever happens."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.all = []  # Popen

    def start(self, name, argv):
        out = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)  # Ctrl-C reaches only us; we stop them
        out.close()
        p.log_path = os.path.join(self.tmp, f"{name}.log")
        self.all.append(p)
        return p

    def kill_all(self):
        for p in self.all:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.all:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def vmrss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return "    (no log)"


# --------------------------------------------------------------------------- HTTP client

class Malformed(Exception):
    pass


class Cut(Exception):
    """The connection ended in the middle of a response. where: head, length, chunked."""

    def __init__(self, where):
        super().__init__(where)
        self.where = where


class Response:
    __slots__ = ("status", "headers", "body", "close")


async def read_head(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise Cut("head")
        raise EOFError()
    except asyncio.LimitOverrunError:
        raise Malformed("response head too large")
    return head


async def read_response(reader, slow, rng):
    if slow:
        await asyncio.sleep(rng.random() * 0.01)
    head = await read_head(reader)
    if len(head) > MAX_HEAD:
        raise Malformed("response head too large")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] != b"HTTP/1.1" or len(parts[1]) != 3 or not parts[1].isdigit():
        raise Malformed(f"bad status line {lines[0][:80]!r}")
    r = Response()
    r.status = int(parts[1])
    hdrs = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip() or b" " in name:
            raise Malformed(f"bad header line {line[:80]!r}")
        key = name.lower().decode("latin-1")
        value = value.strip().decode("latin-1")
        if key in hdrs:
            if key in ("content-length", "transfer-encoding", "x-correlation-id"):
                raise Malformed(f"duplicate {key}")
            hdrs[key] += ", " + value
        else:
            hdrs[key] = value
    r.headers = hdrs
    conn = hdrs.get("connection", "").lower()
    r.close = "close" in conn
    te = hdrs.get("transfer-encoding")
    cl = hdrs.get("content-length")
    if 100 <= r.status < 200:
        raise Malformed(f"unexpected informational response {r.status}")
    if r.status in (204, 304):
        r.body = b""
        return r
    if te is not None:
        if cl is not None:
            raise Malformed("both Content-Length and Transfer-Encoding")
        if te.lower() != "chunked":
            raise Malformed(f"unsupported Transfer-Encoding {te!r}")
        r.body = await read_chunked(reader, slow, rng)
        return r
    if cl is not None:
        if not cl.isdigit():
            raise Malformed(f"bad Content-Length {cl!r}")
        n = int(cl)
        r.body = await read_exact(reader, n, slow, rng, "length")
        return r
    # Neither: delimited by the close. Legal HTTP/1.1, but the gateway says it uses it only for
    # HTTP/1.0 clients: report it.
    raise Malformed("response without Content-Length or chunked framing")


async def read_exact(reader, n, slow, rng, where):
    try:
        if not slow:
            return await reader.readexactly(n)
        out = []
        left = n
        while left > 0:
            piece = await reader.readexactly(min(left, 4096))
            out.append(piece)
            left -= len(piece)
            if left > 0 and rng.random() < 0.5:
                await asyncio.sleep(0.001)
        return b"".join(out)
    except asyncio.IncompleteReadError:
        raise Cut(where)


async def read_line(reader, where):
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError:
        raise Cut(where)
    except asyncio.LimitOverrunError:
        raise Malformed("chunk line too long")
    return line[:-2]


async def read_chunked(reader, slow, rng):
    out = []
    while True:
        line = await read_line(reader, "chunked")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Malformed(f"bad chunk size {line[:40]!r}")
        if size_text.startswith((b"-", b"+", b"0x", b"0X")):
            raise Malformed(f"bad chunk size {line[:40]!r}")
        if size == 0:
            while True:  # trailers, then the empty line
                t = await read_line(reader, "chunked")
                if not t:
                    return b"".join(out)
        out.append(await read_exact(reader, size, slow, rng, "chunked"))
        if await read_exact(reader, 2, False, rng, "chunked") != b"\r\n":
            raise Malformed("chunk not followed by CRLF")


class Req:
    __slots__ = ("id", "kind", "cid_sent", "n", "data", "sent_at")


class Run:
    def __init__(self, args, http_port):
        self.args = args
        self.port = http_port
        self.host_hdr = f"Host: 127.0.0.1:{http_port}\r\n"
        self.next_id = 0
        self.tag = f"ct{args.seed:x}"
        self.counts = collections.Counter()
        self.other_status = collections.Counter()
        self.malformed_why = collections.Counter()
        self.cut_where = collections.Counter()
        self.examples = []  # (kind, text): first few failures
        self.instances_seen = set()
        self.known_instances = set()
        self.reconnects = 0
        self.conn_end = collections.Counter()  # why connections ended before the run did
        self.connect_errors = 0
        self.stop = False
        self.conns = []

    def example(self, kind, text):
        if len(self.examples) < 20:
            self.examples.append((kind, text))

    def make_request(self, rng, slow):
        req = Req()
        n = self.next_id
        self.next_id += 1
        rid = f"{self.tag}-{n}"
        req.id = rid
        req.n = 0
        x = rng.random()
        big_bytes = 0.15 if slow else 0.04
        if x < big_bytes:
            req.kind = "bytes"
            req.cid_sent = True
            req.n = rng.randint(1, (512 if slow else 96) * 1024)
            req.data = (f"GET /api/v1/demo/bytes/{req.n} HTTP/1.1\r\n{self.host_hdr}"
                        f"X-Correlation-Id: {rid}\r\n\r\n").encode()
        elif x < 0.52:
            req.kind = "get"
            req.cid_sent = rng.random() < 0.5
            cid = f"X-Correlation-Id: {rid}\r\n" if req.cid_sent else ""
            req.data = (f"GET /api/v1/demo/echo?id={rid} HTTP/1.1\r\n{self.host_hdr}{cid}"
                        "\r\n").encode()
        else:
            req.kind = "post"
            req.cid_sent = True
            body = f"id={rid}"
            if rng.random() < 0.01:  # > 64 KiB: REQUEST + STREAM_DATA towards the service
                body += "&pad=" + "p" * rng.randint(64 * 1024, 160 * 1024)
            req.n = len(body)
            req.data = (f"POST /api/v1/demo/echo HTTP/1.1\r\n{self.host_hdr}"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        f"Content-Length: {len(body)}\r\nX-Correlation-Id: {rid}\r\n\r\n"
                        f"{body}").encode()
        return req

    # ---- verification
    def check(self, req, r):
        """Count one answer; returns nothing. Any sign that it belongs to another request is a
        mismatch."""
        hcid = r.headers.get("x-correlation-id")
        if req.cid_sent and hcid != req.id:
            self.counts["mismatch"] += 1
            self.example("mismatch", f"{req.id} ({req.kind}): status {r.status} with "
                                     f"X-Correlation-Id {hcid!r}")
            return
        st = r.status
        if st != 200:
            ct = r.headers.get("content-type", "")
            if "problem+json" in ct:
                try:
                    pj = json.loads(r.body)
                except ValueError:
                    self._malformed(req, f"status {st}: problem body is not JSON")
                    return
                if pj.get("correlationId") != hcid:
                    self.counts["mismatch"] += 1
                    self.example("mismatch", f"{req.id}: {st} problem correlationId "
                                             f"{pj.get('correlationId')!r} != header {hcid!r}")
                    return
            if st in (502, 503, 504):
                self.counts[str(st)] += 1
            else:
                self.counts["other"] += 1
                self.other_status[st] += 1
                if len(self.other_status) <= 5 and self.other_status[st] == 1:
                    self.example("other", f"{req.id} ({req.kind}): {st} {r.body[:200]!r}")
            return
        if req.kind == "bytes":
            if len(r.body) != req.n or r.body != PATTERN[:req.n]:
                self.counts["mismatch"] += 1
                self.example("mismatch", f"{req.id}: bytes/{req.n} answered {len(r.body)} "
                                         f"bytes starting {r.body[:40]!r}")
                return
            self.counts["ok"] += 1
            return
        try:
            j = json.loads(r.body)
        except ValueError:
            # Not the echo JSON: the answer of some other request (a bytes body, say).
            self.counts["mismatch"] += 1
            self.example("mismatch", f"{req.id} ({req.kind}): 200 body is not JSON: "
                                     f"{r.body[:80]!r}")
            return
        if not isinstance(j, dict):
            self._malformed(req, "echo JSON is not an object")
            return
        want_cid = req.id if req.cid_sent else hcid
        bad = []
        if req.kind == "get":
            if j.get("method") != "GET":
                bad.append(f"method {j.get('method')!r}")
            if j.get("query") != f"id={req.id}":
                bad.append(f"query {j.get('query')!r}")
        else:
            if j.get("method") != "POST":
                bad.append(f"method {j.get('method')!r}")
            body = j.get("body")
            if not isinstance(body, str) or len(body) != req.n or not (
                    body == f"id={req.id}" or body.startswith(f"id={req.id}&pad=")):
                bad.append(f"body {str(body)[:60]!r} (len {len(body) if body else 0})")
        if j.get("path") != "/api/v1/demo/echo":
            bad.append(f"path {j.get('path')!r}")
        if j.get("correlationId") != want_cid:
            bad.append(f"correlationId {j.get('correlationId')!r} (header {hcid!r})")
        inst = j.get("instance")
        if inst not in self.known_instances:
            bad.append(f"instance {inst!r} was never started")
        if bad:
            self.counts["mismatch"] += 1
            self.example("mismatch", f"{req.id} ({req.kind}): " + "; ".join(bad))
            return
        self.instances_seen.add(inst)
        self.counts["ok"] += 1

    def _malformed(self, req, why):
        self.counts["malformed"] += 1
        self.malformed_why[why] += 1
        self.example("malformed", f"{req.id if req else '-'}: {why}")


class Conn:
    __slots__ = ("cid", "slow", "depth", "rng", "outstanding", "link", "hung")

    def __init__(self, cid, slow, depth, rng):
        self.cid = cid
        self.slow = slow
        self.depth = depth
        self.rng = rng
        self.outstanding = collections.deque()
        self.link = None
        self.hung = False


class _Reader(asyncio.StreamReader):
    """A StreamReader that keeps what it already received when the connection is reset:
    asyncio's own makes the next read raise even when complete answers are still buffered.
    A reset is remembered and read as the end of the stream instead."""

    reset = None

    def set_exception(self, exc):
        if isinstance(exc, OSError):
            self.reset = exc
            self.feed_eof()
        else:
            super().set_exception(exc)


class Link:
    """One client connection. Reads go through an asyncio transport and a _Reader; writes go
    through a dup() of the socket with loop.sock_sendall. A failed write (the gateway closed
    the connection, with our pipelined requests unread, and reset it) then stays our business:
    through the transport it would close the transport and throw away the answers that the
    kernel had already received for us."""

    def __init__(self, reader, transport, sock, wsock):
        self.reader = reader
        self.transport = transport
        self.sock = sock
        self.wsock = wsock
        self.writable = True

    async def send(self, data):
        if not self.writable:
            return
        try:
            await asyncio.get_running_loop().sock_sendall(self.wsock, data)
        except OSError:
            self.writable = False  # keep reading: answers may have arrived before the close

    def abort(self):
        """Wake every read and write on this connection (they see its end), then close it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        self.transport.abort()
        self.wsock.close()


async def open_conn(run, slow):
    loop = asyncio.get_running_loop()
    # A slow reader: a small receive buffer and a small StreamReader limit, so that its slowness
    # reaches the gateway as back-pressure instead of being absorbed by buffers.
    reader = _Reader(limit=8192 if slow else 65536)
    protocol = asyncio.StreamReaderProtocol(reader)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if slow:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        await loop.sock_connect(s, ("127.0.0.1", run.port))
        w = s.dup()
        w.setblocking(False)
        try:
            transport, _ = await loop.create_connection(lambda: protocol, sock=s)
        except BaseException:
            w.close()
            raise
    except BaseException:
        s.close()
        raise
    return Link(reader, transport, s, w)


async def client(run, c):
    n_total = run.args.requests
    first = True
    while not run.stop and (run.next_id < n_total or c.outstanding):
        try:
            link = await open_conn(run, c.slow)
        except OSError:
            run.connect_errors += 1
            await asyncio.sleep(0.05)
            continue
        if not first:
            run.reconnects += 1
        first = False
        reader = link.reader
        c.link = link
        c.hung = False
        try:
            while True:
                if link.writable and len(c.outstanding) < c.depth:
                    batch = []
                    while (len(c.outstanding) < c.depth and run.next_id < n_total
                           and not run.stop):
                        req = run.make_request(c.rng, c.slow)
                        req.sent_at = time.monotonic()
                        c.outstanding.append(req)
                        batch.append(req.data)
                    if batch:
                        await link.send(b"".join(batch))
                if not c.outstanding:
                    break
                req = c.outstanding[0]
                r = await read_response(reader, c.slow, c.rng)
                c.outstanding.popleft()
                if c.outstanding:
                    c.outstanding[0].sent_at = time.monotonic()  # its answer may start now
                run.check(req, r)
                if r.close:
                    run.conn_end[f"after a {r.status} with Connection: close"] += 1
                    settle(run, c, None)
                    break
            if not c.outstanding and not run.stop and run.next_id >= n_total and link.writable:
                # Done: half-close; anything the gateway still sends was never asked for.
                try:
                    link.wsock.shutdown(socket.SHUT_WR)
                    extra = await asyncio.wait_for(reader.read(65536), 10)
                    if extra:
                        run._malformed(None, f"{len(extra)} unsolicited bytes after the last "
                                             "answer")
                except (OSError, asyncio.TimeoutError):
                    pass
        except EOFError:
            if c.hung:
                run.conn_end["aborted: no answer in time (hung)"] += 1
            else:
                how = "reset" if reader.reset is not None else "closed"
                run.conn_end[f"{how} by the gateway before an answer"] += 1
            settle(run, c, None)
        except Cut as e:
            how = "reset" if reader.reset is not None else "closed"
            run.conn_end[f"{how} inside an answer ({e.where})"] += 1
            settle(run, c, e.where)
        except OSError as e:
            run.conn_end[type(e).__name__] += 1
            settle(run, c, None)
        except Malformed as e:
            run.conn_end["malformed answer"] += 1
            req = c.outstanding.popleft() if c.outstanding else None
            run._malformed(req, str(e))
            settle(run, c, None)
        finally:
            link.close()
            c.link = None


def settle(run, c, cut_where):
    """The connection ended: the request being answered is cut (if its answer had begun) or
    closed, the ones pipelined behind it are closed."""
    if c.hung:
        run.counts["hung"] += len(c.outstanding)
        for req in c.outstanding:
            run.example("hung", f"{req.id} ({req.kind}): no answer within "
                                f"{run.args.hang_timeout} s")
        c.outstanding.clear()
        return
    if cut_where is not None and c.outstanding:
        req = c.outstanding.popleft()
        run.cut_where[cut_where] += 1
        if cut_where == "chunked":
            # Documented: an instance lost after a streamed answer began cuts the connection
            # without a final chunk, so the truncation is visible.
            run.counts["cut"] += 1
        else:
            run.counts["truncated"] += 1
            run.example("truncated", f"{req.id} ({req.kind}): connection ended inside the "
                                     f"response ({cut_where})")
    run.counts["closed"] += len(c.outstanding)
    c.outstanding.clear()


async def watchdog(run, conns):
    while True:
        await asyncio.sleep(1)
        now = time.monotonic()
        for c in conns:
            if c.outstanding and c.link is not None and not c.hung:
                if now - c.outstanding[0].sent_at > run.args.hang_timeout:
                    c.hung = True
                    c.link.abort()


# --------------------------------------------------------------------------- HTTP helper

async def http_get(port, path, timeout=3):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        r = await asyncio.wait_for(read_response(reader, False, None), timeout)
        return r.status, r.body
    finally:
        writer.transport.abort()


async def ready_instances(port):
    try:
        status, body = await http_get(port, "/health/ready")
        return json.loads(body).get("instances")
    except (OSError, ValueError, asyncio.TimeoutError, Malformed, Cut, EOFError):
        return None


# --------------------------------------------------------------------------- faults

class Fleet:
    def __init__(self, procs, binary, tcp_port):
        self.procs = procs
        self.binary = binary
        self.tcp_port = tcp_port
        self.gen = 0
        self.insts = []  # dicts: name, proc, state (running|stopped|draining|dead)
        self.faults = collections.Counter()
        self.drain_exits = collections.Counter()
        self.events = []
        self.surprises = []
        self.known = set()
        self.tasks = set()

    def start_one(self):
        name = f"demo-{self.gen}"
        self.gen += 1
        self.known.add(name)
        p = self.procs.start(name, [self.binary, "service", "demo", "--gateway",
                                    f"tcp://127.0.0.1:{self.tcp_port}", "--instance", name])
        self.insts.append({"name": name, "proc": p, "state": "running"})
        return name

    def live(self):
        return [i for i in self.insts if i["state"] != "dead"]

    def running(self):
        return [i for i in self.insts if i["state"] == "running"]

    def check_exits(self):
        for i in self.insts:
            if i["state"] in ("running", "stopped") and i["proc"].poll() is not None:
                rc = i["proc"].returncode
                self.surprises.append(f"instance {i['name']} exited by itself ({rc}); "
                                      f"log {i['proc'].log_path}")
                i["state"] = "dead"

    def spawn(self, coro):
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def one_fault(self, rng):
        self.check_exits()
        run = self.running()
        if len(run) < 2:  # keep one instance able to answer at all times
            return
        victim = rng.choice(run)
        what = rng.choice(["kill", "stop", "term"])
        p = victim["proc"]
        t = time.monotonic()
        if what == "kill":
            os.kill(p.pid, signal.SIGKILL)
            victim["state"] = "dead"
            new = self.start_one()
            self.events.append((t, f"SIGKILL {victim['name']}, started {new}"))
            self.spawn(self._reap(victim))
        elif what == "term":
            os.kill(p.pid, signal.SIGTERM)
            victim["state"] = "draining"
            new = self.start_one()
            self.events.append((t, f"SIGTERM {victim['name']}, started {new}"))
            self.spawn(self._drain(victim))
        else:
            d = rng.uniform(0.5, 2.0)
            os.kill(p.pid, signal.SIGSTOP)
            victim["state"] = "stopped"
            self.events.append((t, f"SIGSTOP {victim['name']} for {d:.2f} s"))
            self.spawn(self._cont(victim, d))
        self.faults[what] += 1

    async def _reap(self, inst):
        while inst["proc"].poll() is None:
            await asyncio.sleep(0.1)

    async def _drain(self, inst):
        deadline = time.monotonic() + 45
        while inst["proc"].poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if inst["proc"].poll() is None:
            self.surprises.append(f"instance {inst['name']} still running 45 s after SIGTERM; "
                                  "killed")
            os.kill(inst["proc"].pid, signal.SIGKILL)
            inst["proc"].wait()
            self.drain_exits["hung"] += 1
        else:
            rc = inst["proc"].returncode
            self.drain_exits[rc] += 1
            if rc != 0:
                self.surprises.append(f"instance {inst['name']} exited {rc} after SIGTERM; "
                                      f"log {inst['proc'].log_path}")
        inst["state"] = "dead"

    async def _cont(self, inst, d):
        try:
            await asyncio.sleep(d)
        finally:
            if inst["proc"].poll() is None:
                os.kill(inst["proc"].pid, signal.SIGCONT)
            if inst["state"] == "stopped":
                inst["state"] = "running"

    async def loop(self, rng, lo, hi):
        while True:
            await asyncio.sleep(rng.uniform(lo, hi))
            await self.one_fault(rng)

    async def settle(self):
        """Let every pending SIGCONT and drain finish."""
        for t in list(self.tasks):
            if not t.done() and t.get_coro().__name__ == "_cont":
                t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


# --------------------------------------------------------------------------- main

async def main_async(args, procs, tmp, result):
    # SIGTERM cancels the run like Ctrl-C does (asyncio.run handles SIGINT itself).
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    binary = args.binary
    if not args.no_copy:
        # A private copy: a rebuild during the run must not mix binaries.
        copy = os.path.join(tmp, "stella-gw")
        shutil.copy2(args.binary, copy)
        binary = copy
    cfg = os.path.join(tmp, "gateway.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(workers=args.workers))
    gw = procs.start("gateway", [binary, "serve", "--config", cfg])
    result["gateway_log"] = gw.log_path
    http_port = tcp_port = None
    deadline = time.monotonic() + 60
    pat = re.compile(rb"listening http=127\.0\.0\.1:(\d+) tcp=127\.0\.0\.1:(\d+)")
    while time.monotonic() < deadline:
        with open(gw.log_path, "rb") as f:
            m = pat.search(f.read())
        if m:
            http_port, tcp_port = int(m.group(1)), int(m.group(2))
            break
        if gw.poll() is not None:
            break
        await asyncio.sleep(0.05)
    if http_port is None:
        raise RuntimeError(f"gateway did not start:\n{tail(gw.log_path)}")
    log(f"gateway pid {gw.pid}: http {http_port}, tcp {tcp_port}; logs in {tmp}")

    fleet = Fleet(procs, binary, tcp_port)
    for _ in range(args.instances):
        fleet.start_one()
    deadline = time.monotonic() + 60
    while True:
        n = await ready_instances(http_port)
        if n == args.instances:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"/health/ready lists {n} instances, want {args.instances}")
        await asyncio.sleep(0.1)

    run = Run(args, http_port)
    run.known_instances = fleet.known  # shared set: replacements are added as they start
    rss = {"start": vmrss_kb(gw.pid), "peak": vmrss_kb(gw.pid) or 0, "end": None}
    gw_dead = []

    async def sampler():
        while True:
            v = vmrss_kb(gw.pid)
            if v is not None:
                rss["peak"] = max(rss["peak"], v)
                rss["end"] = v
            if gw.poll() is not None and not gw_dead:
                gw_dead.append(gw.returncode)
                run.stop = True
                for c in conns:
                    if c.link is not None:
                        c.link.abort()
            await asyncio.sleep(0.5)

    async def progress():
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(5)
            el = time.monotonic() - t0
            done = sum(run.counts.values())
            bad = sum(run.counts[k] for k in FAIL_KINDS)
            log(f"{run.next_id}/{args.requests} sent, {done} settled ({done / el:.0f}/s), "
                f"ok {run.counts['ok']}, 5xx {run.counts['502'] + run.counts['503'] + run.counts['504']}, "
                f"closed {run.counts['closed']}, failures {bad}; "
                f"instances live {len(fleet.live())}, faults {sum(fleet.faults.values())}; "
                f"gateway RSS {rss['end']} kB")

    rng = random.Random(args.seed)
    conns = []
    for i in range(args.connections):
        slow = args.slow_every > 0 and i % args.slow_every == args.slow_every - 1
        piped = args.pipeline_every > 0 and i % args.pipeline_every == 0
        conns.append(Conn(i, slow, args.pipeline_depth if piped else 1,
                          random.Random(rng.getrandbits(64))))
    run.conns = conns
    aux = [asyncio.create_task(sampler()), asyncio.create_task(progress()),
           asyncio.create_task(watchdog(run, conns))]
    if args.faults:
        aux.append(asyncio.create_task(fleet.loop(random.Random(rng.getrandbits(64)),
                                                  *args.fault_interval)))
    t0 = time.monotonic()
    try:
        await asyncio.gather(*(client(run, c) for c in conns))
    finally:
        duration = time.monotonic() - t0
        for t in aux:
            t.cancel()
        await asyncio.gather(*aux, return_exceptions=True)
        await fleet.settle()

    # After the faults: the route table should list exactly the instances that are alive.
    fleet.check_exits()
    want = len(fleet.live())
    ready_n = None
    deadline = time.monotonic() + 10
    while not gw_dead and time.monotonic() < deadline:
        ready_n = await ready_instances(http_port)
        if ready_n == want:
            break
        await asyncio.sleep(0.2)
    if not gw_dead and ready_n != want:
        fleet.surprises.append(f"/health/ready lists {ready_n} instances 10 s after the load, "
                               f"{want} are alive")
    rss_after = vmrss_kb(gw.pid)

    # Graceful stop: instances first (SIGTERM, drain), then the gateway. Exit codes are
    # reported (under ASan a leak or error gives a nonzero code).
    gw_exit = None
    if not gw_dead:
        for i in fleet.live():
            os.kill(i["proc"].pid, signal.SIGTERM)
        for i in fleet.live():
            try:
                rc = await asyncio.to_thread(i["proc"].wait, 30)
                if rc != 0:
                    fleet.surprises.append(f"instance {i['name']} exited {rc} on SIGTERM at the "
                                           f"end; log {i['proc'].log_path}")
            except subprocess.TimeoutExpired:
                fleet.surprises.append(f"instance {i['name']} did not exit 30 s after SIGTERM")
        gw.send_signal(signal.SIGTERM)
        try:
            gw_exit = await asyncio.to_thread(gw.wait, 60)
        except subprocess.TimeoutExpired:
            gw_exit = "did not exit 60 s after SIGTERM"
        if gw_exit != 0:
            fleet.surprises.append(f"gateway exit on SIGTERM: {gw_exit}; log {gw.log_path}:\n"
                                   f"{tail(gw.log_path)}")
    else:
        fleet.surprises.append(f"gateway died during the run (exit {gw_dead[0]}); log "
                               f"{gw.log_path}:\n{tail(gw.log_path, 30)}")

    c = run.counts
    settled = sum(c[k] for k in KINDS)
    unaccounted = run.next_id - settled
    failures = sum(c[k] for k in FAIL_KINDS) + abs(unaccounted)
    passed = failures == 0 and not gw_dead
    result.update({
        "requests": args.requests, "sent": run.next_id, "settled": settled,
        "unaccounted": unaccounted, "counts": {k: c[k] for k in KINDS},
        "other_status": {str(k): v for k, v in run.other_status.items()},
        "malformed_reasons": dict(run.malformed_why), "cut_where": dict(run.cut_where),
        "duration_s": round(duration, 3), "requests_per_s": round(settled / duration, 1),
        "connections": args.connections, "instances": args.instances, "seed": args.seed,
        "faults": dict(fleet.faults), "instances_started": fleet.gen,
        "instances_answering": len(run.instances_seen),
        "drain_exits": {str(k): v for k, v in fleet.drain_exits.items()},
        "reconnects": run.reconnects, "connect_errors": run.connect_errors,
        "connection_ends": dict(run.conn_end),
        "rss_kb": {"start": rss["start"], "peak": rss["peak"], "after": rss_after},
        "gateway_exit": gw_exit, "surprises": fleet.surprises,
        "examples": [f"{k}: {t}" for k, t in run.examples], "passed": passed,
    })
    return result


def print_table(res, args):
    c = res["counts"]
    sent = res["sent"]

    def pct(n):
        return f"{100.0 * n / sent:6.2f}%" if sent else ""

    rows = [
        ("requests sent", f"{sent}", "" if sent == res["requests"] else f"of {res['requests']}"),
        ("200 ok (verified)", f"{c['ok']}", pct(c["ok"])),
        ("502", f"{c['502']}", pct(c["502"])),
        ("503", f"{c['503']}", pct(c["503"])),
        ("504", f"{c['504']}", pct(c["504"])),
        ("other status", f"{c['other']}" + (f"  {res['other_status']}" if c["other"] else ""),
         pct(c["other"])),
        ("closed, no answer", f"{c['closed']}", pct(c["closed"])),
        ("cut mid-stream (chunked)", f"{c['cut']}", pct(c["cut"])),
        ("MISMATCH", f"{c['mismatch']}", "must be 0"),
        ("malformed", f"{c['malformed']}" + (f"  {res['malformed_reasons']}" if c["malformed"]
                                             else ""), "must be 0"),
        ("truncated (head/Content-Length)", f"{c['truncated']}", "must be 0"),
        ("hung (> %g s)" % args.hang_timeout, f"{c['hung']}", "must be 0"),
        ("unaccounted", f"{res['unaccounted']}", "must be 0"),
        ("duration", f"{res['duration_s']:.1f} s", ""),
        ("requests/s", f"{res['requests_per_s']:.0f}", ""),
        ("connections", f"{res['connections']} ({args.connections // args.slow_every if args.slow_every else 0} slow readers, "
                        f"{-(-args.connections // args.pipeline_every) if args.pipeline_every else 0} pipelining x{args.pipeline_depth})", ""),
        ("reconnects", f"{res['reconnects']}" + (
            "  (" + ", ".join(f"{k}: {v}" for k, v in sorted(res["connection_ends"].items())) + ")"
            if res["connection_ends"] else ""), ""),
        ("faults", ", ".join(f"{k} {v}" for k, v in sorted(res["faults"].items())) or "none", ""),
        ("instances started / answered", f"{res['instances_started']} / {res['instances_answering']}", ""),
        ("drain exit codes", ", ".join(f"{k}: {v}" for k, v in res["drain_exits"].items()) or "-", ""),
        ("gateway RSS start / peak / after", "%s / %s / %s MiB" % tuple(
            "?" if v is None else f"{v / 1024:.1f}"
            for v in (res["rss_kb"]["start"], res["rss_kb"]["peak"], res["rss_kb"]["after"])), ""),
        ("gateway exit on SIGTERM", "-" if res["gateway_exit"] is None else f"{res['gateway_exit']}", ""),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows if len(r[1]) <= 12)
    print(f"crosstalk: {res['binary']} seed {res['seed']}, "
          f"{'faults' if args.faults else 'no faults'}")
    for a, b, note in rows:
        print(f"  {a:<{w0}}  {b:>{w1}}  {note}".rstrip() if len(b) <= w1 else f"  {a:<{w0}}  {b}")
    for s in res["surprises"]:
        print(f"  ! {s}")
    for e in res["examples"]:
        print(f"  - {e}")
    print("PASS" if res["passed"] else "FAIL")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1_000_000, help="default 1000000")
    ap.add_argument("--connections", type=int, default=64,
                    help="concurrent keep-alive client connections (default 64)")
    ap.add_argument("--instances", type=int, default=4, help="demo instances (default 4)")
    ap.add_argument("--binary", default="build/release/cli/stella-gw",
                    help="gateway and demo binary (default build/release/cli/stella-gw)")
    ap.add_argument("--seed", type=int, default=None, help="default: random, printed")
    ap.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True,
                    help="kill, stop and drain instances during the run (default on)")
    ap.add_argument("--json-out", default=None, metavar="FILE", help="write a JSON summary")
    ap.add_argument("--fault-interval", default="0.5,1.5", metavar="MIN,MAX",
                    help="seconds between two faults, uniform in [MIN, MAX] (default 0.5,1.5)")
    ap.add_argument("--workers", type=int, default=2, help="gateway http.workers (default 2)")
    ap.add_argument("--slow-every", type=int, default=16,
                    help="every Nth connection is a slow reader (default 16; 0: none)")
    ap.add_argument("--pipeline-every", type=int, default=8,
                    help="every Nth connection pipelines --pipeline-depth requests "
                         "(default 8; 0: none)")
    ap.add_argument("--pipeline-depth", type=int, default=4, help="default 4")
    ap.add_argument("--hang-timeout", type=float, default=30.0,
                    help="a request with no answer for this long is 'hung' (default 30 s)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep logs (kept anyway on FAIL)")
    ap.add_argument("--no-copy", action="store_true",
                    help="run --binary in place instead of a private copy")
    args = ap.parse_args()
    try:
        args.fault_interval = tuple(float(x) for x in args.fault_interval.split(","))
        assert len(args.fault_interval) == 2 and 0 < args.fault_interval[0] <= args.fault_interval[1]
    except (ValueError, AssertionError):
        ap.error("--fault-interval: MIN,MAX with 0 < MIN <= MAX")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    if not os.access(args.binary, os.X_OK):
        ap.error(f"{args.binary} is not an executable")
    args.binary = os.path.abspath(args.binary)
    if args.instances < 1 or args.connections < 1 or args.requests < 1:
        ap.error("--instances, --connections and --requests must be >= 1")
    log(f"seed {args.seed}: {args.requests} requests, {args.connections} connections, "
        f"{args.instances} instances, faults {'on' if args.faults else 'off'}")

    tmp = tempfile.mkdtemp(prefix="stella-crosstalk-")
    procs = Procs(tmp)
    result = {"binary": args.binary, "seed": args.seed, "tmp": tmp}
    ok = False

    # Ctrl-C and SIGTERM both end the run through KeyboardInterrupt, so the processes are
    # stopped in the finally below (SIGINT explicitly: a background job may inherit it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(main_async(args, procs, tmp, result))
        print_table(result, args)
        ok = result["passed"]
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        log(f"error: {type(e).__name__}: {e}")
    finally:
        procs.kill_all()
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(result, f, indent=2, default=str)
        if ok and not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"logs kept in {tmp}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
