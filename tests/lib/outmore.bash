# Helpers for the tests of rekor-out-loki, -smtp, -webhook and -exec.

LIB_DIR="$BATS_TEST_DIRNAME/lib"

# Writes alert records made from real Rekor entries (gen-real-alerts.py).
real_alerts() {
	python3 "$LIB_DIR/gen-real-alerts.py" "$@"
}

# Prints the alertIDs of the alert records in file $1, one per line, in
# input order.
alert_ids_of() {
	jq -r 'select(.alertID) | .alertID' "$1"
}

# Prints the "next" of the state file $1.
state_next() {
	jq -r .next "$1"
}

# Waits until file $1 exists and is not empty, for at most $2 seconds
# (default 10).
wait_for_file() {
	local i=0 limit=${2:-10}
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		if [ "$i" -ge $((limit * 10)) ]; then
			echo "no file '$1' after ${limit}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Fails when the text $2 appears in the argv of any process (but the
# test servers, which are given the secret to check it, and grep) or in
# the environment of process $1.  The caller keeps process $1 running
# while this looks.
secret_not_exposed() {
	local pid=$1 secret=$2
	if ps -eo args | grep -F -- "$secret" |
	    grep -v -e 'grep' -e 'tests/servers/'; then
		echo "secret in argv" >&2
		return 1
	fi
	if tr '\0' '\n' < "/proc/$pid/environ" | grep -F -- "$secret"; then
		echo "secret in /proc/$pid/environ" >&2
		return 1
	fi
}
