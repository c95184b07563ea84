#!/usr/bin/env python3
"""Strict fake of the PagerDuty Events API v2 on 127.0.0.1.

POST /v2/enqueue with a JSON event.  Facts from PagerDuty's Events API v2
documentation (developer-docs, events-API-v2 Overview and Trigger Events):
  - routing_key: required string, the 32-character integration key;
  - event_action: required, one of trigger, acknowledge, resolve;
  - dedup_key: optional string of at most 255 characters;
  - for trigger: payload.summary (required, at most 1024 characters),
    payload.source (required), payload.severity (required: critical,
    error, warning or info), optional payload.timestamp (ISO 8601),
    component, group, class (strings) and custom_details (object);
  - payloads are limited to 512 KB;
  - 202 means accepted, 400 an invalid event (not to be retried), 429
    too many events and 5xx server errors (both to be retried).
An accepted event is answered with {"status": "success", "message":
"Event processed", "dedup_key": ...}; an invalid one with {"status":
"invalid event", "message": "Event object is invalid", "errors": [...]}.
"""

import json
import re

import fakelib

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?"
                     r"(Z|[+-]\d{2}:?\d{2})$")
MAX_BODY = 512 * 1024


def check_event(ev, want_key):
    errs = []
    key = ev.get("routing_key")
    if not isinstance(key, str) or key == "":
        errs.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errs.append("Length of 'routing_key' is incorrect (should be 32 "
                    "characters)")
    elif want_key and key != want_key:
        errs.append("Invalid routing key")
    action = ev.get("event_action")
    if action not in ACTIONS:
        errs.append("'event_action' is missing or invalid")
    dedup = ev.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or
                              len(dedup) > 255):
        errs.append("'dedup_key' must be a string of at most 255 "
                    "characters")
    if action != "trigger":
        return errs
    p = ev.get("payload")
    if not isinstance(p, dict):
        errs.append("'payload' is missing or not an object")
        return errs
    s = p.get("summary")
    if not isinstance(s, str) or s == "":
        errs.append("'payload.summary' is missing or blank")
    elif len(s) > 1024:
        errs.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(p.get("source"), str) or p.get("source") == "":
        errs.append("'payload.source' is missing or blank")
    if p.get("severity") not in SEVERITIES:
        errs.append("'payload.severity' is invalid (must be one of "
                    "critical, error, warning or info)")
    ts = p.get("timestamp")
    if ts is not None and (not isinstance(ts, str) or
                           not ISO8601.match(ts)):
        errs.append("'payload.timestamp' is not an ISO 8601 timestamp")
    for k in ("component", "group", "class"):
        if k in p and not isinstance(p[k], str):
            errs.append("'payload.%s' must be a string" % k)
    if "custom_details" in p and not isinstance(p["custom_details"], dict):
        errs.append("'payload.custom_details' must be an object")
    return errs


class Handler(fakelib.FakeHandler):
    def invalid(self, errs):
        self.reply(400, {"status": "invalid event",
                         "message": "Event object is invalid",
                         "errors": errs})

    def validate(self, body, fault):
        if self.path != "/v2/enqueue":
            self.reply(404, {"status": "not found"})
            return
        if self.command != "POST":
            self.reply(405, {"status": "method not allowed"})
            return
        if len(body) > MAX_BODY:
            self.reply(413, {"status": "request entity too large"})
            return
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            self.invalid(["Content-Type must be application/json"])
            return
        try:
            ev = json.loads(body)
        except ValueError:
            self.reply(400, {"status": "invalid event",
                             "message": "Event object is invalid",
                             "errors": ["Invalid JSON"]})
            return
        if not isinstance(ev, dict):
            self.invalid(["Event must be a JSON object"])
            return
        errs = check_event(ev, self.server.args.routing_key)
        if errs:
            self.invalid(errs)
            return
        self.server.keep(ev)
        self.reply(202, {"status": "success", "message": "Event processed",
                         "dedup_key": ev.get("dedup_key", "generated")})


def extra(p):
    p.add_argument("--routing-key", help="the only routing key accepted")


if __name__ == "__main__":
    fakelib.main("fake-pagerduty", Handler, extra)
