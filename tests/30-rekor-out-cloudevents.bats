#!/usr/bin/env bats
# rekor-out-cloudevents against a strict local CloudEvents receiver; also
# the delivery engine's shared behaviour: marks, retries, dead letters,
# spool and TLS.

load test_helper
load lib/outputs

setup() {
	cd "$BATS_TEST_TMPDIR"
	gen_alerts --count 7 --mark-every 3 > alerts.ndjson
}

teardown() {
	stop_fakes
}

ce() {
	rekor-out-cloudevents -i test-sender -u "http://127.0.0.1:$FAKE_PORT/events" "$@"
}

@test "rekor-out-cloudevents: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-out-cloudevents --help
	[[ "$output" == *"usage: rekor-out-cloudevents"* ]]
	[[ "$output" == *"--spool-max"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-cloudevents: --version prints the version" {
	run -0 --separate-stderr rekor-out-cloudevents -V
	[[ "$output" == "rekor-out-cloudevents "[0-9]* ]]
}

@test "rekor-out-cloudevents: unknown option exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: rekor-out-cloudevents"* ]]
}

@test "rekor-out-cloudevents: missing --source-id exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -u http://127.0.0.1:9/ < /dev/null
	[[ "$stderr" == *"missing --source-id"* ]]
}

@test "rekor-out-cloudevents: non-HTTP URL exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -i x -u file:///etc/passwd < /dev/null
	[[ "$stderr" == *"invalid or missing --http-url 'file:///etc/passwd'"* ]]
}

@test "rekor-out-cloudevents: invalid --mode exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -i x -u http://127.0.0.1:9/ -m batch < /dev/null
	[[ "$stderr" == *"invalid --mode 'batch'"* ]]
}

@test "rekor-out-cloudevents: invalid --spool-max exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -i x -u http://127.0.0.1:9/ -M 12X < /dev/null
	[[ "$stderr" == *"invalid spool size '12X'"* ]]
}

