#!/usr/bin/env bats
# rekor-sidekick and rekor-sidekick-config: the config, the environment,
# the pipeline they start, secrets, signals and failing stages.

load test_helper
load lib/sidekick

OLD_README="$BATS_TEST_DIRNAME/fixtures/sidekick/old-readme.yaml"

setup() {
	BIN=$BATS_TEST_TMPDIR/bin
	make_bin "$BIN" rekor-out-pagerduty rekor-out-webhook
	export FAKE_OUTPUT_DIR=$BATS_TEST_TMPDIR/outputs
	mkdir -p "$FAKE_OUTPUT_DIR"
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$TMPDIR"
	export REKOR_SIDEKICK_STATEDIR=$BATS_TEST_TMPDIR/state
	CFG=$BATS_TEST_TMPDIR/config.yaml
	REKOR_PID=
	WRAPPER_PID=
}

teardown() {
	if [ -n "$WRAPPER_PID" ]; then
		kill "$WRAPPER_PID" 2>/dev/null || true
		wait "$WRAPPER_PID" 2>/dev/null || true
	fi
	sidekick_rekor_stop
}

# Writes a config with one inline policy that matches every entry, and
# the given lines appended (outputs and more).
write_config() {
	{
		printf '%s\n' 'policies:' '- name: every-entry' \
		    '  body: |' '    package sidekick' '    alert := true'
		printf '%s\n' "$@"
	} >"$CFG"
}

# Prints the expected error line of rekor-sidekick-config.
cfgerr() {
	printf 'rekor-sidekick-config: %s' "$1"
}

# Starts the wrapper in the background on $CFG with stdout and stderr in
# files, and sets WRAPPER_PID.  A shell starts background commands with
# SIGINT ignored, and a shell cannot trap a signal ignored on entry, so
# python3 restores the default SIGINT before it runs the wrapper.
start_wrapper() {
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$BIN/rekor-sidekick" --config "$CFG" "$@" \
	    >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	WRAPPER_PID=$!
}

# Waits for the wrapper started by start_wrapper and checks that its exit
# status is $1.
wait_wrapper() {
	local rc=0 i=0
	while kill -0 "$WRAPPER_PID" 2>/dev/null &&
	    [ -z "$(ps -o stat= -p "$WRAPPER_PID" | grep Z)" ]; do
		i=$((i + 1))
		if [ "$i" -ge 300 ]; then
			echo "rekor-sidekick still runs after 30s" >&2
			return 1
		fi
		sleep 0.1
	done
	wait "$WRAPPER_PID" || rc=$?
	WRAPPER_PID=
	if [ "$rc" -ne "$1" ]; then
		echo "rekor-sidekick exited with status $rc, expected $1" >&2
		cat "$BATS_TEST_TMPDIR/err" >&2
		return 1
	fi
}

# --- the older daemon's config ------------------------------------------

@test "rekor-sidekick: older daemon's README config passes --check" {
	run -0 --separate-stderr "$BIN/rekor-sidekick" --check --config "$OLD_README"
	[ -z "$output" ]
	# logging.level is error, which hides rekor-policy's Rego v0 warning.
	[ "$stderr" = "rekor-sidekick: config '$OLD_README' is valid: 1 policies, 1 outputs" ]
}

@test "rekor-sidekick: --check compiles inline policies" {
	printf '%s\n' 'policies:' '- name: broken' '  body: |' \
	    '    package sidekick' '    alert if {' \
	    'outputs:' '  stdout:' '    enabled: true' >"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ -z "$output" ]
	[[ "$stderr" == *"rekor-policy: policy 'broken' in '"*"' did not compile"* ]]
}

@test "rekor-sidekick: --check fails without opa" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	PATH=/usr/bin:/bin run -2 --separate-stderr "$BIN/rekor-sidekick" \
	    --check --config "$CFG"
	[[ "$stderr" == *"rekor-policy: opa not found as 'opa'"* ]]
}

