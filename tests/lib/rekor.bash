# Helpers for tests that talk to the fake Rekor server
# (tests/servers/fake-rekor.py).  Load after test_helper, and call
# rekor_stop from teardown so that the server never outlives a test.

REKOR_FAKE="$BATS_TEST_DIRNAME/servers/fake-rekor.py"

# Starts the fake on a free port (or on REKOR_PORT when it is set, to
# bring a stopped server back) with the given options, and sets REKOR_PORT,
# REKOR_URL and REKOR_PID.
rekor_start() {
	REKOR_PORT=${REKOR_PORT:-$(free_port)}
	REKOR_URL="http://127.0.0.1:$REKOR_PORT"
	python3 "$REKOR_FAKE" --port "$REKOR_PORT" "$@" \
	    >>"$BATS_TEST_TMPDIR/fake-rekor.log" 2>&1 3>&- &
	REKOR_PID=$!
	export REKOR_PORT REKOR_URL REKOR_PID
	wait_for_port "$REKOR_PORT" 10
}

# Stops the fake if it runs.  Safe to call twice.
rekor_stop() {
	if [ -n "${REKOR_PID:-}" ]; then
		kill "$REKOR_PID" 2>/dev/null || true
		wait "$REKOR_PID" 2>/dev/null || true
		REKOR_PID=
	fi
}

# Sends one control request: rekor_control 'fault?kind=html&count=2'.
rekor_control() {
	curl -fsS -X POST "$REKOR_URL/__control/$1" >/dev/null
}

# Prints one counter of the fake: rekor_stat max_indexes.
rekor_stat() {
	curl -fsS "$REKOR_URL/__control/stats" | jq -r ".$1"
}

# Runs "$@" every 0.1 s until it succeeds, for at most $1 seconds.
# Fails when the time runs out.
wait_until() {
	local limit=$1 i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ "$i" -lt $((limit * 10)) ] || return 1
		sleep 0.1
	done
}

has_record() {
	jq -c "select($2)" "$1" 2>/dev/null | grep -q .
}

# Waits until file $1 has a record that matches jq filter $2, for at most
# $3 seconds (default 10).
wait_for_record() {
	wait_until "${3:-10}" has_record "$1" "$2" ||
	    { echo "no record matching '$2' in $1" >&2; return 1; }
}

# Waits until file $1 contains text $2, for at most $3 seconds.
wait_for_text() {
	wait_until "${3:-10}" grep -qsF -- "$2" "$1" ||
	    { echo "no '$2' in $1" >&2; return 1; }
}

# Writes the expected records of the fixture entries, derived from the
# fixture files alone: one JSON object per line with the global index at
# which the fake serves the entry, its UUID (the captured one for the API
# reply, else tree id in hex + SHA-256(0x00 || body)), the body text as
# served and the other fields of the entry record.
rekor_expected_fixtures() {
	python3 - "$FIXTURES/rekor" <<'EOF'
import base64, hashlib, json, sys
d = sys.argv[1]
# file, tree id of its shard, global index in the fake's layout
table = [
    ("v1-api-entry-by-uuid-hashedrekord-barekey-2023.json",
     "2605736670972794746", 5),
    ("v1-bundle-intoto-v002-ci-identity-shard2-2023.json",
     "2605736670972794746", 7),
    ("v1-bundle-hashedrekord-ci-identity-shard2-2024.json",
     "2605736670972794746", 10),
    ("v1-bundle-dsse-ci-identity-active-shard-2024.json",
     "1193050959916656506", 12),
    ("v1-bundle-hashedrekord-barekey-active-shard-2025.json",
     "1193050959916656506", 16),
]
for name, tree, index in table:
    doc = json.load(open(d + "/" + name))
    if "verificationMaterial" in doc:
        tle = doc["verificationMaterial"]["tlogEntries"][0]
        body = base64.b64decode(tle["canonicalizedBody"])
        uuid = "%016x" % int(tree) + \
            hashlib.sha256(b"\0" + body).hexdigest()
        itime = int(tle["integratedTime"])
        logid = base64.b64decode(tle["logId"]["keyId"]).hex()
    else:
        (uuid, e), = doc.items()
        body = base64.b64decode(e["body"])
        itime = e["integratedTime"]
        logid = e["logID"]
    parsed = json.loads(body)
    print(json.dumps({"logIndex": index, "uuid": uuid,
                      "treeID": tree, "body": body.decode(),
                      "kind": parsed["kind"],
                      "apiVersion": parsed["apiVersion"],
                      "integratedTime": itime, "logID": logid},
                     sort_keys=True))
EOF
}

# Reads rekor-tail output on stdin and prints, for each entry record at
# one of the indexes given as arguments, the same fields as
# rekor_expected_fixtures, with "body" as the exact text of the record's
# body value.
rekor_actual_fixtures() {
	python3 -c '
import json, sys
want = {int(a) for a in sys.argv[1:]}
dec = json.JSONDecoder()
def raw_members(line):
    """Yields (key, value text) of the top-level members of an object."""
    i = line.index("{") + 1
    while True:
        while line[i] in " ,": i += 1
        if line[i] == "}": return
        key, i = dec.raw_decode(line, i)
        while line[i] in " :": i += 1
        _, end = dec.raw_decode(line, i)
        yield key, line[i:end]
        i = end
for line in sys.stdin:
    rec = json.loads(line)
    if rec.get("logIndex") not in want or "control" in rec:
        continue
    raw = dict(raw_members(line))
    print(json.dumps({"logIndex": rec["logIndex"], "uuid": rec["uuid"],
                      "treeID": rec["treeID"], "body": raw["body"],
                      "kind": rec["kind"], "apiVersion": rec["apiVersion"],
                      "integratedTime": rec["integratedTime"],
                      "logID": rec["logID"]}, sort_keys=True))
' "$@"
}
