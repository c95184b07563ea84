#!/usr/bin/env python3
"""Strict fake CloudEvents 1.0 HTTP receiver on 127.0.0.1.

Accepts POST on any path (the HTTP binding does not constrain the target)
and replies 202 to a valid event, 400 otherwise.  See fakelib.py for the
record file and fault injection.
"""

import json
import re
import urllib.parse

import fakelib

# CloudEvents 1.0 core: "time" is an RFC 3339 timestamp.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?"
                     r"(Z|[+-]\d{2}:\d{2})$")
# HTTP binding 1.0.2, 3.1.3.2: in binary mode a header value carries
# space, '"', '%' and any character outside printable ASCII
# percent-encoded (UTF-8 bytes), so a raw one is invalid.
RAW_FORBIDDEN = re.compile(r'[\x00-\x20"\x7f-\uffff]')


class Handler(fakelib.FakeHandler):
    def bad(self, why):
        self.reply(400, {"error": why})

    def check_attrs(self, ev):
        """Checks the context attributes of one event; returns an error."""
        # Core spec: id, source, specversion and type are required,
        # non-empty strings; specversion is "1.0" for this version.
        for key in ("id", "source", "specversion", "type"):
            if not isinstance(ev.get(key), str) or ev[key] == "":
                return "missing or empty required attribute '%s'" % key
        if ev["specversion"] != "1.0":
            return "unsupported specversion '%s'" % ev["specversion"]
        if "time" in ev and not RFC3339.match(ev["time"]):
            return "time '%s' is not RFC 3339" % ev["time"]
        # source is a URI-reference: no spaces or control characters.
        if re.search(r"[\x00-\x20]", ev["source"]):
            return "source is not a URI-reference"
        return None

    def validate(self, body, fault):
        ctype = self.headers.get("Content-Type", "")
        media = ctype.split(";")[0].strip().lower()
        if self.command != "POST":
            self.reply(405, {"error": "POST expected"})
            return
        if media == "application/cloudevents-batch+json":
            self.bad("batched mode is not accepted here")
            return
        if media.startswith("application/cloudevents"):
            self.structured(media, body)
        else:
            self.binary(media, ctype, body)

    def structured(self, media, body):
        # Structured mode (3.2): the whole event in the body, in the JSON
        # event format, media type application/cloudevents+json.
        if media != "application/cloudevents+json":
            self.bad("unknown event format '%s'" % media)
            return
        try:
            ev = json.loads(body)
        except ValueError:
            self.bad("body is not JSON")
            return
        if not isinstance(ev, dict):
            self.bad("event is not a JSON object")
            return
        err = self.check_attrs(ev)
        if err is None and "data_base64" in ev and "data" in ev:
            err = "both data and data_base64"
        if err:
            self.bad(err)
            return
        rec = dict(ev)
        rec["mode"] = "structured"
        self.server.keep(rec)
        self.reply(202)

    def binary(self, media, ctype, body):
        # Binary mode (3.1): each attribute in a ce-<name> header, the
        # data as the body, datacontenttype as Content-Type.
        ev = {}
        for name, value in self.headers.items():
            lname = name.lower()
            if not lname.startswith("ce-"):
                continue
            if RAW_FORBIDDEN.search(value):
                self.bad("header %s is not percent-encoded" % name)
                return
            ev[lname[3:]] = urllib.parse.unquote(value, errors="strict")
        err = self.check_attrs(ev)
        if err:
            self.bad(err)
            return
        if not ctype:
            self.bad("Content-Type (datacontenttype) missing")
            return
        data = body
        if media == "application/json" or media.endswith("+json"):
            try:
                data = json.loads(body)
            except ValueError:
                self.bad("body is not the JSON its Content-Type says")
                return
        else:
            data = body.decode("utf-8", "replace")
        rec = dict(ev)
        rec["mode"] = "binary"
        rec["datacontenttype"] = ctype
        rec["data"] = data
        self.server.keep(rec)
        self.reply(202)


if __name__ == "__main__":
    fakelib.main("fake-cloudevents", Handler)
