# Real and fake servers for the output tests, each on 127.0.0.1 with a
# free port and its data under $BATS_TEST_TMPDIR.  Every start function
# records the process id; servers_stop_all (called from teardown, which
# bats runs after a failing test too) stops them all.
#
#   mailpit_start [FLAG...]     SMTP on $MAILPIT_SMTP_PORT, API on
#                               $MAILPIT_URL (http://127.0.0.1:PORT)
#   vlogs_start [FLAG...]       VictoriaLogs on $VLOGS_URL; Loki pushes go
#                               to $VLOGS_URL/insert/loki/api/v1/push
#   fake_loki_start [ARG...]    tests/servers/fake-loki.py on $LOKI_URL,
#                               requests logged to $LOKI_LOG, and a line
#                               in $LOKI_LOG.arrived as each one arrives
#   fake_webhook_start [ARG...] tests/servers/fake-webhook.py on
#                               $WEBHOOK_BASE, requests logged to
#                               $WEBHOOK_LOG (arrivals: $WEBHOOK_LOG.arrived)
#
# The Go-built servers come from $(go env GOPATH)/bin, which the Makefile
# puts on PATH; `make deps` installs them.

SERVERS_DIR="$BATS_TEST_DIRNAME/servers"

# Starts a server in the background with its output in DIR/NAME.log and
# records its pid.  Closes fd 3 in the child, which bats watches: a
# background process holding it open would make bats wait for ever.
_server_spawn() {
	local name=$1
	shift
	local dir="$BATS_TEST_TMPDIR/servers"
	mkdir -p "$dir"
	"$@" >"$dir/$name.log" 2>&1 3>&- &
	echo $! >"$dir/$name.pid"
}

# Waits until URL returns any HTTP status, for at most 20 seconds.
_server_wait_http() {
	local name=$1 url=$2 i=0
	while ! curl -s -o /dev/null --max-time 1 "$url"; do
		i=$((i + 1))
		if [ "$i" -ge 200 ]; then
			echo "$name did not answer at $url; its log:" >&2
			cat "$BATS_TEST_TMPDIR/servers/$name.log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Stops the server NAME: SIGTERM, then SIGKILL after five seconds.
server_stop() {
	local name=$1 pidfile pid i=0
	pidfile="$BATS_TEST_TMPDIR/servers/$name.pid"
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	rm -f "$pidfile"
	kill "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 50 ]; then
			kill -9 "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

# Records process $2 under NAME $1 so that servers_stop_all stops it too:
# for a program under test started in the background.
server_track() {
	mkdir -p "$BATS_TEST_TMPDIR/servers"
	echo "$2" >"$BATS_TEST_TMPDIR/servers/$1.pid"
}

servers_stop_all() {
	local f
	for f in "$BATS_TEST_TMPDIR"/servers/*.pid; do
		[ -e "$f" ] || continue
		server_stop "$(basename "$f" .pid)"
	done
}

# mailpit 1.33: SMTP, HTTP API and POP3 listen on every interface by
# default, so each gets a loopback address.  POP3 only starts with an auth
# file, but it is bound anyway.  mailpit connects out only when
# configured to (relay, forward, webhook) or when its API requests it
# (link check, version check); the version check is off as well.  The
# database is a file in the test's folder.
mailpit_start() {
	local dir="$BATS_TEST_TMPDIR/mailpit"
	mkdir -p "$dir"
	MAILPIT_SMTP_PORT=$(free_port)
	MAILPIT_HTTP_PORT=$(free_port)
	MAILPIT_URL="http://127.0.0.1:$MAILPIT_HTTP_PORT"
	export MAILPIT_SMTP_PORT MAILPIT_HTTP_PORT MAILPIT_URL
	_server_spawn mailpit mailpit \
	    --database "$dir/mailpit.db" \
	    --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" \
	    --listen "127.0.0.1:$MAILPIT_HTTP_PORT" \
	    --pop3 "127.0.0.1:$(free_port)" \
	    --disable-version-check --smtp-disable-rdns \
	    --block-remote-css-and-fonts "$@"
	_server_wait_http mailpit "$MAILPIT_URL/readyz"
	wait_for_port "$MAILPIT_SMTP_PORT" 20
}

# Prints the JSON summary list of the messages mailpit holds.
mailpit_messages() {
	curl -sf "$MAILPIT_URL/api/v1/messages"
}

# Prints one message as mailpit parsed it; $1 is its database ID.
mailpit_message() {
	curl -sf "$MAILPIT_URL/api/v1/message/$1"
}

# Prints one message's source as it arrived over SMTP.
mailpit_raw() {
	curl -sf "$MAILPIT_URL/api/v1/message/$1/raw"
}

# Makes a throwaway self-signed certificate for 127.0.0.1 and localhost:
# $1.crt and $1.key.
make_test_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout "$1.key" -out "$1.crt" 2>/dev/null
}

# VictoriaLogs 1.52: one HTTP listener (default :9428, here loopback), no
# outbound connections unless -pushmetrics.url is set.  Loki push requests
# go to /insert/loki/api/v1/push, queries to /select/logsql/query.
vlogs_start() {
	local dir="$BATS_TEST_TMPDIR/vlogs"
	mkdir -p "$dir"
	VLOGS_PORT=$(free_port)
	VLOGS_URL="http://127.0.0.1:$VLOGS_PORT"
	export VLOGS_PORT VLOGS_URL
	_server_spawn vlogs victoria-logs \
	    -httpListenAddr "127.0.0.1:$VLOGS_PORT" \
	    -storageDataPath "$dir/data" \
	    -loggerLevel WARN "$@"
	_server_wait_http vlogs "$VLOGS_URL/health"
}

# Runs a LogsQL query against VictoriaLogs and prints the matching rows,
# one JSON object per line.  Data pushed a moment ago becomes searchable
# after a flush, so this requests a flush first.
vlogs_query() {
	curl -sf "$VLOGS_URL/internal/force_flush" >/dev/null
	curl -sf "$VLOGS_URL/select/logsql/query" \
	    --data-urlencode "query=$1" ${2:+-H "AccountID: $2"}
}

fake_loki_start() {
	LOKI_PORT=$(free_port)
	LOKI_URL="http://127.0.0.1:$LOKI_PORT"
	LOKI_LOG="$BATS_TEST_TMPDIR/loki-requests.ndjson"
	export LOKI_PORT LOKI_URL LOKI_LOG
	: >"$LOKI_LOG"
	_server_spawn fake-loki python3 "$SERVERS_DIR/fake-loki.py" \
	    --port "$LOKI_PORT" --log "$LOKI_LOG" \
	    --arrived "$LOKI_LOG.arrived" "$@"
	_server_wait_http fake-loki "$LOKI_URL/ready"
}

fake_webhook_start() {
	WEBHOOK_PORT=$(free_port)
	WEBHOOK_BASE="http://127.0.0.1:$WEBHOOK_PORT"
	WEBHOOK_LOG="$BATS_TEST_TMPDIR/webhook-requests.ndjson"
	export WEBHOOK_PORT WEBHOOK_BASE WEBHOOK_LOG
	: >"$WEBHOOK_LOG"
	_server_spawn fake-webhook python3 "$SERVERS_DIR/fake-webhook.py" \
	    --port "$WEBHOOK_PORT" --log "$WEBHOOK_LOG" \
	    --arrived "$WEBHOOK_LOG.arrived" "$@"
	_server_wait_http fake-webhook "$WEBHOOK_BASE/fake/ready"
}
