#!/usr/bin/env bats
# rekor-tail against the fake Rekor server.  The fake's log has 18 entries
# in three shards: 4 in tree 3904496407287907110 (globals 0-3), 8 in tree
# 2605736670972794746 (4-11) and 6 in the active tree 1193050959916656506
# (12-17); the fixtures are at 5, 7, 10, 12 and 16.

load test_helper
load lib/rekor

setup() {
	OUT="$BATS_TEST_TMPDIR/out.ndjson"
	ERR="$BATS_TEST_TMPDIR/err.txt"
}

teardown() {
	if [ -n "${TAIL_PID:-}" ]; then
		kill "$TAIL_PID" 2>/dev/null || true
		wait "$TAIL_PID" 2>/dev/null || true
	fi
	rekor_stop
}

# Starts rekor-tail in the background with stdout in $OUT, stderr in $ERR.
tail_background() {
	rekor-tail "$@" >"$OUT" 2>"$ERR" 3>&- &
	TAIL_PID=$!
}

# Waits for the background rekor-tail and sets TAIL_STATUS.
tail_wait() {
	TAIL_STATUS=0
	wait "$TAIL_PID" || TAIL_STATUS=$?
	TAIL_PID=
}

entries() {
	jq -c 'select(.control == null) | .logIndex' | paste -sd' ' -
}

# ---------------------------------------------------------------- options

@test "rekor-tail: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-tail --help
	[[ "$output" == "usage: rekor-tail "* ]]
	[[ "$output" == *"--ack-state FILE"* ]]
	[ -z "$stderr" ]
}

@test "rekor-tail: -h is --help" {
	run -0 --separate-stderr rekor-tail -h
	[[ "$output" == "usage: rekor-tail "* ]]
}

@test "rekor-tail: --version prints the version" {
	run -0 --separate-stderr rekor-tail --version
	[[ "$output" =~ ^rekor-tail\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	[ -z "$stderr" ]
	run -0 --separate-stderr rekor-tail -V
	[[ "$output" =~ ^rekor-tail\ [0-9] ]]
}

@test "rekor-tail: unknown option exits 2 with usage" {
	run -2 --separate-stderr rekor-tail --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: rekor-tail"* ]]
}

@test "rekor-tail: stray argument exits 2" {
	run -2 --separate-stderr rekor-tail -s http://127.0.0.1:9 extra
	[ -z "$output" ]
	[[ "$stderr" == *"unexpected argument 'extra'"* ]]
}

@test "rekor-tail: invalid option values exit 2" {
	local cases=(
		"--from|-1|invalid --from '-1': expected a log index or 'tip'"
		"--from|12x|invalid --from '12x'"
		"--to|top|invalid --to 'top'"
		"--to|9007199254740993|invalid --to '9007199254740993'"
		"--interval|0|invalid --interval '0': expected a time from 100ms to 1h"
		"--interval|5 s|invalid --interval '5 s'"
		"--timeout|2d|invalid --timeout '2d'"
		"--retries|1001|invalid --retries '1001': expected a number from 0 to 1000"
		"--parallel|0|invalid --parallel '0': expected a number from 1 to 32"
		"--parallel|33|invalid --parallel '33'"
		"--server|ftp://127.0.0.1|invalid --server 'ftp://127.0.0.1': expected an http:// or https:// URL"
		"--server|http://127.0.0.1/?x=1|invalid --server 'http://127.0.0.1/?x=1'"
	)
	local c opt val msg
	for c in "${cases[@]}"; do
		IFS='|' read -r opt val msg <<<"$c"
		run -2 --separate-stderr rekor-tail -s http://127.0.0.1:9 \
		    "$opt" "$val"
		[ -z "$output" ]
		[[ "$stderr" == *"rekor-tail: $msg"* ]]
		[[ "$stderr" == *"usage: rekor-tail"* ]]
	done
}

@test "rekor-tail: --to not above --from exits 2" {
	run -2 --separate-stderr rekor-tail -s http://127.0.0.1:9 -f 5 -t 5
	[ -z "$output" ]
	[[ "$stderr" == *"--to 5 must be greater than --from 5"* ]]
}

@test "rekor-tail: -q with -v exits 2" {
	run -2 --separate-stderr rekor-tail -s http://127.0.0.1:9 -q -v
	[[ "$stderr" == *"-q and -v exclude each other"* ]]
}

# ---------------------------------------------------------------- reading

@test "rekor-tail: reproduces every fixture entry" {
	rekor_start
	rekor_expected_fixtures >"$BATS_TEST_TMPDIR/expected"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/expected")" -eq 5 ]
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" --from 0 --to 18
	[ -z "$stderr" ]
	rekor_actual_fixtures 5 7 10 12 16 <<<"$output" \
	    >"$BATS_TEST_TMPDIR/actual"
	diff -u "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/actual"
}

@test "rekor-tail: keeps the captured UUID of the API fixture" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 5 -t 6
	[ "$(jq -r 'select(.logIndex == 5) | .uuid' <<<"$output")" = \
	    24296fb24b8ad77ad9ca41820f93cdbef2264692ced5c142d19e2ba859ab9f2b500d1917afe8ef30 ]
}