@test "rekor-sidekick: older daemon's README config keeps its body" {
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$OLD_README"
	eval "$output"
	[ "$policy_0_name" = alert-on-my-email ]
	[ "$policy_0_body" = 'package sidekick

import future.keywords.in    

default alert = false

alert {
  encodedCert := input.spec.signature.publicKey.content
  certs := crypto.x509.parse_certificates(encodedCert)
  emailAddresses := certs[0]["EmailAddresses"]
  some "me@example.com" in emailAddresses
}
' ]
	[ "$log_level" = error ]
}

@test "rekor-sidekick: older daemon's README config prints the alert" {
	make_email_fixtures "$BATS_TEST_TMPDIR/fixtures"
	sidekick_rekor_start --fixtures "$BATS_TEST_TMPDIR/fixtures"
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_INDEX=0 \
	    REKOR_SIDEKICK_END=17 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$OLD_README"
	[ "${#lines[@]}" -eq 1 ]
	run -0 jq -r '[.logIndex, .policy.name, .kind] | @tsv' <<<"$output"
	[ "$output" = "$(printf '16\talert-on-my-email\thashedrekord')" ]
}

@test "rekor-sidekick: alert carries the config's description" {
	make_email_fixtures "$BATS_TEST_TMPDIR/fixtures"
	sidekick_rekor_start --fixtures "$BATS_TEST_TMPDIR/fixtures"
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=16 \
	    REKOR_SIDEKICK_END=16 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$OLD_README"
	run -0 jq -r .policy.description <<<"$output"
	[ "$output" = "Alert when an x509 cert with subject email:me@example.com is used
so sign an entry" ]
}

@test "rekor-sidekick: sample config alerts on the fixture entries" {
	sidekick_rekor_start
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=0 \
	    REKOR_SIDEKICK_END=16 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" \
	    --config "$BATS_TEST_DIRNAME/../etc/config.yaml"
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == *" policy=key-fingerprint index=5 kind=hashedrekord signer=sha256:a158e8e6"* ]]
	[[ "${lines[1]}" == *" policy=ci-identity index=7 kind=intoto "* ]]
	[[ "${lines[2]}" == *" policy=ci-identity index=10 kind=hashedrekord "* ]]
	[[ "${lines[3]}" == *" policy=ci-identity index=12 kind=dsse "* ]]
}

@test "rekor-sidekick: a finished run leaves its state and no temp files" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=3 \
	    REKOR_SIDEKICK_END=5 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	[ "${#lines[@]}" -eq 3 ]
	run -0 jq -r .next "$REKOR_SIDEKICK_STATEDIR/out-stdout.state"
	[ "$output" = 6 ]
	run -0 find "$TMPDIR" -mindepth 1
	[ -z "$output" ]
}

@test "rekor-sidekick: second run resumes from the acknowledged index" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=3 \
	    REKOR_SIDEKICK_END=5 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=3 \
	    REKOR_SIDEKICK_END=7 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	run -0 jq -r .logIndex <<<"$output"
	[ "$output" = "$(printf '6\n7')" ]
}

# --- keys and the environment --------------------------------------------

@test "rekor-sidekick: keys match ignoring case" {
	write_config 'OUTPUTS:' '  Stdout:' '    Enabled: TRUE' '    FORMAT: text' \
	    'Logging:' '  LEVEL: Debug' 'StateDIR: /var/tmp/x'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[ "$log_level" = debug ]
	[ "$output_0_args" = "'--state' '$REKOR_SIDEKICK_STATEDIR/out-stdout.state' '--dead-letter' '$REKOR_SIDEKICK_STATEDIR/out-stdout.deadletter' '--format' 'text'" ]
}

@test "rekor-sidekick: environment sets a nested key absent from the file" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_OUTPUTS_STDOUT_FORMAT=text \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --dry-run --config "$CFG"
	[[ "${lines[-1]}" == *"/rekor-out-stdout --state $REKOR_SIDEKICK_STATEDIR/out-stdout.state --dead-letter $REKOR_SIDEKICK_STATEDIR/out-stdout.deadletter --format text" ]]
}

@test "rekor-sidekick: environment wins over the file" {
	write_config 'outputs:' '  stdout:' '    enabled: true' '    format: json' \
	    'server: https://rekor.example' 'logging:' '  level: error'
	REKOR_SIDEKICK_OUTPUTS_STDOUT_FORMAT=text REKOR_SIDEKICK_SERVER=http://127.0.0.1:9 \
	    REKOR_SIDEKICK_LOGGING_LEVEL=info \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[ "$log_level" = info ]
	[[ "$tail_args" == "'--server' 'http://127.0.0.1:9' "* ]]
	[[ "$output_0_args" == *"'--format' 'text'" ]]
}

