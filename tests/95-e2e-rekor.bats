#!/usr/bin/env bats
# End-to-end: the programs against a real Rekor v1 log (rekor-server,
# Trillian, MariaDB) that scripts/rekor-local.sh runs in a private network
# namespace, filled with entries signed by throwaway keys.  Without those
# services the file fails in setup_file and names `make deps`.

load test_helper
load lib/e2e

setup_file() {
	e2e_start
	e2e_fill_log
}

teardown() {
	e2e_kill_bg
}

teardown_file() {
	e2e_stop
}

# Number of entries in the log, as rekor-cli reports it.
tree_size() {
	rekor_cli loginfo --format json | jq -r .ActiveTreeSize
}

# Runs the command "$@" until it succeeds, for at most 60 seconds.
wait_until() {
	local i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -ge 600 ]; then
			echo "still failing after 60s: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Waits until file $1 holds an entry record with logIndex $2, for at most
# 60 seconds.
wait_for_index() {
	local i=0
	until jq -r --argjson n "$2" 'select(.logIndex == $n) | .uuid' "$1" \
	    2>/dev/null | grep -q .; do
		i=$((i + 1))
		if [ "$i" -ge 600 ]; then
			echo "index $2 not in '$1' after 60s" >&2
			return 1
		fi
		sleep 0.1
	done
}

@test "rekor-local: only loopback in the log's namespace" {
	run -0 --separate-stderr e2e_ns ip -o link show
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 1 ]
	[[ "$output" == *": lo: "* ]]
}

@test "rekor-local: no service listens outside the namespace" {
	run -0 --separate-stderr ss -Hltnp
	[[ "$output" != *rekor-server* ]]
	[[ "$output" != *trillian* ]]
	[[ "$output" != *mariadbd* ]]
}

@test "rekor-local: services bind 127.0.0.1 except the metrics port" {
	run -0 --separate-stderr e2e_ns ss -Hltn
	local addr
	for addr in $(printf '%s\n' "$output" | awk '{ print $4 }'); do
		[[ "$addr" == 127.0.0.1:* || "$addr" == "*:2112" ]] ||
		    { echo "unexpected listener '$addr'" >&2; false; }
	done
	[[ "$output" == *"127.0.0.1:3000 "* ]]
}

@test "rekor-local: status lists every service running" {
	run -0 --separate-stderr "$REKOR_LOCAL" status
	[ "$(grep -c ': running' <<<"$output")" -eq 5 ]
}