@test "rekor-tail: writes every index once, in order" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t tip -P 8
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[ -z "$stderr" ]
}

@test "rekor-tail: maps indexes onto inactive and active shards" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	local got
	got=$(jq -r 'select(.logIndex == 3 or .logIndex == 4 or
	    .logIndex == 11 or .logIndex == 12 or .logIndex == 17) |
	    "\(.logIndex) \(.treeID) \(.treeIndex) \(.uuid[0:16])"' <<<"$output")
	[ "$got" = "3 3904496407287907110 3 362f8ecba72f4326
4 2605736670972794746 0 24296fb24b8ad77a
11 2605736670972794746 7 24296fb24b8ad77a
12 1193050959916656506 0 108e9186e8c5677a
17 1193050959916656506 5 108e9186e8c5677a" ]
}

@test "rekor-tail: entry record has the documented fields" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 16 -t 17
	local rec
	rec=$(jq -c 'select(.logIndex == 16)' <<<"$output")
	[ "$(jq -r 'keys_unsorted | join(",")' <<<"$rec")" = \
	    "uuid,logIndex,treeID,treeIndex,logID,integratedTime,time,kind,apiVersion,body,url,verification" ]
	[ "$(jq -r .time <<<"$rec")" = "2025-12-18T17:04:39Z" ]
	[ "$(jq -r .integratedTime <<<"$rec")" = 1766077479 ]
	[ "$(jq -r .url <<<"$rec")" = "$REKOR_URL/api/v1/log/entries/$(jq -r .uuid <<<"$rec")" ]
	[ "$(jq -r .verification.inclusionProof.logIndex <<<"$rec")" = 4 ]
	[ "$(jq -r .verification.signedEntryTimestamp <<<"$rec")" = \
	    "MEQCIDCmqrzKHm8Y9CvXE/AzDdOfHGBUyWV9Pw0/qN2CJp2sAiAbgHsHGonTsf+F2DH1RYaTibMDseyHs40JpXEILqOmnw==" ]
}

@test "rekor-tail: first record is a mark at the start" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 7 -t 9
	[ "$(head -n 1 <<<"$output")" = \
	    "{\"control\":\"mark\",\"log\":\"3904496407287907110\",\"server\":\"$REKOR_URL\",\"next\":7}" ]
	[ "$(tail -n 1 <<<"$output" | jq -c '[.control, .next]')" = '["mark",9]' ]
	[ "$(entries <<<"$output")" = "7 8" ]
}

@test "rekor-tail: a mark follows each run written" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18 -P 1
	# With one request in flight, each batch of 10 is its own run.
	[ "$(jq -c 'select(.control == "mark") | .next' <<<"$output" |
	    paste -sd' ' -)" = "0 10 18" ]
}

@test "rekor-tail: --to tip stops at the tip seen at start" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 15 -t tip
	[ "$(entries <<<"$output")" = "15 16 17" ]
}

@test "rekor-tail: --from tip --to tip writes one mark only" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -t tip
	[ "$output" = "{\"control\":\"mark\",\"log\":\"3904496407287907110\",\"server\":\"$REKOR_URL\",\"next\":18}" ]
}

@test "rekor-tail: asks for at most 10 indexes per request" {
	rekor_start --filler 50
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t tip
	[ "$(entries <<<"$output" | wc -w)" -eq 68 ]
	[ "$(rekor_stat max_indexes)" -eq 10 ]
}

@test "rekor-tail: fake rejects 11 indexes like Rekor" {
	rekor_start
	run -0 curl -sS -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
	    -H 'Content-Type: application/json' \
	    -d '{"logIndexes":[0,1,2,3,4,5,6,7,8,9,10]}' \
	    "$REKOR_URL/api/v1/log/entries/retrieve"
	[ "$output" = 422 ]
	[ "$(jq -r .message "$BATS_TEST_TMPDIR/body")" = \
	    "logIndexes in body should have at most 10 items" ]
}