@test "rekor-sidekick: environment enables an output absent from the file" {
	write_config 'outputs:' '  stdout:' '    enabled: false'
	REKOR_SIDEKICK_OUTPUTS_STDOUT_ENABLED=true \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	REKOR_SIDEKICK_OUTPUTS_STDOUT_ENABLED=false \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
}

@test "rekor-sidekick: start, end, interval and timeout reach rekor-tail" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'start: 100' \
	    'end: 199' 'interval: 2s' 'timeout: 5s' 'server: http://127.0.0.1:9'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	eval "set -- $tail_args"
	[ "$*" = "--server http://127.0.0.1:9 --from 100 --to 200 --interval 2s --timeout 5s --ack-state $REKOR_SIDEKICK_STATEDIR/out-stdout.state" ]
}

@test "rekor-sidekick: end tip stops at the tip seen at start" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'end: tip' 'start: 5'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$tail_args" == *"'--from' '5' '--to' 'tip'"* ]]
}

@test "rekor-sidekick: index -1 means the tip, start wins over index" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'index: -1'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$tail_args" != *from* ]]
	REKOR_SIDEKICK_INDEX=7 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$tail_args" == *"'--from' '7'"* ]]
	REKOR_SIDEKICK_INDEX=7 REKOR_SIDEKICK_START=9 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$tail_args" == *"'--from' '9'"* ]]
}

@test "rekor-sidekick: environment replaces a policy body and adds one" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_POLICIES_0_BODY=$'package sidekick\nalert := false' \
	    REKOR_SIDEKICK_POLICIES_1_NAME=from-env \
	    REKOR_SIDEKICK_POLICIES_1_FILE="$BATS_TEST_DIRNAME/../etc/policies/email.rego" \
	    REKOR_SIDEKICK_POLICIES_1_INPUT=record \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[ "$policy_count" = 2 ]
	[ "$policy_0_body" = $'package sidekick\nalert := false' ]
	[ "$policy_1_name" = from-env ]
	[ "$policy_1_input" = record ]
	[ "$policy_1_file" = "$(cd "$BATS_TEST_DIRNAME/../etc/policies" && pwd -P)/email.rego" ]
}

@test "rekor-sidekick: a policy file from the environment replaces a body" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_POLICIES_0_FILE="$BATS_TEST_DIRNAME/../etc/policies/email.rego" \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[ -z "$policy_0_body" ]
	[[ "$policy_0_file" == */email.rego ]]
}

@test "rekor-sidekick: smtp to is a list in the file and in the environment" {
	write_config 'outputs:' '  smtp:' '    enabled: true' '    host: 127.0.0.1' \
	    '    from: a@example.com' '    to: [b@example.com, c@example.com]'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$output_0_args" == *"'--to' 'b@example.com' '--to' 'c@example.com'" ]]
	REKOR_SIDEKICK_OUTPUTS_SMTP_TO='d@example.com, e@example.com' \
	    run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[[ "$output_0_args" == *"'--to' 'd@example.com' '--to' 'e@example.com'" ]]
}

@test "rekor-sidekick: camelCase and nested keys become long options" {
	write_config 'outputs:' '  cloudevents:' '    enabled: true' \
	    '    sourceID: ci' '    http:' '      url: http://127.0.0.1:9/' \
	    '    caFile: /etc/ssl/x.pem' '    insecure: true'
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	eval "set -- $output_0_args"
	[ "$*" = "--state $REKOR_SIDEKICK_STATEDIR/out-cloudevents.state --dead-letter $REKOR_SIDEKICK_STATEDIR/out-cloudevents.deadletter --spool $REKOR_SIDEKICK_STATEDIR/out-cloudevents.spool --source-id ci --http-url http://127.0.0.1:9/ --insecure --ca-file /etc/ssl/x.pem" ]
}

@test "rekor-sidekick: quotes in values cannot run commands" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	cat >>"$CFG" <<'EOF'
  pagerduty:
    enabled: true
    integrationKey: "it's $(touch pwned-key) `touch pwned-tick`"
EOF
	sed -i "s/^- name: every-entry/- name: \"x'; touch pwned-name; echo '\"/" "$CFG"
	cd "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$CFG"
	eval "$output"
	[ "$policy_0_name" = "x'; touch pwned-name; echo '" ]
	[ "$REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY" = "it's \$(touch pwned-key) \`touch pwned-tick\`" ]
	run -0 "$BIN/rekor-sidekick" --dry-run --config "$CFG"
	[ ! -e pwned-name ]
	[ ! -e pwned-key ]
	[ ! -e pwned-tick ]
}