@test "rekor-local: a second start is a no-op" {
	local before after
	before=$(cat "$REKOR_LOCAL_DIR"/*.pid)
	run -0 --separate-stderr "$REKOR_LOCAL" start
	after=$(cat "$REKOR_LOCAL_DIR"/*.pid)
	[ "$before" = "$after" ]
}

@test "e2e: the log holds every uploaded entry" {
	run -0 --separate-stderr tree_size
	[ "$output" -eq "$(wc -l <"$E2E_DATA/entries.tsv")" ]
}

@test "e2e: the log holds entries of seven kinds" {
	local kind
	for kind in hashedrekord rekord intoto dsse rfc3161 helm cose; do
		cut -f2 "$E2E_DATA/entries.tsv" | grep -qx "$kind" ||
		    { echo "no '$kind' entry" >&2; false; }
	done
	run -0 --separate-stderr rekor_cli get \
	    --log-index "$(e2e_indexes cosign-attest)" --format json
	[ "$(jq -r '.Body | keys[0]' <<<"$output")" = DSSEObj ]
}

@test "cosign: sign-blob connects to the local log only" {
	command -v strace >/dev/null || { echo "strace not installed: run 'make deps'" >&2; false; }
	local art="$BATS_TEST_TMPDIR/strace.txt"
	make_artifact "$art"
	run -0 --separate-stderr e2e_ns strace -f -qq -e trace=connect \
	    -e signal=none \
	    -o "$BATS_TEST_TMPDIR/connect.log" cosign sign-blob --yes \
	    --key "$E2E_DATA/cosign.key" --tlog-upload=true \
	    --rekor-url "$REKOR_LOCAL_URL" "$art"
	local index
	index=$(sed -n 's/.*tlog entry created with index: *\([0-9]*\).*/\1/p' <<<"$stderr")
	[ -n "$index" ]
	record_entry cosign-strace hashedrekord "$index" "$art"
	grep -q 'inet_addr("127.0.0.1")' "$BATS_TEST_TMPDIR/connect.log"
	run -1 grep -v -e 'inet_addr("127.0.0.1")' -e 'sa_family=AF_UNIX' \
	    -e '^[0-9]* +++ ' -e 'resumed>' "$BATS_TEST_TMPDIR/connect.log"
	[ -z "$output" ]
}

@test "rekor-tail: --from 0 reproduces every uploaded entry" {
	local n out="$BATS_TEST_TMPDIR/all.ndjson"
	n=$(wc -l <"$E2E_DATA/entries.tsv")
	e2e_ns rekor-tail -q --server "$REKOR_LOCAL_URL" --from 0 --to "$n" \
	    >"$out" 2>"$BATS_TEST_TMPDIR/tail.err"
	[ ! -s "$BATS_TEST_TMPDIR/tail.err" ]
	[ "$(jq -c 'select(.logIndex != null)' "$out" | wc -l)" -eq "$n" ]
	[ "$(jq -c 'select(.control == "malformed")' "$out" | wc -l)" -eq 0 ]
	local label kind index uuid artifact rec raw api cli
	while IFS=$'\t' read -r label kind index uuid artifact; do
		rec=$(jq -c --argjson n "$index" 'select(.logIndex == $n)' "$out")
		[ "$(jq -r .uuid <<<"$rec")" = "$uuid" ] ||
		    { echo "$label: uuid differs" >&2; false; }
		[ "$(jq -r .kind <<<"$rec")" = "$kind" ] ||
		    { echo "$label: kind differs" >&2; false; }
		[ "$(jq -r .treeID <<<"$rec")" = "$REKOR_LOCAL_TREE_ID" ] ||
		    { echo "$label: treeID differs" >&2; false; }
		[ "$(jq -r .url <<<"$rec")" = "$REKOR_LOCAL_URL/api/v1/log/entries/$uuid" ] ||
		    { echo "$label: url differs" >&2; false; }
		# The body as the API serves it, decoded; its RFC 6962 leaf hash
		# is the UUID after the 16 hex digits of the tree id.
		raw=$(e2e_ns curl -fsS "$REKOR_LOCAL_URL/api/v1/log/entries/$uuid" |
		    jq -r '.[].body')
		api=$(base64 -d <<<"$raw" | jq -S -c .)
		[ "$(jq -S -c .body <<<"$rec")" = "$api" ] ||
		    { echo "$label: body differs from the API" >&2; false; }
		[ "$({ printf '\0'; base64 -d <<<"$raw"; } | sha256sum | cut -d' ' -f1)" = \
		    "${uuid:16}" ] || { echo "$label: leaf hash differs" >&2; false; }
		# The spec as rekor-cli get decodes it.
		cli=$(rekor_cli get --uuid "$uuid" --format json |
		    jq -S -c '.Body | to_entries[0].value')
		[ "$(jq -S -c .body.spec <<<"$rec")" = "$cli" ] ||
		    { echo "$label: spec differs from rekor-cli get" >&2; false; }
		check_artifact "$label" "$kind" "$artifact" "$rec"
	done <"$E2E_DATA/entries.tsv"
}

# Checks that entry record $4 describes artifact $3 that was signed.
check_artifact() {
	local label=$1 kind=$2 art=$3 rec=$4 want got
	case $kind in
	hashedrekord | rekord)
		want=$(sha256sum "$art" | cut -d' ' -f1)
		got=$(jq -r .body.spec.data.hash.value <<<"$rec")
		;;
	rfc3161)
		want=$(base64 -w0 "$art")
		got=$(jq -r .body.spec.tsr.content <<<"$rec")
		;;
	dsse)
		want=$(jq -r .payload "$art" | base64 -d | sha256sum | cut -d' ' -f1)
		got=$(jq -r .body.spec.payloadHash.value <<<"$rec")
		;;
	intoto)
		want=$(jq -r .payload "$art" | base64 -d | sha256sum | cut -d' ' -f1)
		got=$(jq -r .body.spec.content.payloadHash.value <<<"$rec")
		;;
	cose)
		# The artifact is the message PAYLOAD.cose, signed over PAYLOAD.
		want=$(sha256sum "${art%.cose}" | cut -d' ' -f1)
		got=$(jq -r .body.spec.data.payloadHash.value <<<"$rec")
		;;
	helm)
		# The artifact is the provenance file CHART.prov of CHART.
		want=$(sha256sum "${art%.prov}" | cut -d' ' -f1)
		got=$(jq -r .body.spec.chart.hash.value <<<"$rec")
		;;
	*)
		echo "$label: unknown kind '$kind'" >&2
		return 1
		;;
	esac
	[ -n "$want" ] && [ "$want" = "$got" ] ||
	    { echo "$label: artifact '$want' != entry '$got'" >&2; false; }
}

