#!/usr/bin/env python3
"""Stands in for rekor-tail | rekor-policy in output tests: writes one
alert per index of [0, --total) with marks, resuming like rekor-tail
--ack-state does.

sim-tail.py --total N --ack-state F [--ack-state F ...] [--batch B]
            [--pause SECONDS]

Before writing anything it creates every missing ack state file with the
start position, then starts at the lowest "next" among them, writes a mark
for it, and a mark after every batch.  --pause sleeps between batches, so
that a test can kill stages at varied moments.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "gen", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "gen-alerts.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

LOG = "1193381656612011"


def read_next(path):
    with open(path) as f:
        return json.load(f)["next"]


def write_state(path, nxt):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"version": 1, "log": LOG, "server": gen.SERVER,
                   "next": nxt}, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--ack-state", action="append", default=[])
    p.add_argument("--batch", type=int, default=7)
    p.add_argument("--pause", type=float, default=0.0)
    a = p.parse_args()
    for path in a.ack_state:
        if not os.path.exists(path):
            write_state(path, 0)
    start = min([read_next(f) for f in a.ack_state] or [0])

    def mark(n):
        sys.stdout.write(json.dumps({"control": "mark", "log": LOG,
                                     "server": gen.SERVER, "next": n}) + "\n")
        sys.stdout.flush()

    mark(start)
    i = start
    while i < a.total:
        end = min(i + a.batch, a.total)
        for k in range(i, end):
            sys.stdout.write(json.dumps(gen.alert(k, "crash-test", 64),
                                        separators=(",", ":")) + "\n")
        mark(end)
        i = end
        if a.pause:
            time.sleep(a.pause)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(0)
