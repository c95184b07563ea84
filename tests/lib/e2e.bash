# Helpers for the end-to-end tests: a real Rekor v1 log started with
# scripts/rekor-local.sh, filled with entries signed by throwaway keys,
# certificates and a throwaway CA made at test time.
#
# The log lives in a private network namespace (see scripts/rekor-local.sh),
# so every client runs through e2e_ns.  Clients get HOME in the test folder
# and HTTP(S)_PROXY pointing at a trap on the namespace's loopback.  The
# trap records any request for a non-loopback host, and the tests check
# that it stays empty.

E2E_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
REKOR_LOCAL="$E2E_ROOT/scripts/rekor-local.sh"

# Identities in the test certificates.  The CI identity follows the shape
# of a GitHub Actions workflow identity in a Fulcio certificate.
E2E_EMAIL=alice@example.com
E2E_OTHER_EMAIL=mallory@example.org
E2E_WORKFLOW=https://github.com/example/release/.github/workflows/release.yml@refs/heads/main
E2E_OTHER_WORKFLOW=https://github.com/example/other/.github/workflows/build.yml@refs/heads/main
E2E_GITHUB_ISSUER=https://token.actions.githubusercontent.com
E2E_EMAIL_ISSUER=https://accounts.example.com

# Sets E2E_ENTER to the env and nsenter words that run a command inside
# the log's network namespace with the client environment described above.
e2e_enter_command() {
	E2E_ENTER=(env HOME="$E2E_HOME"
	    HTTP_PROXY="http://127.0.0.1:$E2E_TRAP_PORT"
	    HTTPS_PROXY="http://127.0.0.1:$E2E_TRAP_PORT"
	    http_proxy="http://127.0.0.1:$E2E_TRAP_PORT"
	    https_proxy="http://127.0.0.1:$E2E_TRAP_PORT"
	    "NO_PROXY=127.0.0.1,localhost" "no_proxy=127.0.0.1,localhost"
	    SIGSTORE_NO_CACHE=1 TUF_ROOT="$E2E_HOME/tuf"
	    SIGSTORE_REKOR_PUBLIC_KEY="$REKOR_LOCAL_PUBKEY"
	    COSIGN_PASSWORD= COSIGN_EXPERIMENTAL=
	    nsenter -t "$REKOR_LOCAL_NETNS_PID" -n)
	[ "$(id -u)" -eq 0 ] || E2E_ENTER+=(-U --preserve-credentials)
	E2E_ENTER+=(--)
}

# Runs a command inside the log's network namespace.
e2e_ns() {
	local E2E_ENTER
	e2e_enter_command
	"${E2E_ENTER[@]}" "$@"
}

# Starts a command inside the namespace in the background, standard output
# to $1 and standard error to $2, and prints nothing.  Its pid is in
# $E2E_BG_PID and is appended to $BATS_TEST_TMPDIR/bg.pids, which
# e2e_kill_bg reads.  env and nsenter exec the command, so that is the
# command's own pid unless the command is a wrapper script that forks (a
# pyenv shim for python3 does).
e2e_bg() {
	local out=$1 err=$2 E2E_ENTER
	shift 2
	e2e_enter_command
	"${E2E_ENTER[@]}" "$@" >"$out" 2>"$err" </dev/null 3>&- &
	E2E_BG_PID=$!
	echo "$E2E_BG_PID" >>"${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}/bg.pids"
}

# Stops the commands that e2e_bg started in this test.
e2e_kill_bg() {
	local f="${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}/bg.pids" pid
	[ -s "$f" ] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$f"
	: >"$f"
}

