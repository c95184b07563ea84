package sidekick

# Workflow identities as Fulcio writes them into the URI subjectAltName.
# An identity without "@" matches the workflow at every ref.
ci_workflows := {
	"https://github.com/sigstore/sigstore-js/.github/workflows/release.yml",
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
}

ci_issuer := "https://token.actions.githubusercontent.com"

# METADATA
# title: CI workflow identity
# description: >-
#   An entry was signed with a Fulcio certificate issued to one of the
#   watched CI workflows (subjectAltName URI) by the expected OIDC issuer.
alert if ci_match

ci_match if {
	some cert in signer_certs
	some uri in cert.URIStrings
	ci_workflow_matches(uri)
	oidc_issuer(cert) == ci_issuer
}

ci_workflow_matches(uri) if uri in ci_workflows

ci_workflow_matches(uri) if {
	some workflow in ci_workflows
	not contains(workflow, "@")
	startswith(uri, concat("", [workflow, "@"]))
}

# The OIDC issuer from Fulcio's extensions: 1.3.6.1.4.1.57264.1.8 holds
# it as a DER UTF8String, the older 1.3.6.1.4.1.57264.1.1 as raw bytes.
oidc_issuer(cert) := issuer if {
	some ext in cert.Extensions
	ext.Id == [1, 3, 6, 1, 4, 1, 57264, 1, 8]
	issuer := der_utf8_string(hex.encode(base64.decode(ext.Value)))
} else := issuer if {
	some ext in cert.Extensions
	ext.Id == [1, 3, 6, 1, 4, 1, 57264, 1, 1]
	issuer := base64.decode(ext.Value)
}

# The contents of a DER UTF8String (tag 0x0c) given in hex, with a short
# length (one byte below 0x80) or a long one of one or two bytes.
der_utf8_string(h) := hex.decode(substring(h, 4, -1)) if {
	startswith(h, "0c")
	substring(h, 2, 2) < "80"
}

der_utf8_string(h) := hex.decode(substring(h, 6, -1)) if startswith(h, "0c81")

der_utf8_string(h) := hex.decode(substring(h, 8, -1)) if startswith(h, "0c82")

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
