#!/usr/bin/env bats
# rekor-out-loki against VictoriaLogs (a real receiver of Loki's push API,
# queried back) and against a strict fake of Loki for its error replies.

load test_helper
load lib/outmore
load lib/servers

setup() {
	cd "$BATS_TEST_TMPDIR"
	real_alerts --count 3 --final-mark > alerts.ndjson
}

teardown() {
	servers_stop_all
}

# Pushes to the fake Loki; extra arguments go to rekor-out-loki.
loki_fake() {
	rekor-out-loki -u "$LOKI_URL" "$@"
}

# Prints the accepted entries of every push the fake received, one JSON
# object per line: labels, ts, line.
fake_accepted() {
	jq -c '.accepted[]' "$LOKI_LOG"
}

fake_requests() {
	wc -l < "$LOKI_LOG"
}

@test "rekor-out-loki: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-out-loki --help
	[[ "$output" == *"usage: rekor-out-loki"* ]]
	[[ "$output" == *"--labels"* ]]
	[[ "$output" == *"--password-file"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-loki: --version prints the version" {
	run -0 --separate-stderr rekor-out-loki --version
	[[ "$output" == "rekor-out-loki "[0-9]* ]]
}

@test "rekor-out-loki: unknown option exits 2" {
	run -2 --separate-stderr rekor-out-loki --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: rekor-out-loki"* ]]
}

@test "rekor-out-loki: missing --url exits 2" {
	run -2 --separate-stderr rekor-out-loki < alerts.ndjson
	[[ "$stderr" == *"missing --url"* ]]
}

@test "rekor-out-loki: non-HTTP URL exits 2" {
	run -2 --separate-stderr rekor-out-loki -u ftp://127.0.0.1/ \
	    < alerts.ndjson
	[ -z "$output" ]
}

@test "rekor-out-loki: invalid --labels exit 2" {
	local bad
	for bad in "1abc=x" "__name__=x" "a-b=x" "env" "env=" "=x" \
	    "policy=x" "kind=x" "env=a,env=b" "job=a,job=b"; do
		run -2 --separate-stderr rekor-out-loki -u http://127.0.0.1:9 \
		    -l "$bad" < /dev/null
		[[ "$stderr" == *"--labels"* ]]
	done
}

@test "rekor-out-loki: more than 12 extra labels exit 2" {
	labels=$(seq 1 13 | sed 's/.*/l&=v/' | paste -sd, -)
	run -2 --separate-stderr rekor-out-loki -u http://127.0.0.1:9 \
	    -l "$labels" < /dev/null
	[[ "$stderr" == *"too many labels"* ]]
}

@test "rekor-out-loki: invalid tenant exits 2" {
	run -2 --separate-stderr rekor-out-loki -u http://127.0.0.1:9 \
	    -t 'a|b' < /dev/null
	[[ "$stderr" == *"invalid tenant 'a|b'"* ]]
}

@test "rekor-out-loki: --username without a password exits 2" {
	run -2 --separate-stderr rekor-out-loki -u http://127.0.0.1:9 \
	    -U bob < /dev/null
	[[ "$stderr" == *"--username needs a password"* ]]
}

@test "rekor-out-loki: password without --username exits 2" {
	REKOR_SIDEKICK_OUTPUTS_LOKI_PASSWORD=pw run -2 --separate-stderr \
	    rekor-out-loki -u http://127.0.0.1:9 < /dev/null
	[[ "$stderr" == *"--username is missing"* ]]
}

@test "rekor-out-loki: VictoriaLogs stores every alert as its record" {
	vlogs_start -loki.disableMessageParsing
	run -0 --separate-stderr rekor-out-loki -u "$VLOGS_URL/insert" \
	    < alerts.ndjson
	[ -z "$output" ]
	[ -z "$stderr" ]
	vlogs_query '*' > rows.ndjson
	[ "$(wc -l < rows.ndjson)" -eq 3 ]
	jq -r ._msg rows.ndjson | sort > got.ndjson
	grep -v '"control"' alerts.ndjson | sort > want.ndjson
	cmp want.ndjson got.ndjson
}

@test "rekor-out-loki: stream labels are job, policy and kind only" {
	vlogs_start -loki.disableMessageParsing
	run -0 --separate-stderr rekor-out-loki -u "$VLOGS_URL/insert" \
	    < alerts.ndjson
	vlogs_query '*' > rows.ndjson
	run -0 jq -r ._stream rows.ndjson
	[ "$(sort -u <<< "$output")" = '{job="rekor-sidekick",kind="dsse",policy="unexpected-signer"}
{job="rekor-sidekick",kind="hashedrekord",policy="unexpected-signer"}' ]
	# The UUID and the index are never labels.
	[[ "$output" != *uuid* ]]
	[[ "$output" != *79571823* ]]
}

@test "rekor-out-loki: --labels adds static labels and can replace job" {
	vlogs_start -loki.disableMessageParsing
	run -0 --separate-stderr rekor-out-loki -u "$VLOGS_URL/insert" \
	    -l 'env=prod,team=release_eng,job=sidekick' < alerts.ndjson
	vlogs_query 'env:prod' > rows.ndjson
	[ "$(wc -l < rows.ndjson)" -eq 3 ]
	[ "$(jq -r ._stream rows.ndjson | sort -u | head -1)" = \
	    '{env="prod",job="sidekick",kind="dsse",policy="unexpected-signer",team="release_eng"}' ]
}

@test "rekor-out-loki: --tenant reaches VictoriaLogs as X-Scope-OrgID" {
	vlogs_start -loki.disableMessageParsing
	run -0 --separate-stderr rekor-out-loki -u "$VLOGS_URL/insert" \
	    -t 42 < alerts.ndjson
	[ "$(vlogs_query '*' 42 | wc -l)" -eq 3 ]
	[ "$(vlogs_query '*' | wc -l)" -eq 0 ]
}

@test "rekor-out-loki: VictoriaLogs parses the record into fields" {
	vlogs_start
	run -0 --separate-stderr rekor-out-loki -u "$VLOGS_URL/insert/" \
	    < alerts.ndjson
	vlogs_query 'logIndex:=155690850' > rows.ndjson
	[ "$(wc -l < rows.ndjson)" -eq 1 ]
	[ "$(jq -r '.["policy.name"]' rows.ndjson)" = unexpected-signer ]
	[ "$(jq -r .kind rows.ndjson)" = dsse ]
}

@test "rekor-out-loki: timestamps are delivery times in input order" {
	fake_loki_start
	before=$(date +%s%N)
	run -0 --separate-stderr loki_fake < alerts.ndjson
	after=$(date +%s%N)
	fake_accepted | jq -r .ts > ts
	[ "$(wc -l < ts)" -eq 3 ]
	sort -n -c ts
	[ "$(sort -n -u ts | wc -l)" -eq 3 ]
	[ "$(head -1 ts)" -ge "$before" ]
	[ "$(tail -1 ts)" -le "$after" ]
}

@test "rekor-out-loki: a URL ending in the push path is used as is" {
	fake_loki_start
	run -0 --separate-stderr rekor-out-loki \
	    -u "$LOKI_URL/loki/api/v1/push" < alerts.ndjson
	[ "$(fake_accepted | wc -l)" -eq 3 ]
	[ "$(jq -r .path "$LOKI_LOG")" = /loki/api/v1/push ]
}

@test "rekor-out-loki: alerts in one batch go in one request" {
	real_alerts --count 40 --start 100 --final-mark > many.ndjson
	fake_loki_start
	run -0 --separate-stderr loki_fake < many.ndjson
	[ "$(fake_requests)" -eq 1 ]
	[ "$(fake_accepted | wc -l)" -eq 40 ]
	# Entries keep input order inside each stream.
	fake_accepted | jq -r '[.labels.kind, (.line | fromjson |
	    .logIndex)] | @tsv' > order
	[ "$(awk '$1 == "dsse"' order | wc -l)" -eq 13 ]
	awk '$1 == "dsse" { print $2 }' order | sort -n -c
	awk '$1 == "hashedrekord" { print $2 }' order | sort -n -c
}

