#!/bin/sh
# Install everything the build and the tests need on a Debian 12 machine:
# Debian packages through apt-get, and Go-built tools through `go install`
# at pinned versions into $GOBIN (default: $HOME/go/bin).
# Running it again installs only what is missing.
set -eu

APT_PACKAGES="build-essential pkg-config libcurl4-openssl-dev libcjson-dev
libssl-dev libyaml-dev bats mandoc shellcheck jq curl ca-certificates
python3 procps util-linux openssl time
iproute2 mariadb-server mariadb-client gnupg openssh-client strace"

# Go tools: name, module path@version.  opa evaluates the policies.
# mailpit (an SMTP server with an HTTP API to read the mail back) and
# victoria-logs (which accepts Loki's push API and can be queried) are real
# servers for the output tests.  Trillian, rekor-server, rekor-cli and
# cosign run a real Rekor log for the end-to-end tests.
GO_TOOLS="opa github.com/open-policy-agent/opa@v1.22.4
mailpit github.com/axllent/mailpit@v1.33.1
victoria-logs github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.2
trillian_log_server github.com/google/trillian/cmd/trillian_log_server@v1.7.3
trillian_log_signer github.com/google/trillian/cmd/trillian_log_signer@v1.7.3
createtree github.com/google/trillian/cmd/createtree@v1.7.3
rekor-server github.com/sigstore/rekor/cmd/rekor-server@v1.5.4
rekor-cli github.com/sigstore/rekor/cmd/rekor-cli@v1.5.4
cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.4"

say() {
	printf 'deps: %s\n' "$*" >&2
}

missing=""
for p in $APT_PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	else
		SUDO=
	fi
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
else
	say "Debian packages already installed"
fi

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		PATH=/usr/local/go/bin:$PATH
	else
		say "go not found: install Go 1.23 or newer and run 'make deps' again"
		exit 1
	fi
fi
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"

# Split on white space on purpose: the list is name, module pairs.
# shellcheck disable=SC2086
set -- $GO_TOOLS
while [ $# -ge 2 ]; do
	name=$1
	module=$2
	shift 2
	version=${module##*@}
	if [ -x "$gobin/$name" ] &&
	    go version -m "$gobin/$name" 2>/dev/null | grep -q "mod.*$version"; then
		say "$name $version already installed in $gobin"
		continue
	fi
	say "installing $name $version with go install (first build takes minutes)"
	CGO_ENABLED=${CGO_ENABLED:-0} go install "$module"
done
say "done; put $gobin on PATH (the Makefile does this for the tests)"
