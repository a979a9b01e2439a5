#!/usr/bin/env python3
"""A strict OTLP/HTTP JSON trace receiver for the end-to-end tests (python3 standard library only).

    otlp_receiver.py --port-file PATH --out PATH

Listens on 127.0.0.1 on a free port and writes the port number to --port-file (atomically, so a
reader never sees a partial number). Accepts POST /v1/traces with Content-Type application/json,
checks every body against the OTLP JSON encoding
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) and appends each span as one
JSON line to --out:

    {"traceId": "...", "spanId": "...", "parentSpanId": "" for a root span, "name": "...",
     "kind": 2, "startTimeUnixNano": "...", "endTimeUnixNano": "...",
     "attributes": {"key": value, ...}, "status": {"code": 0, "message": ""},
     "serviceName": "...", "scopeName": "...", "scopeVersion": "..."}

and answers 200 with {}. A body that breaks the encoding is answered 400 (nothing of it is
written) and the reason is printed to stderr, so a test can show why.

Stricter than a collector on purpose: a collector ignores unknown fields, which would hide a
misspelt or snake_case field name ("trace_id", "spanID") and the data it should have carried;
this receiver rejects them. It also requires the gateway's own choices: 64-bit integers as
decimal strings, lowercase hex ids, no empty parentSpanId, a service.name resource attribute.

Runs until stdin reaches end of file (keep a pipe open for as long as it should run) or until
SIGTERM/SIGINT.
"""

import argparse
import base64
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 16 * 1024 * 1024
HEX32 = re.compile(r"[0-9a-f]{32}\Z")
HEX16 = re.compile(r"[0-9a-f]{16}\Z")
UINT64 = re.compile(r"(0|[1-9][0-9]*)\Z")
INT64 = re.compile(r"-?(0|[1-9][0-9]*)\Z")
SPAN_KINDS = range(0, 6)  # UNSPECIFIED .. CONSUMER
STATUS_CODES = range(0, 3)  # UNSET, OK, ERROR

# Fields each message may carry (proto field names in lowerCamelCase).
REQUEST_FIELDS = {"resourceSpans"}
RESOURCE_SPANS_FIELDS = {"resource", "scopeSpans", "schemaUrl"}
RESOURCE_FIELDS = {"attributes", "droppedAttributesCount", "entityRefs"}
SCOPE_SPANS_FIELDS = {"scope", "spans", "schemaUrl"}
SCOPE_FIELDS = {"name", "version", "attributes", "droppedAttributesCount"}
SPAN_FIELDS = {
    "traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
    "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount", "events",
    "droppedEventsCount", "links", "droppedLinksCount", "status",
}
STATUS_FIELDS = {"message", "code"}
KEY_VALUE_FIELDS = {"key", "value"}
ANY_VALUE_FIELDS = {
    "stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
    "bytesValue",
}


class Invalid(Exception):
    """A violation of the encoding; the message names the JSON path."""