# --- errors ----------------------------------------------------------------

@test "rekor-sidekick: unknown key suggests the close one" {
	write_config 'outputs:' '  pagerduty:' '    enabled: true' \
	    '    integrationKey: k' '    severty: error'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	[ -z "$output" ]
	[ "$stderr" = "$(cfgerr "$CFG:10:5: outputs.pagerduty.severty: unknown key; did you mean 'severity'?")" ]
}

@test "rekor-sidekick: unknown key far from any lists the keys" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'colour: blue'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:9:1: colour: unknown key; expected one of server, start, index, end, interval, timeout, stateDir, logging, outputs, policies")" ]
}

@test "rekor-sidekick: unknown policy key suggests the close one" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	sed -i 's/^  body: |/  bdoy: |/' "$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[[ "$stderr" == *"$(cfgerr "$CFG:3:3: policies[0].bdoy: unknown key; did you mean 'body'?")"* ]]
	[[ "$stderr" == *"policies[0].body: missing; give the Rego source in body, or a path in file"* ]]
}

@test "rekor-sidekick: unknown output suggests the close one" {
	write_config 'outputs:' '  stdout:' '    enabled: true' '  pagerdty:' \
	    '    enabled: true'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:9:3: outputs.pagerdty: unknown output; did you mean 'pagerduty'?")" ]
}

@test "rekor-sidekick: wrong value names the key and what it takes" {
	write_config 'outputs:' '  stdout:' '    enabled: maybe' '    format: yaml' \
	    'logging:' '  level: loud' 'interval: soon' 'server: ftp://x' \
	    'end: -3'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "${#stderr_lines[@]}" -eq 7 ]
	[ "${stderr_lines[0]}" = "$(cfgerr "$CFG:13:9: server: invalid value 'ftp://x'; expected an http:// or https:// URL")" ]
	[ "${stderr_lines[1]}" = "$(cfgerr "$CFG:14:6: end: invalid value '-3'; expected 'tip' or a log index (0 or more)")" ]
	[ "${stderr_lines[2]}" = "$(cfgerr "$CFG:12:11: interval: invalid value 'soon'; expected a duration such as 500ms, 10s, 5m or 1h")" ]
	[ "${stderr_lines[3]}" = "$(cfgerr "$CFG:11:10: logging.level: invalid value 'loud'; expected error, warn, info or debug")" ]
	[ "${stderr_lines[4]}" = "$(cfgerr "$CFG:8:14: outputs.stdout.enabled: invalid value 'maybe'; expected true or false")" ]
	[ "${stderr_lines[5]}" = "$(cfgerr "$CFG:9:13: outputs.stdout.format: invalid value 'yaml'; expected json or text")" ]
	[ "${stderr_lines[6]}" = "$(cfgerr "$CFG: outputs: no output is enabled; add 'enabled: true' to one, for example outputs.stdout.enabled")" ]
}

@test "rekor-sidekick: a list where a value belongs is an error" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'server: [a, b]' \
	    'logging: debug'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "${stderr_lines[0]}" = "$(cfgerr "$CFG:9:9: server: expected a single value, found a list; write 'key: value'")" ]
	[ "${stderr_lines[1]}" = "$(cfgerr "$CFG:10:10: logging: expected a mapping of keys, found a single value")" ]
}

@test "rekor-sidekick: missing required output key names its variable" {
	write_config 'outputs:' '  pagerduty:' '    enabled: true'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG: outputs.pagerduty.integrationKey: missing, and required when outputs.pagerduty.enabled is true; set it in the config or in REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY")" ]
}

@test "rekor-sidekick: no output enabled is an error" {
	write_config 'outputs:' '  stdout:' '    enabled: false'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG: outputs: no output is enabled; add 'enabled: true' to one, for example outputs.stdout.enabled")" ]
}

@test "rekor-sidekick: no policies is an error" {
	printf '%s\n' 'outputs:' '  stdout:' '    enabled: true' >"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG: policies: missing; add at least one policy with a name and a body or file")" ]
}

