#!/usr/bin/env python3
"""A fake Rekor v1 server on 127.0.0.1 for the rekor-tail tests.

It serves the real entries of tests/fixtures/rekor/ inside a compact log
with the shard layout of the public log: two inactive shards and an active
one, with the public tree ids.  The fixtures sit at small shard indexes and
every other index contains a generated filler entry:

    shard  tree id              size  fixture at shard index (global)
    0      3904496407287907110   4    none (globals 0-3)
    1      2605736670972794746   8    1 api-entry-2023 (5), 3 intoto-2023 (7),
                                      6 hashedrekord-ci-2024 (10)
    2      1193050959916656506   6+F  0 dsse-2024 (12), 4 barekey-2025 (16)

F is --filler.  Every UUID is the shard's tree id in 16 hex digits plus
the RFC 6962 leaf hash of the body, "logIndex" is the global index and
"verification.inclusionProof.logIndex" the shard index at which this
server places the entry.  The fixtures keep the rest of their captured
verification data, so their proofs do not verify at the new position, and
filler entries carry no proof hashes at all.

Endpoints: GET /api/v1/log, POST /api/v1/log/entries/retrieve,
GET /api/v1/log/entries?logIndex=N, GET /api/v1/log/entries/UUID.
Tests steer the server through POST /__control/NAME?key=value:

    grow?n=K            append K filler entries to the active shard
    rotate?tree=ID      freeze the active shard and start a new one
    fault?kind=K&...    inject a fault (see FAULTS)
    clear               remove every fault
and read counters through GET /__control/stats.
"""

import argparse
import base64
import hashlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
RETRIEVE_MAX = 10

# A reply-level fault hits the next `count` requests (default 1) of its
# endpoint, "retrieve" or "log".  An item-level fault hits one global index
# in the next `count` replies, or in every reply when `count` is not given.
FAULTS = {
    "status": "reply with HTTP `code`, JSON body, Retry-After `retry_after`",
    "html": "reply with HTTP `code` (default 429) and an HTML page",
    "garbage": "reply 200 with an HTML page instead of JSON",
    "object": "reply 200 with a JSON object where a list or the log info "
              "belongs",
    "numeric-tree-id": "reply to GET /api/v1/log with tree ids as numbers",
    "truncate": "announce the full length, send half the reply, close",
    "slow": "wait `seconds` before replying",
    "drop": "close the connection without a reply",
    "missing": "leave `index` out of retrieve replies",
    "bad-base64": "serve `index` with a body that is not base64",
    "not-json": "serve `index` with a body that is not JSON",
    "wrong-index": "serve the entry of `index` as logIndex `index`+1",
    "extra": "add the entry of `index` + 10 to every reply with `index`",
    "duplicate": "serve `index` twice in the same reply",
    "wrong-shard": "give `index` the UUID prefix of another shard",
    "wrong-leaf": "give `index` a UUID whose leaf hash is of another body",
    "proof-index": "give `index` a proof index one too high",
    "no-index": "serve `index` without its logIndex field",
    "body": "serve `index` with the body `b64` (URL-safe base64), "
            "grown by `pad` copies of its third-to-last byte, and a UUID "
            "that matches it",
}
ITEM_FAULTS = {"missing", "bad-base64", "not-json", "wrong-index", "extra",
               "duplicate", "wrong-shard", "wrong-leaf", "proof-index",
               "no-index", "body"}


def leaf_hash(body: bytes) -> str:
    return hashlib.sha256(b"\x00" + body).hexdigest()


def b64_to_hex(s: str) -> str:
    return base64.b64decode(s).hex()


def from_api_reply(doc):
    """Returns the entry of a GET /api/v1/log/entries/UUID reply."""
    (uuid, entry), = doc.items()
    return {
        "body": base64.b64decode(entry["body"]),
        "integratedTime": entry["integratedTime"],
        "logID": entry["logID"],
        "verification": entry["verification"],
    }


