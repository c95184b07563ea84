package sidekick

# The addresses to watch, in lower case.
email_addresses := {"me@example.com"}

# METADATA
# title: certificate e-mail identity
# description: >-
#   An entry was signed with a certificate issued to one of the watched
#   e-mail addresses (subjectAltName email), as Fulcio issues them to
#   people who sign in with an e-mail account.
alert if email_match

email_match if {
	some cert in signer_certs
	some address in cert.EmailAddresses
	lower(address) in email_addresses
}

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
