#!/bin/sh
# Measures rekor-tail catching up with the fake Rekor server: entries per
# second and peak RSS over ENTRIES entries (default 100000), for each
# --parallel value in PARALLEL (default "1 4 8").  Run from the top of the
# tree after `make`.
#
#	sh bench/tail.sh
#	ENTRIES=20000 PARALLEL=4 sh bench/tail.sh
set -eu

ENTRIES=${ENTRIES:-100000}
PARALLEL=${PARALLEL:-"1 4 8"}
BIN=${BIN:-build/bin/rekor-tail}
tmp=$(mktemp -d)
fake_pid=

cleanup() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

[ -x "$BIN" ] || { echo "bench: '$BIN' not found; run make first" >&2; exit 2; }

port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
# The fake's log has 18 entries of its own; filler makes up the rest.
python3 tests/servers/fake-rekor.py --port "$port" \
    --filler "$((ENTRIES - 18))" >"$tmp/fake.log" 2>&1 &
fake_pid=$!
i=0
until curl -fs "http://127.0.0.1:$port/api/v1/log" >/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "bench: fake server did not start" >&2; exit 1; }
	sleep 0.1
done

printf '%-9s %9s %9s %10s %14s %13s\n' parallel entries seconds \
    entries/s "tail CPU s" "peak RSS KiB"
for p in $PARALLEL; do
	start=$(date +%s.%N)
	/usr/bin/time -v -o "$tmp/time" "$BIN" -q \
	    -s "http://127.0.0.1:$port" --from 0 --to tip -P "$p" >"$tmp/out"
	end=$(date +%s.%N)
	n=$(grep -c '"logIndex"' "$tmp/out")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time")
	usr=$(sed -n 's/.*User time (seconds): //p' "$tmp/time")
	sys=$(sed -n 's/.*System time (seconds): //p' "$tmp/time")
	awk -v p="$p" -v n="$n" -v s="$start" -v e="$end" -v r="$rss" \
	    -v u="$usr" -v y="$sys" 'BEGIN {
	    printf "%-9s %9d %9.2f %10.0f %14.2f %13d\n",
	    p, n, e - s, n / (e - s), u + y, r }'
done
