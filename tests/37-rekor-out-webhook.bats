#!/usr/bin/env bats
# rekor-out-webhook against a strict local webhook receiver.

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

# Runs rekor-out-webhook with the URL of the fake in the environment.
hook() {
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="$WEBHOOK_BASE/hook" \
	    rekor-out-webhook "$@"
}

requests() {
	wc -l < "$WEBHOOK_LOG"
}

@test "rekor-out-webhook: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-out-webhook --help
	[[ "$output" == *"usage: rekor-out-webhook"* ]]
	[[ "$output" == *"--url-file"* ]]
	[[ "$output" == *"--headers-file"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-webhook: --version prints the version" {
	run -0 --separate-stderr rekor-out-webhook -V
	[[ "$output" == "rekor-out-webhook "[0-9]* ]]
}

@test "rekor-out-webhook: unknown option exits 2" {
	run -2 --separate-stderr rekor-out-webhook --bogus
	[[ "$stderr" == *"usage: rekor-out-webhook"* ]]
}

@test "rekor-out-webhook: a URL argument is rejected" {
	run -2 --separate-stderr rekor-out-webhook http://127.0.0.1:9/x \
	    < /dev/null
	[[ "$stderr" == *"unexpected argument"* ]]
}

@test "rekor-out-webhook: missing URL exits 2" {
	run -2 --separate-stderr rekor-out-webhook < alerts.ndjson
	[[ "$stderr" == *"missing webhook URL"* ]]
}

@test "rekor-out-webhook: invalid URL exits 2 without showing it" {
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL='file:///tok3n' run -2 \
	    --separate-stderr rekor-out-webhook < alerts.ndjson
	[[ "$stderr" == *"invalid webhook URL"* ]]
	[[ "$stderr" != *tok3n* ]]
}

@test "rekor-out-webhook: invalid --format exits 2" {
	run -2 --separate-stderr rekor-out-webhook -f xml < /dev/null
	[[ "$stderr" == *"invalid format 'xml'"* ]]
}

@test "rekor-out-webhook: JSON format posts each record as is" {
	fake_webhook_start
	run -0 --separate-stderr hook < alerts.ndjson
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(requests)" -eq 3 ]
	jq -r .body "$WEBHOOK_LOG" > got.ndjson
	grep -v '"control"' alerts.ndjson > want.ndjson
	cmp want.ndjson got.ndjson
	[ "$(jq -r '.headers["Content-Type"]' "$WEBHOOK_LOG" | sort -u)" = \
	    application/json ]
}

@test "rekor-out-webhook: Idempotency-Key carries the alertID" {
	fake_webhook_start
	run -0 --separate-stderr hook < alerts.ndjson
	[ "$(jq -r '.headers["Idempotency-Key"]' "$WEBHOOK_LOG")" = \
	    "$(alert_ids_of alerts.ndjson)" ]
}

@test "rekor-out-webhook: URL from --url-file" {
	fake_webhook_start --path /services/T000/B000/tok
	echo "$WEBHOOK_BASE/services/T000/B000/tok" > url
	run -0 --separate-stderr rekor-out-webhook -u url < alerts.ndjson
	[ "$(requests)" -eq 3 ]
	[ "$(jq -r .path "$WEBHOOK_LOG" | sort -u)" = /services/T000/B000/tok ]
}

@test "rekor-out-webhook: slack format sends Slack's text message" {
	fake_webhook_start --slack
	run -0 --separate-stderr hook -f slack < alerts.ndjson
	[ "$(requests)" -eq 3 ]
	[ "$(jq -r .status "$WEBHOOK_LOG" | sort -u)" = 200 ]
	text=$(head -1 "$WEBHOOK_LOG" | jq -r '.body | fromjson | .text')
	[[ "$text" == "Rekor alert: policy 'unexpected-signer' matched log entry 79571823"* ]]
	[[ "$text" == *"Kind: hashedrekord 0.0.1"* ]]
	[[ "$text" == *"Integrated: 2024-03-19T17:26:26Z"* ]]
	[[ "$text" == *"Signer: https://github.com/sigstore-conformance/"* ]]
	[[ "$text" == *"Entry: https://rekor.sigstore.dev/api/v1/log/entries/24296fb24b8ad77a"* ]]
	[[ "$text" == *"Alert ID: $(alert_ids_of alerts.ndjson | head -1)"* ]]
	[ "$(head -1 "$WEBHOOK_LOG" | jq -r '.body | fromjson | keys | join(",")')" = text ]
}

@test "rekor-out-webhook: slack text escapes &, < and >" {
	real_alerts --count 1 --policy 'a<b>&c' --description '<!channel>' \
	    > odd.ndjson
	fake_webhook_start --slack
	run -0 --separate-stderr hook -f slack < odd.ndjson
	text=$(jq -r '.body | fromjson | .text' "$WEBHOOK_LOG")
	[[ "$text" == *"policy 'a&lt;b&gt;&amp;c'"* ]]
	[[ "$text" == *"Description: &lt;!channel&gt;"* ]]
}

@test "rekor-out-webhook: headers from the environment are sent" {
	fake_webhook_start --require-header 'Authorization: Bearer t0ken'
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS=$'Authorization: Bearer t0ken\nX-Team: sec' \
	    run -0 --separate-stderr hook < alerts.ndjson
	[ "$(jq -r .status "$WEBHOOK_LOG" | sort -u)" = 200 ]
	[ "$(jq -r '.headers["X-Team"]' "$WEBHOOK_LOG" | sort -u)" = sec ]
}

@test "rekor-out-webhook: headers from --headers-file, CRLF and blank lines" {
	printf 'Authorization: Bearer t0ken\r\n\r\nX-Team: sec\r\n' > headers
	fake_webhook_start --require-header 'Authorization: Bearer t0ken'
	run -0 --separate-stderr hook -H headers < alerts.ndjson
	[ "$(jq -r .status "$WEBHOOK_LOG" | sort -u)" = 200 ]
}

@test "rekor-out-webhook: invalid header lines exit 2 without the value" {
	local bad
	for bad in 'no colon here' ': empty-name' 'Bad Name: v' \
	    $'X-Ctl: a\001b' 'Host: evil' 'content-length: 5' \
	    'Content-Type: text/plain' 'Idempotency-Key: x'; do
		REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL=http://127.0.0.1:9/x \
		REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS="$bad" \
		    run -2 --separate-stderr rekor-out-webhook < /dev/null
		[[ "$stderr" == *"REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS, line 1"* ]]
	done
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL=http://127.0.0.1:9/x \
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS=$'X-Ctl: s3cr\001et' \
	    run -2 --separate-stderr rekor-out-webhook < /dev/null
	[[ "$stderr" != *s3cr* ]]
}

@test "rekor-out-webhook: URL and headers are not in argv, environ or -vv" {
	fake_webhook_start --path /hook/tok-5e6f --reply slow:2 \
	    --require-header 'X-Key: hdr-7a8b'
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="$WEBHOOK_BASE/hook/tok-5e6f" \
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS='X-Key: hdr-7a8b' \
	    rekor-out-webhook -vv < alerts.ndjson 2> stderr.txt &
	pid=$!
	server_track output "$pid"
	wait_for_file "$WEBHOOK_LOG.arrived"
	secret_not_exposed "$pid" tok-5e6f
	secret_not_exposed "$pid" hdr-7a8b
	wait "$pid"
	[ "$(requests)" -eq 3 ]
	run -1 grep -c -e tok-5e6f -e hdr-7a8b stderr.txt
	grep -q 'X-Key: (hidden)' stderr.txt
}

@test "rekor-out-webhook: 4xx is permanent: dead-letter file, state acked" {
	fake_webhook_start --reply 404 --reply 410
	run -1 --separate-stderr hook -d dl.ndjson -s state.json \
	    < alerts.ndjson
	[ "$(requests)" -eq 3 ]
	[ "$(wc -l < dl.ndjson)" -eq 2 ]
	[ "$(jq -r .status dl.ndjson | paste -sd, -)" = 404,410 ]
	[ "$(state_next state.json)" -eq 771488338 ]
}

@test "rekor-out-webhook: slack invalid_payload is reported" {
	fake_webhook_start --slack
	run -1 --separate-stderr hook -d dl.ndjson < alerts.ndjson
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$stderr" == *"HTTP 400: invalid_payload"* ]]
}

@test "rekor-out-webhook: redirect is not followed" {
	fake_webhook_start --reply 302
	run -1 --separate-stderr hook -d dl.ndjson < alerts.ndjson
	[ "$(requests)" -eq 3 ]
	run -1 grep -c /elsewhere "$WEBHOOK_LOG"
	[ "$(jq -r .status dl.ndjson)" = 302 ]
}

@test "rekor-out-webhook: 429 with Retry-After is retried" {
	fake_webhook_start --reply 429:1
	run -0 --separate-stderr hook < alerts.ndjson
	[ "$(requests)" -eq 4 ]
	[[ "$stderr" == *"retry 1 in 1000 ms"* ]]
	[ "$(jq -r 'select(.status == 200) | .body | fromjson | .logIndex' \
	    "$WEBHOOK_LOG" | paste -sd, -)" = 79571823,155690850,771488337 ]
}

@test "rekor-out-webhook: 5xx and dropped connections are retried" {
	fake_webhook_start --reply 500 --reply drop --reply 503
	run -0 --separate-stderr hook < alerts.ndjson
	[ "$(requests)" -eq 6 ]
	[ "$(jq -r 'select(.status == 200)' "$WEBHOOK_LOG" | jq -s length)" -eq 3 ]
}

@test "rekor-out-webhook: 501 is permanent" {
	fake_webhook_start --reply 501
	run -1 --separate-stderr hook -d dl.ndjson < alerts.ndjson
	[ "$(jq -r .status dl.ndjson)" = 501 ]
}

@test "rekor-out-webhook: --retry-max-time gives up with status 3" {
	fake_webhook_start --reply 503 --reply 503 --reply 503 --reply 503 \
	    --reply 503 --reply 503
	run -3 --separate-stderr hook -R 1s -s state.json < alerts.ndjson
	[[ "$stderr" == *"giving up"* ]]
	[ ! -e state.json ]
}

@test "rekor-out-webhook: state follows the marks" {
	real_alerts --count 4 --start 7000 --mark-every 2 > marked.ndjson
	fake_webhook_start
	run -0 --separate-stderr hook -s state.json < marked.ndjson
	[ "$(state_next state.json)" -eq 7004 ]
}

@test "rekor-out-webhook: https with --ca-file" {
	make_test_cert cert
	port=$(free_port)
	python3 - "$port" cert <<-'EOF' 3>&- &
	import http.server, ssl, sys
	class H(http.server.BaseHTTPRequestHandler):
	    def do_POST(self):
	        self.rfile.read(int(self.headers["Content-Length"]))
	        self.send_response(204)
	        self.end_headers()
	    def log_message(self, *a):
	        pass
	s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(sys.argv[2] + ".crt", sys.argv[2] + ".key")
	s.socket = ctx.wrap_socket(s.socket, server_side=True)
	s.serve_forever()
	EOF
	server_track tls-server $!
	wait_for_port "$port"
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="https://127.0.0.1:$port/" \
	    run -0 --separate-stderr rekor-out-webhook -C cert.crt \
	    < alerts.ndjson
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="https://127.0.0.1:$port/" \
	    run -3 --separate-stderr rekor-out-webhook -R 1s < alerts.ndjson
	[[ "$stderr" == *"certificate"* ]]
}

@test "rekor-out-webhook: 31 extra headers are sent, 32 exit 2" {
	fake_webhook_start
	seq 1 31 | sed 's/.*/X-H&: v&/' > headers
	run -0 --separate-stderr hook -H headers < alerts.ndjson
	[ "$(head -1 "$WEBHOOK_LOG" | jq -r '.headers | keys[]' |
	    grep -c '^X-H')" -eq 31 ]
	echo 'X-H32: v32' >> headers
	run -2 --separate-stderr hook -H headers < alerts.ndjson
	[[ "$stderr" == *"more than 31 headers"* ]]
}

@test "rekor-out-webhook: SIGTERM stops retries after end of input" {
	local port pid status=0 i=0
	port=$(free_port)
	# Nothing listens on the port, so every attempt fails and is retried;
	# standard input is a file, so the reading thread has already ended.
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="http://127.0.0.1:$port/hook" \
	    rekor-out-webhook -s state.json < alerts.ndjson 2> err.txt &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		echo "rekor-out-webhook ignored SIGTERM after end of input" >&2
		return 1
	fi
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	[ ! -e state.json ]
}
