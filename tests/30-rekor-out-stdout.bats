#!/usr/bin/env bats
# rekor-out-stdout: alerts to standard output, marks to the state file.

load test_helper
load lib/sidekick

setup() {
	make_alerts "$BATS_TEST_TMPDIR/alerts.ndjson"
	ALERTS=$BATS_TEST_TMPDIR/alerts.ndjson
}

@test "rekor-out-stdout: json format copies each alert line unchanged" {
	run -0 --separate-stderr rekor-out-stdout <"$ALERTS"
	[ -z "$stderr" ]
	[ "$output" = "$(grep '"alertID"' "$ALERTS")" ]
}

@test "rekor-out-stdout: json format writes no control records" {
	run -0 --separate-stderr rekor-out-stdout <"$ALERTS"
	[[ "$output" != *'"control"'* ]]
	[ "${#lines[@]}" -eq 6 ]
}

@test "rekor-out-stdout: text format names policy index kind time" {
	run -0 --separate-stderr rekor-out-stdout --format text <"$ALERTS"
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[0]}" == "time=2023-04-22T02:48:26Z policy=test-policy index=1 kind=hashedrekord signer=sha256:"* ]]
	[[ "${lines[2]}" == "time=2023-08-18T16:05:35Z policy=test-policy index=3 kind=intoto "* ]]
	[[ "${lines[3]}" == *" index=4 kind=dsse "* ]]
}

@test "rekor-out-stdout: text format shows a certificate e-mail" {
	run -0 --separate-stderr rekor-out-stdout -f text <"$ALERTS"
	[[ "${lines[5]}" == *" signer=email:me@example.com" ]]
}

@test "rekor-out-stdout: text format shows a certificate URI" {
	run -0 --separate-stderr rekor-out-stdout -f text <"$ALERTS"
	[[ "${lines[1]}" == *" signer=uri:https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main" ]]
}

@test "rekor-out-stdout: intoto and dsse signers come from their envelopes" {
	run -0 --separate-stderr rekor-out-stdout -f text <"$ALERTS"
	[[ "${lines[2]}" == *" signer=uri:https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main" ]]
	[[ "${lines[3]}" == *" signer=uri:https://github.com/sigstore-conformance/"* ]]
}

@test "rekor-out-stdout: bare key shows its SPKI SHA-256" {
	local key want
	key=$(sed -n 2p "$ALERTS" | jq -r .body.spec.signature.publicKey.content)
	want=$(key_fingerprint "$key")
	[[ "$want" == sha256:* ]]
	run -0 --separate-stderr rekor-out-stdout -f text <"$ALERTS"
	[[ "${lines[0]}" == *" signer=$want" ]]
}

@test "rekor-out-stdout: text format quotes names with spaces" {
	sed -n 2p "$ALERTS" |
	    jq -c '.policy.name = "two words \"and\" a\nnewline"' >"$BATS_TEST_TMPDIR/one"
	run -0 --separate-stderr rekor-out-stdout -f text <"$BATS_TEST_TMPDIR/one"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *' policy="two words \"and\" a\nnewline" '* ]]
}

@test "rekor-out-stdout: a mark is acknowledged in the state file" {
	run -0 --separate-stderr rekor-out-stdout --state "$BATS_TEST_TMPDIR/s" <"$ALERTS"
	run -0 jq -c . "$BATS_TEST_TMPDIR/s"
	[ "$output" = '{"version":1,"log":"1193050959916656506","server":"http://127.0.0.1:1","next":7}' ]
}

@test "rekor-out-stdout: no mark means no state file" {
	grep -v '"control"' "$ALERTS" >"$BATS_TEST_TMPDIR/nomark"
	run -0 --separate-stderr rekor-out-stdout -s "$BATS_TEST_TMPDIR/s" <"$BATS_TEST_TMPDIR/nomark"
	[ ! -e "$BATS_TEST_TMPDIR/s" ]
}

@test "rekor-out-stdout: state of another log exits 4" {
	printf '{"version":1,"log":"999","server":"x","next":3}\n' >"$BATS_TEST_TMPDIR/s"
	run -4 --separate-stderr rekor-out-stdout -s "$BATS_TEST_TMPDIR/s" <"$ALERTS"
	[[ "$stderr" == *"state file '$BATS_TEST_TMPDIR/s' belongs to log '999'"* ]]
	run -0 jq -r .next "$BATS_TEST_TMPDIR/s"
	[ "$output" = 3 ]
}

