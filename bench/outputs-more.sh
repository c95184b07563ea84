#!/bin/sh
# Throughput of rekor-out-loki, -smtp, -webhook and -exec: alerts per
# second and peak resident memory, for N real alerts (default 2000; about
# 4 KB each, with Fulcio certificates) with a mark every 100.  Run from
# the repository after `make` and `make deps`:
#
#	sh bench/outputs-more.sh [N]
#
# Destinations, all on 127.0.0.1: VictoriaLogs (a real Loki push
# receiver), mailpit (a real SMTP server), the Python webhook fake of the
# tests, and `true` for exec.  Each figure measures the program and its
# destination together on the same machine.
set -eu

n=${1:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
gobin=$(go env GOBIN 2>/dev/null || true)
[ -n "$gobin" ] || gobin=$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin
work=$(mktemp -d)
pids=""
cleanup() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_http URL: waits until URL returns any HTTP status.
wait_http() {
	i=0
	until curl -s -o /dev/null --max-time 1 "$1"; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "no response from $1" >&2; exit 1; }
		sleep 0.1
	done
}

# run NAME COMMAND...: runs one output over the alerts and prints a line.
run() {
	name=$1
	shift
	start_ns=$(date +%s%N)
	/usr/bin/time -f %M -o "$work/rss" "$@" -s "$work/$name.state" \
	    -d "$work/$name.dead" < "$work/alerts.ndjson"
	end_ns=$(date +%s%N)
	ms=$(( (end_ns - start_ns) / 1000000 ))
	printf '%-14s %6d alerts %7d ms %7d alerts/s %7d KiB max RSS\n' \
	    "$name" "$n" "$ms" $((n * 1000 / (ms > 0 ? ms : 1))) \
	    "$(cat "$work/rss")"
	if [ -s "$work/$name.dead" ]; then
		echo "$name: alerts in the dead-letter file" >&2
		exit 1
	fi
}

python3 "$root/tests/lib/gen-real-alerts.py" --count "$n" --start 1000 \
    --mark-every 100 --final-mark > "$work/alerts.ndjson"

port=$(free_port)
"$gobin/victoria-logs" -httpListenAddr "127.0.0.1:$port" \
    -storageDataPath "$work/vlogs" -loggerLevel ERROR \
    -loki.disableMessageParsing > "$work/vlogs.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$port/health"
run loki-vlogs "$bin/rekor-out-loki" -u "http://127.0.0.1:$port/insert"
# The same with a durable spool (fsync at every mark).
run loki-durable "$bin/rekor-out-loki" -u "http://127.0.0.1:$port/insert" \
    -S "$work/spool"

smtp=$(free_port)
http=$(free_port)
"$gobin/mailpit" --database "$work/mailpit.db" \
    --smtp "127.0.0.1:$smtp" --listen "127.0.0.1:$http" \
    --pop3 "127.0.0.1:$(free_port)" --disable-version-check \
    --smtp-disable-rdns --max 0 --quiet > "$work/mailpit.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$http/readyz"
run smtp-mailpit "$bin/rekor-out-smtp" -H 127.0.0.1 -P "$smtp" \
    -x never -f rekor@example.org -t security@example.org

port=$(free_port)
python3 "$root/tests/servers/fake-webhook.py" --port "$port" \
    --log "$work/webhook.ndjson" &
pids="$pids $!"
wait_http "http://127.0.0.1:$port/fake/ready"
REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="http://127.0.0.1:$port/hook" \
    run webhook-fake "$bin/rekor-out-webhook"
REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL="http://127.0.0.1:$port/hook" \
    run webhook-slack "$bin/rekor-out-webhook" -f slack

run exec-true "$bin/rekor-out-exec" -c true
run exec-cat "$bin/rekor-out-exec" -c 'cat > /dev/null'