# Starts the log in $BATS_FILE_TMPDIR/rekor and exports REKOR_LOCAL_*.
# Fails, never skips, when the services are missing: the message names
# `make deps`.
e2e_start() {
	REKOR_LOCAL_DIR="$BATS_FILE_TMPDIR/rekor"
	export REKOR_LOCAL_DIR
	E2E_HOME="$BATS_FILE_TMPDIR/home"
	E2E_DATA="$BATS_FILE_TMPDIR/data"
	mkdir -p "$E2E_HOME/tuf" "$E2E_DATA"
	export E2E_HOME E2E_DATA
	if ! "$REKOR_LOCAL" start; then
		echo "e2e: cannot start the local Rekor log; install it with 'make deps'" >&2
		return 1
	fi
	eval "$("$REKOR_LOCAL" env)"
	export REKOR_LOCAL_URL REKOR_LOCAL_TREE_ID REKOR_LOCAL_PUBKEY \
	    REKOR_LOCAL_NETNS_PID
	E2E_TRAP_PORT=8099
	: >"$E2E_DATA/trap.log"
	export E2E_TRAP_PORT
	e2e_bg "$E2E_DATA/trap.out" "$E2E_DATA/trap.err" \
	    python3 "$BATS_TEST_DIRNAME/servers/net-trap.py" \
	    --port "$E2E_TRAP_PORT" --log "$E2E_DATA/trap.log" \
	    --pid-file "$E2E_DATA/trap.pid"
	local i=0
	until e2e_ns curl -s -o /dev/null "http://127.0.0.1:$E2E_TRAP_PORT/"; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "e2e: network trap did not start" >&2; return 1; }
		sleep 0.1
	done
	: >"$E2E_DATA/trap.log"
}

# Stops the trap and the log.  Safe to call when nothing runs.
e2e_stop() {
	if [ -s "${E2E_DATA:-/nonexistent}/trap.pid" ]; then
		kill "$(cat "$E2E_DATA/trap.pid")" 2>/dev/null || true
	fi
	"$REKOR_LOCAL" stop
}

rekor_cli() {
	e2e_ns rekor-cli --rekor_server "$REKOR_LOCAL_URL" \
	    --store_tree_state=false "$@"
}

# Prints the hex SHA-256 of the DER SubjectPublicKeyInfo of a PEM public
# key or certificate.
e2e_key_fingerprint() {
	if grep -q 'BEGIN CERTIFICATE' "$1"; then
		openssl x509 -in "$1" -noout -pubkey
	else
		cat "$1"
	fi | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

# Makes an ECDSA P-256 key pair: $1.key (PKCS#8) and $1.pub.
make_ec_key() {
	openssl ecparam -name prime256v1 -genkey -noout |
	    openssl pkcs8 -topk8 -nocrypt -out "$1.key"
	openssl pkey -in "$1.key" -pubout -out "$1.pub"
}

# Writes a small artifact with unique content to $1.
make_artifact() {
	printf 'rekor-sidekick e2e artifact %s\n%s\n' "$(basename "$1")" \
	    "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$1"
}

# Signs file $2 with key $1.key into $2.sig (DER ECDSA over SHA-256).
sign_file() {
	openssl dgst -sha256 -sign "$1.key" -out "$2.sig" "$2"
}

# Makes the throwaway CA $E2E_DATA/ca.{key,pem} once.
make_ca() {
	[ -s "$E2E_DATA/ca.pem" ] && return 0
	make_ec_key "$E2E_DATA/ca"
	openssl req -x509 -new -key "$E2E_DATA/ca.key" -sha256 -days 2 \
	    -subj "/O=rekor-sidekick e2e/CN=throwaway test CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign" -out "$E2E_DATA/ca.pem"
}

# Prints a string as colon-separated hex bytes for OpenSSL's DER: syntax.
hex_bytes() {
	printf '%s' "$1" | od -An -tx1 | tr -s ' \n' ':' | sed 's/^://; s/:$//'
}

# Makes a code-signing leaf certificate $1.pem for key $1.key, issued by
# the throwaway CA, shaped like a Fulcio certificate.
# $2: subjectAltName value (email:..., URI:...), $3: OIDC issuer, written
# both as the raw-string extension 1.3.6.1.4.1.57264.1.1 and as the
# DER UTF8String extension 1.3.6.1.4.1.57264.1.8.
make_leaf_cert() {
	make_ca
	make_ec_key "$1"
	cat >"$1.ext" <<-EOF
	[leaf]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature
	extendedKeyUsage = codeSigning
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	subjectAltName = critical,$2
	1.3.6.1.4.1.57264.1.1 = DER:$(hex_bytes "$3")
	1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:$3
	EOF
	openssl req -new -key "$1.key" -subj "/O=rekor-sidekick e2e" \
	    -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$E2E_DATA/ca.pem" \
	    -CAkey "$E2E_DATA/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
	    -days 1 -sha256 -extfile "$1.ext" -extensions leaf -out "$1.pem" \
	    2>/dev/null
}

# Prints a DSSE envelope for payload file $2 of type $1, signed with key
# $3.key over the DSSE pre-authentication encoding.
make_dsse() {
	local type=$1 payload=$2 key=$3
	python3 - "$type" "$payload" "$payload.pae" <<-'EOF'
	import sys
	t = sys.argv[1].encode()
	body = open(sys.argv[2], "rb").read()
	pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)
	open(sys.argv[3], "wb").write(pae)
	EOF
	openssl dgst -sha256 -sign "$key.key" -out "$payload.pae.sig" \
	    "$payload.pae"
	python3 - "$type" "$payload" "$payload.pae.sig" <<-'EOF'
	import base64, json, sys
	body = open(sys.argv[2], "rb").read()
	sig = open(sys.argv[3], "rb").read()
	print(json.dumps({
	    "payloadType": sys.argv[1],
	    "payload": base64.b64encode(body).decode(),
	    "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
	}))
	EOF
}