@test "rekor-tail: fake answers 404 past the tip" {
	rekor_start
	run -0 curl -sS -o /dev/null -w '%{http_code}' \
	    "$REKOR_URL/api/v1/log/entries?logIndex=17"
	[ "$output" = 200 ]
	run -0 curl -sS -o /dev/null -w '%{http_code}' \
	    "$REKOR_URL/api/v1/log/entries?logIndex=18"
	[ "$output" = 404 ]
}

@test "rekor-tail: -vv shows each request" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -vv -f 0 -t 12
	[[ "$stderr" == *"rekor-tail: debug: requesting indexes 0-9"* ]]
	[[ "$stderr" == *"rekor-tail: debug: requesting indexes 10-11"* ]]
}

@test "rekor-tail: -v reports the log layout" {
	rekor_start
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -v -f 0 -t 1
	[[ "$stderr" == *"log '3904496407287907110' at '$REKOR_URL': 3 shards, 18 entries; starting at 0"* ]]
}

# ---------------------------------------------------------------- retries

@test "rekor-tail: 429 with Retry-After is retried" {
	rekor_start
	rekor_control 'fault?kind=status&code=429&retry_after=1&count=2'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[[ "$stderr" == *"HTTP status 429; retrying in 1000 ms"* ]]
}

@test "rekor-tail: 429 with HTML body is retried" {
	rekor_start
	rekor_control 'fault?kind=html&code=429&count=3'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[[ "$stderr" == *"HTTP status 429; retrying"* ]]
	[[ "$output" != *"html"* ]]
}

@test "rekor-tail: 500s are retried" {
	rekor_start
	rekor_control 'fault?kind=status&code=500&count=3'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[[ "$stderr" == *"HTTP status 500; retrying"* ]]
}

@test "rekor-tail: 503 on the log info is retried" {
	rekor_start
	rekor_control 'fault?kind=status&code=503&count=2&on=log'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 3
	[ "$(entries <<<"$output")" = "0 1 2" ]
	[[ "$stderr" == *"reading the log info from '$REKOR_URL': HTTP status 503; retrying"* ]]
}

@test "rekor-tail: 500 after every retry exits 3" {
	rekor_start
	rekor_control 'fault?kind=status&code=500&count=100'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -r 2
	[ "$(entries <<<"$output")" = "" ]
	[[ "$stderr" == *"retrieving indexes 0-4 from '$REKOR_URL': HTTP status 500; giving up after 3 attempts; check the server or raise --retries"* ]]
}

@test "rekor-tail: 404 on the log info exits 3 at once" {
	rekor_start
	rekor_control 'fault?kind=status&code=404&on=log'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5
	[ -z "$output" ]
	[[ "$stderr" == *"reading the log info from '$REKOR_URL': HTTP status 404 ('injected fault')"* ]]
	[[ "$stderr" != *"retrying"* ]]
}

@test "rekor-tail: truncated reply is retried" {
	rekor_start
	rekor_control 'fault?kind=truncate&count=2'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[[ "$stderr" == *"retrying"* ]]
}

@test "rekor-tail: dropped connection is retried" {
	rekor_start
	rekor_control 'fault?kind=drop&count=2'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 18
	[ "$(entries <<<"$output")" = "$(seq -s' ' 0 17)" ]
	[[ "$stderr" == *"retrying"* ]]
}

@test "rekor-tail: 200 with HTML is never data" {
	rekor_start
	rekor_control 'fault?kind=garbage&count=100'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -r 2
	[ "$(entries <<<"$output")" = "" ]
	[[ "$stderr" == *"the reply is not JSON; retrying"* ]]
	[[ "$stderr" == *"the reply is not JSON; giving up after 3 attempts"* ]]
}

@test "rekor-tail: 200 with HTML once is retried" {
	rekor_start
	rekor_control 'fault?kind=garbage&count=1'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5
	[ "$(entries <<<"$output")" = "0 1 2 3 4" ]
}

@test "rekor-tail: JSON object for a list exits 3" {
	rekor_start
	rekor_control 'fault?kind=object&count=100'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -r 1
	[ "$(entries <<<"$output")" = "" ]
	[[ "$stderr" == *"retrieving indexes 0-4 from '$REKOR_URL': the reply is not a JSON list; giving up after 2 attempts"* ]]
}

