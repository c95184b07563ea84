/*
 * Signer identities from the key material in an entry body.  The body
 * kinds keep it in different places, each a base64-encoded PEM block
 * (certificate or public key):
 *
 *	hashedrekord, rekord	spec.signature.publicKey.content
 *	intoto 0.0.2		spec.content.envelope.signatures[].publicKey
 *	intoto 0.0.1		spec.publicKey
 *	dsse			spec.signatures[].verifier
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "identity.h"

/* Maximum base64 key or certificate read; real ones are under 8 KiB. */
#define KEY_B64_MAX	(256 * 1024)

static const cJSON *
get(const cJSON *node, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(node, key);
}

/* Appends S, with bytes outside printable ASCII written as \xHH. */
static void
append_printable(struct buf *out, const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] >= 0x21 && s[i] <= 0x7e && s[i] != ',')
			buf_append(out, &s[i], 1);
		else
			buf_printf(out, "\\x%02x", s[i]);
	}
}

/* Appends "email:..." and "uri:..." for each such SAN.  Returns count. */
static int
append_sans(X509 *cert, struct buf *out)
{
	GENERAL_NAMES *names;
	const GENERAL_NAME *gn;
	const ASN1_IA5STRING *s;
	const char *tag;
	int i, n = 0;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (names == NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type == GEN_EMAIL) {
			tag = "email:";
			s = gn->d.rfc822Name;
		} else if (gn->type == GEN_URI) {
			tag = "uri:";
			s = gn->d.uniformResourceIdentifier;
		} else {
			continue;
		}
		buf_printf(out, "%s%s", n > 0 ? "," : "", tag);
		append_printable(out, ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
		n++;
	}
	GENERAL_NAMES_free(names);
	return n;
}

/* Appends "sha256:HEX" of the DER SubjectPublicKeyInfo. */
static int
append_fingerprint(EVP_PKEY *key, struct buf *out)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int len;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) !=
	    1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	buf_append_str(out, "sha256:");
	for (i = 0; i < mdlen; i++)
		buf_printf(out, "%02x", md[i]);
	return 0;
}

/*
 * Describes one base64 PEM block.  Returns 0 when something was
 * appended, -1 when the block is neither a certificate nor a public key
 * (a PGP or SSH key of a rekord entry, say).
 */
static int
describe_pem(const char *b64, struct buf *out)
{
	unsigned char *pem = NULL;
	size_t b64len = strlen(b64);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *bio = NULL;
	int len, rc = -1;

	if (b64len == 0 || b64len > KEY_B64_MAX)
		return -1;
	if ((pem = OPENSSL_malloc(b64len / 4 * 3 + 4)) == NULL)
		return -1;
	/* EVP_DecodeBlock wants no line breaks; Rekor sends none. */
	len = EVP_DecodeBlock(pem, (const unsigned char *)b64, (int)b64len);
	if (len <= 0)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		goto out;
	if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (append_sans(cert, out) > 0)
			rc = 0;
		else if ((key = X509_get_pubkey(cert)) != NULL)
			rc = append_fingerprint(key, out);
		goto out;
	}
	if (BIO_reset(bio) != 1)
		goto out;
	if ((key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL)
		rc = append_fingerprint(key, out);
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(bio);
	OPENSSL_free(pem);
	return rc;
}

/* Describes every signature's key of a list, comma-separated. */
static int
describe_list(const cJSON *sigs, const char *field, struct buf *out)
{
	const cJSON *sig, *v;
	int n = 0;

	cJSON_ArrayForEach(sig, sigs) {
		v = get(sig, field);
		if (!cJSON_IsString(v))
			continue;
		if (n > 0)
			buf_append_str(out, ",");
		if (describe_pem(v->valuestring, out) == 0)
			n++;
		else if (n > 0)
			out->data[--out->len] = '\0';
	}
	return n > 0 ? 0 : -1;
}

/*
 * Appends the signer of the entry body BODY to OUT.  Returns 0, or -1
 * when the body carries no certificate or key that can be read.
 */
int
identity_describe(const cJSON *body, struct buf *out)
{
	const cJSON *spec, *v;

	if ((spec = get(body, "spec")) == NULL)
		return -1;
	v = get(get(get(spec, "signature"), "publicKey"), "content");
	if (cJSON_IsString(v))
		return describe_pem(v->valuestring, out);
	v = get(get(get(spec, "content"), "envelope"), "signatures");
	if (cJSON_IsArray(v))
		return describe_list(v, "publicKey", out);
	v = get(spec, "signatures");
	if (cJSON_IsArray(v))
		return describe_list(v, "verifier", out);
	v = get(spec, "publicKey");
	if (cJSON_IsString(v))
		return describe_pem(v->valuestring, out);
	return -1;
}
