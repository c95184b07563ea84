package sidekick

# Hex SHA-256 of each key's DER SubjectPublicKeyInfo, as these commands
# print it for a PEM public key or certificate:
#   openssl pkey -pubin -in key.pem -outform DER | sha256sum
#   openssl x509 -in cert.pem -noout -pubkey |
#       openssl pkey -pubin -outform DER | sha256sum
key_fingerprints := {"a158e8e6fe4ac973529a9e18f0eed1e3609ac6fb6664446bfa98e7d78cc6a784"}

# METADATA
# title: public key fingerprint
# description: >-
#   An entry was signed with one of the watched public keys, given as a
#   bare key or inside a certificate.
alert if key_match

key_match if {
	some fingerprint in signer_fingerprints
	fingerprint in key_fingerprints
}

signer_fingerprints contains crypto.sha256(pem_der(pem)) if {
	some pem in signer_pems
	startswith(pem, "-----BEGIN PUBLIC KEY-----")
}

signer_fingerprints contains fingerprint if {
	some cert in signer_certs
	fingerprint := crypto.sha256(base64.decode(cert.RawSubjectPublicKeyInfo))
}

# The DER bytes of a single-block PEM text.
pem_der(pem) := base64.decode(concat("", [line |
	some raw in split(pem, "\n")
	line := trim_space(raw)
	line != ""
	not startswith(line, "-----")
]))

# The helpers below are the same in every sample policy, so that
# "opa test etc/policies", which loads the samples into one package,
# sees one definition of each.

# PEM texts of the keys and certificates that signed the entry.  Rekor
# stores each one base64-encoded, in a place that depends on the kind.
signer_pems contains pem if {
	input.kind in {"hashedrekord", "rekord"}
	pem := base64_text(input.spec.signature.publicKey.content)
}

signer_pems contains pem if {
	input.kind == "intoto"
	some signature in input.spec.content.envelope.signatures
	pem := base64_text(signature.publicKey)
}

# intoto 0.0.1 keeps one key or certificate outside the envelope.
signer_pems contains pem if {
	input.kind == "intoto"
	pem := base64_text(input.spec.publicKey)
}

signer_pems contains pem if {
	input.kind == "dsse"
	some signature in input.spec.signatures
	pem := base64_text(signature.verifier)
}

base64_text(s) := base64.decode(s) if base64.is_valid(s)

# Certificates among the signers, parsed.  Bare keys and PGP, SSH or
# minisign material never reach the parser, so it fails only on a broken
# certificate (rekor-policy reports that).
signer_certs contains cert if {
	some pem in signer_pems
	startswith(pem, "-----BEGIN CERTIFICATE-----")
	some cert in crypto.x509.parse_certificates(pem)
}