@test "rekor-tail: log info without treeID exits 3" {
	rekor_start
	rekor_control 'fault?kind=object&count=100&on=log'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -r 1
	[ -z "$output" ]
	[[ "$stderr" == *"reading the log info from '$REKOR_URL': \"treeID\" is not a decimal string; giving up after 2 attempts"* ]]
}

@test "rekor-tail: numeric tree id is rejected" {
	rekor_start
	rekor_control 'fault?kind=numeric-tree-id&count=1&on=log'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 2
	[ "$(entries <<<"$output")" = "0 1" ]
	[[ "$stderr" == *"\"treeID\" is not a decimal string; retrying"* ]]
}

@test "rekor-tail: item without logIndex is retried" {
	rekor_start
	rekor_control 'fault?kind=no-index&index=1&count=1'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 3
	[ "$(entries <<<"$output")" = "0 1 2" ]
	[[ "$stderr" == *"invalid item in the reply for indexes 0-2: entry '362f8ecba72f4326"*"' has no valid \"logIndex\""* ]]
	[[ "$stderr" == *"the reply has invalid items; retrying"* ]]
}

@test "rekor-tail: slow reply past --timeout is retried" {
	rekor_start
	rekor_control 'fault?kind=slow&seconds=3&count=1'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -T 500ms
	[ "$(entries <<<"$output")" = "0 1 2 3 4" ]
	[[ "$stderr" == *"timed out"* ]]
}

@test "rekor-tail: missing index is fetched again" {
	rekor_start
	rekor_control 'fault?kind=missing&index=3&count=2'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5
	[ "$(entries <<<"$output")" = "0 1 2 3 4" ]
	[[ "$stderr" == *"the reply lacks index 3; retrying"* ]]
}

@test "rekor-tail: index that never comes back exits 3" {
	rekor_start
	rekor_control 'fault?kind=missing&index=3'
	run -3 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -r 2
	[ "$(entries <<<"$output")" = "0 1 2" ]
	[[ "$stderr" == *"the reply lacks index 3; giving up after 3 attempts"* ]]
	[ "$(tail -n 1 <<<"$output" | jq -c '[.control, .next]')" = '["mark",3]' ]
}

@test "rekor-tail: unreachable server exits 3" {
	local port
	port=$(free_port)
	run -3 --separate-stderr rekor-tail -s "http://127.0.0.1:$port" \
	    -f 0 -t 5 -r 1
	[ -z "$output" ]
	[[ "$stderr" == *"reading the log info from 'http://127.0.0.1:$port': "*"; giving up after 2 attempts"* ]]
}

@test "rekor-tail: server that comes up late is waited for" {
	REKOR_PORT=$(free_port)
	tail_background -s "http://127.0.0.1:$REKOR_PORT" -f 0 -t 5 -r 20
	wait_for_text "$ERR" "retrying"
	rekor_start
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(entries <"$OUT")" = "0 1 2 3 4" ]
}

@test "rekor-tail: server that goes away and comes back" {
	rekor_start
	tail_background -s "$REKOR_URL" -f 0 -i 200ms -r 50
	wait_for_record "$OUT" '.control == "mark" and .next == 18'
	rekor_stop
	sleep 0.5
	rekor_start --filler 3
	wait_for_record "$OUT" '.logIndex == 20'
	kill -TERM "$TAIL_PID"
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(entries <"$OUT")" = "$(seq -s' ' 0 20)" ]
}

@test "rekor-tail: -q hides retry warnings" {
	rekor_start
	rekor_control 'fault?kind=status&code=500&count=1'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5 -q
	[ "$(entries <<<"$output")" = "0 1 2 3 4" ]
	[ -z "$stderr" ]
}

# ---------------------------------------------------------------- bad data

@test "rekor-tail: bad base64 body becomes a malformed record" {
	rekor_start
	rekor_control 'fault?kind=bad-base64&index=3'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 6
	[ "$(entries <<<"$output")" = "0 1 2 4 5" ]
	local rec
	rec=$(jq -c 'select(.control == "malformed")' <<<"$output")
	[ "$(jq -r .logIndex <<<"$rec")" = 3 ]
	[ "$(jq -r .error <<<"$rec")" = "body is not valid base64" ]
	[ "$(jq -r '.raw[].body' <<<"$rec")" = '!!not base64!!' ]
	[ "$(jq -r '.raw | keys[0]' <<<"$rec")" = "$(jq -r .uuid <<<"$rec")" ]
	[[ "$stderr" == *"entry 3 '362f8ecba72f4326"*"': body is not valid base64; written as a malformed record"* ]]
	[ "$(tail -n 1 <<<"$output" | jq -c '[.control, .next]')" = '["mark",6]' ]
}

