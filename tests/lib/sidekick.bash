# Helpers for the rekor-out-stdout and rekor-sidekick tests.  Load after
# test_helper.

SIDEKICK_RECORDS="$BATS_TEST_DIRNAME/lib/sidekick_records.py"

# Writes a self-signed P-256 certificate whose subject alternative name is
# $2 (for example email:me@example.com) to file $1.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -subj "/CN=rekor-sidekick test" -addext "subjectAltName=$2" \
	    -days 2 -keyout "$1.key" -out "$1" 2>/dev/null
}

# Writes the test alerts (sidekick_records.py alerts) to file $1; the
# last alert carries a certificate for email:me@example.com.
make_alerts() {
	make_cert "$BATS_TEST_TMPDIR/me.pem" email:me@example.com
	python3 "$SIDEKICK_RECORDS" alerts "$FIXTURES/rekor" \
	    --cert "$BATS_TEST_TMPDIR/me.pem" >"$1"
}

# Prints "sha256:HEX" of the DER SubjectPublicKeyInfo of the base64 PEM
# key $1, computed with the openssl command.
key_fingerprint() {
	printf '%s' "$1" | base64 -d | openssl pkey -pubin -outform DER |
	    sha256sum | sed 's/^\([0-9a-f]*\).*/sha256:\1/'
}
