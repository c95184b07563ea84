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

# Starts tests/servers/fake-rekor.py on a free port with the given
# options and sets REKOR_URL and REKOR_PID.  Stop it with
# sidekick_rekor_stop from teardown.
sidekick_rekor_start() {
	local port
	port=$(free_port)
	python3 "$BATS_TEST_DIRNAME/servers/fake-rekor.py" --port "$port" "$@" \
	    >>"$BATS_TEST_TMPDIR/fake-rekor.log" 2>&1 3>&- &
	REKOR_PID=$!
	REKOR_URL="http://127.0.0.1:$port"
	wait_for_port "$port" 10
}

sidekick_rekor_stop() {
	if [ -n "${REKOR_PID:-}" ]; then
		kill "$REKOR_PID" 2>/dev/null || true
		wait "$REKOR_PID" 2>/dev/null || true
		REKOR_PID=
	fi
}

# Copies the Rekor fixtures to directory $1 and puts in place of the 2025
# bare-key bundle (global index 16 in fake-rekor.py's layout) a bundle
# signed with the throwaway certificate for email:me@example.com.
make_email_fixtures() {
	mkdir -p "$1"
	cp "$FIXTURES"/rekor/*.json "$1"/
	python3 "$SIDEKICK_RECORDS" bundle \
	    "$FIXTURES/policy/me-example-com.pem" 16 \
	    >"$1/v1-bundle-hashedrekord-barekey-active-shard-2025.json"
}

# Makes directory $1 a private bin folder for the wrapper: links to the
# built programs (the wrapper finds its stages next to itself) and, for
# every other name given, tests/servers/fake-output.sh under that name.
make_bin() {
	local dir=$1 p
	shift
	mkdir -p "$dir"
	for p in rekor-sidekick rekor-sidekick-config rekor-tail \
	    rekor-policy rekor-out-stdout; do
		ln -sf "$REKOR_BUILD/bin/$p" "$dir/$p"
	done
	for p in "$@"; do
		ln -sf "$BATS_TEST_DIRNAME/servers/fake-output.sh" "$dir/$p"
	done
}

# Prints the command lines of running processes that contain $1.
procs_with() {
	ps -eo args= | awk -v s="$1" 'index($0, s) && !/awk -v s=/'
}

# Waits until no process has $1 in its command line, for at most $2
# seconds (default 10).
wait_no_procs() {
	local limit=${2:-10} i=0
	while [ -n "$(procs_with "$1")" ]; do
		i=$((i + 1))
		if [ "$i" -ge $((limit * 10)) ]; then
			procs_with "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Waits until file $1 contains text $2, for at most $3 seconds.
wait_for_file_text() {
	local limit=${3:-20} i=0
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge $((limit * 10)) ]; then
			echo "no '$2' in $1" >&2
			return 1
		fi
		sleep 0.1
	done
}
