#!/usr/bin/env python3
"""Writes alert records, as rekor-policy emits them, for the output tests
and benchmarks.

The entries are real Rekor v1 entries taken from the bundles in
tests/fixtures/rekor/ (hashedrekord with a Fulcio certificate, dsse with a
certificate, hashedrekord with a bare key).  With --count N, entry number
i is fixture i mod 3 with its logIndex moved to START + i, so that every
alert has its own alertID; the other fields stay as the log served them.

    gen-real-alerts.py [--count N] [--start INDEX] [--policy NAME]
                      [--description TEXT] [--mark-every K] [--final-mark]

--mark-every K writes a mark record after every K alerts, --final-mark
one after the last, as rekor-tail does after each batch.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "fixtures", "rekor")
SERVER = "https://rekor.sigstore.dev"
# The Rekor v1 log identity: the tree id of its oldest shard.
LOG = "3904496407287907110"
BUNDLES = [
    ("v1-bundle-hashedrekord-ci-identity-shard2-2024.json",
     "2605736670972794746"),
    ("v1-bundle-dsse-ci-identity-active-shard-2024.json",
     "1193050959916656506"),
    ("v1-bundle-hashedrekord-barekey-active-shard-2025.json",
     "1193050959916656506"),
]


def entry_from_bundle(name, tree_id):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        bundle = json.load(f)
    tle = bundle["verificationMaterial"]["tlogEntries"][0]
    raw = base64.b64decode(tle["canonicalizedBody"])
    leaf = hashlib.sha256(b"\x00" + raw).hexdigest()
    tree_hex = "%016x" % int(tree_id)
    uuid = tree_hex + leaf
    integrated = int(tle["integratedTime"])
    proof = tle["inclusionProof"]
    return {
        "uuid": uuid,
        "logIndex": int(tle["logIndex"]),
        "treeID": tree_id,
        "treeIndex": int(proof["logIndex"]),
        "logID": base64.b64decode(tle["logId"]["keyId"]).hex(),
        "integratedTime": integrated,
        "time": datetime.fromtimestamp(integrated, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "kind": tle["kindVersion"]["kind"],
        "apiVersion": tle["kindVersion"]["version"],
        "body": json.loads(raw),
        "url": "%s/api/v1/log/entries/%s" % (SERVER, uuid),
        "verification": {
            "signedEntryTimestamp":
                tle["inclusionPromise"]["signedEntryTimestamp"],
        },
    }


def alert_id(log_id, index, policy):
    text = "rekor-sidekick alert v1\n%s\n%d\n%s" % (log_id, index, policy)
    return hashlib.sha256(text.encode()).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--start", type=int, default=None,
                   help="logIndex of the first alert (default: as served)")
    p.add_argument("--policy", default="unexpected-signer")
    p.add_argument("--description",
                   default="an identity outside the allow list signed")
    p.add_argument("--mark-every", type=int, default=0)
    p.add_argument("--final-mark", action="store_true")
    args = p.parse_args()

    entries = [entry_from_bundle(n, t) for n, t in BUNDLES]
    out = sys.stdout
    index = None
    for i in range(args.count):
        rec = dict(entries[i % len(entries)])
        if args.start is not None:
            rec["logIndex"] = args.start + i
        index = rec["logIndex"]
        rec["policy"] = {"name": args.policy,
                         "description": args.description}
        rec["alertID"] = alert_id(rec["logID"], index, args.policy)
        out.write(json.dumps(rec, separators=(",", ":")) + "\n")
        if args.mark_every and (i + 1) % args.mark_every == 0:
            out.write(json.dumps({"control": "mark", "log": LOG,
                                  "server": SERVER, "next": index + 1},
                                 separators=(",", ":")) + "\n")
    if args.final_mark and index is not None:
        out.write(json.dumps({"control": "mark", "log": LOG,
                              "server": SERVER, "next": index + 1},
                             separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