@test "rekor-tail: non-JSON body becomes a malformed record" {
	rekor_start
	rekor_control 'fault?kind=not-json&index=12'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 10 -t 14
	[ "$(entries <<<"$output")" = "10 11 13" ]
	[ "$(jq -r 'select(.control == "malformed") | "\(.logIndex) \(.error)"' \
	    <<<"$output")" = "12 body is not a JSON object" ]
	[[ "$stderr" == *"entry 12 '108e9186e8c5677a"*"': body is not a JSON object"* ]]
}

# Serves text $2 (printf format) as the body of global index $1.
serve_body() {
	local b64
	b64=$(printf "$2" | basenc --base64url -w 0)
	rekor_control "fault?kind=body&index=$1&b64=$b64"
}

@test "rekor-tail: body with a duplicate key becomes a malformed record" {
	rekor_start
	serve_body 2 '{"apiVersion":"0.0.1","kind":"hashedrekord","kind":"intoto"}'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 4
	[ "$(entries <<<"$output")" = "0 1 3" ]
	[ "$(jq -r 'select(.control == "malformed") | "\(.logIndex) \(.error)"' \
	    <<<"$output")" = "2 body has the key 'kind' twice in one object" ]
}

@test "rekor-tail: nested duplicate key becomes a malformed record" {
	rekor_start
	serve_body 2 '{"apiVersion":"0.0.1","kind":"x","spec":[{"a":1,"b":2,"a":3}]}'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 3
	[ "$(jq -r 'select(.control == "malformed") | .error' <<<"$output")" = \
	    "body has the key 'a' twice in one object" ]
}

@test "rekor-tail: key with an escaped NUL becomes a malformed record" {
	rekor_start
	serve_body 2 '{"apiVersion":"0.0.1","kind\\u0000":"intoto"}'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 3
	[ "$(jq -r 'select(.control == "malformed") | .error' <<<"$output")" = \
	    'body contains the escape \u0000' ]
}

# Prints a body whose object holds arrays nested $1 - 1 deep: $1 levels.
nested_body() {
	local open close
	open=$(printf '%*s' "$(($1 - 1))" '' | tr ' ' '[')
	close=$(printf '%*s' "$(($1 - 1))" '' | tr ' ' ']')
	printf '{"apiVersion":"0.0.1","kind":"x","spec":%s%s}' "$open" "$close"
}

@test "rekor-tail: body nested 129 deep becomes a malformed record" {
	rekor_start
	serve_body 2 "$(nested_body 129)"
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 3
	[ "$(jq -r 'select(.control == "malformed") | .error' <<<"$output")" = \
	    "body nests deeper than 128 levels" ]
}

@test "rekor-tail: body over 16 MiB becomes a malformed record" {
	local b64 size=$((16 * 1024 * 1024))
	rekor_start
	b64=$(printf '{"apiVersion":"0.0.1","kind":"x","pad":"a"}' |
	    basenc --base64url -w 0)
	# 43 bytes plus the padding: one byte over the limit.
	rekor_control "fault?kind=body&index=2&b64=$b64&pad=$((size - 42))"
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 1 -t 4
	[ "$(entries <<<"$output")" = "1 3" ]
	[ "$(jq -r 'select(.control == "malformed") | .error' <<<"$output")" = \
	    "body of $((size + 1)) bytes is over the limit of $size bytes; 'raw' leaves it out" ]
	[ "$(jq -r 'select(.control == "malformed") | .raw[] | has("body")' \
	    <<<"$output")" = false ]
	[ "$(wc -c <<<"$output")" -lt 100000 ]
}

@test "rekor-tail: body nested 128 deep is an entry jq reads" {
	rekor_start
	serve_body 2 "$(nested_body 128)"
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 3
	[ "$(jq -r 'select(.logIndex == 2) | .kind' <<<"$output")" = x ]
}

@test "rekor-tail: body that is not UTF-8 becomes a malformed record" {
	rekor_start
	serve_body 2 '{"apiVersion":"0.0.1","kind":"hashedrekord","x":"\377"}'
	run -1 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 4
	[ "$(entries <<<"$output")" = "0 1 3" ]
	[ "$(jq -r 'select(.control == "malformed") | "\(.logIndex) \(.error)"' \
	    <<<"$output")" = "2 body is not valid UTF-8" ]
}

