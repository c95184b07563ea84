#!/usr/bin/env python3
"""A strict stand-in for the push endpoint of Grafana Loki (3.x).

Serves POST /loki/api/v1/push on 127.0.0.1 and checks each request the
way Loki's distributor and ingester do, with Loki's default limits:

  - Content-Type application/json (Loki decodes anything else as snappy
    protobuf), optional gzip Content-Encoding, body size limit;
  - {"streams":[{"stream":{labels},"values":[["<ns>","line"], ...]}]};
  - label names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__",
    values are non-empty strings, at least one and at most 15 labels,
    names up to 1024 bytes, values up to 2048 bytes;
  - timestamps are decimal nanosecond strings, no older than
    reject_old_samples_max_age (168h) and no newer than now plus
    creation_grace_period (10m);
  - per stream, entries older than the stream's newest entry minus half of
    max_chunk_age (1h) are "too far behind"; with --ordered, every entry
    older than the newest is "out of order" (unordered_writes=false);
  - lines up to max_line_size (256 KiB);
  - X-Scope-OrgID when --tenant is given (auth_enabled=true), and HTTP
    basic auth when --user is given (as a gateway in front of Loki does).

Like Loki, it stores the valid entries of a request and returns 400 with
one line per rejected entry when some were invalid, so a client that
resends after a 400 writes the valid entries twice.

Error replies are injected with --reply, once per push request in order:
  400:too-old | 400:too-far-behind | 400:out-of-order | 400:line-too-long
  429[:SECONDS]   rate limit, with Retry-After when SECONDS is given
  500 | 502 | 503 | 504
  slow:SECONDS    sleep, then handle the request normally
  drop            close the connection without an answer
  ok              handle the request normally
After the list is used up every request is handled normally.

Every push request is appended to --log as one JSON object: method, path,
headers, status, accepted entries.  GET /fake/pushes returns the same list.
"""

import argparse
import base64
import gzip
import json
import re
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_LABEL_NAMES = 15
MAX_LABEL_NAME_LEN = 1024
MAX_LABEL_VALUE_LEN = 2048
REJECT_OLD_MAX_AGE_NS = 168 * 3600 * 10**9
CREATION_GRACE_NS = 10 * 60 * 10**9
MAX_CHUNK_AGE_NS = 2 * 3600 * 10**9