@test "rekor-tail: follow mode sees a new upload" {
	local n out="$BATS_TEST_TMPDIR/follow.ndjson"
	n=$(tree_size)
	e2e_bg "$out" "$BATS_TEST_TMPDIR/follow.err" \
	    rekor-tail -q --server "$REKOR_LOCAL_URL" --from "$n" --interval 1s
	upload_barekey follow-1
	wait_for_index "$out" "$n"
	e2e_kill_bg
	[ "$(jq -r --argjson n "$n" 'select(.logIndex == $n) | .uuid' "$out")" = \
	    "$(e2e_uuid follow-1)" ]
	[ ! -s "$BATS_TEST_TMPDIR/follow.err" ]
}

# Runs rekor-sidekick with config $1; alerts to $2, stderr to $2.err.
sidekick() {
	e2e_ns rekor-sidekick --config "$1" >"$2" 2>"$2.err"
}

# Prints the sorted log indexes of the alerts of policy $2 in file $1.
alerts_of() {
	jq -r --arg p "$2" 'select(.policy.name == $p) | .logIndex' "$1" |
	    sort -n
}

@test "rekor-sidekick: alerts on exactly the watched signers" {
	local last out="$BATS_TEST_TMPDIR/alerts.ndjson"
	last=$(($(tree_size) - 1))
	e2e_config "$BATS_TEST_TMPDIR/config.yaml" "$BATS_TEST_TMPDIR/state" "$last"
	run -0 --separate-stderr sidekick "$BATS_TEST_TMPDIR/config.yaml" "$out"
	[ ! -s "$out.err" ]
	[ "$(alerts_of "$out" email)" = "$(e2e_indexes cert-email cert-both)" ]
	[ "$(alerts_of "$out" ci-workflow)" = "$(e2e_indexes cert-ci cert-both)" ]
	[ "$(alerts_of "$out" key)" = "$(e2e_indexes barekey-1 barekey-2 \
	    cosign-blob cosign-attest cosign-strace follow-1)" ]
	[ "$(jq -c 'select(.policy == null)' "$out" | wc -l)" -eq 0 ]
}

@test "rekor-sidekick: restart with state resumes without gaps or repeats" {
	local state="$BATS_TEST_TMPDIR/state" conf="$BATS_TEST_TMPDIR/c.yaml"
	local first second last
	first=$(($(tree_size) - 1))
	e2e_config "$conf" "$state" "$first"
	run -0 --separate-stderr sidekick "$conf" "$BATS_TEST_TMPDIR/run1.ndjson"
	[ ! -s "$BATS_TEST_TMPDIR/run1.ndjson.err" ]
	[ "$(jq -r .logIndex "$BATS_TEST_TMPDIR/run1.ndjson" | sort -n | tail -1)" \
	    -le "$first" ]
	upload_cert resume-email cert-email
	upload_cert resume-other cert-other
	upload_barekey resume-key
	last=$(($(tree_size) - 1))
	e2e_config "$conf" "$state" "$last"
	run -0 --separate-stderr sidekick "$conf" "$BATS_TEST_TMPDIR/run2.ndjson"
	# The only message is rekor-tail's note that it resumed after run 1.
	[ "$(wc -l <"$BATS_TEST_TMPDIR/run2.ndjson.err")" -eq 1 ]
	grep -q "resuming at $((first + 1)) from state file" \
	    "$BATS_TEST_TMPDIR/run2.ndjson.err"
	second=$(jq -r '"\(.policy.name) \(.logIndex)"' \
	    "$BATS_TEST_TMPDIR/run2.ndjson" | sort)
	[ "$second" = "$(printf 'email %s\nkey %s' "$(e2e_indexes resume-email)" \
	    "$(e2e_indexes resume-key)")" ]
}