@test "rekor-out-stdout: torn state file exits 4" {
	printf '{"version":1,"lo' >"$BATS_TEST_TMPDIR/s"
	run -4 --separate-stderr rekor-out-stdout -s "$BATS_TEST_TMPDIR/s" <"$ALERTS"
	[ -z "$output" ]
	[[ "$stderr" == *"is not valid JSON"* ]]
}

@test "rekor-out-stdout: malformed record is reported, status 1" {
	printf '%s\n' '{"control":"malformed","logIndex":42,"uuid":"abc","error":"body is not valid base64","raw":{}}' >"$BATS_TEST_TMPDIR/in"
	sed -n 2p "$ALERTS" >>"$BATS_TEST_TMPDIR/in"
	run -1 --separate-stderr rekor-out-stdout <"$BATS_TEST_TMPDIR/in"
	[ "${#lines[@]}" -eq 1 ]
	[ "$stderr" = "rekor-out-stdout: entry 42 (uuid 'abc'): the log served a body that cannot be decoded: body is not valid base64" ]
}

@test "rekor-out-stdout: unknown control records are ignored" {
	printf '%s\n' '{"control":"future-kind","x":1}' >"$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr rekor-out-stdout <"$BATS_TEST_TMPDIR/in"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "rekor-out-stdout: invalid JSON line is reported, others printed" {
	{ echo '{"not json'; sed -n 2p "$ALERTS"; } >"$BATS_TEST_TMPDIR/in"
	run -1 --separate-stderr rekor-out-stdout <"$BATS_TEST_TMPDIR/in"
	[ "${#lines[@]}" -eq 1 ]
	[ "$stderr" = "rekor-out-stdout: line 1: not valid JSON; skipped" ]
}

@test "rekor-out-stdout: entry without policy is reported" {
	sed -n 2p "$ALERTS" | jq -c 'del(.policy, .alertID)' >"$BATS_TEST_TMPDIR/in"
	run -1 --separate-stderr rekor-out-stdout <"$BATS_TEST_TMPDIR/in"
	[ -z "$output" ]
	[[ "$stderr" == *"line 1: an entry, not an alert; put rekor-policy before rekor-out-stdout"* ]]
}

@test "rekor-out-stdout: closed stdout ends quietly with status 0" {
	run -0 --separate-stderr bash -c 'set -o pipefail; rekor-out-stdout <"$1" | head -c 1 >/dev/null' _ "$ALERTS"
	[ -z "$stderr" ]
}

@test "rekor-out-stdout: full disk exits 5" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -5 --separate-stderr bash -c 'rekor-out-stdout <"$1" >/dev/full' _ "$ALERTS"
	[[ "$stderr" == *"write error on standard output"* ]]
}

@test "rekor-out-stdout: mark after a failed write is not acked" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -5 bash -c 'rekor-out-stdout -s "$2" <"$1" >/dev/full' _ "$ALERTS" "$BATS_TEST_TMPDIR/s"
	run -0 jq -r .next "$BATS_TEST_TMPDIR/s"
	[ "$output" = 0 ]
}

@test "rekor-out-stdout: dead-letter file is accepted and left alone" {
	run -0 --separate-stderr rekor-out-stdout -d "$BATS_TEST_TMPDIR/dl" <"$ALERTS"
	[ ! -e "$BATS_TEST_TMPDIR/dl" ]
}

@test "rekor-out-stdout: unknown format exits 2" {
	run -2 --separate-stderr rekor-out-stdout --format yaml </dev/null
	[ -z "$output" ]
	[[ "$stderr" == *"invalid format 'yaml': expected json or text"* ]]
	[[ "$stderr" == *"usage: rekor-out-stdout"* ]]
}

@test "rekor-out-stdout: help on stdout, version" {
	run -0 --separate-stderr rekor-out-stdout --help
	[[ "${lines[0]}" == "usage: rekor-out-stdout"* ]]
	run -0 --separate-stderr rekor-out-stdout -V
	[ "$output" = "rekor-out-stdout 0.1.0" ]
}