def expect(cond, path, why):
    if not cond:
        raise Invalid(f"{path}: {why}")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_object(v, path, allowed, required=()):
    expect(isinstance(v, dict), path, f"expected an object, got {type(v).__name__}")
    unknown = sorted(set(v) - allowed)
    expect(not unknown, path, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    for name in required:
        expect(name in v, path, f"missing required field '{name}'")


def check_list(v, path):
    expect(isinstance(v, list), path, f"expected an array, got {type(v).__name__}")
    return v


def check_uint64_string(v, path):
    expect(isinstance(v, str), path, f"64-bit integer must be a decimal string, got {v!r}")
    expect(UINT64.match(v) is not None, path, f"not an unsigned decimal integer: {v!r}")
    n = int(v)
    expect(n < 2**64, path, f"out of uint64 range: {v}")
    return n


def check_count(v, path):
    expect(is_int(v) and 0 <= v < 2**32, path, f"expected a uint32 count, got {v!r}")


def check_any_value(v, path):
    check_object(v, path, ANY_VALUE_FIELDS)
    expect(len(v) == 1, path, f"AnyValue must hold exactly one of {sorted(ANY_VALUE_FIELDS)}")
    (kind, x), = v.items()
    p = f"{path}.{kind}"
    if kind == "stringValue":
        expect(isinstance(x, str), p, "expected a string")
        return x
    if kind == "boolValue":
        expect(isinstance(x, bool), p, "expected true or false")
        return x
    if kind == "intValue":
        expect(isinstance(x, str), p, f"int64 must be a decimal string, got {x!r}")
        expect(INT64.match(x) is not None, p, f"not a decimal integer: {x!r}")
        n = int(x)
        expect(-(2**63) <= n < 2**63, p, f"out of int64 range: {x}")
        return n
    if kind == "doubleValue":
        if isinstance(x, str):
            expect(x in ("NaN", "Infinity", "-Infinity"), p, f"not a number: {x!r}")
            return x
        expect(isinstance(x, (int, float)) and not isinstance(x, bool), p, "expected a number")
        return x
    if kind == "bytesValue":
        expect(isinstance(x, str), p, "expected a base64 string")
        try:
            base64.b64decode(x, validate=True)
        except ValueError:
            raise Invalid(f"{p}: not base64: {x!r}") from None
        return x
    if kind == "arrayValue":
        check_object(x, p, {"values"})
        return [check_any_value(e, f"{p}.values[{i}]")
                for i, e in enumerate(check_list(x.get("values", []), f"{p}.values"))]
    check_object(x, p, {"values"})  # kvlistValue
    return check_attributes(x.get("values", []), f"{p}.values")


def check_attributes(v, path):
    out = {}
    for i, kv in enumerate(check_list(v, path)):
        p = f"{path}[{i}]"
        check_object(kv, p, KEY_VALUE_FIELDS, required=("key", "value"))
        expect(isinstance(kv["key"], str) and kv["key"], f"{p}.key", "expected a non-empty string")
        expect(kv["key"] not in out, f"{p}.key", f"duplicate attribute key {kv['key']!r}")
        out[kv["key"]] = check_any_value(kv["value"], f"{p}.value")
    return out


def check_id(v, path, pattern, size):
    expect(isinstance(v, str), path, f"expected a hex string, got {type(v).__name__}")
    expect(pattern.match(v) is not None, path,
           f"expected {size} lowercase hex characters (not base64), got {v!r}")
    expect(v != "0" * size, path, "an all-zero id is invalid")
    return v


def check_span(s, path, service, scope_name, scope_version):
    check_object(s, path, SPAN_FIELDS,
                 required=("traceId", "spanId", "name", "kind", "startTimeUnixNano",
                           "endTimeUnixNano"))
    line = {
        "traceId": check_id(s["traceId"], f"{path}.traceId", HEX32, 32),
        "spanId": check_id(s["spanId"], f"{path}.spanId", HEX16, 16),
        "parentSpanId": "",
    }
    if "parentSpanId" in s:
        expect(s["parentSpanId"] != "", f"{path}.parentSpanId",
               "empty parentSpanId: omit the field for a root span")
        line["parentSpanId"] = check_id(s["parentSpanId"], f"{path}.parentSpanId", HEX16, 16)
        expect(line["parentSpanId"] != line["spanId"], f"{path}.parentSpanId",
               "a span cannot be its own parent")
    expect(isinstance(s["name"], str) and s["name"], f"{path}.name", "expected a non-empty string")
    line["name"] = s["name"]
    expect(is_int(s["kind"]) and s["kind"] in SPAN_KINDS, f"{path}.kind",
           f"enum must be an integer 0..5, got {s['kind']!r}")
    line["kind"] = s["kind"]
    start = check_uint64_string(s["startTimeUnixNano"], f"{path}.startTimeUnixNano")
    end = check_uint64_string(s["endTimeUnixNano"], f"{path}.endTimeUnixNano")
    expect(start > 0, f"{path}.startTimeUnixNano", "must not be 0")
    expect(end >= start, f"{path}.endTimeUnixNano", f"ends ({end}) before it starts ({start})")
    line["startTimeUnixNano"] = s["startTimeUnixNano"]
    line["endTimeUnixNano"] = s["endTimeUnixNano"]
    line["attributes"] = check_attributes(s.get("attributes", []), f"{path}.attributes")
    if "traceState" in s:
        expect(isinstance(s["traceState"], str), f"{path}.traceState", "expected a string")
    if "flags" in s:
        expect(is_int(s["flags"]) and 0 <= s["flags"] < 2**32, f"{path}.flags",
               "expected a uint32 integer")
    for name in ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"):
        if name in s:
            check_count(s[name], f"{path}.{name}")
    for name in ("events", "links"):
        if name in s:
            check_list(s[name], f"{path}.{name}")
    status = {"code": 0, "message": ""}
    if "status" in s:
        p = f"{path}.status"
        check_object(s["status"], p, STATUS_FIELDS)
        code = s["status"].get("code", 0)
        expect(is_int(code) and code in STATUS_CODES, f"{p}.code",
               f"enum must be an integer 0..2, got {code!r}")
        message = s["status"].get("message", "")
        expect(isinstance(message, str), f"{p}.message", "expected a string")
        status = {"code": code, "message": message}
    line["status"] = status
    line["serviceName"] = service
    line["scopeName"] = scope_name
    line["scopeVersion"] = scope_version
    return line


def check_request(body):
    """Returns one output line per span, or raises Invalid."""
    check_object(body, "$", REQUEST_FIELDS, required=("resourceSpans",))
    lines = []
    for i, rs in enumerate(check_list(body["resourceSpans"], "$.resourceSpans")):
        p = f"$.resourceSpans[{i}]"
        check_object(rs, p, RESOURCE_SPANS_FIELDS, required=("resource", "scopeSpans"))
        check_object(rs["resource"], f"{p}.resource", RESOURCE_FIELDS, required=("attributes",))
        attrs = check_attributes(rs["resource"]["attributes"], f"{p}.resource.attributes")
        service = attrs.get("service.name")
        expect(isinstance(service, str) and service, f"{p}.resource.attributes",
               "no service.name stringValue attribute")
        for j, ss in enumerate(check_list(rs["scopeSpans"], f"{p}.scopeSpans")):
            q = f"{p}.scopeSpans[{j}]"
            check_object(ss, q, SCOPE_SPANS_FIELDS, required=("scope", "spans"))
            check_object(ss["scope"], f"{q}.scope", SCOPE_FIELDS, required=("name",))
            scope_name = ss["scope"]["name"]
            scope_version = ss["scope"].get("version", "")
            expect(isinstance(scope_name, str) and scope_name, f"{q}.scope.name",
                   "expected a non-empty string")
            expect(isinstance(scope_version, str), f"{q}.scope.version", "expected a string")
            for k, s in enumerate(check_list(ss["spans"], f"{q}.spans")):
                lines.append(check_span(s, f"{q}.spans[{k}]", service, scope_name, scope_version))
    return lines


def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise Invalid(f"duplicate object key(s) {dup}")
    return dict(pairs)


def no_constants(name):
    raise Invalid(f"{name} is not JSON (write non-finite doubles as strings)")


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out_path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.out = open(out_path, "a", encoding="utf-8")
        self.out_lock = threading.Lock()

    def append(self, lines):
        with self.out_lock:
            for line in lines:
                self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.out.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otlp-receiver"

    def log_message(self, fmt, *args):  # quiet: only refusals are printed
        pass

    def answer(self, status, body, why=None):
        if why is not None:
            print(f"otlp_receiver: {status} {self.command} {self.path}: {why}",
                  file=sys.stderr, flush=True)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, why):
        self.close_connection = True
        self.answer(status, {"error": why}, why)

    def do_POST(self):
        if self.path != "/v1/traces":
            return self.refuse(404, "only /v1/traces is served")
        if self.headers.get("Transfer-Encoding") is not None:
            return self.refuse(400, "Transfer-Encoding not supported: send Content-Length")
        if self.headers.get("Content-Encoding", "identity") != "identity":
            return self.refuse(415, "Content-Encoding not supported")
        media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return self.refuse(415, f"Content-Type must be application/json, got {media!r}")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self.refuse(411, "a Content-Length is required")
        if int(length) > MAX_BODY_BYTES:
            return self.refuse(413, f"body over {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicate_keys,
                              parse_constant=no_constants)
            lines = check_request(body)
        except UnicodeDecodeError as e:
            return self.refuse(400, f"body is not UTF-8: {e}")
        except json.JSONDecodeError as e:
            return self.refuse(400, f"body is not JSON: {e}")
        except Invalid as e:
            return self.refuse(400, str(e))
        self.server.append(lines)
        self.answer(200, {})

    def do_GET(self):
        self.refuse(405 if self.path == "/v1/traces" else 404, "POST /v1/traces only")

    do_PUT = do_DELETE = do_PATCH = do_GET


class Stop(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port-file", required=True, help="where to write the port number")
    parser.add_argument("--out", required=True, help="JSON-lines file the spans are appended to")
    args = parser.parse_args()

    server = Receiver(args.out)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, args.port_file)

    def on_signal(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        # Blocks until the parent closes our stdin (or exits): the receiver never outlives it.
        while sys.stdin.buffer.read(4096):
            pass
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.shutdown()
        server.server_close()
        server.out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
