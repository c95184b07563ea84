#!/bin/sh
# Run a real Rekor v1 log on this machine for end-to-end tests: MariaDB,
# the Trillian log server and signer, and rekor-server, all inside a private
# network namespace that has only a loopback interface.
#
# rekor-server 1.5.4 always serves its metrics on ':2112', every interface,
# with no option to move it.  Inside the namespace that address reaches
# nothing but the namespace's own loopback, so parallel logs do not clash.
# Every other service is bound to 127.0.0.1 explicitly.  Clients reach the
# log through `rekor-local.sh exec CMD`, which runs CMD in the namespace.
#
# Usage: rekor-local.sh install | start [rekor] | stop [rekor] | status |
#        env | exec CMD [ARG...] | clean
#
# REKOR_LOCAL_DIR (default build/rekor-local) contains the database, the logs,
# the pid files and the log's signing key; every command acts on the log in
# that directory, so separate directories give independent logs.
set -eu

prog=rekor-local
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dir=${REKOR_LOCAL_DIR:-$top/build/rekor-local}
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac

TRILLIAN_VERSION=v1.7.3
# Fixed ports: each log has a network namespace of its own, so they cannot
# clash with another log or with anything else on the machine.
REKOR_PORT=3000
TRILLIAN_RPC_PORT=8090
TRILLIAN_HTTP_PORT=8091
SIGNER_RPC_PORT=8092
SIGNER_HTTP_PORT=8093
# Seconds to wait for one service to become healthy, and for one to stop.
START_TIMEOUT=${REKOR_LOCAL_START_TIMEOUT:-60}
STOP_TIMEOUT=20

say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

die() {
	say "$*"
	exit 1
}

usage() {
	echo "usage: rekor-local.sh install | start [rekor] | stop [rekor] |" \
	    "status | env | exec CMD [ARG...] | clean" >&2
	exit 2
}

gobin() {
	b=$(go env GOBIN 2>/dev/null || true)
	[ -n "$b" ] || b="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
	echo "$b"
}

# Prints the path of a program, looking in the Go bin folder and /usr/sbin
# too, or fails with what to install.
need() {
	for d in "$GOBIN_DIR" /usr/sbin /usr/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	if command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
		return 0
	fi
	die "'$1' not found: run 'make deps' (or 'scripts/rekor-local.sh install')"
}

# Succeeds when service $1 runs.  A service that exited but was not reaped
# yet (state Z in /proc) counts as stopped.
alive() {
	[ -s "$dir/$1.pid" ] || return 1
	pid=$(cat "$dir/$1.pid")
	kill -0 "$pid" 2>/dev/null || return 1
	! sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | grep -q '^Z'
}

# Sets NSENTER to the command that enters the log's network namespace.
ns_enter_command() {
	alive netns || die "not running in '$dir': run 'rekor-local.sh start'"
	nspid=$(cat "$dir/netns.pid")
	if [ "$(id -u)" -eq 0 ]; then
		NSENTER="nsenter -t $nspid -n --"
	else
		NSENTER="nsenter -t $nspid -U -n --preserve-credentials --"
	fi
}

# Runs a command inside the log's network namespace.
in_ns() {
	ns_enter_command
	# shellcheck disable=SC2086
	$NSENTER "$@"
}

# Starts "$@" in the namespace in the background as service $name, output
# to $dir/$name.log.  nsenter execs the program, so the pid file contains
# the program's own pid.
spawn() {
	name=$1
	shift
	ns_enter_command
	# shellcheck disable=SC2086
	$NSENTER "$@" >>"$dir/$name.log" 2>&1 </dev/null &
	echo $! >"$dir/$name.pid"
}

# Waits until the command "$@" succeeds while service $name is alive.
wait_healthy() {
	name=$1
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		if ! alive "$name"; then
			tail -n 20 "$dir/$name.log" >&2 || true
			die "$name exited during start-up: see '$dir/$name.log'"
		fi
		i=$((i + 1))
		if [ "$i" -ge $((START_TIMEOUT * 5)) ]; then
			tail -n 20 "$dir/$name.log" >&2 || true
			die "$name not healthy after ${START_TIMEOUT}s: see '$dir/$name.log'"
		fi
		sleep 0.2
	done
}

http_ok() {
	in_ns curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$1"
}

sql() {
	in_ns "$MARIADB" --no-defaults --socket="$dir/mysql.sock" -u root "$@"
}