def from_bundle(doc):
    """Returns the entry of a bundle's tlogEntries[0], in the API's form."""
    tle = doc["verificationMaterial"]["tlogEntries"][0]
    proof = tle["inclusionProof"]
    return {
        "body": base64.b64decode(tle["canonicalizedBody"]),
        "integratedTime": int(tle["integratedTime"]),
        "logID": b64_to_hex(tle["logId"]["keyId"]),
        "verification": {
            "inclusionProof": {
                "checkpoint": proof["checkpoint"]["envelope"],
                "hashes": [b64_to_hex(h) for h in proof["hashes"]],
                "logIndex": int(proof["logIndex"]),
                "rootHash": b64_to_hex(proof["rootHash"]),
                "treeSize": int(proof["treeSize"]),
            },
            "signedEntryTimestamp":
                tle["inclusionPromise"]["signedEntryTimestamp"],
        },
    }


# (shard number, shard index) -> fixture file and its converter.
PLACEMENT = {
    (1, 1): ("v1-api-entry-by-uuid-hashedrekord-barekey-2023.json",
             from_api_reply),
    (1, 3): ("v1-bundle-intoto-v002-ci-identity-shard2-2023.json",
             from_bundle),
    (1, 6): ("v1-bundle-hashedrekord-ci-identity-shard2-2024.json",
             from_bundle),
    (2, 0): ("v1-bundle-dsse-ci-identity-active-shard-2024.json",
             from_bundle),
    (2, 4): ("v1-bundle-hashedrekord-barekey-active-shard-2025.json",
             from_bundle),
}