@test "rekor-sidekick: policy problems name the policy" {
	write_config 'outputs:' '  stdout:' '    enabled: true' \
	    '- description: no name' '  body: x' \
	    '- name: every-entry' '  file: nowhere.rego' '  body: x' \
	    '- name: both' '  file: nowhere.rego' '  input: entry'
	# Move the extra policies up under policies:.
	sed -i '/^outputs:/,/^    enabled: true/d' "$CFG"
	printf '%s\n' 'outputs:' '  stdout:' '    enabled: true' >>"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "${stderr_lines[0]}" = "$(cfgerr "$CFG:6:3: policies[1].name: missing; every policy needs a name, used in its alerts")" ]
	[ "${stderr_lines[1]}" = "$(cfgerr "$CFG:8:9: policies[2].name: duplicate name 'every-entry' (also policies[0]); names identify alerts, make it unique")" ]
	[ "${stderr_lines[2]}" = "$(cfgerr "$CFG:9:9: policies[2].file: set either body or file, not both")" ]
	[ "${stderr_lines[3]}" = "$(cfgerr "$CFG:12:9: policies[3].file: cannot open '$BATS_TEST_TMPDIR/nowhere.rego': No such file or directory")" ]
	[ "${stderr_lines[4]}" = "$(cfgerr "$CFG:13:10: policies[3].input: invalid value 'entry'; expected body or record")" ]
	[ "${#stderr_lines[@]}" -eq 5 ]
}

@test "rekor-sidekick: relative policy file starts at the config's folder" {
	mkdir "$BATS_TEST_TMPDIR/conf"
	printf 'package sidekick\nalert := true\n' >"$BATS_TEST_TMPDIR/conf/p.rego"
	printf '%s\n' 'policies:' '- name: p' '  file: p.rego' 'outputs:' \
	    '  stdout:' '    enabled: true' >"$BATS_TEST_TMPDIR/conf/c.yaml"
	cd /
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" --config "$BATS_TEST_TMPDIR/conf/c.yaml"
	eval "$output"
	[ "$policy_0_file" = "$(cd "$BATS_TEST_TMPDIR/conf" && pwd -P)/p.rego" ]
}

@test "rekor-sidekick: bad YAML names line and column" {
	printf '%s\n' 'policies:' '- name: a' '  body: "unterminated' >"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ -z "$output" ]
	[[ "$stderr" == "$(cfgerr "$CFG:4:1: invalid YAML: found unexpected end of stream while scanning a quoted scalar; fix the syntax at this position")" ]]
}

@test "rekor-sidekick: tab indentation is reported with its position" {
	printf 'outputs:\n\tstdout: {}\n' >"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[[ "$stderr" == "$(cfgerr "$CFG:2:1: invalid YAML: ")"* ]]
}

@test "rekor-sidekick: a second YAML document is an error" {
	write_config 'outputs:' '  stdout:' '    enabled: true' '---' 'server: x'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:9:1: a second YAML document starts here; the config is one document, remove the extra '---'")" ]
}

@test "rekor-sidekick: duplicate keys are an error, whatever their case" {
	write_config 'outputs:' '  stdout:' '    enabled: true' '    Enabled: false'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:9:5: outputs.stdout.enabled: duplicate key (keys ignore case); keep one")" ]
}

@test "rekor-sidekick: a NUL in a value is an error naming its key" {
	write_config 'outputs:' '  stdout:' '    enabled: true' \
	    'server: "http://127.0.0.1:1/\0x"'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ -z "$output" ]
	[ "$stderr" = "$(cfgerr "$CFG:9:9: the value of 'server' contains a NUL character; remove it")" ]
}

@test "rekor-sidekick: a NUL in a policy name is an error" {
	printf '%s\n' 'policies:' '- name: "a\0b"' '  body: x' 'outputs:' \
	    '  stdout: {enabled: true}' >"$CFG"
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:2:9: the value of 'name' contains a NUL character; remove it")" ]
}

@test "rekor-sidekick: end before start is an error" {
	write_config 'outputs:' '  stdout:' '    enabled: true' 'start: 10' 'end: 9'
	run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "$CFG:10:6: end: index 9 comes before the start 10; make end at least the start")" ]
}

@test "rekor-sidekick: unknown variable suggests the close one" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_OUTPUTS_STDOUT_FROMAT=text \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "REKOR_SIDEKICK_OUTPUTS_STDOUT_FROMAT: unknown variable; did you mean 'REKOR_SIDEKICK_OUTPUTS_STDOUT_FORMAT'?")" ]
}

@test "rekor-sidekick: unknown variable far from any is an error" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_COLOUR=blue \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "REKOR_SIDEKICK_COLOUR: unknown variable: no config key has this name; unset it (rekor-sidekick.yaml(5) lists every variable)")" ]
}

