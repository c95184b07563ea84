#!/bin/sh
# Throughput and memory of rekor-out-stdout: ALERTS alert records (default
# 100000), made from the alerts of tests/lib/sidekick_records.py with a
# mark every 1000, written once as JSON and once as text with a state
# file.  Run from the top of the tree after `make`.
set -eu
n=${ALERTS:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=bench" -addext "subjectAltName=email:me@example.com" \
    -days 2 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
python3 tests/lib/sidekick_records.py alerts tests/fixtures/rekor \
    --cert "$work/cert.pem" | grep '"alertID"' >"$work/six"
python3 - "$work/six" "$n" >"$work/in" <<'PY'
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
for i in range(n):
    a = dict(alerts[i % len(alerts)])
    a["logIndex"] = i
    print(json.dumps(a, separators=(",", ":")))
    if i % 1000 == 999:
        print(json.dumps({"control": "mark", "log": "1", "server": "x",
                          "next": i + 1}))
PY
for format in json text; do
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" \
	    build/bin/rekor-out-stdout -f "$format" -s "$work/state" \
	    <"$work/in" >/dev/null
	read -r wall user sys rss <"$work/time"
	echo "$format alerts=$n seconds=$wall user=$user sys=$sys peak_rss_kib=$rss"
	rm -f "$work/state"
done
