# Helpers for tests/20-rekor-policy.bats.

ENTRIES="$FIXTURES/policy/entries.ndjson"
POLICIES="$BATS_TEST_DIRNAME/../etc/policies"
export ENTRIES POLICIES

# The policy from the older Go daemon's README, in Rego v0, as written.
README_POLICY='package sidekick

import future.keywords.in

default alert = false

alert {
  encodedCert := input.spec.signature.publicKey.content
  certs := crypto.x509.parse_certificates(encodedCert)
  emailAddresses := certs[0]["EmailAddresses"]
  some "me@example.com" in emailAddresses
}'

# write_policy NAME TEXT: writes $BATS_TEST_TMPDIR/NAME.rego, prints its path.
write_policy() {
	printf '%s\n' "$2" > "$BATS_TEST_TMPDIR/$1.rego"
	printf '%s\n' "$BATS_TEST_TMPDIR/$1.rego"
}

# expected_alert_id LOGID INDEX POLICY: the alertID of docs/design.md.
expected_alert_id() {
	printf 'rekor-sidekick alert v1\n%s\n%s\n%s' "$1" "$2" "$3" |
	    sha256sum | cut -d' ' -f1
}

# entry_line N: line N of the fixture entries.
entry_line() {
	sed -n "${1}p" "$ENTRIES"
}

# Starts rekor-policy "$@" in the background, reading the fifo
# $BATS_TEST_TMPDIR/in (held open on fd 8: bats uses 3) and writing
# $BATS_TEST_TMPDIR/out and .../err.  Sets POLICY_PID.
start_policy_on_fifo() {
	mkfifo "$BATS_TEST_TMPDIR/in"
	rekor-policy "$@" < "$BATS_TEST_TMPDIR/in" \
	    > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" &
	POLICY_PID=$!
	exec 8> "$BATS_TEST_TMPDIR/in"
}

# wait_for_lines FILE N: waits up to 30 seconds until FILE has N lines.
wait_for_lines() {
	local i=0
	while [ "$(wc -l < "$1")" -lt "$2" ]; do
		i=$((i + 1))
		if [ "$i" -ge 300 ]; then
			echo "$1 has fewer than $2 lines after 30s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_policy: waits for the rekor-policy of start_policy_on_fifo and
# sets POLICY_STATUS to its exit status.
wait_policy() {
	POLICY_STATUS=0
	wait "$POLICY_PID" || POLICY_STATUS=$?
}

# alerted_indexes: the logIndex of every alert on stdin, one per line.
alerted_indexes() {
	jq -r 'select(.policy != null) | .logIndex'
}