# Prints an in-toto v1 statement about artifact $1.
make_statement() {
	python3 - "$1" <<-'EOF'
	import hashlib, json, os, sys
	data = open(sys.argv[1], "rb").read()
	print(json.dumps({
	    "_type": "https://in-toto.io/Statement/v1",
	    "subject": [{"name": os.path.basename(sys.argv[1]),
	                 "digest": {"sha256": hashlib.sha256(data).hexdigest()}}],
	    "predicateType": "https://slsa.dev/provenance/v1",
	    "predicate": {"buildDefinition": {"buildType": "https://example.com/e2e"}},
	}))
	EOF
}

# Appends one line to the manifest: label, kind, log index, UUID, artifact
# (or "-").  The UUID comes from rekor-cli get, so that the manifest
# contains what the log itself reports for that index.
record_entry() {
	local label=$1 kind=$2 index=$3 artifact=$4 uuid
	uuid=$(rekor_cli get --log-index "$index" --format json | jq -r .UUID) ||
	    return 1
	if [ -z "$uuid" ] || [ "$uuid" = null ]; then
		echo "e2e: no UUID for log index $index ($label)" >&2
		return 1
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$kind" "$index" "$uuid" \
	    "$artifact" >>"$E2E_DATA/entries.tsv"
}

# Uploads with rekor-cli and records the entry: $1 label, $2 kind, then
# the upload options.
upload() {
	local label=$1 kind=$2 out index artifact=-
	shift 2
	local prev=
	for a in "$@"; do
		[ "$prev" = --artifact ] && artifact=$a
		prev=$a
	done
	out=$(rekor_cli upload --format json "$@") || {
		echo "e2e: rekor-cli upload of '$label' failed" >&2
		return 1
	}
	index=$(printf '%s' "$out" | jq -r .Index)
	record_entry "$label" "$kind" "$index" "$artifact"
}

# hashedrekord signed by the bare key $E2E_DATA/barekey.  $1: label.
upload_barekey() {
	local art="$E2E_DATA/$1.txt"
	make_artifact "$art"
	sign_file "$E2E_DATA/barekey" "$art"
	upload "$1" hashedrekord --type hashedrekord --artifact "$art" \
	    --signature "$art.sig" --public-key "$E2E_DATA/barekey.pub" \
	    --pki-format x509
}

# hashedrekord signed by the key of certificate $2 (made on first use with
# SAN $3 and issuer $4).  $1: label.
upload_cert() {
	local label=$1 cert="$E2E_DATA/$2" art="$E2E_DATA/$1.txt"
	[ -s "$cert.pem" ] || make_leaf_cert "$cert" "$3" "$4"
	make_artifact "$art"
	sign_file "$cert" "$art"
	upload "$label" hashedrekord --type hashedrekord --artifact "$art" \
	    --signature "$art.sig" --public-key "$cert.pem" --pki-format x509
}

# hashedrekord made by cosign sign-blob with a cosign key pair, uploaded
# to the local log only.
upload_cosign_blob() {
	local art="$E2E_DATA/$1.txt" err index
	make_artifact "$art"
	err="$E2E_DATA/$1.cosign.err"
	e2e_ns cosign sign-blob --yes --key "$E2E_DATA/cosign.key" \
	    --tlog-upload=true --rekor-url "$REKOR_LOCAL_URL" \
	    --output-signature "$art.sig" "$art" >/dev/null 2>"$err" || {
		cat "$err" >&2
		return 1
	}
	index=$(sed -n 's/.*tlog entry created with index: *\([0-9]*\).*/\1/p' "$err")
	[ -n "$index" ] || { cat "$err" >&2; return 1; }
	record_entry "$1" hashedrekord "$index" "$art"
}

