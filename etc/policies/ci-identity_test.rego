package sidekick_test

import data.sidekick
import data.testdata

test_ci_matches_hashedrekord if {
	sidekick.ci_match with input as testdata.hashedrekord_conformance_2024
}

test_ci_matches_dsse if {
	sidekick.ci_match with input as testdata.dsse_conformance_2024
}

# The sigstore-js release workflow is watched without a ref.
test_ci_matches_intoto_at_any_ref if {
	sidekick.ci_match with input as testdata.intoto_sigstore_js_2023
}

test_ci_pinned_ref_must_be_equal if {
	not sidekick.ci_match with input as testdata.intoto_sigstore_js_2023
		with sidekick.ci_workflows as {"https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/other"}
}

test_ci_other_issuer_does_not_match if {
	not sidekick.ci_match with input as testdata.dsse_conformance_2024
		with sidekick.ci_issuer as "https://accounts.google.com"
}

test_ci_email_certificate_does_not_match if {
	not sidekick.ci_match with input as testdata.hashedrekord_me_example_com
}

test_ci_bare_key_does_not_match if {
	not sidekick.ci_match with input as testdata.hashedrekord_key_2025
}

test_ci_issuer_from_v2_extension if {
	certs := sidekick.signer_certs with input as testdata.dsse_conformance_2024
	some cert in certs
	sidekick.oidc_issuer(cert) == "https://token.actions.githubusercontent.com"
}

# A certificate with only the older raw-string extension.
test_ci_issuer_from_v1_extension if {
	cert := {"Extensions": [{
		"Id": [1, 3, 6, 1, 4, 1, 57264, 1, 1],
		"Value": base64.encode("https://issuer.example"),
	}]}
	sidekick.oidc_issuer(cert) == "https://issuer.example"
}

test_ci_der_utf8_string_forms if {
	sidekick.der_utf8_string("0c03616263") == "abc"
	sidekick.der_utf8_string(concat("", ["0c8180", repeat("61", 128)])) == repeat("a", 128)
	sidekick.der_utf8_string(concat("", ["0c820100", repeat("61", 256)])) == repeat("a", 256)
	not sidekick.der_utf8_string("1303616263")
}

repeat(s, n) := concat("", [s | some _ in numbers.range(1, n)])