@test "rekor-sidekick: wrong value from a variable names the variable" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_INTERVAL=often \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "REKOR_SIDEKICK_INTERVAL: interval: invalid value 'often'; expected a duration such as 500ms, 10s, 5m or 1h")" ]
}

@test "rekor-sidekick: a policy variable may not leave a gap" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_POLICIES_2_NAME=x \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[[ "$stderr" == "$(cfgerr "REKOR_SIDEKICK_POLICIES_2_NAME: policy 2 would leave a gap: the config has 1 policies, so the next one is number 1")"* ]]
}

@test "rekor-sidekick: invalid secret is reported without its value" {
	write_config 'outputs:' '  webhook:' '    enabled: true'
	REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL= \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --check --config "$CFG"
	[ "$stderr" = "$(cfgerr "REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL: outputs.webhook.url: invalid value; expected a non-empty value")" ]
}

@test "rekor-sidekick: missing config file exits 2" {
	run -2 --separate-stderr "$BIN/rekor-sidekick" --config "$BATS_TEST_TMPDIR/none.yaml"
	[ -z "$output" ]
	[ "$stderr" = "$(cfgerr "cannot open config '$BATS_TEST_TMPDIR/none.yaml': No such file or directory; pass --config FILE (etc/config.yaml is a sample)")" ]
}

@test "rekor-sidekick: REKOR_SIDEKICK_CONFIG names the config" {
	write_config 'outputs:' '  stdout:' '    enabled: true'
	REKOR_SIDEKICK_CONFIG=$CFG run -0 --separate-stderr "$BIN/rekor-sidekick" --check
	[ "$stderr" = "rekor-sidekick: config '$CFG' is valid: 1 policies, 1 outputs" ]
}

@test "rekor-sidekick: --check fails when a stage program is missing" {
	local partial="$BATS_TEST_TMPDIR/partial-bin" prog
	# A folder with every program but rekor-out-loki, and a PATH that
	# holds neither that folder's siblings nor build/bin.
	mkdir "$partial"
	for prog in rekor-sidekick rekor-sidekick-config rekor-tail \
	    rekor-policy rekor-out-stdout; do
		cp "$BIN/$prog" "$partial/"
	done
	write_config 'outputs:' '  loki:' '    enabled: true' '    url: http://127.0.0.1:9'
	PATH=/usr/bin:/bin run -2 --separate-stderr "$partial/rekor-sidekick" \
	    --check --config "$CFG"
	[ "$stderr" = "rekor-sidekick: cannot find 'rekor-out-loki' in $partial or on PATH; install it (make install) or add its directory to PATH" ]
}

@test "rekor-sidekick: unknown option and stray argument exit 2" {
	run -2 --separate-stderr "$BIN/rekor-sidekick" --bogus
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "rekor-sidekick: unknown option '--bogus'" ]
	[[ "${stderr_lines[1]}" == "usage: rekor-sidekick "* ]]
	run -2 --separate-stderr "$BIN/rekor-sidekick" config.yaml
	[ "${stderr_lines[0]}" = "rekor-sidekick: unexpected argument 'config.yaml'; the config file goes after --config" ]
}

@test "rekor-sidekick: help and version" {
	run -0 --separate-stderr "$BIN/rekor-sidekick" --help
	[[ "${lines[0]}" == "usage: rekor-sidekick "* ]]
	[ -z "$stderr" ]
	run -0 --separate-stderr "$BIN/rekor-sidekick" -V
	[ "$output" = "rekor-sidekick 0.1.0" ]
	run -0 --separate-stderr "$BIN/rekor-sidekick-config" -V
	[ "$output" = "rekor-sidekick-config 0.1.0" ]
}

# --- dry run, fan-out and secrets ------------------------------------------