def go_time(ns):
    """Formats nanoseconds as Go's time.Time String() in UTC."""
    secs, frac = divmod(ns, 10**9)
    base = datetime.fromtimestamp(secs, timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S")
    if frac:
        base += ("." + "%09d" % frac).rstrip("0")
    return base + " +0000 UTC"


def rfc3339(ns):
    return datetime.fromtimestamp(ns // 10**9, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def labels_string(labels):
    """Formats labels as Loki prints a stream: sorted, quoted, ", "."""
    parts = []
    for name in sorted(labels):
        parts.append("%s=%s" % (name, json.dumps(labels[name])))
    return "{" + ", ".join(parts) + "}"


class PushError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Loki:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.replies = list(args.reply)
        self.newest = {}        # (tenant, stream string) -> newest ns
        self.pushes = []

    def next_reply(self):
        with self.lock:
            return self.replies.pop(0) if self.replies else "ok"

    def record(self, entry):
        with self.lock:
            self.pushes.append(entry)
            if self.args.log:
                with open(self.args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")


def parse_labels(stream):
    labels = stream.get("stream")
    if not isinstance(labels, dict):
        raise PushError(400, "error at least one label pair is required "
                        "per stream")
    if not labels:
        raise PushError(400, "error at least one label pair is required "
                        "per stream")
    text = labels_string({k: str(v) for k, v in labels.items()})
    for name, value in labels.items():
        if not isinstance(value, str):
            raise PushError(400, "Error parsing labels '%s' with error: "
                            "label value of '%s' is not a string"
                            % (text, name))
        if not LABEL_NAME.match(name) or name.startswith("__"):
            raise PushError(400, "Error parsing labels '%s' with error: "
                            "invalid label name '%s'" % (text, name))
        if value == "":
            raise PushError(400, "Error parsing labels '%s' with error: "
                            "empty value for label '%s'" % (text, name))
        if len(name.encode()) > MAX_LABEL_NAME_LEN:
            raise PushError(400, "stream '%s' has label name too long: "
                            "'%s'" % (text, name))
        if len(value.encode()) > MAX_LABEL_VALUE_LEN:
            raise PushError(400, "stream '%s' has label value too long: "
                            "'%s'" % (text, value))
    if len(labels) > MAX_LABEL_NAMES:
        raise PushError(400, "entry for stream '%s' has %d label names; "
                        "limit %d" % (text, len(labels), MAX_LABEL_NAMES))
    return labels, text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-loki"

    def log_message(self, fmt, *args):
        if self.server.loki.args.verbose:
            sys.stderr.write("fake-loki: " + (fmt % args) + "\n")

    def reply(self, status, body="", headers=None):
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def do_GET(self):
        loki = self.server.loki
        if self.path == "/ready":
            self.reply(200, "ready\n")
        elif self.path == "/fake/pushes":
            with loki.lock:
                body = json.dumps(loki.pushes)
            self.reply(200, body)
        else:
            self.reply(404, "404 page not found\n")

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            raise PushError(411, "length required\n")
        data = self.rfile.read(int(length))
        if self.headers.get("Content-Encoding", "") == "gzip":
            data = gzip.decompress(data)
        limit = self.server.loki.args.max_body
        if len(data) > limit:
            raise PushError(413, "Request body too large: %d bytes, "
                            "limit: %d bytes" % (len(data), limit))
        return data

    def check_auth(self):
        args = self.server.loki.args
        if args.user is not None:
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (args.user, args.password)).encode()).decode()
            if self.headers.get("Authorization") != want:
                raise PushError(401, "401 Unauthorized\n")
        tenant = self.headers.get("X-Scope-OrgID")
        if args.tenant is not None:
            if not tenant:
                raise PushError(401, "no org id\n")
            if tenant != args.tenant:
                raise PushError(401, "unknown tenant '%s'\n" % tenant)
        return tenant or "fake"

    def do_POST(self):
        loki = self.server.loki
        if self.path != "/loki/api/v1/push":
            self.reply(404, "404 page not found\n")
            return
        action = loki.next_reply()
        if loki.args.arrived:
            with open(loki.args.arrived, "a", encoding="utf-8") as f:
                f.write(action + "\n")
        entry = {"method": "POST", "path": self.path,
                 "headers": {k: v for k, v in self.headers.items()},
                 "action": action, "accepted": []}
        try:
            data = self.read_body()
        except PushError as e:
            entry["status"] = e.status
            loki.record(entry)
            self.reply(e.status, e.message)
            return
        entry["body"] = data.decode("utf-8", "replace")
        if action == "drop":
            entry["status"] = 0
            loki.record(entry)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if action.startswith("slow:"):
            time.sleep(float(action[5:]))
        status, body, headers = self.handle_push(data, action, entry)
        entry["status"] = status
        loki.record(entry)
        self.reply(status, body, headers)

    def handle_push(self, data, action, entry):
        if action.startswith("429"):
            headers = {}
            if ":" in action:
                headers["Retry-After"] = action.split(":", 1)[1]
            return (429, "Ingestion rate limit exceeded for user fake "
                    "(limit: 4194304 bytes/sec) while attempting to ingest "
                    "'1' lines totaling '%d' bytes, reduce log volume or "
                    "contact your Loki administrator to see if the limit "
                    "can be increased\n" % len(data), headers)
        if action in ("500", "502", "503", "504"):
            return int(action), {
                "500": "rpc error: code = Internal desc = failed to store",
                "502": "bad gateway",
                "503": "empty ring",
                "504": "context deadline exceeded"}[action] + "\n", {}
        try:
            tenant = self.check_auth()
            ctype = self.headers.get("Content-Type", "")
            if ctype.split(";")[0].strip() != "application/json":
                raise PushError(400, "decompress: snappy: corrupt input\n")
            try:
                req = json.loads(data)
            except ValueError as e:
                raise PushError(400, "loghttp.PushRequest: %s\n" % e)
            streams = req.get("streams") if isinstance(req, dict) else None
            if not isinstance(streams, list) or not streams:
                raise PushError(400, "error at least one valid stream is "
                                "required for ingestion\n")
            errors = self.validate(tenant, streams, action, entry)
        except PushError as e:
            return e.status, e.message, {}
        if errors:
            return 400, "\n".join(errors) + "\n", {}
        return 204, "", {}

    def validate(self, tenant, streams, action, entry):
        """Stores the valid entries; returns one message per bad one."""
        loki = self.server.loki
        now = time.time_ns()
        errors = []
        injected = False
        for stream in streams:
            if not isinstance(stream, dict):
                raise PushError(400, "loghttp.PushRequest: stream is not "
                                "an object\n")
            labels, text = parse_labels(stream)
            values = stream.get("values")
            if not isinstance(values, list):
                raise PushError(400, "loghttp.PushRequest: values is not "
                                "an array\n")
            key = (tenant, text)
            for value in values:
                if (not isinstance(value, list) or len(value) not in (2, 3)
                        or not isinstance(value[0], str)
                        or not isinstance(value[1], str)):
                    raise PushError(400, "loghttp.PushRequest: values "
                                    "entry is not [\"<ns>\", \"<line>\"]\n")
                if not value[0].isdigit():
                    raise PushError(400, "loghttp.PushRequest: cannot "
                                    "parse timestamp '%s'\n" % value[0])
                ts = int(value[0])
                line = value[1]
                if action.startswith("400:") and not injected:
                    injected = True
                    errors.append(self.injected_error(action[4:], text, ts,
                                                      line, now))
                    continue
                err = self.check_entry(key, text, ts, line, now)
                if err:
                    errors.append(err)
                    continue
                with loki.lock:
                    loki.newest[key] = max(loki.newest.get(key, 0), ts)
                entry["accepted"].append({"labels": labels, "ts": value[0],
                                          "line": line})
        return errors

    def check_entry(self, key, text, ts, line, now):
        loki = self.server.loki
        args = loki.args
        if len(line.encode()) > args.max_line_size:
            return ("Max entry size '%d' bytes exceeded for stream '%s' "
                    "while adding an entry with length '%d' bytes"
                    % (args.max_line_size, text, len(line.encode())))
        if ts < now - REJECT_OLD_MAX_AGE_NS:
            return ("entry for stream '%s' has timestamp too old: %s, "
                    "oldest acceptable timestamp is: %s"
                    % (text, go_time(ts),
                       go_time(now - REJECT_OLD_MAX_AGE_NS)))
        if ts > now + CREATION_GRACE_NS:
            return ("entry for stream '%s' has timestamp too new: %s"
                    % (text, go_time(ts)))
        with loki.lock:
            newest = loki.newest.get(key)
        if newest is not None:
            if args.ordered and ts < newest:
                return "entry out of order for stream: %s" % text
            cutoff = newest - MAX_CHUNK_AGE_NS // 2
            if ts < cutoff:
                return ("entry with timestamp %s ignored, reason: 'entry "
                        "too far behind, entry timestamp is: %s, oldest "
                        "acceptable timestamp is: %s',\nuser '%s', total "
                        "ignored: 1 out of 1 for stream: %s"
                        % (go_time(ts), rfc3339(ts), rfc3339(cutoff),
                           key[0], text))
        return None

    @staticmethod
    def injected_error(kind, text, ts, line, now):
        """Builds the 400 message that --reply asked for, about one entry,
        in the words Loki uses for it."""
        if kind == "too-old":
            return ("entry for stream '%s' has timestamp too old: %s, "
                    "oldest acceptable timestamp is: %s"
                    % (text, go_time(ts),
                       go_time(now - REJECT_OLD_MAX_AGE_NS)))
        if kind == "too-far-behind":
            cutoff = ts + 3600 * 10**9
            return ("entry with timestamp %s ignored, reason: 'entry too "
                    "far behind, entry timestamp is: %s, oldest acceptable "
                    "timestamp is: %s',\nuser 'fake', total ignored: 1 out "
                    "of 1 for stream: %s"
                    % (go_time(ts), rfc3339(ts), rfc3339(cutoff), text))
        if kind == "out-of-order":
            return "entry out of order for stream: %s" % text
        size = len(line.encode())
        return ("Max entry size '%d' bytes exceeded for stream '%s' while "
                "adding an entry with length '%d' bytes"
                % (size - 1, text, size))


REPLY = re.compile(r"^(ok|drop|slow:[0-9.]+|429(:[0-9]+)?|50[0234]|"
                   r"400:(too-old|too-far-behind|out-of-order|"
                   r"line-too-long))$")


def reply_spec(value):
    if not REPLY.match(value):
        raise argparse.ArgumentTypeError("invalid reply '%s'" % value)
    return value


def main():
    p = argparse.ArgumentParser(description="strict fake Loki push API")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", help="append each push request here (JSON)")
    p.add_argument("--arrived",
                   help="append a line here when a push arrives, before "
                   "it is handled")
    p.add_argument("--tenant", help="require this X-Scope-OrgID")
    p.add_argument("--user", help="require HTTP basic auth with this user")
    p.add_argument("--password-file",
                   help="file with the basic auth password")
    p.add_argument("--ordered", action="store_true",
                   help="reject any entry older than its stream's newest")
    p.add_argument("--max-line-size", type=int, default=256 * 1024)
    p.add_argument("--max-body", type=int, default=4 * 1024 * 1024)
    p.add_argument("--reply", type=reply_spec, action="append", default=[])
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    args.password = None
    if args.user is not None:
        if not args.password_file:
            p.error("--user needs --password-file")
        with open(args.password_file, encoding="utf-8") as f:
            args.password = f.read().rstrip("\n")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.loki = Loki(args)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
