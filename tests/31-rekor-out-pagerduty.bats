#!/usr/bin/env bats
# rekor-out-pagerduty against a strict local Events API v2 fake.  Every
# test passes a loopback --url: the default is the public endpoint.

load test_helper
load lib/outputs

KEY=0123456789abcdef0123456789abcdef

setup() {
	cd "$BATS_TEST_TMPDIR"
	gen_alerts --count 5 --mark-every 2 > alerts.ndjson
	export REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=$KEY
}

teardown() {
	stop_fakes
}

pd() {
	rekor-out-pagerduty -u "http://127.0.0.1:$FAKE_PORT/v2/enqueue" "$@"
}

@test "rekor-out-pagerduty: --help names the key variable" {
	run -0 --separate-stderr rekor-out-pagerduty -h
	[[ "$output" == *"REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-pagerduty: unknown severity exits 2 before reading" {
	run -2 --separate-stderr rekor-out-pagerduty -u http://127.0.0.1:9/ -e fatal < /dev/null
	[[ "$stderr" == *"invalid --severity 'fatal'"* ]]
}

@test "rekor-out-pagerduty: missing integration key exits 2" {
	unset REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY
	run -2 --separate-stderr rekor-out-pagerduty -u http://127.0.0.1:9/ < /dev/null
	[[ "$stderr" == *"missing integration key"* ]]
}

@test "rekor-out-pagerduty: key with a quote is rejected" {
	REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY='ab"cd' \
	    run -2 --separate-stderr rekor-out-pagerduty -u http://127.0.0.1:9/ < /dev/null
	[[ "$stderr" == *"invalid integration key"* ]]
	[[ "$stderr" != *'ab"cd'* ]]
}

@test "rekor-out-pagerduty: missing key file exits 2" {
	run -2 --separate-stderr rekor-out-pagerduty -u http://127.0.0.1:9/ -K nofile < /dev/null
	[[ "$stderr" == *"cannot open secret file 'nofile'"* ]]
}

@test "rekor-out-pagerduty: each alert triggers one event" {
	start_fake pagerduty --routing-key "$KEY"
	run -0 --separate-stderr pd < alerts.ndjson
	[ -z "$stderr" ]
	[ "$(wc -l < "$FAKE_REC")" -eq 5 ]
	[ "$(jq -r .dedup_key "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
	[ "$(jq -r .event_action "$FAKE_REC" | sort -u)" = trigger ]
	[ "$(jq -r .routing_key "$FAKE_REC" | sort -u)" = "$KEY" ]
}

@test "rekor-out-pagerduty: payload carries severity, class and facts" {
	start_fake pagerduty --routing-key "$KEY"
	run -0 --separate-stderr pd -e critical < alerts.ndjson
	first=$(head -1 "$FAKE_REC")
	[ "$(jq -r .payload.severity <<< "$first")" = critical ]
	[ "$(jq -r .payload.class <<< "$first")" = rekor-sidekick.policy.violation.v1 ]
	[ "$(jq -r .payload.component <<< "$first")" = hashedrekord ]
	[ "$(jq -r .payload.group <<< "$first")" = test-policy ]
	[ "$(jq -r .payload.source <<< "$first")" = "$(jq -r .payload.custom_details.url <<< "$first")" ]
	[ "$(jq -r .payload.custom_details.logIndex <<< "$first")" = 0 ]
	[ "$(jq -r .payload.timestamp <<< "$first")" = 2023-11-14T22:13:20Z ]
	[ "$(jq -r .payload.summary <<< "$first")" = \
	    "rekor-sidekick: policy 'test-policy' matched entry 0 (hashedrekord): test policy test-policy" ]
}

@test "rekor-out-pagerduty: default severity is error" {
	start_fake pagerduty --routing-key "$KEY"
	run -0 --separate-stderr pd < alerts.ndjson
	[ "$(jq -r .payload.severity "$FAKE_REC" | sort -u)" = error ]
}

@test "rekor-out-pagerduty: long summary is cut on a UTF-8 boundary" {
	start_fake pagerduty --routing-key "$KEY"
	desc=$(python3 -c 'print("\u00e9" * 2000)')
	head -2 alerts.ndjson | tail -1 | jq -c --arg d "$desc" '.policy.description = $d' > in.ndjson
	run -0 --separate-stderr pd < in.ndjson
	summary=$(jq -r .payload.summary "$FAKE_REC")
	[ "$(printf %s "$summary" | wc -c)" -le 1024 ]
	[ "$(printf %s "$summary" | wc -c)" -ge 1022 ]
	printf %s "$summary" | iconv -f UTF-8 -t UTF-8 > /dev/null
}

@test "rekor-out-pagerduty: key is read from --integration-key-file" {
	start_fake pagerduty --routing-key "$KEY"
	unset REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY
	echo "$KEY" > key.txt
	run -0 --separate-stderr pd -K key.txt < alerts.ndjson
	[ "$(jq -r .routing_key "$FAKE_REC" | sort -u)" = "$KEY" ]
}

@test "rekor-out-pagerduty: old apiToken is ignored with a warning" {
	start_fake pagerduty --routing-key "$KEY"
	REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_APITOKEN=tok-secret-123 \
	    run -0 --separate-stderr pd < alerts.ndjson
	[[ "$stderr" == *"warning: ignoring the PagerDuty apiToken"* ]]
	[[ "$stderr" != *"tok-secret-123"* ]]
	[ "$(wc -l < "$FAKE_REC")" -eq 5 ]
}

@test "rekor-out-pagerduty: 400 is dead-lettered with PagerDuty's message" {
	start_fake pagerduty --routing-key ffffffffffffffffffffffffffffffff
	run -1 --separate-stderr pd -d dead.jsonl < alerts.ndjson
	[ "$(wc -l < dead.jsonl)" -eq 5 ]
	[ "$(jq -r .reason dead.jsonl | sort -u)" = \
	    "PagerDuty rejected the event: Event object is invalid; Invalid routing key" ]
	[ "$(jq -r .status dead.jsonl | sort -u)" = 400 ]
	[[ "$stderr" != *"$KEY"* ]]
	run -1 grep -c "$KEY" dead.jsonl
}

@test "rekor-out-pagerduty: 429 and 500 are retried" {
	start_fake pagerduty --routing-key "$KEY" \
	    --faults '[{"status": 429, "retry_after": "1"}, {"status": 500, "count": 2}]'
	run -0 --separate-stderr pd < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 5 ]
	[[ "$stderr" == *"HTTP 429"*"retry 1 in 1000 ms"* ]]
}

@test "rekor-out-pagerduty: 200 instead of 202 is not taken as delivered" {
	start_fake pagerduty --routing-key "$KEY" --faults '[{"status": 200, "body": {}}]'
	run -1 --separate-stderr pd -d dead.jsonl < alerts.ndjson
	[[ "$(jq -r .reason dead.jsonl)" == *"expected 202 Accepted"* ]]
}

@test "rekor-out-pagerduty: marks are acknowledged" {
	start_fake pagerduty --routing-key "$KEY"
	run -0 --separate-stderr pd -s state.json < alerts.ndjson
	[ "$(jq -r .next state.json)" = 5 ]
}

@test "rekor-out-pagerduty: key never shows in ps, environ or -vv output" {
	start_fake pagerduty --routing-key "$KEY"
	mkfifo in
	pd -vv -s state.json < in 2> err &
	pid=$!
	exec 4> in
	head -3 alerts.ndjson >&4
	wait_lines "$FAKE_REC" 2
	run -0 ps -ww -o args= -p "$pid"
	[[ "$output" == *rekor-out-pagerduty* ]]
	[[ "$output" != *"$KEY"* ]]
	# The value is wiped in place, so /proc/PID/environ loses it too.
	run -1 grep -a -c "$KEY" "/proc/$pid/environ"
	tail -n +4 alerts.ndjson >&4
	exec 4>&-
	wait "$pid"
	grep -q "http: > POST" err
	run -1 grep -c "$KEY" err
}
