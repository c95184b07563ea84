package sidekick_test

import data.sidekick
import data.testdata

test_key_matches_bare_key if {
	sidekick.key_match with input as testdata.hashedrekord_key_2023
}

test_key_other_bare_key_does_not_match if {
	not sidekick.key_match with input as testdata.hashedrekord_key_2025
}

# openssl x509 -in tests/fixtures/policy/me-example-com.pem -noout -pubkey |
#     openssl pkey -pubin -outform DER | sha256sum
test_key_matches_key_in_certificate if {
	sidekick.key_match with input as testdata.hashedrekord_me_example_com
		with sidekick.key_fingerprints as {"916af6120d00a3a93346d6f7d46178891e8992924e2d84bc97cac38aba6dd313"}
}

# The same fingerprint through the intoto envelope of sigstore-js.
test_key_matches_intoto_certificate if {
	sidekick.key_match with input as testdata.intoto_sigstore_js_2023
		with sidekick.key_fingerprints as {"ff6c05ff7aeab3d08909fe07d9806735f169a4428c93c9d86cb25a29ab9f473e"}
}

test_key_fingerprints_of_bare_key if {
	fingerprints := sidekick.signer_fingerprints with input as testdata.hashedrekord_key_2025
	fingerprints == {"4cb32c4837c6dda8cfb1681efb3fef5f94ffce5b979e6bdb9139302c857af139"}
}

test_key_certificates_do_not_match_by_default if {
	not sidekick.key_match with input as testdata.hashedrekord_conformance_2024
	not sidekick.key_match with input as testdata.dsse_conformance_2024
	not sidekick.key_match with input as testdata.hashedrekord_me_example_com
}
