#!/usr/bin/env python3
"""Writes pipeline records built from the Rekor fixtures, for the tests of
rekor-out-stdout and rekor-sidekick.

    sidekick_records.py alerts FIXTURES [--cert PEM]
        a mark, one alert per fixture entry (and one for a hashedrekord
        entry signed with the certificate PEM), then a closing mark
    sidekick_records.py bundle PEM INDEX
        a Sigstore bundle (v0.3 layout) whose hashedrekord body carries
        the certificate PEM, as fake-rekor.py reads its fixtures

Records follow docs/design.md: entries with the decoded body, alerts with
"policy" and "alertID", control records with "control".
"""

import base64
import datetime
import hashlib
import json
import sys
from pathlib import Path

LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
SERVER = "http://127.0.0.1:1"
BUNDLES = [
    "v1-bundle-hashedrekord-ci-identity-shard2-2024.json",
    "v1-bundle-intoto-v002-ci-identity-shard2-2023.json",
    "v1-bundle-dsse-ci-identity-active-shard-2024.json",
    "v1-bundle-hashedrekord-barekey-active-shard-2025.json",
]
API_REPLY = "v1-api-entry-by-uuid-hashedrekord-barekey-2023.json"


def alert_id(log_id, index, policy):
    text = "rekor-sidekick alert v1\n%s\n%d\n%s" % (log_id, index, policy)
    return hashlib.sha256(text.encode()).hexdigest()


def entry(body_bytes, index, integrated, tree_id="1193050959916656506"):
    body = json.loads(body_bytes)
    leaf = hashlib.sha256(b"\x00" + body_bytes).hexdigest()
    uuid = "%016x" % int(tree_id) + leaf
    when = datetime.datetime.fromtimestamp(integrated, datetime.timezone.utc)
    return {
        "uuid": uuid,
        "logIndex": index,
        "treeID": tree_id,
        "treeIndex": index,
        "logID": LOG_ID,
        "integratedTime": integrated,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": body["kind"],
        "apiVersion": body["apiVersion"],
        "body": body,
        "url": "%s/api/v1/log/entries/%s" % (SERVER, uuid),
        "verification": {},
    }


def alert(e, policy="test-policy", description="a test policy"):
    a = dict(e)
    a["policy"] = {"name": policy, "description": description}
    a["alertID"] = alert_id(e["logID"], e["logIndex"], policy)
    return a


def mark(next_index):
    return {"control": "mark", "log": "1193050959916656506",
            "server": SERVER, "next": next_index}


def cert_body(pem):
    digest = hashlib.sha256(b"signed artifact").hexdigest()
    body = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest}},
            "signature": {
                "content": base64.b64encode(b"signature").decode(),
                "publicKey": {"content": base64.b64encode(pem).decode()},
            },
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def alerts(fixtures, cert):
    out = [mark(0)]
    index = 1
    with open(fixtures / API_REPLY) as f:
        (_, e), = json.load(f).items()
    out.append(alert(entry(base64.b64decode(e["body"]), index,
                           e["integratedTime"])))
    for name in BUNDLES:
        index += 1
        with open(fixtures / name) as f:
            tle = json.load(f)["verificationMaterial"]["tlogEntries"][0]
        out.append(alert(entry(base64.b64decode(tle["canonicalizedBody"]),
                               index, int(tle["integratedTime"]))))
    if cert is not None:
        index += 1
        out.append(alert(entry(cert_body(cert.read_bytes()), index,
                               1700000000)))
    out.append(mark(index + 1))
    for rec in out:
        print(json.dumps(rec, separators=(",", ":")))


def bundle(cert, index):
    body = cert_body(cert.read_bytes())
    doc = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"tlogEntries": [{
            "logIndex": str(index),
            "logId": {"keyId": base64.b64encode(
                bytes.fromhex(LOG_ID)).decode()},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": "1700000000",
            "inclusionPromise": {"signedEntryTimestamp": base64.b64encode(
                b"test timestamp").decode()},
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": base64.b64encode(hashlib.sha256(
                    body).digest()).decode(),
                "treeSize": str(index + 1),
                "hashes": [],
                "checkpoint": {"envelope": ""},
            },
            "canonicalizedBody": base64.b64encode(body).decode(),
        }]},
    }
    print(json.dumps(doc, indent=2))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "alerts":
        cert = None
        if len(sys.argv) == 5 and sys.argv[3] == "--cert":
            cert = Path(sys.argv[4])
        alerts(Path(sys.argv[2]), cert)
    elif len(sys.argv) == 4 and sys.argv[1] == "bundle":
        bundle(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
