# Shared set-up for every bats file: `load test_helper` at the top.
# Helpers for one area live in tests/lib/<area>.bash and are loaded by the
# files that need them.

bats_require_minimum_version 1.5.0

export LC_ALL=C
export TZ=UTC
FIXTURES="$BATS_TEST_DIRNAME/fixtures"
export FIXTURES

# Keep the user's settings out of the programs under test.
unset REKOR_LOG_LEVEL
for var in $(env | sed -n 's/^\(REKOR_SIDEKICK_[A-Z0-9_]*\)=.*/\1/p'); do
	unset "$var"
done
for var in $(env | sed -n 's/^\(OPA_[A-Z0-9_]*\)=.*/\1/p'); do
	unset "$var"
done

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Waits until something accepts connections on 127.0.0.1:$1, for at most
# $2 seconds (default 10).  Fails when the time runs out.
wait_for_port() {
	local port=$1 limit=${2:-10} i=0
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge $((limit * 10)) ]; then
			echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
			return 1
		fi
		sleep 0.1
	done
}