start_netns() {
	alive netns && return 0
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		set -- unshare -n
	else
		# NOTE: the path without root (a user namespace) was never run.
		set -- unshare -r -n
	fi
	"$@" sh -c 'ip link set lo up && exec sleep 2147483647' \
	    >>"$dir/netns.log" 2>&1 </dev/null &
	echo $! >"$dir/netns.pid"
	i=0
	until in_ns ip -o addr show lo 2>/dev/null | grep -q '127\.0\.0\.1'; do
		i=$((i + 1))
		[ "$i" -lt 50 ] || die "cannot set up a network namespace: see '$dir/netns.log'"
		sleep 0.1
	done
}

start_mariadb() {
	alive mariadb && return 0
	# The socket path must fit in sun_path (108 bytes).
	[ "${#dir}" -lt 90 ] ||
	    die "REKOR_LOCAL_DIR '$dir' is too long for a socket path: use a shorter one"
	if [ ! -d "$dir/mysql/mysql" ]; then
		mkdir -p "$dir/mysql"
		"$(need mariadb-install-db)" --no-defaults --datadir="$dir/mysql" \
		    --user="$(id -un)" --auth-root-authentication-method=socket \
		    --skip-test-db >>"$dir/mariadb.log" 2>&1 ||
		    die "mariadb-install-db failed: see '$dir/mariadb.log'"
	fi
	spawn mariadb "$(need mariadbd)" --no-defaults --datadir="$dir/mysql" \
	    --socket="$dir/mysql.sock" --pid-file="$dir/mysql/mariadbd.pid" \
	    --skip-networking --user="$(id -un)" --log-error="$dir/mariadb.err"
	wait_healthy mariadb in_ns "$(need mariadb-admin)" --no-defaults \
	    --socket="$dir/mysql.sock" -u root ping
	if [ ! -e "$dir/schema.done" ]; then
		sql <<-EOF
		CREATE DATABASE IF NOT EXISTS trillian;
		CREATE DATABASE IF NOT EXISTS rekor;
		CREATE USER IF NOT EXISTS 'rekor'@'localhost';
		GRANT ALL ON trillian.* TO 'rekor'@'localhost';
		GRANT ALL ON rekor.* TO 'rekor'@'localhost';
		EOF
		sql trillian <"$(trillian_schema)"
		: >"$dir/schema.done"
	fi
}

# Prints the path of Trillian's MySQL schema inside the Go module cache,
# downloading the module when it is not there.
trillian_schema() {
	mod=github.com/google/trillian@$TRILLIAN_VERSION
	f="$(go env GOMODCACHE)/$mod/storage/mysql/schema/storage.sql"
	if [ ! -r "$f" ]; then
		(cd / && GOFLAGS=-mod=mod go mod download "$mod") >&2 ||
		    die "cannot download '$mod' for its SQL schema"
	fi
	[ -r "$f" ] || die "Trillian schema '$f' not found"
	echo "$f"
}

# Flags shared by the Trillian log server and signer.  The MariaDB user has
# no password: it exists only behind a socket in a private folder.
trillian_db_flags() {
	echo "--storage_system=mysql --quota_system=mysql"
	echo "--mysql_uri=rekor@unix($dir/mysql.sock)/trillian"
}

start_trillian() {
	if ! alive trillian-server; then
		# shellcheck disable=SC2046
		spawn trillian-server "$(need trillian_log_server)" \
		    $(trillian_db_flags) \
		    --rpc_endpoint="127.0.0.1:$TRILLIAN_RPC_PORT" \
		    --http_endpoint="127.0.0.1:$TRILLIAN_HTTP_PORT" \
		    --tree_gc=false
		wait_healthy trillian-server \
		    http_ok "http://127.0.0.1:$TRILLIAN_HTTP_PORT/healthz"
	fi
	if ! alive trillian-signer; then
		# shellcheck disable=SC2046
		spawn trillian-signer "$(need trillian_log_signer)" \
		    $(trillian_db_flags) --force_master \
		    --rpc_endpoint="127.0.0.1:$SIGNER_RPC_PORT" \
		    --http_endpoint="127.0.0.1:$SIGNER_HTTP_PORT" \
		    --sequencer_interval=100ms
		wait_healthy trillian-signer \
		    http_ok "http://127.0.0.1:$SIGNER_HTTP_PORT/healthz"
	fi
	if [ ! -s "$dir/tree-id" ]; then
		in_ns "$(need createtree)" \
		    --admin_server="127.0.0.1:$TRILLIAN_RPC_PORT" \
		    --display_name=rekor-local --max_root_duration=1h \
		    >"$dir/tree-id.tmp" 2>>"$dir/createtree.log" ||
		    die "createtree failed: see '$dir/createtree.log'"
		mv -f "$dir/tree-id.tmp" "$dir/tree-id"
	fi
}

