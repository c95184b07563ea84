#!/usr/bin/env bats
# rekor-out-smtp against mailpit, a real SMTP server whose HTTP API
# returns the messages it received.

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

# Sends to mailpit in plain text; extra arguments go to rekor-out-smtp.
smtp() {
	rekor-out-smtp -H 127.0.0.1 -P "$MAILPIT_SMTP_PORT" \
	    -f alerts@example.org -t sec@example.org "$@"
}

# Prints the database ID of the message whose Message-ID is $1.
message_id_to_db() {
	mailpit_messages | jq -r --arg m "$1" \
	    '.messages[] | select(.MessageID == $m) | .ID'
}

# Starts mailpit with a fresh self-signed certificate for STARTTLS.
mailpit_start_tls() {
	make_test_cert cert
	mailpit_start --smtp-tls-cert cert.crt --smtp-tls-key cert.key "$@"
}

@test "rekor-out-smtp: --help prints usage on stdout" {
	run -0 --separate-stderr rekor-out-smtp --help
	[[ "$output" == *"usage: rekor-out-smtp"* ]]
	[[ "$output" == *"--starttls"* ]]
	[ -z "$stderr" ]
}

@test "rekor-out-smtp: --version prints the version" {
	run -0 --separate-stderr rekor-out-smtp -V
	[[ "$output" == "rekor-out-smtp "[0-9]* ]]
}

@test "rekor-out-smtp: unknown option exits 2" {
	run -2 --separate-stderr rekor-out-smtp --bogus
	[[ "$stderr" == *"usage: rekor-out-smtp"* ]]
}

@test "rekor-out-smtp: missing --host, --from or --to exits 2" {
	run -2 --separate-stderr rekor-out-smtp -f a@b.example -t c@d.example \
	    < /dev/null
	[[ "$stderr" == *"missing --host"* ]]
	run -2 --separate-stderr rekor-out-smtp -H h -t c@d.example < /dev/null
	[[ "$stderr" == *"missing --from"* ]]
	run -2 --separate-stderr rekor-out-smtp -H h -f a@b.example < /dev/null
	[[ "$stderr" == *"missing --to"* ]]
}

@test "rekor-out-smtp: addresses with line breaks or spaces exit 2" {
	local bad
	for bad in $'a@b.example\r\nBcc: x@y.example' 'a b@c.example' \
	    '<a@b.example>' 'no-at-sign' '@b.example' 'a@' 'a@b..example' \
	    'Name <a@b.example>' $'a@b.example\n'; do
		run -2 --separate-stderr rekor-out-smtp -H h -f "$bad" \
		    -t c@d.example < /dev/null
		[[ "$stderr" == *"invalid sender address"* ]]
		run -2 --separate-stderr rekor-out-smtp -H h -f a@b.example \
		    -t "ok@d.example,$bad" < /dev/null
		[[ "$stderr" == *"invalid recipient address"* ]]
	done
}

@test "rekor-out-smtp: invalid --starttls, --port and --host exit 2" {
	run -2 --separate-stderr rekor-out-smtp -H h -f a@b.example \
	    -t c@d.example -x sometimes < /dev/null
	[[ "$stderr" == *"invalid --starttls 'sometimes'"* ]]
	run -2 --separate-stderr rekor-out-smtp -H h -f a@b.example \
	    -t c@d.example -P 70000 < /dev/null
	[[ "$stderr" == *"invalid port '70000'"* ]]
	run -2 --separate-stderr rekor-out-smtp -H 'user@h/x' -f a@b.example \
	    -t c@d.example < /dev/null
	[[ "$stderr" == *"invalid host 'user@h/x'"* ]]
}