@test "rekor-tail: body with UTF-8 text is an entry" {
	rekor_start
	serve_body 2 '{"apiVersion":"0.0.1","kind":"hashedrekord","x":"\303\251"}'
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 3
	[ "$(jq -r 'select(.logIndex == 2) | .body.x' <<<"$output")" = "é" ]
}

@test "rekor-tail: item at the wrong index exits 4" {
	rekor_start
	rekor_control 'fault?kind=wrong-index&index=5'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 10 -P 1
	[ "$(entries <<<"$output")" = "" ]
	[[ "$stderr" == *"the log contradicts itself at index 6: entry '24296fb24b8ad77ad9ca"*"' at index 6 has proof index 1 in tree '2605736670972794746', which is global index 5"* ]]
}

@test "rekor-tail: UUID of another shard exits 4" {
	rekor_start
	rekor_control 'fault?kind=wrong-shard&index=5'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 4 -t 8
	[[ "$stderr" == *"the log contradicts itself at index 5: UUID '362f8ecba72f4326"*"' names tree 362f8ecba72f4326, but index 5 belongs to tree '2605736670972794746' (24296fb24b8ad77a)"* ]]
	[[ "$output" != *'"logIndex":5'* ]]
}

@test "rekor-tail: UUID without the body's leaf hash exits 4" {
	rekor_start
	rekor_control 'fault?kind=wrong-leaf&index=5'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 4 -t 8
	[[ "$stderr" == *"at index 5 does not end with the leaf hash of its body, d9ca41820f93cdbef2264692ced5c142d19e2ba859ab9f2b500d1917afe8ef30"* ]]
	[[ "$output" != *'"logIndex":5'* ]]
}

@test "rekor-tail: proof index off by one exits 4" {
	rekor_start
	rekor_control 'fault?kind=proof-index&index=13'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 12 -t 15
	[[ "$stderr" == *"at index 13 has proof index 2 in tree '1193050959916656506', which is global index 14"* ]]
	[[ "$output" != *'"logIndex":13'* ]]
}

@test "rekor-tail: item nobody asked for exits 4" {
	rekor_start
	rekor_control 'fault?kind=extra&index=2'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5
	[[ "$stderr" == *"came back as index 12 in a reply for indexes 0-4 that did not ask for it"* ]]
}

@test "rekor-tail: index served twice exits 4" {
	rekor_start
	rekor_control 'fault?kind=duplicate&index=2'
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 5
	[[ "$stderr" == *"came back as index 2, which this run has already received"* ]]
	# Nothing of a reply that contradicts itself is written.
	[ "$(entries <<<"$output")" = "" ]
}

@test "rekor-tail: 64-hex UUIDs from a one-shard log" {
	rekor_start --layout single --short-uuids
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t tip
	[ "$(entries <<<"$output")" = "0 1 2 3 4 5" ]
	[ "$(jq -r 'select(.logIndex == 0) | .uuid | length' <<<"$output")" = 64 ]
	[ "$(head -n 1 <<<"$output" | jq -r .log)" = 1193050959916656506 ]
}

@test "rekor-tail: 64-hex UUIDs from a sharded log exit 4" {
	rekor_start --short-uuids
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 3
	[[ "$stderr" == *"has no tree id, but the log has 3 shards"* ]]
}

# ---------------------------------------------------------------- state

@test "rekor-tail: --state resumes where the last run stopped" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 7 -S "$st"
	[ "$(jq -c '[.version, .log, .next]' "$st")" = '[1,"3904496407287907110",7]' ]
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -t 12 -S "$st"
	[ "$(entries <<<"$output")" = "7 8 9 10 11" ]
	[ "$(jq .next "$st")" = 12 ]
}

@test "rekor-tail: --state wins over --from, with a warning" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	rekor-tail -s "$REKOR_URL" -f 0 -t 9 -S "$st" >/dev/null
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 11 -S "$st"
	[ "$(entries <<<"$output")" = "9 10" ]
	[[ "$stderr" == *"resuming at 9 from state file '$st'; --from applies only when no state file exists"* ]]
}

@test "rekor-tail: empty state file exits 4" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	: >"$st"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -t 5 -S "$st"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$st' is empty"* ]]
	[ ! -s "$st" ]
}