# dsse entry made by cosign attest-blob with the cosign key pair.
upload_cosign_attestation() {
	local art="$E2E_DATA/$1.txt" err index
	make_artifact "$art"
	make_statement "$art" | jq .predicate >"$art.predicate.json"
	err="$E2E_DATA/$1.cosign.err"
	e2e_ns cosign attest-blob --yes --key "$E2E_DATA/cosign.key" \
	    --tlog-upload=true --rekor-url "$REKOR_LOCAL_URL" \
	    --type custom --predicate "$art.predicate.json" \
	    --output-file "$art.att.json" "$art" >/dev/null 2>"$err" || {
		cat "$err" >&2
		return 1
	}
	index=$(sed -n 's/.*tlog entry created with index: *\([0-9]*\).*/\1/p' "$err")
	[ -n "$index" ] || { cat "$err" >&2; return 1; }
	record_entry "$1" dsse "$index" "$art.att.json"
}

# rekord signed with an SSH key (ssh-keygen -Y sign).
upload_rekord_ssh() {
	local art="$E2E_DATA/$1.txt" key="$E2E_DATA/ssh-ed25519"
	[ -s "$key" ] || ssh-keygen -q -t ed25519 -N '' -C e2e -f "$key"
	make_artifact "$art"
	ssh-keygen -q -Y sign -f "$key" -n file "$art" 2>/dev/null
	upload "$1" rekord --type rekord --pki-format ssh --artifact "$art" \
	    --signature "$art.sig" --public-key "$key.pub"
}

# rekord signed with a throwaway OpenPGP key in a private GNUPGHOME.
upload_rekord_pgp() {
	local art="$E2E_DATA/$1.txt" gh="$E2E_DATA/gnupg"
	make_pgp_key
	make_artifact "$art"
	GNUPGHOME="$gh" gpg -q --batch --armor --detach-sign -o "$art.asc" "$art"
	upload "$1" rekord --type rekord --pki-format pgp --artifact "$art" \
	    --signature "$art.asc" --public-key "$E2E_DATA/pgp.pub.asc"
}

make_pgp_key() {
	local gh="$E2E_DATA/gnupg"
	[ -s "$E2E_DATA/pgp.pub.asc" ] && return 0
	mkdir -p "$gh"
	chmod 700 "$gh"
	GNUPGHOME="$gh" gpg -q --batch --passphrase '' --quick-gen-key \
	    'rekor-sidekick e2e <pgp@example.com>' ed25519 sign 1d 2>/dev/null
	GNUPGHOME="$gh" gpg -q --batch --armor --export >"$E2E_DATA/pgp.pub.asc"
}

# rekord with an x509 public key (the bare key).
upload_rekord_x509() {
	local art="$E2E_DATA/$1.txt"
	make_artifact "$art"
	sign_file "$E2E_DATA/rekordkey" "$art"
	upload "$1" rekord --type rekord --pki-format x509 --artifact "$art" \
	    --signature "$art.sig" --public-key "$E2E_DATA/rekordkey.pub"
}

# dsse and intoto entries from a DSSE envelope made here, signed with the
# key $E2E_DATA/dssekey.
upload_dsse() {
	local art="$E2E_DATA/$1.txt"
	make_artifact "$art"
	make_statement "$art" >"$art.statement.json"
	make_dsse application/vnd.in-toto+json "$art.statement.json" \
	    "$E2E_DATA/dssekey" >"$art.dsse.json"
	upload "$1" "$2" --type "$2" --artifact "$art.dsse.json" \
	    --public-key "$E2E_DATA/dssekey.pub"
}