@test "rekor-sidekick: --dry-run shows every stage, secrets masked" {
	write_config 'outputs:' '  stdout:' '    enabled: true' '  pagerduty:' \
	    '    enabled: true' '    integrationKey: pd-secret-1234' \
	    '    severity: critical' 'server: http://127.0.0.1:9'
	run -0 --separate-stderr "$BIN/rekor-sidekick" --dry-run --config "$CFG"
	[[ "$output" != *pd-secret-1234* ]]
	[ "${lines[0]}" = "$BIN/rekor-tail --server http://127.0.0.1:9 --interval 10s --ack-state $REKOR_SIDEKICK_STATEDIR/out-stdout.state --ack-state $REKOR_SIDEKICK_STATEDIR/out-pagerduty.state |" ]
	[ "${lines[1]}" = "$BIN/rekor-policy \\" ]
	[ "${lines[2]}" = "    -n every-entry -i body -p '\${TMPDIR:-/tmp}/rekor-sidekick.XXXXXX/policy-0.rego' |" ]
	[[ "${lines[3]}" == */tee' \' ]]
	[ "${lines[4]}" = "    >($BIN/rekor-out-stdout --state $REKOR_SIDEKICK_STATEDIR/out-stdout.state --dead-letter $REKOR_SIDEKICK_STATEDIR/out-stdout.deadletter) \\" ]
	[ "${lines[5]}" = "    >(REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=*** $BIN/rekor-out-pagerduty --state $REKOR_SIDEKICK_STATEDIR/out-pagerduty.state --dead-letter $REKOR_SIDEKICK_STATEDIR/out-pagerduty.deadletter --spool $REKOR_SIDEKICK_STATEDIR/out-pagerduty.spool --severity critical) \\" ]
	[ "${lines[6]}" = "    >/dev/null" ]
}

@test "rekor-sidekick: every output gets every alert and its own state" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' '  webhook:' \
	    '    enabled: true' '    url: http://127.0.0.1:9/hook'
	REKOR_SIDEKICK_SERVER=$REKOR_URL REKOR_SIDEKICK_START=3 \
	    REKOR_SIDEKICK_END=5 \
	    run -0 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	[ "${#lines[@]}" -eq 3 ]
	run -0 jq -c 'select(.alertID) | .logIndex' "$FAKE_OUTPUT_DIR/rekor-out-webhook.alerts"
	[ "$output" = "$(printf '3\n4\n5')" ]
	run -0 grep -c '"control":"mark"' "$FAKE_OUTPUT_DIR/rekor-out-webhook.alerts"
	run -0 sed -n 2p "$FAKE_OUTPUT_DIR/rekor-out-webhook.args"
	[ "$output" = "$REKOR_SIDEKICK_STATEDIR/out-webhook.state" ]
}

@test "rekor-sidekick: secrets reach only their output, never argv" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' '  webhook:' \
	    '    enabled: true' '  pagerduty:' '    enabled: true' \
	    '    integrationKey: pd-secret-1234' "server: $REKOR_URL" 'start: 0'
	export REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL=http://127.0.0.1:9/hook-secret-5678
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	run -0 procs_with "--ack-state $REKOR_SIDEKICK_STATEDIR"
	[ "${#lines[@]}" -eq 1 ]
	run -0 ps -eo args=
	[[ "$output" != *pd-secret-1234* ]]
	[[ "$output" != *hook-secret-5678* ]]
	run -0 cat "$FAKE_OUTPUT_DIR/rekor-out-pagerduty.env"
	[ "$output" = REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=pd-secret-1234 ]
	run -0 cat "$FAKE_OUTPUT_DIR/rekor-out-webhook.env"
	[ "$output" = REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL=http://127.0.0.1:9/hook-secret-5678 ]
	local pid
	pid=$(pgrep -f -- "--ack-state $REKOR_SIDEKICK_STATEDIR")
	run -0 tr '\0' '\n' <"/proc/$pid/environ"
	[[ "$output" != *REKOR_SIDEKICK_* ]]
}

@test "rekor-sidekick: inline policies are private and removed at exit" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' "server: $REKOR_URL" 'start: 0'
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	run -0 find "$TMPDIR" -name 'policy-0.rego' -perm 600
	[ "${#lines[@]}" -eq 1 ]
	run -0 stat -c %a "$(dirname "${lines[0]}")"
	[ "$output" = 700 ]
	kill -TERM "$WRAPPER_PID"
	wait_wrapper 0
	run -0 find "$TMPDIR" -mindepth 1 -name 'rekor-sidekick.*'
	[ -z "$output" ]
}

@test "rekor-sidekick: logging.level reaches every stage" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' '  webhook:' \
	    '    enabled: true' '    url: http://127.0.0.1:9/' "server: $REKOR_URL" 'start: 0' \
	    'logging:' '  level: debug'
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	local pid
	for pid in $(pgrep -f -- "$REKOR_SIDEKICK_STATEDIR"); do
		run -0 tr '\0' '\n' <"/proc/$pid/environ"
		[[ "$output" == *REKOR_LOG_LEVEL=debug* ]]
	done
}

