#!/usr/bin/env bats
# rekor-out-exec: one shell command per alert, the record on stdin and
# the facts in REKOR_* variables.

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

@test "rekor-out-exec: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-out-exec --help
	[[ "$output" == *"usage: rekor-out-exec"* ]]
	[[ "$output" == *"--command"* ]]
	[[ "$output" == *"--dead-letter"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-exec: --version prints the version" {
	run -0 --separate-stderr rekor-out-exec -V
	[[ "$output" == "rekor-out-exec "[0-9]* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-exec: unknown option exits 2" {
	run -2 --separate-stderr rekor-out-exec --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: rekor-out-exec"* ]]
}

@test "rekor-out-exec: missing --command exits 2" {
	run -2 --separate-stderr rekor-out-exec < alerts.ndjson
	[ -z "$output" ]
	[[ "$stderr" == *"missing --command"* ]]
}

@test "rekor-out-exec: invalid --timeout exits 2" {
	run -2 --separate-stderr rekor-out-exec -c true --timeout 5y \
	    < alerts.ndjson
	[[ "$stderr" == *"invalid timeout '5y'"* ]]
}

@test "rekor-out-exec: record arrives on stdin byte for byte" {
	run -0 --separate-stderr rekor-out-exec \
	    -c 'cat >> "$BATS_TEST_TMPDIR/got.ndjson"' < alerts.ndjson
	[ -z "$output" ]
	grep -v '"control"' alerts.ndjson > want.ndjson
	cmp want.ndjson got.ndjson
}

@test "rekor-out-exec: facts are in REKOR_* variables" {
	run -0 --separate-stderr rekor-out-exec -c 'env | grep ^REKOR_ |
	    sort > "$BATS_TEST_TMPDIR/env.$REKOR_LOG_INDEX"' < alerts.ndjson
	first=$(head -1 alerts.ndjson)
	env=env.79571823
	grep -qx "REKOR_POLICY=unexpected-signer" "$env"
	grep -qx "REKOR_POLICY_DESCRIPTION=an identity outside the allow list signed" "$env"
	grep -qx "REKOR_LOG_INDEX=79571823" "$env"
	grep -qx "REKOR_UUID=$(jq -r .uuid <<< "$first")" "$env"
	grep -qx "REKOR_KIND=hashedrekord" "$env"
	grep -qx "REKOR_API_VERSION=0.0.1" "$env"
	grep -qx "REKOR_ENTRY_URL=$(jq -r .url <<< "$first")" "$env"
	grep -qx "REKOR_ALERT_ID=$(jq -r .alertID <<< "$first")" "$env"
	grep -qx "REKOR_INTEGRATED_TIME=1710869186" "$env"
	grep -qx "REKOR_TIME=2024-03-19T17:26:26Z" "$env"
	grep -qx "REKOR_LOG_ID=c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d" "$env"
	grep -qx "REKOR_TREE_ID=2605736670972794746" "$env"
	grep -qx "REKOR_TREE_INDEX=75408392" "$env"
	grep -qx "REKOR_SIGNER=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main (issuer https://token.actions.githubusercontent.com)" "$env"
}

@test "rekor-out-exec: REKOR_SIGNER is empty for a bare key" {
	run -0 --separate-stderr rekor-out-exec -c 'env | grep ^REKOR_ |
	    sort > "$BATS_TEST_TMPDIR/env.$REKOR_LOG_INDEX"' < alerts.ndjson
	grep -qx "REKOR_SIGNER=" env.771488337
	grep -qx "REKOR_KIND=dsse" env.155690850
	grep -q "^REKOR_SIGNER=https://github.com/" env.155690850
}

@test "rekor-out-exec: child does not inherit REKOR_SIDEKICK_* secrets" {
	export REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=pd-secret-1
	export REKOR_SIDEKICK_OUTPUTS_SMTP_PASSWORD=smtp-secret-2
	export KEEP_ME=visible
	run -0 --separate-stderr rekor-out-exec \
	    -c 'env > "$BATS_TEST_TMPDIR/env.txt"' < alerts.ndjson
	run -1 grep -c REKOR_SIDEKICK_ env.txt
	run -1 grep -c -e pd-secret-1 -e smtp-secret-2 env.txt
	grep -qx KEEP_ME=visible env.txt
}

@test "rekor-out-exec: variables from the caller do not override facts" {
	export REKOR_POLICY=forged REKOR_LOG_INDEX=1
	run -0 --separate-stderr rekor-out-exec \
	    -c 'env > "$BATS_TEST_TMPDIR/env.$$"' < alerts.ndjson
	run -0 sh -c 'grep -h "^REKOR_POLICY=" env.* | sort -u'
	[ "$output" = "REKOR_POLICY=unexpected-signer" ]
	run -1 grep -l "^REKOR_LOG_INDEX=1$" env.*
}

@test "rekor-out-exec: command output goes to stderr, stdout stays empty" {
	run -0 --separate-stderr rekor-out-exec \
	    -c 'echo "hook says $REKOR_LOG_INDEX"' < alerts.ndjson
	[ -z "$output" ]
	[[ "$stderr" == *"hook says 79571823"* ]]
	[[ "$stderr" == *"hook says 771488337"* ]]
}

@test "rekor-out-exec: alerts run one at a time in input order" {
	run -0 --separate-stderr rekor-out-exec \
	    -c 'echo "$REKOR_LOG_INDEX" >> "$BATS_TEST_TMPDIR/order"' \
	    < alerts.ndjson
	[ "$(cat order)" = "$(printf '79571823\n155690850\n771488337')" ]
}

@test "rekor-out-exec: child gets no extra descriptors and default SIGPIPE" {
	real_alerts --count 1 > one.ndjson
	run -0 --separate-stderr rekor-out-exec -c '
	    yes | head -n 1 >/dev/null
	    exec ls -l /proc/self/fd > "$BATS_TEST_TMPDIR/fds"' \
	    -d dl.ndjson -s state.json < one.ndjson
	# ls itself holds 0-2 and a descriptor for the folder it lists.
	[ "$(grep -c -- ' -> ' fds)" -eq 4 ]
	run -1 grep -e dl.ndjson -e state -e socket: -e pipe: fds
	[[ "$stderr" != *"Broken pipe"* ]]
}

@test "rekor-out-exec: failing command is retried until it succeeds" {
	real_alerts --count 1 > one.ndjson
	run -0 --separate-stderr rekor-out-exec -c '
	    echo run >> "$BATS_TEST_TMPDIR/runs"
	    [ "$(wc -l < "$BATS_TEST_TMPDIR/runs")" -ge 3 ]' < one.ndjson
	[ -z "$output" ]
	[ "$(wc -l < runs)" -eq 3 ]
	[[ "$stderr" == *"command exited with status 1 (run 1 of 5)"* ]]
}

@test "rekor-out-exec: command failing 5 times goes to the dead-letter file" {
	real_alerts --count 1 --final-mark > one.ndjson
	run -1 --separate-stderr rekor-out-exec -d dl.ndjson -s state.json \
	    -c 'echo run >> "$BATS_TEST_TMPDIR/runs"; exit 7' < one.ndjson
	[ -z "$output" ]
	[ "$(wc -l < runs)" -eq 5 ]
	[ "$(wc -l < dl.ndjson)" -eq 1 ]
	[ "$(jq -r .reason dl.ndjson)" = "command exited with status 7 (run 5 of 5)" ]
	[ "$(jq -r .alertID dl.ndjson)" = "$(alert_ids_of one.ndjson)" ]
	[ "$(jq -c .record dl.ndjson)" = "$(head -1 one.ndjson)" ]
	[[ "$stderr" == *"failed for good"* ]]
	# The dead-lettered alert counts as handled: the mark is acknowledged.
	[ "$(state_next state.json)" -eq 79571824 ]
}

@test "rekor-out-exec: --timeout kills the whole process group" {
	real_alerts --count 1 > one.ndjson
	run -1 --separate-stderr rekor-out-exec -T 300ms -d dl.ndjson -c '
	    sleep 30 & echo $! >> "$BATS_TEST_TMPDIR/pids"
	    echo $$ >> "$BATS_TEST_TMPDIR/pids"; wait' < one.ndjson
	[[ "$stderr" == *"command timed out after 300 ms and was killed"* ]]
	[ "$(wc -l < pids)" -eq 10 ]
	# Gone, or a zombie waiting for a parent that does not reap.
	while read -r pid; do
		run ps -o stat= -p "$pid"
		[[ -z "$output" || "$output" == Z* ]]
	done < pids
	[[ "$(jq -r .reason dl.ndjson)" == *"timed out"*"(run 5 of 5)" ]]
}

@test "rekor-out-exec: command killed by a signal is retried" {
	real_alerts --count 1 > one.ndjson
	run -0 --separate-stderr rekor-out-exec -c '
	    echo run >> "$BATS_TEST_TMPDIR/runs"
	    [ "$(wc -l < "$BATS_TEST_TMPDIR/runs")" -ge 2 ] || kill -9 $$' \
	    < one.ndjson
	[ "$(wc -l < runs)" -eq 2 ]
	[[ "$stderr" == *"command killed by signal 9"* ]]
}

@test "rekor-out-exec: --state follows the marks after delivery" {
	real_alerts --count 4 --start 1000 --mark-every 2 > marked.ndjson
	run -0 --separate-stderr rekor-out-exec -s state.json -c true \
	    < marked.ndjson
	[ "$(state_next state.json)" -eq 1004 ]
	[ "$(jq -r .log state.json)" = 3904496407287907110 ]
}

@test "rekor-out-exec: mark is not acknowledged before its alerts run" {
	real_alerts --count 2 --start 500 --mark-every 1 > marked.ndjson
	# The second command checks what the state file says meanwhile.
	run -0 --separate-stderr rekor-out-exec -s state.json -c '
	    if [ "$REKOR_LOG_INDEX" = 501 ]; then
	        jq .next "$BATS_TEST_TMPDIR/state.json" > "$BATS_TEST_TMPDIR/seen"
	    fi' < marked.ndjson
	[ "$(cat seen)" -eq 501 ]
	[ "$(state_next state.json)" -eq 502 ]
}

@test "rekor-out-exec: state file of another log exits 4" {
	printf '{"version":1,"log":"999","server":"x","next":5}\n' > state.json
	run -4 --separate-stderr rekor-out-exec -s state.json -c true \
	    < alerts.ndjson
	[[ "$stderr" == *"state file"* ]]
}

@test "rekor-out-exec: lines that are not alerts go to the dead-letter file" {
	{
		echo 'not json'
		head -1 alerts.ndjson | jq -c 'del(.policy, .alertID)'
		head -1 alerts.ndjson
	} > mixed.ndjson
	run -1 --separate-stderr rekor-out-exec -d dl.ndjson \
	    -c 'echo ran >> "$BATS_TEST_TMPDIR/runs"' < mixed.ndjson
	[ "$(wc -l < runs)" -eq 1 ]
	[ "$(wc -l < dl.ndjson)" -eq 2 ]
	[[ "$stderr" == *"line 1: invalid JSON"* ]]
}

@test "rekor-out-exec: record is handed over unchanged with a newline" {
	real_alerts --count 1 > one.ndjson
	run -0 --separate-stderr rekor-out-exec \
	    -c 'od -c | tail -2 | head -1 > "$BATS_TEST_TMPDIR/tail"' \
	    < one.ndjson
	[[ "$(cat tail)" == *'}  \n' ]]
}

@test "rekor-out-exec: SIGTERM stops without acknowledging the alert" {
	real_alerts --count 1 --start 900 --final-mark > one.ndjson
	# Standard input stays open, as in a pipeline from rekor-tail.
	mkfifo input
	rekor-out-exec -T 2s -s state.json \
	    -c 'echo started > "$BATS_TEST_TMPDIR/started"; sleep 30' \
	    < input 2> stderr.txt &
	pid=$!
	server_track output "$pid"
	exec 4> input
	cat one.ndjson >&4
	wait_for_file started
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 4>&-
	# It dies by the signal once the command is killed at --timeout.
	[ "$rc" -eq 143 ]
	[ ! -e state.json ]
	[ "$(wc -l < started)" -eq 1 ]
}