@test "rekor-out-loki: basic auth with the password from the environment" {
	echo s3cret-loki > pw
	fake_loki_start --user bob --password-file pw
	REKOR_SIDEKICK_OUTPUTS_LOKI_PASSWORD=s3cret-loki run -0 \
	    --separate-stderr loki_fake -U bob < alerts.ndjson
	[ "$(fake_accepted | wc -l)" -eq 3 ]
}

@test "rekor-out-loki: basic auth with --password-file" {
	printf 'file-pass\n' > pw
	fake_loki_start --user bob --password-file pw
	run -0 --separate-stderr loki_fake -U bob -p pw < alerts.ndjson
	[ "$(fake_accepted | wc -l)" -eq 3 ]
}

@test "rekor-out-loki: wrong password is permanent: dead-letter file" {
	echo right > pw
	echo wrong > badpw
	fake_loki_start --user bob --password-file pw
	run -1 --separate-stderr loki_fake -U bob -p badpw -d dl.ndjson \
	    -s state.json < alerts.ndjson
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[ "$(jq -r .status dl.ndjson | sort -u)" = 401 ]
	[ "$(state_next state.json)" -eq 771488338 ]
}

@test "rekor-out-loki: password is not in argv, environ or -vv output" {
	echo pw-9f8e7d > pw
	fake_loki_start --user bob --password-file pw --reply slow:2
	REKOR_SIDEKICK_OUTPUTS_LOKI_PASSWORD=pw-9f8e7d \
	    rekor-out-loki -vv -u "$LOKI_URL" -U bob < alerts.ndjson \
	    2> stderr.txt &
	pid=$!
	server_track output "$pid"
	# Look while the request is in flight.
	wait_for_file "$LOKI_LOG.arrived"
	secret_not_exposed "$pid" pw-9f8e7d
	wait "$pid"
	[ "$(fake_accepted | wc -l)" -eq 3 ]
	run -1 grep -c -e pw-9f8e7d -e "$(printf bob:pw-9f8e7d | base64)" \
	    stderr.txt
	grep -q 'Authorization: (hidden)' stderr.txt
}