@test "rekor-tail: torn state file exits 4" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	printf '{"version":1,"log":"3904496407287907110","ne' >"$st"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -t 5 -S "$st"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$st' is not valid JSON"* ]]
}

@test "rekor-tail: state file of another log exits 4" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	echo '{"version":1,"log":"1111","server":"x","next":3}' >"$st"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -t 5 -S "$st"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$st' belongs to log '1111', but '$REKOR_URL' serves log '3904496407287907110'"* ]]
	[ "$(jq .next "$st")" = 3 ]
}

@test "rekor-tail: state file of unknown version exits 4" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	echo '{"version":2,"log":"3904496407287907110","server":"x","next":3}' >"$st"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -t 5 -S "$st"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$st' has an unknown version"* ]]
}

@test "rekor-tail: state file ahead of the log exits 4" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	echo '{"version":1,"log":"3904496407287907110","server":"x","next":30}' >"$st"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -S "$st"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$st' is ahead of the log: it resumes at 30, but the log has 18 entries"* ]]
}

@test "rekor-tail: state write replaces a planted symlink" {
	rekor_start
	local state="$BATS_TEST_TMPDIR/state.json" victim="$BATS_TEST_TMPDIR/victim"
	echo keep >"$victim"
	# The temporary file is STATE.tmp.PID, and exec keeps the shell's pid.
	run -0 --separate-stderr bash -c 'ln -s "$1" "$2.tmp.$$" &&
	    exec rekor-tail -s "$3" -f 0 -t 3 -S "$2"' _ "$victim" "$state" \
	    "$REKOR_URL"
	[ "$(cat "$victim")" = keep ]
	[ "$(jq -r .next "$state")" = 3 ]
}

@test "rekor-tail: unwritable state file exits 5" {
	rekor_start
	run -5 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 3 \
	    -S "$BATS_TEST_TMPDIR/no/such/dir/state.json"
	[[ "$stderr" == *"cannot write state file '$BATS_TEST_TMPDIR/no/such/dir/state.json'"* ]]
}

@test "rekor-tail: --ack-state resumes from the lowest" {
	rekor_start
	local a="$BATS_TEST_TMPDIR/a.json" b="$BATS_TEST_TMPDIR/b.json"
	echo '{"version":1,"log":"3904496407287907110","server":"x","next":9}' >"$a"
	echo '{"version":1,"log":"3904496407287907110","server":"x","next":5}' >"$b"
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -t 8 -a "$a" -a "$b"
	[ "$(entries <<<"$output")" = "5 6 7" ]
	[ "$(jq .next "$a")" = 9 ]
	[ "$(jq .next "$b")" = 5 ]
}

@test "rekor-tail: --ack-state creates missing files first" {
	rekor_start
	local a="$BATS_TEST_TMPDIR/a.json" b="$BATS_TEST_TMPDIR/new.json"
	echo '{"version":1,"log":"3904496407287907110","server":"x","next":4}' >"$a"
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 8 \
	    -a "$a" -a "$b"
	[ "$(entries <<<"$output")" = "4 5 6 7" ]
	[ "$(jq -c '[.log, .next]' "$b")" = '["3904496407287907110",4]' ]
}

@test "rekor-tail: --ack-state without files starts at --from" {
	rekor_start
	local b="$BATS_TEST_TMPDIR/new.json"
	run -0 --separate-stderr rekor-tail -s "$REKOR_URL" -f 2 -t 4 -a "$b"
	[ "$(entries <<<"$output")" = "2 3" ]
	[ "$(jq .next "$b")" = 2 ]
}

@test "rekor-tail: --ack-state of another log exits 4" {
	rekor_start
	local a="$BATS_TEST_TMPDIR/a.json" b="$BATS_TEST_TMPDIR/new.json"
	echo '{"version":1,"log":"42","server":"x","next":4}' >"$a"
	run -4 --separate-stderr rekor-tail -s "$REKOR_URL" -f 0 -t 8 \
	    -a "$b" -a "$a"
	[ -z "$output" ]
	[[ "$stderr" == *"state file '$a' belongs to log '42'"* ]]
	[ ! -e "$b" ]
}

# ---------------------------------------------------------------- follow