@test "rekor-out-smtp: one message per alert to every recipient" {
	mailpit_start
	run -0 --separate-stderr smtp -x never \
	    -t 'oncall@example.org, audit@example.org' < alerts.ndjson
	[ -z "$output" ]
	[ -z "$stderr" ]
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
	[ "$(mailpit_messages | jq -r '.messages[].To | map(.Address) |
	    join(",")' | sort -u)" = \
	    "sec@example.org,oncall@example.org,audit@example.org" ]
	[ "$(mailpit_messages | jq -r '.messages[].From.Address' | sort -u)" = \
	    alerts@example.org ]
}

@test "rekor-out-smtp: headers carry policy, index and the alertID" {
	mailpit_start
	run -0 --separate-stderr smtp -x never < alerts.ndjson
	id=$(alert_ids_of alerts.ndjson | head -1)
	db=$(message_id_to_db "$id.alert@example.org")
	[ -n "$db" ]
	mailpit_message "$db" > msg.json
	[ "$(jq -r .Subject msg.json)" = \
	    "Rekor alert: unexpected-signer matched log entry 79571823" ]
	mailpit_raw "$db" > raw.eml
	grep -q "^X-Rekor-Alert-ID: $id" raw.eml
	grep -q '^Auto-Submitted: auto-generated' raw.eml
	grep -q '^MIME-Version: 1.0' raw.eml
	grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000' raw.eml
}

@test "rekor-out-smtp: body lists the facts of the alert" {
	mailpit_start
	run -0 --separate-stderr smtp -x never < alerts.ndjson
	db=$(message_id_to_db "$(alert_ids_of alerts.ndjson | head -1).alert@example.org")
	mailpit_message "$db" | jq -r .Text | tr -d '\r' > text
	grep -qx "Rekor alert: policy 'unexpected-signer' matched log entry 79571823." text
	grep -qx "Policy:       unexpected-signer" text
	grep -qx "Description:  an identity outside the allow list signed" text
	grep -qx "Log index:    79571823" text
	grep -qx "Kind:         hashedrekord 0.0.1" text
	grep -qx "Integrated:   2024-03-19T17:26:26Z (1710869186)" text
	grep -qx "UUID:         $(head -1 alerts.ndjson | jq -r .uuid)" text
	grep -qx "Entry URL:    $(head -1 alerts.ndjson | jq -r .url)" text
	grep -qx "Signer:       https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main (issuer https://token.actions.githubusercontent.com)" text
	grep -qx "Alert ID:     $(alert_ids_of alerts.ndjson | head -1)" text
}

@test "rekor-out-smtp: no Signer line for a bare key" {
	mailpit_start
	run -0 --separate-stderr smtp -x never < alerts.ndjson
	db=$(message_id_to_db "$(alert_ids_of alerts.ndjson | tail -1).alert@example.org")
	mailpit_message "$db" | jq -r .Text | tr -d '\r' > text
	grep -qx "Log index:    771488337" text
	run -1 grep -c '^Signer:' text
}

@test "rekor-out-smtp: the record is attached unchanged" {
	mailpit_start
	run -0 --separate-stderr smtp -x never < alerts.ndjson
	db=$(message_id_to_db "$(alert_ids_of alerts.ndjson | head -1).alert@example.org")
	mailpit_message "$db" > msg.json
	[ "$(jq -r '.Attachments[0].FileName' msg.json)" = alert-79571823.json ]
	[ "$(jq -r '.Attachments[0].ContentType' msg.json)" = application/json ]
	part=$(jq -r '.Attachments[0].PartID' msg.json)
	curl -sf "$MAILPIT_URL/api/v1/message/$db/part/$part" > got.json
	head -1 alerts.ndjson | tr -d '\n' > want.json
	cmp want.json got.json
}

@test "rekor-out-smtp: a resent alert keeps its Message-ID" {
	mailpit_start --ignore-duplicate-ids
	real_alerts --count 1 > one.ndjson
	run -0 --separate-stderr smtp -x never < one.ndjson
	run -0 --separate-stderr smtp -x never < one.ndjson
	# mailpit drops the second copy because its Message-ID is the same.
	[ "$(mailpit_messages | jq .total)" -eq 1 ]
}

@test "rekor-out-smtp: a policy name cannot inject headers" {
	mailpit_start
	real_alerts --count 1 --policy $'evil\r\nBcc: thief@example.net\r\n\r\nfake body' \
	    --description $'line1\r\n--=_rekor_x\r\nContent-Type: text/html' \
	    > evil.ndjson
	run -0 --separate-stderr smtp -x never < evil.ndjson
	db=$(mailpit_messages | jq -r '.messages[0].ID')
	mailpit_message "$db" > msg.json
	[ "$(jq -r '.Bcc | length' msg.json)" -eq 0 ]
	[ "$(jq -r '.To | map(.Address) | join(",")' msg.json)" = sec@example.org ]
	[ "$(jq -r .Subject msg.json)" = \
	    "Rekor alert: evil  Bcc: thief@example.net    fake body matched log entry 79571823" ]
	mailpit_raw "$db" > raw.eml
	run -1 grep -c '^Bcc:' raw.eml
	[ "$(jq -r '.Attachments | length' msg.json)" -eq 1 ]
	[ "$(jq -r '.Inline | length' msg.json)" -eq 0 ]
	[ "$(jq -r .HTML msg.json)" = "" ]
}

@test "rekor-out-smtp: non-ASCII policy names are encoded words" {
	mailpit_start
	real_alerts --count 1 --policy 'signé-par-inconnu ✓' > utf8.ndjson
	run -0 --separate-stderr smtp -x never < utf8.ndjson
	db=$(mailpit_messages | jq -r '.messages[0].ID')
	[ "$(mailpit_message "$db" | jq -r .Subject)" = \
	    "Rekor alert: signé-par-inconnu ✓ matched log entry 79571823" ]
	mailpit_raw "$db" > raw.eml
	grep -q '^Subject: =?UTF-8?B?' raw.eml
	[ "$(LC_ALL=C grep -c -P '[\x80-\xff]' raw.eml)" -eq 0 ]
}

@test "rekor-out-smtp: STARTTLS required with --ca-file" {
	mailpit_start_tls --smtp-require-starttls
	run -0 --separate-stderr smtp -C cert.crt < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: STARTTLS with an untrusted certificate is retried" {
	mailpit_start_tls
	run -3 --separate-stderr smtp -R 1s < alerts.ndjson
	[[ "$stderr" == *"SMTP failed"* ]]
	[[ "$stderr" == *"giving up"* ]]
	[ "$(mailpit_messages | jq .total)" -eq 0 ]
}

@test "rekor-out-smtp: --insecure accepts any certificate" {
	mailpit_start_tls --smtp-require-starttls
	run -0 --separate-stderr smtp -k < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: STARTTLS required but not offered fails" {
	mailpit_start
	run -3 --separate-stderr smtp -R 1s < alerts.ndjson
	[[ "$stderr" == *"SMTP failed"* ]]
	[ "$(mailpit_messages | jq .total)" -eq 0 ]
}

@test "rekor-out-smtp: --starttls try goes plain when not offered" {
	mailpit_start
	run -0 --separate-stderr smtp -x try < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: smtps:// speaks TLS from the first byte" {
	make_test_cert cert
	mailpit_start --smtp-tls-cert cert.crt --smtp-tls-key cert.key \
	    --smtp-require-tls
	run -0 --separate-stderr rekor-out-smtp -H smtps://127.0.0.1 \
	    -P "$MAILPIT_SMTP_PORT" -f alerts@example.org -t sec@example.org \
	    -C cert.crt < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: AUTH with the password from the environment" {
	echo 'bob:pa55-env' > auth
	mailpit_start_tls --smtp-auth-file auth
	REKOR_SIDEKICK_OUTPUTS_SMTP_PASSWORD=pa55-env run -0 \
	    --separate-stderr smtp -C cert.crt -U bob < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: AUTH with --password-file" {
	echo 'bob:pa55-file' > auth
	echo 'pa55-file' > pw
	mailpit_start_tls --smtp-auth-file auth
	run -0 --separate-stderr smtp -C cert.crt -U bob -p pw < alerts.ndjson
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: wrong password (535) goes to the dead-letter file" {
	echo 'bob:right' > auth
	echo 'wrong' > pw
	mailpit_start_tls --smtp-auth-file auth
	run -1 --separate-stderr smtp -C cert.crt -U bob -p pw -d dl.ndjson \
	    -s state.json < alerts.ndjson
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == "SMTP server replied 535"* ]]
	[ "$(state_next state.json)" -eq 771488338 ]
}

