package sidekick_test

import data.sidekick
import data.testdata

test_email_matches_certificate_address if {
	sidekick.email_match with input as testdata.hashedrekord_me_example_com
}

test_email_other_address_does_not_match if {
	not sidekick.email_match with input as testdata.hashedrekord_me_example_com
		with sidekick.email_addresses as {"someone@example.com"}
}

test_email_ci_certificate_does_not_match if {
	not sidekick.email_match with input as testdata.hashedrekord_conformance_2024
	not sidekick.email_match with input as testdata.intoto_sigstore_js_2023
	not sidekick.email_match with input as testdata.dsse_conformance_2024
}

test_email_bare_key_does_not_match if {
	not sidekick.email_match with input as testdata.hashedrekord_key_2023
	not sidekick.email_match with input as testdata.hashedrekord_key_2025
}

test_email_bare_key_is_not_parsed if {
	count(sidekick.signer_pems) == 1 with input as testdata.hashedrekord_key_2023
	count(sidekick.signer_certs) == 0 with input as testdata.hashedrekord_key_2023
}

# The certificate of the me@example.com entry in the other places where
# Rekor kinds keep a signer (synthetic bodies, reduced to those fields).
me_pem := testdata.hashedrekord_me_example_com.spec.signature.publicKey.content

test_email_matches_rekord_x509 if {
	sidekick.email_match with input as {
		"kind": "rekord",
		"spec": {"signature": {"format": "x509", "publicKey": {"content": me_pem}}},
	}
}

test_email_matches_intoto_001 if {
	sidekick.email_match with input as {"kind": "intoto", "spec": {"publicKey": me_pem}}
}

test_email_matches_intoto_002 if {
	sidekick.email_match with input as {
		"kind": "intoto",
		"spec": {"content": {"envelope": {"signatures": [{"publicKey": me_pem}]}}},
	}
}

test_email_matches_dsse_verifier if {
	sidekick.email_match with input as {"kind": "dsse", "spec": {"signatures": [{"verifier": me_pem}]}}
}

test_email_invalid_base64_is_skipped if {
	not sidekick.email_match with input as {"kind": "dsse", "spec": {"signatures": [{"verifier": "%%%"}]}}
}