@test "rekor-tail: follow mode sees new entries" {
	rekor_start
	local st="$BATS_TEST_TMPDIR/state.json"
	tail_background -s "$REKOR_URL" -f 16 -i 200ms -S "$st"
	wait_for_record "$OUT" '.logIndex == 17'
	rekor_control 'grow?n=3'
	wait_for_record "$OUT" '.logIndex == 20'
	kill -TERM "$TAIL_PID"
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(entries <"$OUT")" = "16 17 18 19 20" ]
	[ "$(tail -n 1 "$OUT" | jq -c '[.control, .next]')" = '["mark",21]' ]
	[ "$(jq .next "$st")" = 21 ]
	[ ! -s "$ERR" ]
}

@test "rekor-tail: follow mode writes marks while idle" {
	rekor_start
	tail_background -s "$REKOR_URL" -i 200ms
	wait_for_text "$OUT" '"next":18' 5
	sleep 1
	kill -INT "$TAIL_PID"
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(jq -c 'select(.control == "mark") | .next' "$OUT" | sort -u)" = 18 ]
	[ "$(grep -c mark "$OUT")" -ge 3 ]
}

@test "rekor-tail: follow mode crosses a shard rotation" {
	rekor_start
	tail_background -s "$REKOR_URL" -f 17 -i 200ms
	wait_for_record "$OUT" '.logIndex == 17'
	rekor_control 'rotate?tree=5555555555555555555&n=2'
	wait_for_record "$OUT" '.logIndex == 19'
	kill -TERM "$TAIL_PID"
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(jq -r 'select(.logIndex == 18) | "\(.treeID) \(.treeIndex) \(.uuid[0:16])"' "$OUT")" = \
	    "5555555555555555555 0 4d194c57dad638e3" ]
}

@test "rekor-tail: log whose oldest shard changes exits 4" {
	rekor_start
	tail_background -s "$REKOR_URL" -f 17 -i 200ms -r 50
	wait_for_record "$OUT" '.logIndex == 17'
	rekor_stop
	rekor_start --layout single --filler 20
	tail_wait
	[ "$TAIL_STATUS" -eq 4 ]
	grep -qF "the log contradicts itself: shard 0 is tree '1193050959916656506' now, '3904496407287907110' before" "$ERR"
}

@test "rekor-tail: log whose active shard shrinks exits 4" {
	rekor_start --filler 5
	tail_background -s "$REKOR_URL" -f 22 -i 200ms -r 50
	wait_for_record "$OUT" '.logIndex == 22'
	rekor_stop
	rekor_start
	tail_wait
	[ "$TAIL_STATUS" -eq 4 ]
	grep -qF "the log contradicts itself: tree '1193050959916656506' has 6 entries now, 11 before" "$ERR"
	[ "$(tail -n 1 "$OUT" | jq -c '[.control, .next]')" = '["mark",23]' ]
}

@test "rekor-tail: log that loses a shard exits 4" {
	rekor_start
	tail_background -s "$REKOR_URL" -f 17 -i 200ms
	wait_for_record "$OUT" '.logIndex == 17'
	rekor_control 'rotate?n=1'
	wait_for_record "$OUT" '.logIndex == 18'
	rekor_stop
	rekor_start
	tail_wait
	[ "$TAIL_STATUS" -eq 4 ]
	grep -qF "the log contradicts itself: the log has 3 shards now, 4 before" "$ERR"
}

@test "rekor-tail: --to past the tip waits for the log" {
	rekor_start
	tail_background -s "$REKOR_URL" -f 16 -t 20 -i 200ms
	wait_for_text "$ERR" "waiting for the log to reach index 19; it has 18 entries"
	rekor_control 'grow?n=2'
	wait_for_record "$OUT" '.logIndex == 19'
	tail_wait
	[ "$TAIL_STATUS" -eq 0 ]
	[ "$(entries <"$OUT")" = "16 17 18 19" ]
}

# ---------------------------------------------------------------- output

@test "rekor-tail: | head -1 exits 0 quietly" {
	rekor_start
	run -0 --separate-stderr bash -c \
	    'rekor-tail -s "$1" -f 0 -i 200ms | head -n 1; exit "${PIPESTATUS[0]}"' \
	    _ "$REKOR_URL"
	[ "$(jq -r .control <<<"$output")" = mark ]
	[ -z "$stderr" ]
}

@test "rekor-tail: write error on stdout exits 5" {
	rekor_start
	run -5 --separate-stderr bash -c 'rekor-tail -s "$1" -f 0 -t 3 >/dev/full' \
	    _ "$REKOR_URL"
	[[ "$stderr" == *"write error on standard output: No space left on device"* ]]
}