@test "rekor-out-cloudevents: binary mode delivers every alert once" {
	start_fake cloudevents
	run -0 --separate-stderr ce < alerts.ndjson
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[ "$(jq -r .id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
	[ "$(jq -r .mode "$FAKE_REC" | sort -u)" = binary ]
}

@test "rekor-out-cloudevents: binary mode attributes are correct" {
	start_fake cloudevents
	run -0 --separate-stderr ce < alerts.ndjson
	first=$(head -1 "$FAKE_REC")
	[ "$(jq -r .specversion <<< "$first")" = "1.0" ]
	[ "$(jq -r .type <<< "$first")" = "rekor-sidekick.policy.violation.v1" ]
	[ "$(jq -r .source <<< "$first")" = "github.com/nsmith5/rekor-sidekick:test-sender" ]
	[ "$(jq -r .time <<< "$first")" = "2023-11-14T22:13:20Z" ]
	[ "$(jq -r .datacontenttype <<< "$first")" = "application/json" ]
	[ "$(jq -r .id <<< "$first")" = "$(jq -r .data.alertID <<< "$first")" ]
}

@test "rekor-out-cloudevents: data is the alert record unchanged" {
	start_fake cloudevents
	run -0 --separate-stderr ce < alerts.ndjson
	[ "$(jq -cS .data "$FAKE_REC")" = "$(jq -cS 'select(.alertID)' alerts.ndjson)" ]
}

@test "rekor-out-cloudevents: structured mode sends application/cloudevents+json" {
	start_fake cloudevents
	run -0 --separate-stderr ce -m structured < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[ "$(jq -r .mode "$FAKE_REC" | sort -u)" = structured ]
	[ "$(jq -r .datacontenttype "$FAKE_REC" | sort -u)" = application/json ]
	[ "$(jq -cS .data "$FAKE_REC")" = "$(jq -cS 'select(.alertID)' alerts.ndjson)" ]
}

@test "rekor-out-cloudevents: source ID with spaces is percent-encoded" {
	start_fake cloudevents
	for mode in binary structured; do
		: > "$FAKE_REC"
		run -0 --separate-stderr rekor-out-cloudevents -m "$mode" \
		    -i 'ci "prod" 100%' -u "http://127.0.0.1:$FAKE_PORT/" < alerts.ndjson
		[ "$(jq -r .source "$FAKE_REC" | sort -u)" = \
		    "github.com/nsmith5/rekor-sidekick:ci%20%22prod%22%20100%25" ]
	done
}

@test "rekor-out-cloudevents: last mark is acknowledged in the state file" {
	start_fake cloudevents
	run -0 --separate-stderr ce -s state.json < alerts.ndjson
	[ "$(jq -r .next state.json)" = 7 ]
	[ "$(jq -r .log state.json)" = 1193381656612011 ]
	[ "$(jq -r .server state.json)" = https://rekor.example.test ]
}

@test "rekor-out-cloudevents: 503 is retried until delivered" {
	start_fake cloudevents --faults '[{"status": 503, "count": 3}]'
	run -0 --separate-stderr ce < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[[ "$stderr" == *"HTTP 503"*"retry 1 in"* ]]
}

@test "rekor-out-cloudevents: 429 waits as long as Retry-After says" {
	start_fake cloudevents --faults '[{"status": 429, "retry_after": "2"}]'
	run -0 --separate-stderr ce < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[[ "$stderr" == *"HTTP 429"*"retry 1 in 2000 ms"* ]]
}

@test "rekor-out-cloudevents: dropped connections are retried" {
	start_fake cloudevents --faults '[{"drop": true, "count": 4}]'
	run -0 --separate-stderr ce < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[ "$(jq -r .id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
}

@test "rekor-out-cloudevents: slow reply past --timeout is retried" {
	start_fake cloudevents --faults '[{"delay": 3}]'
	run -0 --separate-stderr ce -T 1s < alerts.ndjson
	[[ "$stderr" == *"request failed: "*"timed out"* ]]
	[ "$(jq -r .id "$FAKE_REC" | sort -u)" = "$(alert_ids alerts.ndjson)" ]
}

@test "rekor-out-cloudevents: 400 goes to the dead-letter file, exit 1" {
	start_fake cloudevents --faults '[{"status": 400, "body": {"error": "bad event"}}]'
	run -1 --separate-stderr ce -d dead.jsonl < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 6 ]
	[ "$(wc -l < dead.jsonl)" -eq 1 ]
	[ "$(jq -r .status dead.jsonl)" = 400 ]
	[[ "$(jq -r .reason dead.jsonl)" == *"bad event"* ]]
	[ "$(jq -r .record.alertID dead.jsonl)" = "$(jq -r .alertID dead.jsonl)" ]
	[[ "$(jq -r .time dead.jsonl)" == 20[0-9][0-9]-*Z ]]
	[[ "$stderr" == *"failed for good: HTTP 400"* ]]
}

@test "rekor-out-cloudevents: 501 is permanent, not retried" {
	start_fake cloudevents --faults '[{"status": 501}]'
	run -1 --separate-stderr ce -d dead.jsonl < alerts.ndjson
	[ "$(jq -r .status dead.jsonl)" = 501 ]
	[[ "$stderr" != *"retry"* ]]
}

@test "rekor-out-cloudevents: dead-letter file is appended to" {
	start_fake cloudevents --faults '[{"status": 404, "count": 2}]'
	echo '{"earlier": true}' > dead.jsonl
	run -1 --separate-stderr ce -d dead.jsonl < alerts.ndjson
	[ "$(wc -l < dead.jsonl)" -eq 3 ]
	[ "$(head -1 dead.jsonl)" = '{"earlier": true}' ]
}

@test "rekor-out-cloudevents: invalid JSON line is reported with its number" {
	start_fake cloudevents
	{ head -2 alerts.ndjson; echo '{"broken":'; tail -n +3 alerts.ndjson; } > in.ndjson
	run -1 --separate-stderr ce -d dead.jsonl < in.ndjson
	[[ "$stderr" == *"line 3: invalid JSON"* ]]
	[ "$(jq -r .line dead.jsonl)" = '{"broken":' ]
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
}

@test "rekor-out-cloudevents: invalid UTF-8 line is kept base64-encoded" {
	start_fake cloudevents
	printf '\377\376 not json\n' > in.ndjson
	run -1 --separate-stderr ce -d dead.jsonl < in.ndjson
	[ "$(jq -r .lineBase64 dead.jsonl | base64 -d | od -An -c | tr -s ' ')" = \
	    "$(printf '\377\376 not json' | od -An -c | tr -s ' ')" ]
}

@test "rekor-out-cloudevents: over-long line goes whole to the dead-letter file" {
	start_fake cloudevents
	python3 -c 'import sys; sys.stdout.write("x" * (64 * 1024 * 1024 + 5) + "\n")' > long.txt
	head -2 alerts.ndjson >> long.txt
	run -1 --separate-stderr ce -d dead.jsonl < long.txt
	[[ "$stderr" == *"line 1: longer than 67108864 bytes"* ]]
	[ "$(jq -r .lineBase64 dead.jsonl | base64 -d | wc -c)" -eq $((64 * 1024 * 1024 + 5)) ]
	[ "$(wc -l < "$FAKE_REC")" -eq 1 ]
}

@test "rekor-out-cloudevents: entry without policy is dead-lettered" {
	start_fake cloudevents
	head -2 alerts.ndjson | tail -1 | jq -c 'del(.policy, .alertID)' > in.ndjson
	run -1 --separate-stderr ce -d dead.jsonl < in.ndjson
	[[ "$stderr" == *"line 1: an entry, not an alert"* ]]
	[ "$(wc -l < dead.jsonl)" -eq 1 ]
	[ "$(wc -l < "$FAKE_REC")" -eq 0 ]
}

@test "rekor-out-cloudevents: malformed control record is reported" {
	start_fake cloudevents
	echo '{"control":"malformed","logIndex":42,"uuid":"abc","error":"illegal base64","raw":{}}' > in.ndjson
	run -1 --separate-stderr ce < in.ndjson
	[[ "$stderr" == *"line 1: the log served entry 42 (uuid 'abc') undecodable: illegal base64"* ]]
}

@test "rekor-out-cloudevents: state file of another log exits 4" {
	start_fake cloudevents
	echo '{"version":1,"log":"999","server":"x","next":3}' > state.json
	run -4 --separate-stderr ce -s state.json < alerts.ndjson
	[[ "$stderr" == *"belongs to log '999'"* ]]
	[ "$(jq -r .log state.json)" = 999 ]
}

@test "rekor-out-cloudevents: torn state file exits 4 before reading" {
	start_fake cloudevents
	printf '{"version":1,"lo' > state.json
	run -4 --separate-stderr ce -s state.json < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 0 ]
}

@test "rekor-out-cloudevents: destination down past --retry-max-time exits 3" {
	port=$(free_port)
	run -3 --separate-stderr rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" \
	    -R 2s -s state.json < alerts.ndjson
	[[ "$stderr" == *"giving up after"* ]]
	# Without a durable spool no mark after the first alert is acknowledged.
	[ "$(jq -r .next state.json)" = 0 ]
}

# Runs rekor-out-cloudevents with a durable spool against a port where
# nothing listens, waits until it has acknowledged the last mark (next=7)
# while every alert is still undelivered, then stops it with SIGTERM.
spool_while_down() {
	local port pid i=0
	port=$(free_port)
	rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" -S spool \
	    -s state.json < alerts.ndjson 2> spool-err.txt &
	pid=$!
	while [ "$(jq -r .next state.json 2>/dev/null)" != 7 ]; do
		i=$((i + 1))
		if [ "$i" -gt 300 ]; then
			kill -TERM "$pid"
			echo "mark 7 not acknowledged after 30 s" >&2
			return 1
		fi
		sleep 0.1
	done
	kill -TERM "$pid"
	wait "$pid" || :
}

@test "rekor-out-cloudevents: durable spool acknowledges marks before delivery" {
	spool_while_down
	[ "$(jq -r .next state.json)" = 7 ]
	[ -n "$(ls spool/seg-*)" ]
}

@test "rekor-out-cloudevents: restart resends what the spool holds" {
	spool_while_down
	start_fake cloudevents
	run -0 --separate-stderr ce -S spool -s state.json < /dev/null
	[ "$(jq -r .id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
	[ "$(find spool -name 'seg-*' | wc -l)" -eq 0 ]
}

@test "rekor-out-cloudevents: spool in use by another process exits 5" {
	start_fake cloudevents
	mkfifo in
	ce -S spool < in &
	pid=$!
	exec 4> in
	sleep 0.5
	run -5 --separate-stderr ce -S spool < /dev/null
	[[ "$stderr" == *"spool 'spool' is in use by another process"* ]]
	exec 4>&-
	wait "$pid"
}

@test "rekor-out-cloudevents: full spool blocks reading (bounded disk)" {
	port=$(free_port)
	gen_alerts --count 2000 --mark-every 100 --pad 1000 > big.ndjson
	run -3 --separate-stderr rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" \
	    -R 2s -S spool -M 64k -s state.json < big.ndjson
	# The spool stops growing at --spool-max plus one record.
	[ "$(du -sb spool | cut -f1)" -lt $((64 * 1024 + 8192)) ]
	# Marks beyond what the spool holds were not acknowledged.
	[ "$(jq -r .next state.json)" -lt 100 ]
}

@test "rekor-out-cloudevents: TLS certificate is verified by default" {
	make_cert .
	start_fake cloudevents --tls-cert cert.pem --tls-key key.pem
	run -3 --separate-stderr rekor-out-cloudevents -i x -R 1s \
	    -u "https://127.0.0.1:$FAKE_PORT/" < alerts.ndjson
	[[ "$stderr" == *"certificate"* ]]
	[ "$(wc -l < "$FAKE_REC")" -eq 0 ]
}

@test "rekor-out-cloudevents: --ca-file trusts a private CA" {
	make_cert .
	start_fake cloudevents --tls-cert cert.pem --tls-key key.pem
	run -0 --separate-stderr rekor-out-cloudevents -i x -C cert.pem \
	    -u "https://127.0.0.1:$FAKE_PORT/" < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
}

@test "rekor-out-cloudevents: --insecure skips verification" {
	make_cert .
	start_fake cloudevents --tls-cert cert.pem --tls-key key.pem
	run -0 --separate-stderr rekor-out-cloudevents -i x -k \
	    -u "https://127.0.0.1:$FAKE_PORT/" < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
}

@test "rekor-out-cloudevents: SIGTERM stops and keeps the spool" {
	port=$(free_port)
	mkfifo in
	rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" -S spool < in 2> err &
	pid=$!
	exec 4> in
	cat alerts.ndjson >&4
	sleep 0.5
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 143 ]
	exec 4>&-
	[ -n "$(ls spool/seg-*)" ]
}

@test "rekor-out-cloudevents: memory stays bounded while the destination is down" {
	port=$(free_port)
	gen_alerts --count 20000 --mark-every 500 --pad 2000 > big.ndjson
	[ "$(wc -c < big.ndjson)" -gt $((40 * 1024 * 1024)) ]
	mkfifo in
	rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" -S spool \
	    -M 1M < in 2> err &
	pid=$!
	exec 4> in
	# Feed in the background: the writer blocks once the spool is full.
	cat big.ndjson >&4 &
	feeder=$!
	sleep 2
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	[ "$(du -sk spool | cut -f1)" -le 1200 ]
	kill "$feeder"
	exec 4>&-
	kill -TERM "$pid"
	wait "$pid" || true
	# 64 MiB is one maximal line; this run never needs close to that.
	[ "$hwm" -lt 32768 ]
}

@test "rekor-out-cloudevents: --quiet hides retry warnings" {
	start_fake cloudevents --faults '[{"status": 503}]'
	run -0 --separate-stderr ce -q < alerts.ndjson
	[ -z "$stderr" ]
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
}

@test "rekor-out-cloudevents: --verbose reports the spool on restart" {
	port=$(free_port)
	run -3 --separate-stderr rekor-out-cloudevents -i x -u "http://127.0.0.1:$port/" \
	    -R 1s -S spool < alerts.ndjson
	start_fake cloudevents
	run -0 --separate-stderr ce -v -S spool < /dev/null
	[[ "$stderr" == *"spool 'spool' contains "*" undelivered bytes; sending them first"* ]]
}

@test "rekor-out-cloudevents: invalid --retry-max-time exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -i x -u http://127.0.0.1:9/ -R soon < /dev/null
	[[ "$stderr" == *"invalid retry time 'soon'"* ]]
}