@test "rekor-tail: rekor-server restart mid-tail loses nothing" {
	local n out="$BATS_TEST_TMPDIR/restart.ndjson"
	local err="$BATS_TEST_TMPDIR/restart.err"
	n=$(tree_size)
	e2e_bg "$out" "$err" rekor-tail --server "$REKOR_LOCAL_URL" --from 0 \
	    --interval 1s --retries 60
	wait_for_index "$out" $((n - 1))
	"$REKOR_LOCAL" stop rekor
	# rekor-tail keeps polling and retries while the server is down.
	wait_until grep -q "Couldn't connect to server; retrying" "$err"
	"$REKOR_LOCAL" start rekor
	upload_barekey restart-1
	upload_barekey restart-2
	wait_for_index "$out" $((n + 1))
	e2e_kill_bg
	# Every index once, in order, each with the UUID the log reports.
	[ "$(jq -r 'select(.logIndex != null) | .logIndex' "$out" | tr '\n' ' ')" = \
	    "$(seq 0 $((n + 1)) | tr '\n' ' ')" ]
	[ "$(jq -r --argjson n "$n" 'select(.logIndex == $n) | .uuid' "$out")" = \
	    "$(e2e_uuid restart-1)" ]
	[ "$(jq -r --argjson n $((n + 1)) 'select(.logIndex == $n) | .uuid' "$out")" = \
	    "$(e2e_uuid restart-2)" ]
	# Only retry warnings on standard error.
	run -1 grep -v "Couldn't connect to server; retrying" "$err"
}

@test "rekor-tail: restart with --state resumes without gaps or repeats" {
	local n state="$BATS_TEST_TMPDIR/tail.state"
	local first="$BATS_TEST_TMPDIR/first.ndjson" second="$BATS_TEST_TMPDIR/second.ndjson"
	n=$(tree_size)
	e2e_bg "$first" "$BATS_TEST_TMPDIR/first.err" rekor-tail -q \
	    --server "$REKOR_LOCAL_URL" --from 0 --interval 1s --state "$state"
	wait_for_index "$first" $((n - 1))
	wait_until jq -e --argjson n "$n" '.next == $n' "$state"
	e2e_kill_bg
	upload_barekey resume-tail-1
	upload_barekey resume-tail-2
	run -0 --separate-stderr e2e_ns rekor-tail --server "$REKOR_LOCAL_URL" \
	    --from 0 --to tip --state "$state"
	printf '%s\n' "$output" >"$second"
	[[ "$stderr" == *"resuming at $n from state file"* ]]
	[ "$(jq -r 'select(.logIndex != null) | .logIndex' "$first" "$second" |
	    tr '\n' ' ')" = "$(seq 0 $((n + 1)) | tr '\n' ' ')" ]
	[ "$(jq -r 'select(.logIndex != null) | .uuid' "$second" | tr '\n' ' ')" = \
	    "$(e2e_uuid resume-tail-1) $(e2e_uuid resume-tail-2) " ]
	[ "$(jq -r .next "$state")" -eq $((n + 2)) ]
}

# Later tests must not use e2e_ns: the namespace changes on restart, and
# REKOR_LOCAL_NETNS_PID is set again only inside this test.
@test "rekor-local: full restart keeps entries and log ID" {
	local n before after
	n=$(tree_size)
	before=$(e2e_ns rekor-tail -q --server "$REKOR_LOCAL_URL" --from 0 \
	    --to "$n" | jq -c 'select(.logIndex != null) | [.uuid, .logID]')
	[ "$(wc -l <<<"$before")" -eq "$n" ]
	run -0 --separate-stderr "$REKOR_LOCAL" stop
	run -1 --separate-stderr "$REKOR_LOCAL" status
	[ "$(grep -c ': stopped' <<<"$output")" -eq 5 ]
	run -0 --separate-stderr "$REKOR_LOCAL" start
	eval "$("$REKOR_LOCAL" env)"
	after=$(e2e_ns rekor-tail -q --server "$REKOR_LOCAL_URL" --from 0 \
	    --to "$n" | jq -c 'select(.logIndex != null) | [.uuid, .logID]')
	[ "$(wc -l <<<"$after")" -eq "$n" ]
	[ "$after" = "$before" ]
}

@test "e2e: no client tried a host other than the local log" {
	run -0 cat "$E2E_DATA/trap.log"
	[ -z "$output" ]
}