@test "rekor-out-smtp: password is not in argv, environ or -vv output" {
	echo 'bob:pw-3c4d5e' > auth
	mailpit_start_tls --smtp-auth-file auth --enable-chaos \
	    --chaos-triggers 'Recipient:451:100'
	REKOR_SIDEKICK_OUTPUTS_SMTP_PASSWORD=pw-3c4d5e rekor-out-smtp -vv \
	    -H 127.0.0.1 -P "$MAILPIT_SMTP_PORT" -f alerts@example.org \
	    -t sec@example.org -C cert.crt -U bob < alerts.ndjson 2> stderr.txt &
	pid=$!
	server_track output "$pid"
	# Every RCPT fails with 451 until chaos is switched off.
	i=0
	until grep -q 'replied 451' stderr.txt; do
		i=$((i + 1))
		[ "$i" -lt 100 ]
		sleep 0.1
	done
	secret_not_exposed "$pid" pw-3c4d5e
	curl -sf -X PUT "$MAILPIT_URL/api/v1/chaos" \
	    -d '{"Recipient":{"ErrorCode":451,"Probability":0}}' >/dev/null
	wait "$pid"
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
	run -1 grep -c -e pw-3c4d5e -e "$(printf '\0bob\0pw-3c4d5e' | base64)" \
	    -e "$(printf 'pw-3c4d5e' | base64)" stderr.txt
	grep -q 'smtp: > (hidden)' stderr.txt
}