@test "rekor-out-loki: tenant header reaches the fake" {
	fake_loki_start --tenant team-a
	run -0 --separate-stderr loki_fake -t team-a < alerts.ndjson
	[ "$(jq -r '.headers["X-Scope-OrgID"]' "$LOKI_LOG")" = team-a ]
}

@test "rekor-out-loki: no tenant for a multi-tenant Loki is dead-lettered" {
	fake_loki_start --tenant team-a
	run -1 --separate-stderr loki_fake -d dl.ndjson < alerts.ndjson
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == *"no org id"* ]]
}

@test "rekor-out-loki: 400 too old is dead-lettered and never resent" {
	fake_loki_start --reply 400:too-old
	run -1 --separate-stderr loki_fake -d dl.ndjson -s state.json \
	    < alerts.ndjson
	[ -z "$output" ]
	[ "$(fake_requests)" -eq 1 ]
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == *"has timestamp too old"* ]]
	[[ "$stderr" == *"Loki rejected the push (400, not resent)"* ]]
	[ "$(state_next state.json)" -eq 771488338 ]
}

@test "rekor-out-loki: 400 for some entries keeps the batch out of retries" {
	# Lines over 3000 bytes are too long; the 1353-byte one is stored.
	fake_loki_start --max-line-size 3000
	run -1 --separate-stderr loki_fake -d dl.ndjson < alerts.ndjson
	[ "$(fake_requests)" -eq 1 ]
	[ "$(fake_accepted | wc -l)" -eq 1 ]
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == *"Max entry size '3000' bytes exceeded"* ]]
}

@test "rekor-out-loki: 400 too far behind is dead-lettered with its message" {
	fake_loki_start --reply 400:too-far-behind
	run -1 --separate-stderr loki_fake -d dl.ndjson < alerts.ndjson
	[ "$(fake_requests)" -eq 1 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == *"entry too far behind"* ]]
}