# Writes the rekor-server config once: a throwaway ECDSA P-256 signing key,
# so that the log keeps its identity (logID) across restarts, and every
# setting that would otherwise default to a public or wildcard address.
rekor_config() {
	[ -s "$dir/rekor-server.yaml" ] && return 0
	umask 077
	openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
	    openssl pkcs8 -topk8 -nocrypt -out "$dir/log-signer.pem"
	openssl ec -in "$dir/log-signer.pem" -pubout \
	    -out "$dir/log-pubkey.pem" 2>/dev/null
	cat >"$dir/rekor-server.yaml.tmp" <<-EOF
	rekor_server:
	  address: 127.0.0.1
	  hostname: 127.0.0.1
	  signer: $dir/log-signer.pem
	port: $REKOR_PORT
	trillian_log_server:
	  address: 127.0.0.1
	  port: $TRILLIAN_RPC_PORT
	  tlog_id: $(cat "$dir/tree-id")
	search_index:
	  storage_provider: mysql
	  mysql:
	    dsn: rekor@unix($dir/mysql.sock)/rekor
	enable_attestation_storage: false
	enable_pprof: false
	publish_frequency: 5
	log_type: dev
	EOF
	mv -f "$dir/rekor-server.yaml.tmp" "$dir/rekor-server.yaml"
	umask 022
}

start_rekor() {
	alive rekor && return 0
	rekor_config
	spawn rekor "$(need rekor-server)" serve \
	    --config="$dir/rekor-server.yaml"
	wait_healthy rekor http_ok "http://127.0.0.1:$REKOR_PORT/api/v1/log"
}

# Stops the services named in the arguments together: SIGTERM to each,
# then SIGKILL to any still running after STOP_TIMEOUT seconds.  The
# Trillian programs take about 10 seconds to exit after SIGTERM, so the
# log server and the signer are stopped at the same time.
stop_services() {
	for s in "$@"; do
		if alive "$s"; then
			kill "$(cat "$dir/$s.pid")" 2>/dev/null || true
		fi
	done
	i=0
	for s in "$@"; do
		while alive "$s"; do
			i=$((i + 1))
			if [ "$i" -eq $((STOP_TIMEOUT * 10)) ]; then
				say "$s (pid $(cat "$dir/$s.pid")) still runs ${STOP_TIMEOUT}s after SIGTERM: sending SIGKILL"
				kill -9 "$(cat "$dir/$s.pid")" 2>/dev/null || true
			fi
			sleep 0.1
		done
		rm -f "$dir/$s.pid"
	done
}

cmd_env() {
	[ -s "$dir/tree-id" ] || die "no log in '$dir': run 'rekor-local.sh start'"
	echo "REKOR_LOCAL_DIR='$dir'"
	echo "REKOR_LOCAL_URL='http://127.0.0.1:$REKOR_PORT'"
	echo "REKOR_LOCAL_TREE_ID='$(cat "$dir/tree-id")'"
	echo "REKOR_LOCAL_PUBKEY='$dir/log-pubkey.pem'"
	echo "REKOR_LOCAL_NETNS_PID='$(cat "$dir/netns.pid" 2>/dev/null)'"
	echo "REKOR_LOCAL_TRILLIAN='127.0.0.1:$TRILLIAN_RPC_PORT'"
}

cmd_status() {
	rc=0
	for s in netns mariadb trillian-server trillian-signer rekor; do
		if alive "$s"; then
			echo "$s: running (pid $(cat "$dir/$s.pid"))"
		else
			echo "$s: stopped"
			rc=1
		fi
	done
	return "$rc"
}

GOBIN_DIR=$(gobin)
[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
install)
	[ $# -eq 0 ] || usage
	exec sh "$here/deps.sh"
	;;
start)
	MARIADB=$(need mariadb)
	for p in mariadbd mariadb-install-db trillian_log_server \
	    trillian_log_signer createtree rekor-server nsenter unshare curl; do
		need "$p" >/dev/null
	done
	case ${1:-all} in
	all)
		start_netns
		start_mariadb
		start_trillian
		start_rekor
		;;
	rekor)
		alive trillian-signer || die "Trillian is not running: run 'rekor-local.sh start'"
		start_rekor
		;;
	*)
		usage
		;;
	esac
	;;
stop)
	case ${1:-all} in
	all)
		stop_services rekor
		stop_services trillian-signer trillian-server
		stop_services mariadb
		stop_services netns
		;;
	rekor)
		stop_services rekor
		;;
	*)
		usage
		;;
	esac
	;;
status)
	[ $# -eq 0 ] || usage
	cmd_status
	;;
env)
	[ $# -eq 0 ] || usage
	cmd_env
	;;
exec)
	[ $# -ge 1 ] || usage
	in_ns "$@"
	;;
clean)
	[ $# -eq 0 ] || usage
	"$0" stop
	rm -rf "$dir"
	;;
*)
	usage
	;;
esac