@test "rekor-out-smtp: 4xx reply is retried until accepted" {
	mailpit_start --enable-chaos --chaos-triggers 'Sender:421:100'
	smtp -x never < alerts.ndjson 2> stderr.txt &
	pid=$!
	server_track output "$pid"
	i=0
	until grep -q 'replied 421' stderr.txt; do
		i=$((i + 1))
		[ "$i" -lt 100 ]
		sleep 0.1
	done
	curl -sf -X PUT "$MAILPIT_URL/api/v1/chaos" \
	    -d '{"Sender":{"ErrorCode":421,"Probability":0}}' >/dev/null
	wait "$pid"
	[ "$(mailpit_messages | jq .total)" -eq 3 ]
}

@test "rekor-out-smtp: 5xx reply is permanent: dead-letter file" {
	mailpit_start --enable-chaos --chaos-triggers 'Recipient:550:100'
	run -1 --separate-stderr smtp -x never -d dl.ndjson < alerts.ndjson
	[ "$(wc -l < dl.ndjson)" -eq 3 ]
	[[ "$(jq -r .reason dl.ndjson | head -1)" == "SMTP server replied 550"* ]]
	[ "$(jq -r .alertID dl.ndjson)" = "$(alert_ids_of alerts.ndjson)" ]
	[ "$(mailpit_messages | jq .total)" -eq 0 ]
}

@test "rekor-out-smtp: connection refused is retried, -R gives up" {
	port=$(free_port)
	run -3 --separate-stderr rekor-out-smtp -H 127.0.0.1 -P "$port" \
	    -f a@b.example -t c@d.example -x never -R 1s -s state.json \
	    < alerts.ndjson
	[[ "$stderr" == *"SMTP failed"* ]]
	[ ! -e state.json ]
}

@test "rekor-out-smtp: state follows the marks" {
	real_alerts --count 4 --start 3000 --mark-every 2 > marked.ndjson
	mailpit_start
	run -0 --separate-stderr smtp -x never -s state.json < marked.ndjson
	[ "$(state_next state.json)" -eq 3004 ]
	[ "$(mailpit_messages | jq .total)" -eq 4 ]
}
