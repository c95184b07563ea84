#!/usr/bin/env bats
# rekor-policy against the real opa on real Rekor entries
# (tests/fixtures/policy/entries.ndjson: five public entries, then two
# synthetic ones, logIndex 1000000001 and 1000000002).

load test_helper
load lib/policy

setup() {
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR"
}

# --- options ---------------------------------------------------------

@test "rekor-policy: -h prints usage on stdout" {
	run -0 --separate-stderr rekor-policy -h
	[[ "$output" == *"usage: rekor-policy"* ]]
	[[ "$output" == *"--strict"* ]]
	[ -z "$stderr" ]
}

@test "rekor-policy: -V prints the version" {
	run -0 --separate-stderr rekor-policy -V
	[[ "$output" =~ ^rekor-policy\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "rekor-policy: unknown option exits 2, usage on stderr" {
	run -2 --separate-stderr rekor-policy --bogus
	[ -z "$output" ]
	[[ "$stderr" == *"usage: rekor-policy"* ]]
}

@test "rekor-policy: no policy exits 2" {
	run -2 --separate-stderr rekor-policy
	[ -z "$output" ]
	[[ "$stderr" == *"no policy"* ]]
}

@test "rekor-policy: -n without a following -p exits 2" {
	p=$(write_policy p 'package sidekick
alert := true')
	run -2 --separate-stderr rekor-policy -p "$p" -n late
	[[ "$stderr" == *"no -p follows"* ]]
}

@test "rekor-policy: invalid batch size exits 2" {
	p=$(write_policy p 'package sidekick
alert := true')
	run -2 --separate-stderr rekor-policy -b 0 -p "$p"
	[[ "$stderr" == *"invalid batch size '0'"* ]]
}

@test "rekor-policy: missing opa binary exits 2" {
	p=$(write_policy p 'package sidekick
alert := true')
	run -2 --separate-stderr rekor-policy --opa "$BATS_TEST_TMPDIR/no-opa" \
	    -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[[ "$stderr" == *"opa not found"* ]]
}

# --- Rego versions -----------------------------------------------------

@test "rekor-policy: README v0 policy alerts on me@example.com" {
	p=$(write_policy readme "$README_POLICY")
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 1 ]
	[ "$(printf '%s' "$output" | jq .logIndex)" -eq 1000000001 ]
	[ "$(printf '%s' "$output" | jq -r .policy.name)" = readme ]
}

@test "rekor-policy: v0 file is named once on stderr" {
	p=$(write_policy readme "$README_POLICY")
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s\n' "$stderr" | grep -c 'read as Rego v0')" -eq 1 ]
	[[ "$stderr" == *"policy '$p' was read as Rego v0"* ]]
}

@test "rekor-policy: v1 policy is not reported as v0" {
	p=$(write_policy v1 'package sidekick

alert if {
	certs := crypto.x509.parse_certificates(input.spec.signature.publicKey.content)
	"me@example.com" in certs[0].EmailAddresses
}')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq .logIndex)" -eq 1000000001 ]
	[[ "$stderr" != *"Rego v0"* ]]
}

@test "rekor-policy: alert is the entry plus policy and alertID" {
	p=$(write_policy readme "$README_POLICY")
	run -0 --separate-stderr rekor-policy -n mine -d "my key" -p "$p" \
	    < "$ENTRIES"
	entry=$(entry_line 6)
	[ "$(printf '%s' "$output" | jq -cS 'del(.policy, .alertID)')" = \
	    "$(printf '%s' "$entry" | jq -cS .)" ]
	[ "$(printf '%s' "$output" | jq -c .policy)" = \
	    '{"name":"mine","description":"my key"}' ]
	logid=$(printf '%s' "$entry" | jq -r .logID)
	[ "$(printf '%s' "$output" | jq -r .alertID)" = \
	    "$(expected_alert_id "$logid" 1000000001 mine)" ]
}

@test "rekor-policy: alert keeps the record bytes" {
	p=$(write_policy readme "$README_POLICY")
	run -0 --separate-stderr rekor-policy -n mine -p "$p" < "$ENTRIES"
	entry=$(entry_line 6)
	[ "${output:0:${#entry}-1}" = "${entry%\}}" ]
}

@test "rekor-policy: alert must be exactly true" {
	for value in '"true"' 1 '{"a": true}' '[true]' false; do
		p=$(write_policy nontrue "package sidekick
alert := $value")
		run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
		[ -z "$output" ]
	done
}

@test "rekor-policy: undefined alert is no match" {
	p=$(write_policy undef 'package sidekick
alert if input.no_such_field')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

# --- compile errors ----------------------------------------------------

@test "rekor-policy: parse error exits 2 with FILE:ROW:COL" {
	p=$(write_policy broken 'package sidekick

alert if {
	input.kind ==
}')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[[ "$stderr" =~ (^|$'\n')"$p":[0-9]+:[0-9]+:\ rego_parse_error ]]
}

@test "rekor-policy: type error exits 2 with FILE:ROW:COL" {
	p=$(write_policy typeerr 'package sidekick

alert if {
	lower(1) == "x"
}')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[[ "$stderr" == *"$p:4:2: rego_type_error: lower: invalid argument"* ]]
}

@test "rekor-policy: compile error names a policy named by -n" {
	p=$(write_policy broken 'package sidekick
alert if {')
	run -2 --separate-stderr rekor-policy -n release-key -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"rekor-policy: policy 'release-key' in '$p' did not compile"* ]]
}

@test "rekor-policy: v0 policy with an error reports the v0 error" {
	p=$(write_policy v0err 'package sidekick

alert {
	input.kind == "dsse"
	undefined_function(input)
}')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"$p:5:2: rego_type_error: undefined function undefined_function"* ]]
}

@test "rekor-policy: errors in several files are all listed" {
	a=$(write_policy a 'package sidekick
alert if nope(1)')
	b=$(write_policy b 'package sidekick
alert if {')
	run -2 --separate-stderr rekor-policy -p "$a" -p "$b" < "$ENTRIES"
	[[ "$stderr" == *"$a:2:"* ]]
	[[ "$stderr" == *"$b:"* ]]
	[[ "$stderr" == *"2 of 2 policies did not compile"* ]]
}

@test "rekor-policy: package other than sidekick exits 2" {
	p=$(write_policy other 'package other
alert := true')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"$p:1:1: rekor_policy_error: the package must be 'package sidekick'"* ]]
}

@test "rekor-policy: policy without alert rule exits 2" {
	p=$(write_policy noalert 'package sidekick
allow := true')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"no 'alert' rule"* ]]
}

@test "rekor-policy: alert function exits 2" {
	p=$(write_policy func 'package sidekick
alert(x) := true')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"$p:2:1: rekor_policy_error: 'alert' must be a rule"* ]]
}

@test "rekor-policy: unreadable policy exits 2" {
	run -2 --separate-stderr rekor-policy -p "$BATS_TEST_TMPDIR/none.rego" \
	    < "$ENTRIES"
	[[ "$stderr" == *"cannot read policy '$BATS_TEST_TMPDIR/none.rego'"* ]]
}

@test "rekor-policy: http.send is rejected at compile time" {
	p=$(write_policy net 'package sidekick

alert if {
	resp := http.send({"method": "get", "url": "http://127.0.0.1:9/"})
	resp.status_code == 200
}')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[[ "$stderr" == *"$p:4:10: rego_type_error: undefined function http.send (rekor-policy leaves out built-ins that reach the network or the environment)"* ]]
}

@test "rekor-policy: opa.runtime and net.lookup_ip_addr are rejected" {
	p=$(write_policy env 'package sidekick
alert if opa.runtime().env.HOME')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"undefined function opa.runtime (rekor-policy leaves out"* ]]
	p=$(write_policy dns 'package sidekick
alert if net.lookup_ip_addr("localhost")')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"undefined function net.lookup_ip_addr (rekor-policy"* ]]
}

@test "rekor-policy: json.match_schema is rejected" {
	p=$(write_policy schema 'package sidekick
alert if {
	[ok, _] := json.match_schema(input, {"$ref": "http://127.0.0.1:9/s.json"})
	ok
}')
	run -2 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[[ "$stderr" == *"undefined function json.match_schema"* ]]
}

# --- runtime errors and malformed input ------------------------------

@test "rekor-policy: conflict error skips only that entry" {
	p=$(write_policy conflict 'package sidekick

alert := true if input.kind in {"hashedrekord", "dsse"}

alert := false if count(input.spec.signatures) > 0')
	run -1 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 79571823 771488337 1000000001 1000000002 " ]
	[[ "$stderr" == *"entry 155690850 (line 4): policy 'conflict': evaluation failed: $p:"*"eval_conflict_error: "* ]]
	[[ "$stderr" == *"policy 'conflict': evaluation failed on 1 entries"* ]]
}

@test "rekor-policy: conflict error is the same in every batch size" {
	p=$(write_policy conflict 'package sidekick

alert := true if input.kind in {"hashedrekord", "dsse"}

alert := false if count(input.spec.signatures) > 0')
	run -1 --separate-stderr rekor-policy -b 1 -p "$p" < "$ENTRIES"
	one=$output
	run -1 --separate-stderr rekor-policy -b 3 -p "$p" < "$ENTRIES"
	[ "$output" = "$one" ]
	[ -n "$output" ]
}

@test "rekor-policy: malformed lines are reported by number" {
	p=$(write_policy all 'package sidekick
alert := true')
	{
		entry_line 1
		echo '{"logIndex": 5, "body": '
		echo '[1, 2]'
		echo '{"logIndex": 7, "body": {}}'
		entry_line 2
	} > "$BATS_TEST_TMPDIR/input"
	run -1 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 31821305 " ]
	[[ "$stderr" == *"line 2: invalid JSON; skipped"* ]]
	[[ "$stderr" == *"line 3: neither an entry"* ]]
	[[ "$stderr" == *"line 4: entry 7 has no 'logID' string; skipped"* ]]
	[[ "$stderr" == *"3 input lines were skipped"* ]]
}

@test "rekor-policy: blank lines and a last line without newline" {
	p=$(write_policy all 'package sidekick
alert := true')
	{ echo; entry_line 1; echo '  '; printf '%s' "$(entry_line 2)"; } \
	    > "$BATS_TEST_TMPDIR/input"
	run -0 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 31821305 " ]
}

@test "rekor-policy: alert record on input is reported" {
	p=$(write_policy all 'package sidekick
alert := true')
	rekor-policy -p "$p" < "$ENTRIES" | head -1 > "$BATS_TEST_TMPDIR/alert"
	run -1 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/alert"
	[ -z "$output" ]
	[[ "$stderr" == *"line 1: an alert record, not an entry"* ]]
}

# --- built-in failures -------------------------------------------------

@test "rekor-policy: failing built-ins are counted per policy" {
	p=$(write_policy readme "$README_POLICY")
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq .logIndex)" -eq 1000000001 ]
	[[ "$stderr" == *"entry 18624203 (line 1): policy 'readme': built-in failed: $p:9:12: eval_builtin_error: crypto.x509.parse_certificates: PEM block type is 'PUBLIC KEY'"* ]]
	[[ "$stderr" == *"entry 771488337 (line 5): policy 'readme': built-in failed"* ]]
	[[ "$stderr" == *"entry 1000000002 (line 7): policy 'readme': built-in failed"*"malformed certificate"* ]]
	[[ "$stderr" == *"policy 'readme': a built-in failed on 3 entries"* ]]
}

@test "rekor-policy: --strict makes a failing built-in an error" {
	p=$(write_policy readme "$README_POLICY")
	run -1 --separate-stderr rekor-policy --strict -p "$p" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq .logIndex)" -eq 1000000001 ]
	[[ "$stderr" == *"entry 18624203 (line 1): policy 'readme': built-in failed: "*"; no result (--strict)"* ]]
	[[ "$stderr" == *"policy 'readme': evaluation failed on 3 entries"* ]]
}

@test "rekor-policy: a failed built-in does not hide another match" {
	p=$(write_policy either 'package sidekick

alert if crypto.x509.parse_certificates(input.spec.signature.publicKey.content)

alert if input.kind == "hashedrekord"')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 79571823 771488337 1000000001 1000000002 " ]
}

@test "rekor-policy: built-in failures past ten go to -v only" {
	p=$(write_policy readme "$README_POLICY")
	for i in 1 2 3 4 5; do cat "$ENTRIES"; done > "$BATS_TEST_TMPDIR/input"
	run -0 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$stderr" | grep -c 'built-in failed: ')" -eq 10 ]
	[[ "$stderr" == *"a built-in failed on 15 entries"* ]]
	run -0 --separate-stderr rekor-policy -v -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$stderr" | grep -c 'built-in failed: ')" -eq 15 ]
}

# --- several policies ------------------------------------------------

@test "rekor-policy: several policies alert in input order" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/email.rego" \
	    -p "$POLICIES/ci-identity.rego" -p "$POLICIES/key-fingerprint.rego" \
	    < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | jq -r '"\(.logIndex) \(.policy.name)"' |
	    tr '\n' ,)" = "18624203 public key fingerprint,31821305 CI workflow identity,79571823 CI workflow identity,155690850 CI workflow identity,1000000001 certificate e-mail identity," ]
}

@test "rekor-policy: one entry matching two policies gives two alerts" {
	a=$(write_policy a 'package sidekick
alert if input.kind == "dsse"')
	b=$(write_policy b 'package sidekick
alert := true')
	run -0 --separate-stderr rekor-policy -p "$a" -p "$b" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | jq -r 'select(.logIndex == 155690850) | .policy.name' | tr '\n' ' ')" = "a b " ]
	[ "$(printf '%s\n' "$output" | jq -r 'select(.logIndex == 155690850) | .alertID' | sort -u | wc -l)" -eq 2 ]
}

@test "rekor-policy: same-package policies do not merge" {
	a=$(write_policy a 'package sidekick
wanted := "dsse"
alert if input.kind == wanted')
	b=$(write_policy b 'package sidekick
wanted := "intoto"
default alert := false
alert if input.kind == wanted')
	run -0 --separate-stderr rekor-policy -p "$a" -p "$b" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | jq -r '"\(.logIndex) \(.policy.name)"' |
	    tr '\n' ,)" = "31821305 b,155690850 a," ]
}

@test "rekor-policy: two policies with one name exit 2" {
	a=$(write_policy a 'package sidekick
alert := true')
	run -2 --separate-stderr rekor-policy -p "$a" -n a -p "$POLICIES/email.rego" \
	    < "$ENTRIES"
	[[ "$stderr" == *"are both named 'a'"* ]]
}

# --- names and descriptions ---------------------------------------------

@test "rekor-policy: -n and -d win over METADATA" {
	run -0 --separate-stderr rekor-policy -n mine -d "my text" \
	    -p "$POLICIES/email.rego" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq -c .policy)" = \
	    '{"name":"mine","description":"my text"}' ]
}

@test "rekor-policy: -n and -d apply to the next -p only" {
	a=$(write_policy first 'package sidekick
alert if input.kind == "dsse"')
	b=$(write_policy second 'package sidekick
alert if input.kind == "dsse"')
	run -0 --separate-stderr rekor-policy -n one -d d1 -p "$a" -p "$b" \
	    < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | jq -c .policy | tr '\n' ' ')" = \
	    '{"name":"one","description":"d1"} {"name":"second","description":""} ' ]
}

@test "rekor-policy: METADATA wins over the file name" {
	p=$(write_policy meta '# METADATA
# title: package title
# description: package text
package sidekick

alert if input.kind == "dsse"')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq -c .policy)" = \
	    '{"name":"package title","description":"package text"}' ]
}

@test "rekor-policy: package METADATA wins over the alert rule" {
	p=$(write_policy meta '# METADATA
# title: package title
package sidekick

# METADATA
# title: rule title
# description: rule text
alert if input.kind == "dsse"')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq -c .policy)" = \
	    '{"name":"package title","description":"rule text"}' ]
}

@test "rekor-policy: -d alone keeps the METADATA title" {
	run -0 --separate-stderr rekor-policy -d "mine" \
	    -p "$POLICIES/email.rego" < "$ENTRIES"
	[ "$(printf '%s' "$output" | jq -c .policy)" = \
	    '{"name":"certificate e-mail identity","description":"mine"}' ]
}

# --- input modes -------------------------------------------------------

@test "rekor-policy: --input record sees the whole record" {
	p=$(write_policy rec 'package sidekick
alert if {
	input.logIndex == 79571823
	input.verification.inclusionProof.treeSize == 75408393
	input.body.kind == "hashedrekord"
}')
	run -0 --separate-stderr rekor-policy --input record -p "$p" < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "79571823 " ]
}

@test "rekor-policy: --input applies to the next -p only" {
	a=$(write_policy rec 'package sidekick
alert if input.logIndex == 79571823')
	b=$(write_policy body 'package sidekick
alert if input.kind == "dsse"')
	run -0 --separate-stderr rekor-policy -i record -p "$a" -p "$b" \
	    < "$ENTRIES"
	[ "$(printf '%s\n' "$output" | jq -r '"\(.logIndex) \(.policy.name)"' |
	    tr '\n' ,)" = "79571823 rec,155690850 body," ]
}

@test "rekor-policy: invalid --input exits 2" {
	run -2 --separate-stderr rekor-policy -i entry -p x.rego
	[[ "$stderr" == *"invalid input 'entry'"* ]]
}

# --- sample policies --------------------------------------------------

@test "rekor-policy: email sample alerts on me@example.com only" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/email.rego" \
	    < <(head -6 "$ENTRIES")
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "1000000001 " ]
	[ -z "$stderr" ]
}

@test "rekor-policy: CI sample alerts on intoto, hashedrekord and dsse" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/ci-identity.rego" \
	    < <(head -6 "$ENTRIES")
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "31821305 79571823 155690850 " ]
	[ -z "$stderr" ]
}

@test "rekor-policy: key sample alerts on the 2023 key only" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/key-fingerprint.rego" \
	    < <(head -6 "$ENTRIES")
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 " ]
	[ -z "$stderr" ]
}

@test "rekor-policy: samples report the broken certificate" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/email.rego" \
	    < <(entry_line 7)
	[ -z "$output" ]
	[[ "$stderr" == *"entry 1000000002 (line 1): policy 'certificate e-mail identity': built-in failed: "*"malformed certificate"* ]]
}

# --- batches, equality with opa eval -----------------------------------

@test "rekor-policy: results equal per-entry opa eval" {
	readme=$(write_policy readme "$README_POLICY")
	rec=$(write_policy rec 'package sidekick
alert if input.integratedTime > 1700000000')
	for spec in "$POLICIES/email.rego" "$POLICIES/ci-identity.rego" \
	    "$POLICIES/key-fingerprint.rego" "v0:$readme" "record:$rec"; do
		file=${spec#*:}
		mode=
		input=.body
		case $spec in
		v0:*) mode=--v0-compatible ;;
		record:*) input=. ;;
		esac
		expected=
		while IFS= read -r line; do
			printf '%s' "$line" | jq -c "$input" > "$BATS_TEST_TMPDIR/in.json"
			value=$(opa eval $mode -f json -d "$file" \
			    -i "$BATS_TEST_TMPDIR/in.json" data.sidekick.alert |
			    jq -c '.result[0].expressions[0].value')
			if [ "$value" = true ]; then
				expected="$expected$(printf '%s' "$line" | jq .logIndex) "
			fi
		done < "$ENTRIES"
		args=(-p "$file")
		[ "$input" = . ] && args=(-i record -p "$file")
		for size in 1 2 256; do
			got=$(rekor-policy -q -b "$size" "${args[@]}" < "$ENTRIES" |
			    alerted_indexes | tr '\n' ' ')
			echo "$spec, batch $size: got '$got', opa eval '$expected'"
			[ "$got" = "$expected" ]
		done
	done
}

@test "rekor-policy: batch sizes give the same output" {
	readme=$(write_policy readme "$README_POLICY")
	conflict=$(write_policy conflict 'package sidekick

alert := true if input.kind in {"hashedrekord", "dsse"}

alert := false if count(input.spec.signatures) > 0')
	# 70 entries: a batch of 64 or more goes to opa in two halves at once.
	for i in $(seq 10); do cat "$ENTRIES"; done > "$BATS_TEST_TMPDIR/input"
	set -- -p "$POLICIES/ci-identity.rego" -p "$POLICIES/email.rego" \
	    -p "$readme" -p "$conflict"
	rekor-policy -b 1 "$@" < "$BATS_TEST_TMPDIR/input" \
	    > "$BATS_TEST_TMPDIR/one" 2>/dev/null || true
	for size in 2 7 64 100; do
		run -1 --separate-stderr rekor-policy -b "$size" "$@" \
		    < "$BATS_TEST_TMPDIR/input"
		[ "$output" = "$(cat "$BATS_TEST_TMPDIR/one")" ]
		[[ "$stderr" == *"policy 'conflict': evaluation failed on 10 entries"* ]]
		[[ "$stderr" == *"policy 'readme': a built-in failed on 30 entries"* ]]
	done
	# ci-identity 3, email 1, readme 1 and conflict 5 alerts per copy.
	[ "$(wc -l < "$BATS_TEST_TMPDIR/one")" -eq 100 ]
}

@test "rekor-policy: partial batch is flushed while input stays open" {
	p=$(write_policy all 'package sidekick
alert := true')
	start_policy_on_fifo -b 100 -w 50ms -p "$p"
	entry_line 4 >&8
	wait_for_lines "$BATS_TEST_TMPDIR/out" 1
	kill -0 "$POLICY_PID"
	exec 8>&-
	wait_policy
	[ "$POLICY_STATUS" -eq 0 ]
	[ "$(alerted_indexes < "$BATS_TEST_TMPDIR/out")" = 155690850 ]
}

# --- control records -----------------------------------------------------

@test "rekor-policy: control records pass through in order" {
	p=$(write_policy all 'package sidekick
alert if input.kind != "intoto"')
	mark1='{"control":"mark","log":"x","server":"https://rekor.example.invalid","next":18624203}'
	mark2='{"control":"mark","log":"x","server":"https://rekor.example.invalid","next":79571824}'
	bad='{"control":"malformed","logIndex":79571824,"uuid":"u","error":"invalid base64","raw":{}}'
	{
		echo "$mark1"
		entry_line 1
		entry_line 2
		entry_line 3
		echo "$mark2"
		echo "$bad"
		entry_line 4
		echo '{"control":"future-kind"}'
	} > "$BATS_TEST_TMPDIR/input"
	run -0 --separate-stderr rekor-policy -b 100 -p "$p" \
	    < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$output" | jq -r '.control // .logIndex' |
	    tr '\n' ' ')" = "mark 18624203 79571823 mark malformed 155690850 future-kind " ]
	[ "$(printf '%s\n' "$output" | sed -n 1p)" = "$mark1" ]
	[ "$(printf '%s\n' "$output" | sed -n 4p)" = "$mark2" ]
	[ "$(printf '%s\n' "$output" | sed -n 5p)" = "$bad" ]
}

@test "rekor-policy: mark waits for the pending batch" {
	p=$(write_policy all 'package sidekick
alert := true')
	start_policy_on_fifo -b 100 -w 60s -p "$p"
	entry_line 1 >&8
	entry_line 2 >&8
	echo '{"control":"mark","log":"x","server":"s","next":31821306}' >&8
	wait_for_lines "$BATS_TEST_TMPDIR/out" 3
	[ "$(jq -r '.control // .logIndex' "$BATS_TEST_TMPDIR/out" | tr '\n' ' ')" = \
	    "18624203 31821305 mark " ]
	exec 8>&-
	wait_policy
	[ "$POLICY_STATUS" -eq 0 ]
}

# --- environment, opa failures, signals ----------------------------------

@test "rekor-policy: OPA_ environment variables are ignored" {
	p=$(write_policy v1 'package sidekick
alert if input.kind == "dsse"')
	run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	clean=$output
	[ -n "$clean" ]
	OPA_PARSE_V0_COMPATIBLE=true OPA_CHECK_V0_COMPATIBLE=true \
	OPA_RUN_V0_COMPATIBLE=true OPA_RUN_ADDR=127.0.0.1:1 \
	OPA_CHECK_CAPABILITIES=v0.10.0 OPA_RUN_LOG_LEVEL=debug \
	OPA_CAPABILITIES_VERSION=v0.10.0 \
	    run -0 --separate-stderr rekor-policy -p "$p" < "$ENTRIES"
	[ "$output" = "$clean" ]
	[ -z "$stderr" ]
}

@test "rekor-policy: opa dying mid-stream exits 3" {
	p=$(write_policy all 'package sidekick
alert := true')
	start_policy_on_fifo -b 1 -p "$p"
	entry_line 1 >&8
	wait_for_lines "$BATS_TEST_TMPDIR/out" 1
	opa_pid=$(pgrep -P "$POLICY_PID" opa)
	[ -n "$opa_pid" ]
	kill -9 "$opa_pid"
	entry_line 2 >&8
	wait_policy
	[ "$POLICY_STATUS" -eq 3 ]
	exec 8>&-
	[ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -eq 1 ]
	grep -q "policy 'all': opa was killed by signal 9" "$BATS_TEST_TMPDIR/err"
	grep -q "stopped at line 2" "$BATS_TEST_TMPDIR/err"
}

@test "rekor-policy: SIGTERM stops opa and removes the private directory" {
	p=$(write_policy all 'package sidekick
alert := true')
	start_policy_on_fifo -p "$p"
	entry_line 1 >&8
	wait_for_lines "$BATS_TEST_TMPDIR/out" 1
	opa_pid=$(pgrep -P "$POLICY_PID" opa)
	[ -n "$opa_pid" ]
	[ -n "$(ls "$TMPDIR")" ]
	kill -TERM "$POLICY_PID"
	wait_policy
	[ "$POLICY_STATUS" -eq 0 ]
	exec 8>&-
	! kill -0 "$opa_pid" 2>/dev/null
	[ -z "$(ls "$TMPDIR")" ]
}

@test "rekor-policy: private directory is removed after a run" {
	run -0 --separate-stderr rekor-policy -p "$POLICIES/email.rego" \
	    < "$ENTRIES"
	[ -z "$(ls "$TMPDIR")" ]
}

@test "rekor-policy: closed standard output exits 0 quietly" {
	p=$(write_policy all 'package sidekick
alert := true')
	for i in $(seq 300); do cat "$ENTRIES"; done > "$BATS_TEST_TMPDIR/input"
	run -0 --separate-stderr bash -c 'set -o pipefail
	    rekor-policy -p "$1" < "$2" | head -1' _ "$p" "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s' "$output" | jq .logIndex)" -eq 18624203 ]
	[ -z "$stderr" ]
}

@test "rekor-policy: opa runs only on the private socket" {
	p=$(write_policy all 'package sidekick
alert := true')
	start_policy_on_fifo -p "$p"
	entry_line 1 >&8
	wait_for_lines "$BATS_TEST_TMPDIR/out" 1
	opa_pid=$(pgrep -P "$POLICY_PID" opa)
	args=$(tr '\0' ' ' < "/proc/$opa_pid/cmdline")
	env_size=$(wc -c < "/proc/$opa_pid/environ")
	exec 8>&-
	wait_policy
	[ "$POLICY_STATUS" -eq 0 ]
	[[ "$args" == *"--addr unix://$TMPDIR/"*"/opa.sock "* ]]
	[[ "$args" == *"--skip-version-check"* ]]
	[ "$env_size" -eq 0 ]
}

@test "rekor-policy: opa server failing at start exits 2" {
	p=$(write_policy all 'package sidekick
alert := true')
	real=$(command -v opa)
	cat > "$BATS_TEST_TMPDIR/opa" <<SCRIPT
#!/bin/sh
if [ "\$1" = run ]; then
	echo '{"level":"error","msg":"listener failed","err":"address in use"}' >&2
	exit 1
fi
exec "$real" "\$@"
SCRIPT
	chmod +x "$BATS_TEST_TMPDIR/opa"
	run -2 --separate-stderr rekor-policy --opa "$BATS_TEST_TMPDIR/opa" \
	    -p "$p" < "$ENTRIES"
	[ -z "$output" ]
	[[ "$stderr" == *"policy 'all': opa exited with status 1"* ]]
	[[ "$stderr" == *"opa: listener failed: address in use"* ]]
	[ -z "$(ls "$TMPDIR")" ]
}

@test "rekor-policy: over-long line is skipped, the next one read" {
	p=$(write_policy all 'package sidekick
alert := true')
	{
		entry_line 1
		head -c 34000000 /dev/zero | tr '\0' x
		echo
		entry_line 2
	} > "$BATS_TEST_TMPDIR/input"
	run -1 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$output" | alerted_indexes | tr '\n' ' ')" = \
	    "18624203 31821305 " ]
	[[ "$stderr" == *"line 2: longer than 32 MiB; skipped"* ]]
}

@test "rekor-policy: body key written with escapes is found" {
	p=$(write_policy dsse 'package sidekick
alert if input.kind == "dsse"')
	entry_line 4 | sed 's/"body":/"b\\u006fdy":/' > "$BATS_TEST_TMPDIR/input"
	grep -q 'b\\u006fdy' "$BATS_TEST_TMPDIR/input"
	run -0 --separate-stderr rekor-policy -p "$p" < "$BATS_TEST_TMPDIR/input"
	[ "$(printf '%s\n' "$output" | alerted_indexes)" = 155690850 ]
}

@test "rekor-policy: compile error leaves standard input unread" {
	p=$(write_policy broken 'package sidekick
alert if {')
	run -0 --separate-stderr bash -c \
	    '{ rekor-policy -p "$1"; echo "status $?"; cat; } < "$2"' _ "$p" "$ENTRIES"
	[ "$(printf '%s\n' "$output" | sed -n 1p)" = "status 2" ]
	[ "$(printf '%s\n' "$output" | sed 1d)" = "$(cat "$ENTRIES")" ]
}
