#!/usr/bin/env bash
# `make demo`: starts a local Rekor log (scripts/rekor-local.sh), uploads a
# few entries signed with throwaway keys and certificates, runs
# rekor-sidekick over them with the sample policies, and stops the log.
# The alerts appear on standard output in the text format.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rekor-demo.XXXXXX")
# The helpers in tests/lib/e2e.bash keep their files under these folders.
BATS_FILE_TMPDIR=$tmp
BATS_TEST_DIRNAME=$root/tests
# shellcheck source=tests/lib/e2e.bash
. "$root/tests/lib/e2e.bash"

step() {
	printf '\ndemo: %s\n' "$*" >&2
}

finish() {
	step "stopping the local log"
	e2e_stop || true
	rm -rf "$tmp"
}
trap finish EXIT

step "starting Rekor, Trillian and MariaDB in '$tmp/rekor'"
e2e_start
: >"$E2E_DATA/entries.tsv"
make_ec_key "$E2E_DATA/barekey"
e2e_make_cosign_key

step "uploading entries signed with throwaway keys and certificates"
upload_barekey release-key 2>/dev/null
upload_cert alice cert-email "email:$E2E_EMAIL" "$E2E_EMAIL_ISSUER" 2>/dev/null
upload_cert ci-release cert-ci "URI:$E2E_WORKFLOW" "$E2E_GITHUB_ISSUER" \
    2>/dev/null
upload_cert someone-else cert-other \
    "email:$E2E_OTHER_EMAIL,URI:$E2E_OTHER_WORKFLOW" "$E2E_GITHUB_ISSUER" \
    2>/dev/null
upload_cosign_blob cosign-release
upload_rekord_ssh ssh-signed 2>/dev/null
while IFS=$'\t' read -r label kind index uuid _; do
	printf '  %-3s %-14s %-15s %s\n' "$index" "$kind" "$label" "$uuid" >&2
done <"$E2E_DATA/entries.tsv"

step "watching $E2E_EMAIL, the workflow $E2E_WORKFLOW and two keys"
last=$(($(wc -l <"$E2E_DATA/entries.tsv") - 1))
e2e_config "$tmp/config.yaml" "$tmp/state" "$last" text
sed 's/^/  /' "$tmp/config.yaml" >&2

step "rekor-sidekick --config $tmp/config.yaml"
e2e_ns rekor-sidekick --config "$tmp/config.yaml"
