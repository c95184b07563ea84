#!/usr/bin/env python3
"""Writes alert records as rekor-policy would, with marks as rekor-tail
would: gen-alerts.py [--from N] [--count N] [--mark-every N] [--policy P]

Entry N of the range becomes one alert; a mark {"control":"mark",...,
"next":N+1} follows every --mark-every alerts and the last one.  The
alertID is computed as common/record.c does.
"""

import argparse
import hashlib
import json
import sys

LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
SERVER = "https://rekor.example.test"


def alert_id(log_id, index, policy):
    text = "rekor-sidekick alert v1\n%s\n%d\n%s" % (log_id, index, policy)
    return hashlib.sha256(text.encode()).hexdigest()


def alert(index, policy, pad):
    uuid = "%016x" % 1193381656612011 + hashlib.sha256(
        str(index).encode()).hexdigest()
    t = 1700000000 + index
    rec = {
        "uuid": uuid, "logIndex": index, "treeID": "1193381656612011",
        "treeIndex": index, "logID": LOG_ID, "integratedTime": t,
        "time": None, "kind": "hashedrekord", "apiVersion": "0.0.1",
        "body": {"kind": "hashedrekord", "apiVersion": "0.0.1",
                 "spec": {"data": {"hash": {"algorithm": "sha256",
                          "value": hashlib.sha256(
                              b"%d" % index).hexdigest()}},
                          "signature": {"content": "x" * pad}}},
        "url": "%s/api/v1/log/entries/%s" % (SERVER, uuid),
        "verification": {},
        "policy": {"name": policy, "description": "test policy " + policy},
        "alertID": alert_id(LOG_ID, index, policy),
    }
    import time as _t
    rec["time"] = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(t))
    return rec


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="start", type=int, default=0)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--mark-every", type=int, default=5)
    p.add_argument("--policy", default="test-policy")
    p.add_argument("--pad", type=int, default=16,
                   help="bytes of filler per alert")
    a = p.parse_args()
    out = sys.stdout
    out.write(json.dumps({"control": "mark", "log": "1193381656612011",
                          "server": SERVER, "next": a.start}) + "\n")
    for i in range(a.start, a.start + a.count):
        out.write(json.dumps(alert(i, a.policy, a.pad),
                             separators=(",", ":")) + "\n")
        done = i - a.start + 1
        if done % a.mark_every == 0 or done == a.count:
            out.write(json.dumps({"control": "mark",
                                  "log": "1193381656612011",
                                  "server": SERVER, "next": i + 1}) + "\n")


if __name__ == "__main__":
    main()