# --- signals and failing stages -----------------------------------------

@test "rekor-sidekick: SIGTERM stops every stage and exits 0" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' '  webhook:' \
	    '    enabled: true' '    url: http://127.0.0.1:9/' "server: $REKOR_URL" 'start: 0'
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	kill -TERM "$WRAPPER_PID"
	wait_wrapper 0
	run -0 wait_no_procs "$BATS_TEST_TMPDIR" 5
	run -0 cat "$BATS_TEST_TMPDIR/err"
	[ "${lines[0]}" = "rekor-sidekick: received SIGTERM; stopping every stage" ]
	[ "${#lines[@]}" -eq 1 ]
	run -0 find "$TMPDIR" -mindepth 1
	[ -z "$output" ]
}

@test "rekor-sidekick: SIGTERM before any stage runs exits 0" {
	local i=0
	# The config reader blocks on opening the FIFO, so the signal
	# arrives while the wrapper waits for it.
	mkfifo "$BATS_TEST_TMPDIR/slow.yaml"
	CFG=$BATS_TEST_TMPDIR/slow.yaml
	start_wrapper
	while ! pgrep -f "rekor-sidekick-config --config $CFG" >/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 100 ]
		sleep 0.1
	done
	kill -TERM "$WRAPPER_PID"
	sleep 0.2
	printf '%s\n' 'policies:' '- name: every-entry' '  body: |' \
	    '    package sidekick' '    alert := true' 'outputs:' \
	    '  stdout:' '    enabled: true' >"$CFG"
	wait_wrapper 0
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
}

@test "rekor-sidekick: SIGINT stops every stage and exits 0" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' "server: $REKOR_URL" 'start: 0'
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	kill -INT "$WRAPPER_PID"
	wait_wrapper 0
	run -0 wait_no_procs "$BATS_TEST_TMPDIR" 5
	run -0 grep -c 'received SIGINT' "$BATS_TEST_TMPDIR/err"
}

@test "rekor-sidekick: a killed stage stops the others and is named" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' "server: $REKOR_URL" 'start: 0'
	start_wrapper
	wait_for_file_text "$BATS_TEST_TMPDIR/out" '"logIndex"' 20
	pkill -KILL -f -- "--state $REKOR_SIDEKICK_STATEDIR/out-stdout.state"
	wait_wrapper 137
	run -0 wait_no_procs "$BATS_TEST_TMPDIR" 5
	run -0 cat "$BATS_TEST_TMPDIR/err"
	[ "${lines[0]}" = "rekor-sidekick: stage 'rekor-out-stdout' was killed by signal 9; stopping the other stages" ]
	run -0 find "$TMPDIR" -mindepth 1
	[ -z "$output" ]
}

@test "rekor-sidekick: rekor-policy failing at start is named with its status" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' "server: $REKOR_URL" 'start: 0'
	mkdir "$BATS_TEST_TMPDIR/badopa"
	printf '#!/bin/sh\necho "opa: broken on purpose" >&2\nexit 1\n' \
	    >"$BATS_TEST_TMPDIR/badopa/opa"
	chmod +x "$BATS_TEST_TMPDIR/badopa/opa"
	PATH="$BATS_TEST_TMPDIR/badopa:$PATH" \
	    run -2 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	[ -z "$output" ]
	[[ "$stderr" == *"rekor-sidekick: stage 'rekor-policy' exited with status 2; stopping the other stages"* ]]
	run -0 wait_no_procs "$BATS_TEST_TMPDIR" 5
}

@test "rekor-sidekick: an output that fails is named with its status" {
	sidekick_rekor_start
	write_config 'outputs:' '  stdout:' '    enabled: true' '  webhook:' \
	    '    enabled: true' '    url: http://127.0.0.1:9/' "server: $REKOR_URL" 'start: 0'
	FAKE_OUTPUT_EXIT=3 \
	    run -3 --separate-stderr "$BIN/rekor-sidekick" --config "$CFG"
	[[ "$stderr" == *"rekor-sidekick: stage 'rekor-out-webhook' exited with status 3; stopping the other stages"* ]]
	run -0 wait_no_procs "$BATS_TEST_TMPDIR" 5
	run -0 find "$TMPDIR" -mindepth 1
	[ -z "$output" ]
}
