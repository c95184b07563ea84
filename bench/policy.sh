#!/bin/sh
# Measures rekor-policy throughput in entries per second on the first six
# fixture entries (tests/fixtures/policy/entries.ndjson: five real ones and
# the me@example.com one, without the broken certificate), repeated to
# ENTRIES entries (default 12000), for three policies:
#
#   certificate  etc/policies/ci-identity.rego: parses every certificate
#   trivial      alert if input.kind == "dsse"
#   readme       the older daemon's README policy (Rego v0): its x509
#                parser fails on the bare keys, a third of the entries
#
# Each copy of an entry is changed so that no built-in gets the same
# argument twice (below).  Three ways to run them:
#
#   - rekor-policy with each batch size in BATCHES (default "256 16 1");
#   - the baseline, one `opa eval` process per entry, over BASELINE
#     entries (default 70), which is slow.
#
# Also prints the CPU seconds and peak RSS of rekor-policy itself (its opa
# servers are children and count in the CPU column, not in the RSS one).
# Run from the top of the tree after `make`:
#
#	sh bench/policy.sh
#	ENTRIES=6000 BATCHES=256 sh bench/policy.sh
set -eu

ENTRIES=${ENTRIES:-12000}
BASELINE=${BASELINE:-70}
BATCHES=${BATCHES:-"256 16 1"}
BIN=${BIN:-build/bin/rekor-policy}
OPA=${OPA:-opa}
fixture=tests/fixtures/policy/entries.ndjson
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -x "$BIN" ] || { echo "bench: '$BIN' not found; run make first" >&2; exit 2; }
command -v "$OPA" >/dev/null ||
    { echo "bench: '$OPA' not found; put opa on PATH" >&2; exit 2; }

# Copy k of an entry gets k newlines after each PEM text it carries, so
# that no two entries pass the same argument to a built-in.  opa caches
# built-in results within one query, and a batch of repeated entries would
# measure that cache instead of the policy.
head -n 6 "$fixture" | jq -cs --argjson n "$ENTRIES" '
    def pad($k): @base64d + ("\n" * $k // "") | @base64;
    . as $six | range($n) as $i | ($i / 6 | floor) as $k | $six[$i % 6] |
    if .kind == "hashedrekord" then
	.body.spec.signature.publicKey.content |= pad($k)
    elif .kind == "intoto" then
	.body.spec.content.envelope.signatures[].publicKey |= pad($k)
    elif .kind == "dsse" then
	.body.spec.signatures[].verifier |= pad($k)
    else . end' > "$tmp/entries"
head -n "$BASELINE" "$tmp/entries" > "$tmp/baseline"
printf 'package sidekick\n\nalert if input.kind == "dsse"\n' > "$tmp/trivial.rego"
cp etc/policies/ci-identity.rego "$tmp/certificate.rego"
cat > "$tmp/readme.rego" <<'REGO'
package sidekick

import future.keywords.in

default alert = false

alert {
  encodedCert := input.spec.signature.publicKey.content
  certs := crypto.x509.parse_certificates(encodedCert)
  emailAddresses := certs[0]["EmailAddresses"]
  some "me@example.com" in emailAddresses
}
REGO

printf '%-12s %-15s %8s %8s %9s %10s %7s %9s\n' policy run entries \
    alerts seconds entries/s "CPU s" "RSS KiB"
for policy in certificate trivial readme; do
	for b in $BATCHES; do
		start=$(date +%s.%N)
		/usr/bin/time -v -o "$tmp/time" "$BIN" -q --opa "$OPA" \
		    -b "$b" -p "$tmp/$policy.rego" < "$tmp/entries" > "$tmp/out"
		end=$(date +%s.%N)
		alerts=$(wc -l < "$tmp/out")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time")
		usr=$(sed -n 's/.*User time (seconds): //p' "$tmp/time")
		sys=$(sed -n 's/.*System time (seconds): //p' "$tmp/time")
		awk -v p="$policy" -v r="rekor-policy -b $b" -v n="$ENTRIES" \
		    -v a="$alerts" -v s="$start" -v e="$end" -v u="$usr" \
		    -v y="$sys" -v m="$rss" 'BEGIN {
		    printf "%-12s %-15s %8d %8d %9.2f %10.0f %7.2f %9d\n",
		    p, r, n, a, e - s, n / (e - s), u + y, m }'
	done
	alerts=0
	start=$(date +%s.%N)
	while IFS= read -r line; do
		printf '%s' "$line" | jq -c .body > "$tmp/input.json"
		v0=
		[ "$policy" = readme ] && v0=--v0-compatible
		v=$("$OPA" eval $v0 -f raw -d "$tmp/$policy.rego" \
		    -i "$tmp/input.json" data.sidekick.alert)
		[ "$v" = true ] && alerts=$((alerts + 1))
	done < "$tmp/baseline"
	end=$(date +%s.%N)
	awk -v p="$policy" -v n="$BASELINE" -v a="$alerts" -v s="$start" \
	    -v e="$end" 'BEGIN {
	    printf "%-12s %-15s %8d %8d %9.2f %10.1f %7s %9s\n",
	    p, "opa eval each", n, a, e - s, n / (e - s), "-", "-" }'
done
