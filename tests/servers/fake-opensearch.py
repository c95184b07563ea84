#!/usr/bin/env python3
"""Strict fake of the OpenSearch Bulk API on 127.0.0.1.

POST /_bulk (or /<index>/_bulk) with an NDJSON body.  Facts from the
OpenSearch documentation (api-reference/document-apis/bulk, 2.x and 3.0):
  - the body is newline-delimited JSON: an action line ("index",
    "create", "update" or "delete" with metadata such as _index and _id),
    then for index, create and update the source on the next line; the
    last line must end with a newline;
  - Content-Type application/x-ndjson;
  - "create" fails for a document whose _id exists: the item gets status
    409 with error type version_conflict_engine_exception;
  - since 2.9 an _id is at most 512 bytes;
  - the reply is HTTP 200 {"took": ..., "errors": <any item failed>,
    "items": [{"<action>": {"_index", "_id", "status", "error"?...}}]},
    one item per action in request order; a body that cannot be parsed
    gets HTTP 400 with an "error" object.
Index names (OpenSearch index naming rules): lowercase, none of
\\ / * ? " < > | space , # :, not starting with _ - +, at most 255 bytes.
With --username and --password, requests need that HTTP basic auth.

Extra fault: {"item_faults": [null, {"status": 429, "type": ...,
"reason": ...}, ...]} fails the items at those positions of the next bulk
request (null leaves an item alone).
"""

import base64
import json
import re

import fakelib

ACTIONS = ("index", "create", "update", "delete")
BAD_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z\x00-\x1f]')


def index_error(name):
    if not isinstance(name, str) or name == "":
        return "index name is missing"
    if len(name.encode()) > 255 or name in (".", "..") or \
            name[0] in "_-+" or BAD_INDEX.search(name):
        return "Invalid index name [%s]" % name
    return None


def error_body(status, etype, reason):
    return {"error": {"root_cause": [{"type": etype, "reason": reason}],
                      "type": etype, "reason": reason}, "status": status}


class Handler(fakelib.FakeHandler):
    def authorised(self):
        args = self.server.args
        if not args.username:
            return True
        want = base64.b64encode(("%s:%s" % (args.username,
                                            args.password)).encode())
        got = self.headers.get("Authorization", "")
        if got == "Basic " + want.decode():
            return True
        self.reply(401, error_body(401, "security_exception",
                                   "authentication required"),
                   {"WWW-Authenticate": 'Basic realm="fake"'})
        return False

    def validate(self, body, fault):
        m = re.match(r"^/(?:([^/_][^/]*)/)?_bulk(?:\?.*)?$", self.path)
        if not m:
            self.reply(404, error_body(404, "no_handler_found",
                                       "no handler for " + self.path))
            return
        if self.command not in ("POST", "PUT"):
            self.reply(405, error_body(405, "method_not_allowed",
                                       "POST expected"))
            return
        if not self.authorised():
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/x-ndjson":
            self.reply(406, {"error": "Content-Type header [%s] is not "
                             "supported" % ctype, "status": 406})
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self.reply(400, error_body(400, "parse_exception",
                                       "body is not UTF-8"))
            return
        if not text.endswith("\n"):
            self.reply(400, error_body(
                400, "illegal_argument_exception",
                "The bulk request must be terminated by a newline [\\n]"))
            return
        lines = text[:-1].split("\n")
        ops = []
        i = 0
        while i < len(lines):
            try:
                action = json.loads(lines[i])
            except ValueError:
                self.reply(400, error_body(
                    400, "x_content_parse_exception",
                    "Malformed action/metadata line [%d]" % (i + 1)))
                return
            if not isinstance(action, dict) or len(action) != 1 or \
                    next(iter(action)) not in ACTIONS:
                self.reply(400, error_body(
                    400, "illegal_argument_exception",
                    "Malformed action/metadata line [%d], expected one of "
                    "index, create, update, delete" % (i + 1)))
                return
            name, meta = next(iter(action.items()))
            src = None
            if name != "delete":
                if i + 1 >= len(lines):
                    self.reply(400, error_body(
                        400, "action_request_validation_exception",
                        "Validation Failed: 1: no requests added;"))
                    return
                try:
                    src = json.loads(lines[i + 1])
                except ValueError:
                    src = ValueError
                i += 1
            i += 1
            ops.append((name, meta or {}, src, m.group(1)))
        if not ops:
            self.reply(400, error_body(
                400, "action_request_validation_exception",
                "Validation Failed: 1: no requests added;"))
            return
        self.respond(ops, fault.get("item_faults") or [])

    def respond(self, ops, item_faults):
        items = []
        errors = False
        store = self.server.docs
        for n, (name, meta, src, path_index) in enumerate(ops):
            index = meta.get("_index", path_index)
            doc_id = meta.get("_id")
            res = {"_index": index, "_id": doc_id}
            injected = item_faults[n] if n < len(item_faults) else None
            err = None
            if injected:
                err = (injected.get("status", 500),
                       injected.get("type", "injected_fault"),
                       injected.get("reason", "injected item fault"))
            elif index_error(index):
                err = (400, "invalid_index_name_exception",
                       index_error(index))
            elif name != "create":
                err = (400, "illegal_argument_exception",
                       "this fake accepts only the create action")
            elif not isinstance(doc_id, str) or doc_id == "" or \
                    len(doc_id.encode()) > 512:
                err = (400, "action_request_validation_exception",
                       "Validation Failed: 1: id must be a string of at "
                       "most 512 bytes;")
            elif src is ValueError or not isinstance(src, dict):
                err = (400, "mapper_parsing_exception",
                       "failed to parse: document is not a JSON object")
            else:
                with self.server.lock:
                    exists = (index, doc_id) in store
                    if not exists:
                        store[(index, doc_id)] = src
                if exists:
                    err = (409, "version_conflict_engine_exception",
                           "[%s]: version conflict, document already "
                           "exists (current version [1])" % doc_id)
                else:
                    self.server.keep({"_index": index, "_id": doc_id,
                                      "doc": src})
                    res.update({"_version": 1, "result": "created",
                                "status": 201})
            if err:
                errors = True
                res["status"] = err[0]
                res["error"] = {"type": err[1], "reason": err[2],
                                "index": index}
            items.append({name: res})
        self.reply(200, {"took": 1, "errors": errors, "items": items})


def extra(p):
    p.add_argument("--username")
    p.add_argument("--password")


class Server(fakelib.FakeServer):
    pass


if __name__ == "__main__":
    orig = fakelib.FakeServer.__init__

    def init(self, handler, args):
        orig(self, handler, args)
        self.docs = {}
    fakelib.FakeServer.__init__ = init
    fakelib.main("fake-opensearch", Handler, extra)