@test "rekor-out-cloudevents: invalid --timeout exits 2" {
	run -2 --separate-stderr rekor-out-cloudevents -i x -u http://127.0.0.1:9/ -T 0 < /dev/null
	[[ "$stderr" == *"invalid timeout '0'"* ]]
}

@test "rekor-out-cloudevents: unusable dead-letter path exits 5" {
	FAKE_PORT=9
	run -5 --separate-stderr ce -d /nonexistent/dead.jsonl < /dev/null
	[[ "$stderr" == *"cannot open dead-letter file '/nonexistent/dead.jsonl'"* ]]
}

@test "rekor-out-cloudevents: torn last record of a spool segment is skipped" {
	start_fake cloudevents
	mkdir spool
	{ sed -n 2p alerts.ndjson; sed -n 3p alerts.ndjson | head -c 100; } \
	    > spool/seg-0000000000000001
	run -0 --separate-stderr ce -S spool < /dev/null
	[[ "$stderr" == *"spool segment 1 ends in a torn record of 100 bytes; skipping it"* ]]
	[ "$(wc -l < "$FAKE_REC")" -eq 1 ]
	[ "$(jq -r .id "$FAKE_REC")" = "$(sed -n 2p alerts.ndjson | jq -r .alertID)" ]
}

@test "rekor-out-cloudevents: clean stop resends nothing already delivered" {
	start_fake cloudevents --faults '[{"count": 3}, {"status": 503, "count": -1}]'
	# 5 s of retries leave the reading thread, whose fsyncs can be slow on
	# a loaded machine, ample time to spool all seven alerts.
	run -3 --separate-stderr ce -R 5s -S spool < alerts.ndjson
	[ "$(wc -l < "$FAKE_REC")" -eq 3 ]
	set_faults "$FAKE_PORT" '[]'
	run -0 --separate-stderr ce -S spool < /dev/null
	[ "$(wc -l < "$FAKE_REC")" -eq 7 ]
	[ "$(jq -r .id "$FAKE_REC" | sort)" = "$(alert_ids alerts.ndjson)" ]
}