class Log:
    """The shards and the faults, shared by the request threads."""

    def __init__(self, fixtures: Path, layout: str, filler: int,
                 short_uuids: bool):
        self.lock = threading.Lock()
        self.short_uuids = short_uuids
        self.fixtures = {}
        if layout == "public":
            self.shards = [["3904496407287907110", 4],
                           ["2605736670972794746", 8],
                           ["1193050959916656506", 6 + filler]]
            for key, (name, convert) in PLACEMENT.items():
                with open(fixtures / name) as f:
                    self.fixtures[key] = convert(json.load(f))
        else:
            self.shards = [["1193050959916656506", 6 + filler]]
        self.faults = []
        self.stats = {"retrieve": 0, "log": 0, "max_indexes": 0}

    def tip(self):
        return sum(size for _, size in self.shards)

    def locate(self, index):
        """Returns (shard number, shard index), or None past the tip."""
        offset = 0
        for n, (_, size) in enumerate(self.shards):
            if index < offset + size:
                return n, index - offset
            offset += size
        return None

    def entry(self, index):
        """Returns (uuid, entry) for a global index, or None."""
        where = self.locate(index)
        if where is None:
            return None
        shard, local = where
        tree_id, size = self.shards[shard]
        fixture = self.fixtures.get(where)
        if fixture is None:
            fixture = self.filler(tree_id, local, index)
        entry = dict(fixture)
        entry["verification"] = json.loads(json.dumps(fixture["verification"]))
        entry["verification"]["inclusionProof"]["logIndex"] = local
        body = entry.pop("body")
        prefix = "" if self.short_uuids else "%016x" % int(tree_id)
        uuid = prefix + leaf_hash(body)
        entry["body"] = base64.b64encode(body).decode()
        entry["logIndex"] = index
        return uuid, {k: entry[k] for k in sorted(entry)}

    @staticmethod
    def filler(tree_id, local, index):
        digest = hashlib.sha256(b"filler %s %d" % (tree_id.encode(),
                                                   local)).hexdigest()
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest}},
                "signature": {
                    "content": base64.b64encode(
                        b"filler signature %d" % index).decode(),
                    "publicKey": {"content": base64.b64encode(
                        b"filler key").decode()},
                },
            },
        }
        return {
            "body": json.dumps(body, separators=(",", ":")).encode(),
            "integratedTime": 1700000000 + index,
            "logID": LOG_ID,
            "verification": {
                "inclusionProof": {
                    "checkpoint": "",
                    "hashes": [],
                    "logIndex": local,
                    "rootHash": digest,
                    "treeSize": 0,
                },
                "signedEntryTimestamp": base64.b64encode(
                    b"filler timestamp").decode(),
            },
        }

    def item_fault(self, kind, index):
        """Returns the fault of that kind at index and uses it up once."""
        for f in self.faults:
            if f["kind"] != kind or f.get("index") != index:
                continue
            if f["count"] == 0:
                continue
            if f["count"] > 0:
                f["count"] -= 1
            return f
        return None

    def served_item(self, index):
        """Returns the item for index with the item faults applied."""
        found = self.entry(index)
        if found is None:
            return None
        uuid, entry = found
        if self.item_fault("bad-base64", index):
            entry["body"] = "!!not base64!!"
        if self.item_fault("not-json", index):
            raw = b"this body is not JSON"
            entry["body"] = base64.b64encode(raw).decode()
            uuid = uuid[:-64] + leaf_hash(raw)
        f = self.item_fault("body", index)
        if f:
            raw = base64.urlsafe_b64decode(f["b64"])
            # pad=N inserts N copies of the third-to-last byte before the
            # last two ('{"p":"a"}' grows inside its string), for bodies
            # too large for a URL.
            pad = int(f.get("pad", "0"))
            if pad > 0:
                raw = raw[:-2] + raw[-3:-2] * pad + raw[-2:]
            entry["body"] = base64.b64encode(raw).decode()
            uuid = uuid[:-64] + leaf_hash(raw)
        if self.item_fault("wrong-index", index):
            entry["logIndex"] = index + 1
        if self.item_fault("wrong-shard", index):
            uuid = "%016x" % int(self.shards[0][0]) + uuid[-64:]
            if self.locate(index)[0] == 0:
                uuid = "%016x" % int(self.shards[-1][0]) + uuid[-64:]
        if self.item_fault("wrong-leaf", index):
            uuid = uuid[:-64] + leaf_hash(b"another body")
        if self.item_fault("proof-index", index):
            entry["verification"]["inclusionProof"]["logIndex"] += 1
        if self.item_fault("no-index", index):
            del entry["logIndex"]
        return {uuid: entry}

    def take_fault(self, endpoint):
        """Returns the next reply-level fault for endpoint, or None."""
        with self.lock:
            for f in self.faults:
                if f["kind"] in ITEM_FAULTS or f["on"] != endpoint:
                    continue
                if f["count"] <= 0:
                    continue
                f["count"] -= 1
                return dict(f)
        return None

    def log_info(self):
        def tree(tree_id, size):
            return {
                "rootHash": hashlib.sha256(b"%s %d" % (
                    tree_id.encode(), size)).hexdigest(),
                "signedTreeHead": "fake.rekor - %s\n%d\n\n" % (tree_id, size),
                "treeID": tree_id,
                "treeSize": size,
            }
        with self.lock:
            doc = tree(*self.shards[-1])
            if len(self.shards) > 1:
                doc["inactiveShards"] = [tree(*s) for s in self.shards[:-1]]
        return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-rekor"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to each reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-rekor: " + fmt % args + "\n")

    def reply(self, status, doc=None, raw=None, ctype="application/json",
              headers=None, truncate=False):
        data = raw if raw is not None else json.dumps(doc).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if truncate:
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def error(self, status, message):
        self.reply(status, {"code": status, "message": message})

    def apply_fault(self, endpoint):
        """Serves a reply-level fault.  Returns (handled, truncate)."""
        f = self.server.log.take_fault(endpoint)
        if f is None:
            return False, False

        kind = f["kind"]
        if kind == "slow":
            time.sleep(float(f.get("seconds", 2)))
            return False, False
        if kind == "truncate":
            return False, True
        if kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True, False

        headers = {}
        if "retry_after" in f:
            headers["Retry-After"] = f["retry_after"]
        page = b"<html><head><title>Too Many Requests</title></head>" \
            b"<body><h1>Too Many Requests</h1></body></html>\n"

        if kind == "status":
            code = int(f.get("code", 500))
            self.reply(code, {"code": code, "message": "injected fault"},
                       headers=headers)
        elif kind == "html":
            self.reply(int(f.get("code", 429)), raw=page, ctype="text/html",
                       headers=headers)
        elif kind == "garbage":
            self.reply(200, raw=page, ctype="text/html")
        elif kind == "object":
            self.reply(200, {"code": 200, "message": "not what you expect"})
        elif kind == "numeric-tree-id":
            doc = self.server.log.log_info()
            doc["treeID"] = int(doc["treeID"])
            raw = json.dumps(doc).encode()
            self.reply(200, raw=raw)
        return True, False

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        log = self.server.log
        if url.path == "/__control/stats":
            with log.lock:
                self.reply(200, dict(log.stats, tip=log.tip()))
            return
        if url.path == "/api/v1/log":
            with log.lock:
                log.stats["log"] += 1
            handled, truncate = self.apply_fault("log")
            if not handled:
                self.reply(200, log.log_info(), truncate=truncate)
            return
        if url.path == "/api/v1/log/entries" and "logIndex" in query:
            try:
                index = int(query["logIndex"][0])
            except ValueError:
                self.error(400, "logIndex is not a number")
                return
            with log.lock:
                item = log.served_item(index) if index >= 0 else None
            if item is None:
                self.error(404, "entry not found")
            else:
                self.reply(200, item)
            return
        if url.path.startswith("/api/v1/log/entries/"):
            uuid = url.path.rsplit("/", 1)[1]
            with log.lock:
                for index in range(log.tip()):
                    item = log.served_item(index)
                    if uuid in item or uuid == next(iter(item))[-64:]:
                        self.reply(200, item)
                        return
            self.error(404, "entry not found")
            return
        self.error(404, "path %s was not found" % url.path)

    def do_POST(self):
        url = urlsplit(self.path)
        body = self.read_body()
        if url.path.startswith("/__control/"):
            self.control(url.path[len("/__control/"):], parse_qs(url.query))
            return
        if url.path != "/api/v1/log/entries/retrieve":
            self.error(404, "path %s was not found" % url.path)
            return
        log = self.server.log

        try:
            indexes = json.loads(body)["logIndexes"]
            if not all(isinstance(i, int) for i in indexes):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            self.error(400, "invalid request body")
            return
        with log.lock:
            log.stats["retrieve"] += 1
            log.stats["max_indexes"] = max(log.stats["max_indexes"],
                                           len(indexes))
        if len(indexes) > RETRIEVE_MAX:
            # The reply of Rekor's OpenAPI validator for maxItems.
            self.reply(422, {"code": 610, "message":
                             "logIndexes in body should have at most 10 "
                             "items"})
            return

        handled, truncate = self.apply_fault("retrieve")
        if handled:
            return

        items = []
        with log.lock:
            for index in indexes:
                if index < 0 or log.item_fault("missing", index):
                    continue
                item = log.served_item(index)
                if item is not None:
                    items.append(item)
                    if log.item_fault("duplicate", index):
                        items.append(item)
                if log.item_fault("extra", index):
                    extra = log.served_item(index + 10)
                    if extra is not None:
                        items.append(extra)
        self.reply(200, items, truncate=truncate)

    def control(self, name, query):
        log = self.server.log
        args = {k: v[0] for k, v in query.items()}
        with log.lock:
            if name == "grow":
                log.shards[-1][1] += int(args.get("n", 1))
            elif name == "rotate":
                log.shards.append([args.get("tree", "5555555555555555555"),
                                   int(args.get("n", 0))])
            elif name == "clear":
                log.faults = []
            elif name == "fault" and args.get("kind") in FAULTS:
                fault = dict(args)
                default = -1 if args["kind"] in ITEM_FAULTS else 1
                fault["count"] = int(args.get("count", default))
                fault["on"] = args.get("on", "retrieve")
                if "index" in args:
                    fault["index"] = int(args["index"])
                log.faults.append(fault)
            else:
                self.error(400, "unknown control '%s'" % name)
                return
            tip = log.tip()
        self.reply(200, {"tip": tip})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fixtures", type=Path,
                   default=Path(__file__).resolve().parent.parent /
                   "fixtures" / "rekor")
    p.add_argument("--layout", choices=["public", "single"],
                   default="public",
                   help="three shards with the fixtures, or one shard of "
                   "filler entries")
    p.add_argument("--filler", type=int, default=0,
                   help="extra filler entries in the active shard")
    p.add_argument("--short-uuids", action="store_true",
                   help="serve 64-hex UUIDs without the tree id")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.log = Log(a.fixtures, a.layout, a.filler, a.short_uuids)
    server.verbose = a.verbose
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
