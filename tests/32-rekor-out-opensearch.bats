#!/usr/bin/env bats
# rekor-out-opensearch against a strict local Bulk API fake.

load test_helper
load lib/outputs

setup() {
	cd "$BATS_TEST_TMPDIR"
	gen_alerts --count 9 --mark-every 4 > alerts.ndjson
	export REKOR_SIDEKICK_OUTPUTS_OPENSEARCH_PASSWORD=hunter2-pass
}

teardown() {
	stop_fakes
}

os() {
	rekor-out-opensearch -u "http://127.0.0.1:$FAKE_PORT" -i 'rekor-%Y.%m.%d' \
	    -U admin "$@"
}

@test "rekor-out-opensearch: --help lists the options" {
	run -0 --separate-stderr rekor-out-opensearch --help
	[[ "$output" == *"--index NAME"* ]]
	[[ "$output" == *"--password-file FILE"* ]]
}

@test "rekor-out-opensearch: missing --index exits 2" {
	run -2 --separate-stderr rekor-out-opensearch -u http://127.0.0.1:9 < /dev/null
	[[ "$stderr" == *"missing --index"* ]]
}

@test "rekor-out-opensearch: uppercase index name exits 2" {
	run -2 --separate-stderr rekor-out-opensearch -u http://127.0.0.1:9 -i Rekor < /dev/null
	[[ "$stderr" == *"invalid --index 'Rekor'"* ]]
}

@test "rekor-out-opensearch: unknown % conversion exits 2" {
	run -2 --separate-stderr rekor-out-opensearch -u http://127.0.0.1:9 -i 'rekor-%H' < /dev/null
	[[ "$stderr" == *"invalid --index 'rekor-%H'"* ]]
}

@test "rekor-out-opensearch: password without --username exits 2" {
	run -2 --separate-stderr rekor-out-opensearch -u http://127.0.0.1:9 -i r < /dev/null
	[[ "$stderr" == *"--username is not"* ]]
	[[ "$stderr" != *hunter2* ]]
}

@test "rekor-out-opensearch: every alert becomes one document" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr os < alerts.ndjson
	[ -z "$stderr" ]
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
	[ "$(jq -r ._id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
}

@test "rekor-out-opensearch: document is the alert plus @timestamp" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr os < alerts.ndjson
	[ "$(jq -cS '.doc | del(.["@timestamp"])' "$FAKE_REC")" = \
	    "$(jq -cS 'select(.alertID)' alerts.ndjson)" ]
	[ "$(head -1 "$FAKE_REC" | jq -r '.doc["@timestamp"]')" = 2023-11-14T22:13:20Z ]
}

@test "rekor-out-opensearch: index name takes the entry's UTC date" {
	start_fake opensearch --username admin --password hunter2-pass
	gen_alerts --from 86400 --count 1 > day.ndjson
	run -0 --separate-stderr os < day.ndjson
	[ "$(jq -r ._index "$FAKE_REC")" = rekor-2023.11.15 ]
}

@test "rekor-out-opensearch: --severity is copied into each document" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr os -e high < alerts.ndjson
	[ "$(jq -r .doc.severity "$FAKE_REC" | sort -u)" = high ]
}

@test "rekor-out-opensearch: alerts are batched per bulk request" {
	start_fake opensearch --username admin --password hunter2-pass
	gen_alerts --count 300 --mark-every 1000 > many.ndjson
	run -0 --separate-stderr os < many.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 300 ]
	requests=$(curl -s "http://127.0.0.1:$FAKE_PORT/_fake/stats" | jq .requests)
	[ "$requests" -le 4 ]
}

@test "rekor-out-opensearch: replay meets 409 and counts as delivered" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr os -d dead.jsonl < alerts.ndjson
	run -0 --separate-stderr os -d dead.jsonl < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
	[ ! -s dead.jsonl ]
}

@test "rekor-out-opensearch: only failed bulk items are retried" {
	start_fake opensearch --username admin --password hunter2-pass \
	    --faults '[{"item_faults": [null, {"status": 429, "type": "es_rejected_execution_exception"}, null, {"status": 503}]}]'
	run -0 --separate-stderr os < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
	[ "$(jq -r ._id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
	[[ "$stderr" == *"bulk item 429: es_rejected_execution_exception"* ]]
	# Items 0 and 2 of the first request were created exactly once.
	[ "$(jq -r ._id "$FAKE_REC" | sort | uniq -d)" = "" ]
}

@test "rekor-out-opensearch: item error goes to the dead-letter file" {
	start_fake opensearch --username admin --password hunter2-pass \
	    --faults '[{"item_faults": [{"status": 400, "type": "mapper_parsing_exception", "reason": "failed to parse field [body]"}]}]'
	run -1 --separate-stderr os -d dead.jsonl < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 8 ]
	[ "$(jq -r .reason dead.jsonl)" = \
	    "bulk item 400: mapper_parsing_exception: failed to parse field [body]" ]
	[ "$(jq -r .status dead.jsonl)" = 400 ]
}

@test "rekor-out-opensearch: wrong password is permanent" {
	start_fake opensearch --username admin --password other
	run -1 --separate-stderr os -d dead.jsonl < alerts.ndjson
	[ "$(jq -r .status dead.jsonl | sort -u)" = 401 ]
	[[ "$stderr" != *hunter2* ]]
}

@test "rekor-out-opensearch: password is read from --password-file" {
	start_fake opensearch --username admin --password file-pass
	unset REKOR_SIDEKICK_OUTPUTS_OPENSEARCH_PASSWORD
	printf 'file-pass\n' > pw
	run -0 --separate-stderr os -P pw < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
}

@test "rekor-out-opensearch: -vv hides the Authorization header" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr os -vv < alerts.ndjson
	[[ "$stderr" == *"http: > Authorization: (hidden)"* ]]
	[[ "$stderr" != *hunter2* ]]
	[[ "$stderr" != *"$(printf admin:hunter2-pass | base64)"* ]]
}

@test "rekor-out-opensearch: 503 on the whole request is retried" {
	start_fake opensearch --username admin --password hunter2-pass \
	    --faults '[{"status": 503, "retry_after": "1", "count": 2}]'
	run -0 --separate-stderr os -s state.json < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
	[ "$(jq -r .next state.json)" = 9 ]
}

@test "rekor-out-opensearch: server with a path prefix gets /_bulk appended" {
	start_fake opensearch --username admin --password hunter2-pass
	run -0 --separate-stderr rekor-out-opensearch -u "http://127.0.0.1:$FAKE_PORT/" \
	    -i rekor -U admin < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 9 ]
}