# rfc3161 entry: a time-stamp response from a throwaway TSA (openssl ts).
upload_rfc3161() {
	local art="$E2E_DATA/$1.txt" tsa="$E2E_DATA/tsa"
	if [ ! -s "$tsa.pem" ]; then
		make_ca
		make_ec_key "$tsa"
		printf '[tsa_cert]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = critical,timeStamping\n' \
		    >"$tsa.ext"
		openssl req -new -key "$tsa.key" \
		    -subj "/O=rekor-sidekick e2e/CN=throwaway TSA" -out "$tsa.csr"
		openssl x509 -req -in "$tsa.csr" -CA "$E2E_DATA/ca.pem" \
		    -CAkey "$E2E_DATA/ca.key" -set_serial 2 -days 1 -sha256 \
		    -extfile "$tsa.ext" -extensions tsa_cert -out "$tsa.pem" \
		    2>/dev/null
		cat >"$tsa.cnf" <<-EOF
		[tsa]
		default_tsa = e2e
		[e2e]
		serial = $tsa.serial
		signer_digest = sha256
		default_policy = 1.3.6.1.4.1.57264.99.1
		digests = sha256
		accuracy = secs:1
		ess_cert_id_alg = sha256
		EOF
		echo 01 >"$tsa.serial"
	fi
	make_artifact "$art"
	openssl ts -query -data "$art" -sha256 -cert -out "$art.tsq" 2>/dev/null
	openssl ts -reply -config "$tsa.cnf" -queryfile "$art.tsq" \
	    -signer "$tsa.pem" -inkey "$tsa.key" -out "$art.tsr" 2>/dev/null
	upload "$1" rfc3161 --type rfc3161 --artifact "$art.tsr"
}

# cose entry: a COSE_Sign1 message (RFC 9052) with an ES256 signature by
# the key $E2E_DATA/cosekey over artifact $1.txt as payload.  Python has
# no CBOR module, so cose.py below encodes the few CBOR items needed.
upload_cose() {
	local art="$E2E_DATA/$1.txt" cose="$E2E_ROOT/tests/lib/cose.py"
	make_artifact "$art"
	python3 "$cose" to-be-signed "$art" >"$art.tbs"
	openssl dgst -sha256 -sign "$E2E_DATA/cosekey.key" -out "$art.tbs.sig" \
	    "$art.tbs"
	python3 "$cose" message "$art" "$art.tbs.sig" >"$art.cose"
	upload "$1" cose --type cose --artifact "$art.cose" \
	    --public-key "$E2E_DATA/cosekey.pub"
}

# helm entry: a chart provenance file clear-signed with the OpenPGP key.
upload_helm() {
	local chart="$E2E_DATA/$1-0.1.0.tgz" prov="$E2E_DATA/$1-0.1.0.tgz.prov"
	make_pgp_key
	make_artifact "$E2E_DATA/$1.txt"
	tar -C "$E2E_DATA" -czf "$chart" "$1.txt"
	{
		printf 'apiVersion: v2\nname: %s\nversion: 0.1.0\n' "$1"
		printf 'description: rekor-sidekick e2e chart\n\n...\n'
		printf 'files:\n  %s: sha256:%s\n' "$(basename "$chart")" \
		    "$(sha256sum "$chart" | cut -d' ' -f1)"
	} >"$prov.txt"
	GNUPGHOME="$E2E_DATA/gnupg" gpg -q --batch --digest-algo SHA512 \
	    --clearsign -o "$prov" "$prov.txt"
	upload "$1" helm --type helm --artifact "$prov" \
	    --public-key "$E2E_DATA/pgp.pub.asc"
}

# Makes the cosign key pair $E2E_DATA/cosign.{key,pub}, with an empty
# password.
e2e_make_cosign_key() {
	e2e_ns cosign generate-key-pair \
	    --output-key-prefix "$E2E_DATA/cosign" >/dev/null 2>&1 || {
		echo "e2e: cosign generate-key-pair failed" >&2
		return 1
	}
}

