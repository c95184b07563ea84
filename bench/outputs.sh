#!/bin/sh
# Throughput of each rekor-out-* program against its local fake:
# alerts per second and peak resident memory, for N alerts (default 5000)
# with a mark every 100.  Run from the repository after `make`:
#
#	sh bench/outputs.sh [N]
#
# The fakes are single Python processes on 127.0.0.1, so the figures
# measure the program plus a slow receiver, not a real destination.
set -eu

n=${1:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
servers=$root/tests/servers
work=$(mktemp -d)
key=0123456789abcdef0123456789abcdef
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

python3 "$root/tests/lib/gen-alerts.py" --count "$n" --mark-every 100 \
    --pad 512 > "$work/alerts.ndjson"

# start NAME [options]: starts fake-NAME.py and sets port.
start() {
	name=$1
	shift
	rm -f "$work/$name.port"
	python3 "$servers/fake-$name.py" --port-file "$work/$name.port" \
	    "$@" > /dev/null &
	pids="$pids $!"
	while [ ! -s "$work/$name.port" ]; do
		sleep 0.1
	done
	port=$(cat "$work/$name.port")
}

# run NAME COMMAND...: runs one output over the alerts and prints a line.
run() {
	name=$1
	shift
	start_ns=$(date +%s%N)
	/usr/bin/time -f %M -o "$work/rss" "$@" -s "$work/$name.state" \
	    < "$work/alerts.ndjson"
	end_ns=$(date +%s%N)
	ms=$(( (end_ns - start_ns) / 1000000 ))
	printf '%-12s %6d alerts %7d ms %8d alerts/s %7d KiB max RSS\n' \
	    "$name" "$n" "$ms" $((n * 1000 / (ms > 0 ? ms : 1))) \
	    "$(cat "$work/rss")"
}

start cloudevents
run cloudevents "$bin/rekor-out-cloudevents" -i bench \
    -u "http://127.0.0.1:$port/"

start pagerduty --routing-key "$key"
REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY=$key \
    run pagerduty "$bin/rekor-out-pagerduty" \
    -u "http://127.0.0.1:$port/v2/enqueue"

start opensearch
run opensearch "$bin/rekor-out-opensearch" -u "http://127.0.0.1:$port" \
    -i bench

# The same cloudevents run with a durable spool (fsync at every mark).
start cloudevents
run ce-durable "$bin/rekor-out-cloudevents" -i bench \
    -u "http://127.0.0.1:$port/" -S "$work/spool"
