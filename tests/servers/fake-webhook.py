#!/usr/bin/env python3
"""A strict webhook receiver on 127.0.0.1 that records every request.

POST --path (default /hook) must carry Content-Type application/json and
a JSON body.  With --slack it checks the body of a Slack incoming-webhook
message: an object with a non-empty string "text" and no fields other
than Slack's message fields.  It returns 200 "ok", or 400 with Slack's
error names "invalid_payload" and "no_text"; text over 40,000 characters
gets "msg_too_long" (a limit of this fake).  Other
paths get 404 "no_service" and other methods 405.  With --require-header
"Name: value" (repeatable) a request without that header gets 403
"invalid_token".

Replies are injected with --reply, once per request in order:
  200 | 201 | 204 | 400 | 401 | 403 | 404 | 410 | 413 | 500 | 501 | 502 |
  503 | 504     that status with a short body
  429[:SECONDS]   with Retry-After when SECONDS is given
  302             a redirect to /elsewhere (clients must not follow it)
  slow:SECONDS    sleep, then answer normally
  drop            close the connection without an answer
  ok              answer normally
After the list is used up every request is answered normally.

Every request is appended to --log as one JSON object: method, path,
headers, body, status.
"""

import argparse
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLACK_FIELDS = {"text", "blocks", "attachments", "thread_ts", "mrkdwn",
                "username", "icon_emoji", "icon_url", "channel",
                "unfurl_links", "unfurl_media"}
SLACK_TEXT_MAX = 40000


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.replies = list(args.reply)

    def next_reply(self):
        with self.lock:
            return self.replies.pop(0) if self.replies else "ok"

    def record(self, entry):
        with self.lock:
            with open(self.args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-webhook"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body="", headers=None):
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(data)

    def do_GET(self):
        if self.path == "/fake/ready":
            self.reply(200, "ready\n")
        else:
            self.reply(405, "method not allowed\n")

    def do_PUT(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = state.next_reply()
        if state.args.arrived:
            with open(state.args.arrived, "a", encoding="utf-8") as f:
                f.write(action + "\n")
        entry = {"method": self.command, "path": self.path,
                 "headers": {k: v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", "replace"), "action": action}
        if action == "drop":
            entry["status"] = 0
            state.record(entry)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if action.startswith("slow:"):
            time.sleep(float(action[5:]))
            action = "ok"
        status, text, headers = self.answer(action, body)
        entry["status"] = status
        state.record(entry)
        self.reply(status, text, headers)

    def answer(self, action, body):
        args = self.server.state.args
        if action == "302":
            return 302, "", {"Location": "/elsewhere"}
        if action.startswith("429"):
            headers = {}
            if ":" in action:
                headers["Retry-After"] = action.split(":", 1)[1]
            return 429, "rate_limited\n", headers
        if action != "ok":
            return int(action), "injected %s\n" % action, {}
        if self.command != "POST":
            return 405, "method not allowed\n", {}
        if self.path != args.path:
            return 404, "no_service", {}
        for want in args.require_header:
            name, value = want.split(":", 1)
            if self.headers.get(name.strip()) != value.strip():
                return 403, "invalid_token", {}
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() != "application/json":
            return 400, "invalid_payload", {}
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, "invalid_payload", {}
        if args.slack:
            if not isinstance(doc, dict) or set(doc) - SLACK_FIELDS:
                return 400, "invalid_payload", {}
            text = doc.get("text")
            if not isinstance(text, str) or not text.strip():
                return 400, "no_text", {}
            if len(text) > SLACK_TEXT_MAX:
                return 400, "msg_too_long", {}
            return 200, "ok", {}
        return 200, "", {}


REPLY = re.compile(r"^(ok|drop|slow:[0-9.]+|429(:[0-9]+)?|302|"
                   r"20[014]|40[01346]|41[03]|50[01234])$")


def reply_spec(value):
    if not REPLY.match(value):
        raise argparse.ArgumentTypeError("invalid reply '%s'" % value)
    return value


def main():
    p = argparse.ArgumentParser(description="strict fake webhook receiver")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--arrived",
                   help="append a line here when a request arrives, "
                   "before it is answered")
    p.add_argument("--path", default="/hook")
    p.add_argument("--slack", action="store_true")
    p.add_argument("--require-header", action="append", default=[])
    p.add_argument("--reply", type=reply_spec, action="append", default=[])
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