# Fills the log with one entry of each kind and identity that the tests
# use, and writes $E2E_DATA/entries.tsv.
e2e_fill_log() {
	: >"$E2E_DATA/entries.tsv"
	make_ec_key "$E2E_DATA/barekey"
	make_ec_key "$E2E_DATA/rekordkey"
	make_ec_key "$E2E_DATA/dssekey"
	make_ec_key "$E2E_DATA/cosekey"
	e2e_make_cosign_key || return 1
	upload_barekey barekey-1 &&
	upload_cert cert-email cert-email "email:$E2E_EMAIL" \
	    "$E2E_EMAIL_ISSUER" &&
	upload_cert cert-ci cert-ci "URI:$E2E_WORKFLOW" "$E2E_GITHUB_ISSUER" &&
	upload_cert cert-both cert-both \
	    "email:$E2E_EMAIL,URI:$E2E_WORKFLOW" "$E2E_GITHUB_ISSUER" &&
	upload_cert cert-ci-issuer cert-ci-issuer "URI:$E2E_WORKFLOW" \
	    "$E2E_EMAIL_ISSUER" &&
	upload_cert cert-other cert-other \
	    "email:$E2E_OTHER_EMAIL,URI:$E2E_OTHER_WORKFLOW" \
	    "$E2E_GITHUB_ISSUER" &&
	upload_cosign_blob cosign-blob &&
	upload_rekord_x509 rekord-x509 &&
	upload_rekord_ssh rekord-ssh &&
	upload_rekord_pgp rekord-pgp &&
	upload_dsse dsse-1 dsse &&
	upload_dsse intoto-1 intoto &&
	upload_cosign_attestation cosign-attest &&
	upload_rfc3161 rfc3161-1 &&
	upload_helm helm-1 &&
	upload_cose cose-1 &&
	upload_barekey barekey-2
}

# Prints the log indexes of the manifest entries with the given labels, one
# a line, sorted.
e2e_indexes() {
	local label
	for label in "$@"; do
		awk -F'\t' -v l="$label" '$1 == l { print $3 }' \
		    "$E2E_DATA/entries.tsv"
	done | sort -n
}

# Prints the UUID of the manifest entry labelled $1.
e2e_uuid() {
	awk -F'\t' -v l="$1" '$1 == l { print $4 }' "$E2E_DATA/entries.tsv"
}

# Writes copies of the sample policies in etc/policies to folder $1, each
# watching the test identities: the e-mail address, the CI workflow and
# the fingerprints of the bare key and the cosign key.
e2e_policies() {
	local out=$1 src="$E2E_ROOT/etc/policies"
	mkdir -p "$out"
	sed "s|^email_addresses := .*|email_addresses := {\"$E2E_EMAIL\"}|" \
	    "$src/email.rego" >"$out/email.rego"
	sed "/^ci_workflows := {/,/^}/c\\
ci_workflows := {\"$E2E_WORKFLOW\"}" "$src/ci-identity.rego" >"$out/ci-identity.rego"
	sed "s|^key_fingerprints := .*|key_fingerprints := {\"$(e2e_key_fingerprint \
	    "$E2E_DATA/barekey.pub")\", \"$(e2e_key_fingerprint \
	    "$E2E_DATA/cosign.pub")\"}|" \
	    "$src/key-fingerprint.rego" >"$out/key-fingerprint.rego"
	if ! grep -q "$E2E_EMAIL" "$out/email.rego" ||
	    ! grep -q "$E2E_WORKFLOW" "$out/ci-identity.rego" ||
	    ! grep -q "$(e2e_key_fingerprint "$E2E_DATA/barekey.pub")" \
	    "$out/key-fingerprint.rego"; then
		echo "e2e: cannot set the watched values in '$src'" >&2
		return 1
	fi
}

# Writes a rekor-sidekick config to $1 for the local log, with the
# policies of e2e_policies and the stdout output.  $2: state folder,
# $3: the last index to read (empty: follow the log), $4: the stdout
# output's format (default json).
e2e_config() {
	local pol="$E2E_DATA/policies"
	[ -s "$pol/email.rego" ] || e2e_policies "$pol" || return 1
	{
		printf 'server: %s\nstart: 0\ninterval: 1s\n' "$REKOR_LOCAL_URL"
		printf 'stateDir: %s\n' "$2"
		[ -z "${3:-}" ] || printf 'end: %s\n' "$3"
		printf 'logging:\n  level: warn\npolicies:\n'
		printf -- '- name: email\n  file: %s/email.rego\n' "$pol"
		printf -- '- name: ci-workflow\n  file: %s/ci-identity.rego\n' "$pol"
		printf -- '- name: key\n  file: %s/key-fingerprint.rego\n' "$pol"
		printf 'outputs:\n  stdout:\n    enabled: true\n    format: %s\n' \
		    "${4:-json}"
	} >"$1"
}
