"""Shared parts of the strict local fakes of alert destinations.

Each fake listens on 127.0.0.1 only, validates every request as the real
API does, appends what it accepted to a record file (one JSON line per
accepted event or document, flushed at once, so that tests can assert
exactly what arrived), and injects faults on request.

Faults form a queue; each request takes the first fault whose count is not
used up.  A fault is a JSON object:
  {"status": 503, "count": 2}                 reply 503 twice
  {"status": 429, "retry_after": "1"}         with a Retry-After header
  {"status": 400, "body": {...}}              with this JSON body
  {"delay": 2.5}                              answer normally, 2.5 s late
  {"drop": true}                              close the connection unanswered
  {"count": -1, ...}                          for every request from now on
Faults come from --faults JSON at start, or later from
POST /_fake/faults (replaces the queue); GET /_fake/stats returns counts.
"""

import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler, args):
        super().__init__(("127.0.0.1", args.port), handler)
        self.args = args
        self.lock = threading.Lock()
        self.faults = json.loads(args.faults) if args.faults else []
        self.requests = 0
        self.accepted = 0
        self.rejected = 0
        self.record = open(args.record, "a") if args.record else None

    def handle_error(self, request, client_address):
        # A client killed mid-request is part of the tests: stay quiet.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def next_fault(self):
        with self.lock:
            self.requests += 1
            while self.faults:
                f = self.faults[0]
                count = f.get("count", 1)
                if count == 0:
                    self.faults.pop(0)
                    continue
                if count > 0:
                    f["count"] = count - 1
                return f
            return None

    def keep(self, doc):
        """Appends one accepted event or document to the record file."""
        with self.lock:
            self.accepted += 1
            if self.record:
                self.record.write(json.dumps(doc, sort_keys=True) + "\n")
                self.record.flush()


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY,
        # Nagle's algorithm and delayed ACKs add 40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.args.verbose:
            sys.stderr.write("%s: %s\n" % (self.server.args.name, fmt % args))

    def reply(self, status, body=None, headers=None, ctype="application/json"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if status >= 400:
            with self.server.lock:
                self.server.rejected += 1

    def read_body(self):
        """Reads the request body; None after replying 411 or 400."""
        if self.headers.get("Transfer-Encoding"):
            self.reply(400, {"error": "chunked bodies are not expected"})
            return None
        n = self.headers.get("Content-Length")
        if n is None:
            self.reply(411, {"error": "Content-Length required"})
            return None
        return self.rfile.read(int(n))

    def control(self, body):
        if self.command == "POST" and self.path == "/_fake/faults":
            with self.server.lock:
                self.server.faults = json.loads(body or b"[]")
            self.reply(200, {"ok": True})
        elif self.path == "/_fake/stats":
            with self.server.lock:
                self.reply(200, {"requests": self.server.requests,
                                 "accepted": self.server.accepted,
                                 "rejected": self.server.rejected})
        else:
            self.reply(404, {"error": "unknown control path"})

    def handle_any(self):
        if self.path.startswith("/_fake/"):
            body = self.read_body() if self.command == "POST" else b""
            if body is not None:
                self.control(body)
            return
        body = self.read_body()
        if body is None:
            return
        fault = self.server.next_fault()
        if fault is not None:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("drop"):
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if "status" in fault:
                headers = {}
                if "retry_after" in fault:
                    headers["Retry-After"] = str(fault["retry_after"])
                self.reply(int(fault["status"]),
                           fault.get("body", {"error": "injected fault"}),
                           headers)
                return
        self.validate(body, fault or {})

    def validate(self, body, fault):
        raise NotImplementedError

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any


def main(name, handler, extra_args=None):
    p = argparse.ArgumentParser(prog=name)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--record", help="append accepted documents here")
    p.add_argument("--faults", help="JSON list of faults")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM chain")
    p.add_argument("--tls-key", help="private key of --tls-cert")
    if extra_args:
        extra_args(p)
    args = p.parse_args()
    args.name = name
    srv = FakeServer(handler, args)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