@test "rekor-out-loki: 429 with Retry-After is retried" {
	fake_loki_start --reply 429:1
	run -0 --separate-stderr loki_fake < alerts.ndjson
	[ "$(fake_requests)" -eq 2 ]
	[ "$(fake_accepted | wc -l)" -eq 3 ]
	[[ "$stderr" == *"HTTP 429: Ingestion rate limit exceeded"* ]]
	[[ "$stderr" == *"retry 1 in 1000 ms"* ]]
}

@test "rekor-out-loki: 5xx replies are retried" {
	fake_loki_start --reply 500 --reply 502 --reply 503 --reply 504
	run -0 --separate-stderr loki_fake < alerts.ndjson
	[ "$(fake_requests)" -eq 5 ]
	[ "$(fake_accepted | wc -l)" -eq 3 ]
}

@test "rekor-out-loki: dropped connection is retried" {
	fake_loki_start --reply drop
	run -0 --separate-stderr loki_fake < alerts.ndjson
	[ "$(fake_requests)" -eq 2 ]
	[ "$(fake_accepted | wc -l)" -eq 3 ]
}

@test "rekor-out-loki: reply slower than --timeout is retried" {
	fake_loki_start --reply slow:3
	run -0 --separate-stderr loki_fake -T 500ms < alerts.ndjson
	[[ "$stderr" == *"request failed"* ]]
	[ "$(fake_accepted | jq -r .line | sort -u | wc -l)" -eq 3 ]
}

@test "rekor-out-loki: --retry-max-time gives up with status 3" {
	fake_loki_start --reply 503 --reply 503 --reply 503 --reply 503 \
	    --reply 503 --reply 503 --reply 503 --reply 503
	run -3 --separate-stderr loki_fake -R 2s -s state.json \
	    < alerts.ndjson
	[[ "$stderr" == *"giving up"* ]]
	[ ! -e state.json ] || [ "$(state_next state.json)" -lt 771488338 ]
}

@test "rekor-out-loki: unusable policy name leaves out the policy label" {
	real_alerts --count 1 --policy "$(printf 'bad\tname')" > odd.ndjson
	fake_loki_start
	run -0 --separate-stderr loki_fake < odd.ndjson
	[ "$(fake_accepted | jq -c .labels)" = \
	    '{"job":"rekor-sidekick","kind":"hashedrekord"}' ]
}

@test "rekor-out-loki: state follows the marks" {
	real_alerts --count 6 --start 2000 --mark-every 2 > marked.ndjson
	fake_loki_start
	run -0 --separate-stderr loki_fake -s state.json < marked.ndjson
	[ "$(state_next state.json)" -eq 2006 ]
	[ "$(fake_accepted | wc -l)" -eq 6 ]
}

@test "rekor-out-loki: kill -9 and restart loses no alert" {
	real_alerts --count 30 --start 5000 --mark-every 5 > in.ndjson
	fake_loki_start --reply slow:1 --reply slow:1 --reply slow:1
	rekor-out-loki -u "$LOKI_URL" -S spool -s state.json < in.ndjson \
	    2> first.err &
	pid=$!
	server_track output "$pid"
	wait_for_file "$LOKI_LOG.arrived"
	kill -9 "$pid"
	wait "$pid" || true
	# Nothing was delivered yet, but marks were acknowledged: the alerts
	# before them are in the durable spool.
	[ "$(fake_accepted | wc -l)" -eq 0 ]
	next=$(state_next state.json)
	[ "$next" -gt 5000 ]
	# Resume as rekor-tail --ack-state would: from the acknowledged mark.
	jq -c --argjson n "$next" 'select((.logIndex // -1) >= $n or
	    ((.control // "") == "mark" and .next > $n))' in.ndjson \
	    > resume.ndjson
	run -0 --separate-stderr rekor-out-loki -u "$LOKI_URL" -S spool \
	    -s state.json < resume.ndjson
	[ "$(state_next state.json)" -eq 5030 ]
	fake_accepted | jq -r '.line | fromjson | .alertID' | sort -u > got
	alert_ids_of in.ndjson | sort > want
	cmp want got
}
