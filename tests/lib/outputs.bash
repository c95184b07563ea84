# Helpers for the rekor-out-* tests: strict local fakes of the
# destinations, alert generation and waiting on what arrived.

OUT_SERVERS="$BATS_TEST_DIRNAME/servers"
OUT_LIB="$BATS_TEST_DIRNAME/lib"
FAKE_PIDS=""

# start_fake NAME [fake options...]: starts tests/servers/fake-NAME.py on
# 127.0.0.1 and sets FAKE_PORT and FAKE_REC (its record file).
start_fake() {
	local name=$1 portfile i=0
	shift
	portfile="$BATS_TEST_TMPDIR/$name.port"
	rm -f "$portfile"
	FAKE_REC="$BATS_TEST_TMPDIR/$name.rec"
	: > "$FAKE_REC"
	python3 "$OUT_SERVERS/fake-$name.py" --port-file "$portfile" \
	    --record "$FAKE_REC" "$@" 3>&- &
	FAKE_PIDS="$FAKE_PIDS $!"
	while [ ! -s "$portfile" ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			echo "fake-$name did not start" >&2
			return 1
		fi
		sleep 0.1
	done
	FAKE_PORT=$(cat "$portfile")
}

stop_fakes() {
	local pid
	for pid in $FAKE_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	FAKE_PIDS=""
}

# set_faults PORT JSON: replaces the fault queue of a running fake.
set_faults() {
	curl -s -f -X POST --data "$2" "http://127.0.0.1:$1/_fake/faults" \
	    >/dev/null
}

# gen_alerts [gen-alerts.py options]: alert records with marks on stdout.
gen_alerts() {
	python3 "$OUT_LIB/gen-alerts.py" "$@"
}

# wait_lines FILE N [SECONDS]: waits until FILE has at least N lines.
wait_lines() {
	local file=$1 want=$2 limit=${3:-30} i=0
	while [ "$(wc -l < "$file")" -lt "$want" ]; do
		i=$((i + 1))
		if [ "$i" -gt $((limit * 10)) ]; then
			echo "$file has $(wc -l < "$file") lines, expected $want" >&2
			return 1
		fi
		sleep 0.1
	done
}

# make_cert DIR: a self-signed certificate for 127.0.0.1 in DIR/cert.pem
# and DIR/key.pem.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 \
	    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# alert_ids FILE: the alertID of every alert in an NDJSON file, sorted.
alert_ids() {
	jq -r 'select(.alertID != null) | .alertID' "$1" | sort
}
