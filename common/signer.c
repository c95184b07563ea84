/*
 * Signer identity from the certificate in a Rekor entry body.
 *
 * Where each kind keeps the signing certificate (base64 of PEM):
 *	hashedrekord, rekord	spec.signature.publicKey.content
 *	dsse			spec.signatures[0].verifier
 *	intoto 0.0.2		spec.content.envelope.signatures[0].publicKey
 *	intoto 0.0.1		spec.publicKey
 * Fulcio records the OIDC issuer in extension 1.3.6.1.4.1.57264.1.8 (a DER
 * UTF8String) and, in older certificates, 1.3.6.1.4.1.57264.1.1 (the raw
 * string).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "signer.h"

#define OID_ISSUER_V2	"1.3.6.1.4.1.57264.1.8"
#define OID_ISSUER_V1	"1.3.6.1.4.1.57264.1.1"

/* Maximum length of a base64 certificate read from a body. */
#define CERT_B64_MAX	(64 * 1024)

static const cJSON *
get_path(const cJSON *node, const char *const *path)
{
	for (; *path != NULL && node != NULL; path++) {
		if (cJSON_IsArray(node))
			node = cJSON_GetArrayItem(node, 0);
		if (node == NULL)
			return NULL;
		node = cJSON_GetObjectItemCaseSensitive(node, *path);
	}
	if (cJSON_IsArray(node))
		node = cJSON_GetArrayItem(node, 0);
	return node;
}

/* Returns the base64 certificate string of a body, or NULL. */
static const char *
cert_b64(const cJSON *body)
{
	static const char *const paths[][6] = {
		{ "spec", "signature", "publicKey", "content", NULL },
		{ "spec", "signatures", "verifier", NULL },
		{ "spec", "content", "envelope", "signatures", "publicKey",
		    NULL },
		{ "spec", "publicKey", NULL },
	};
	const cJSON *v;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		v = get_path(body, paths[i]);
		if (cJSON_IsString(v) && v->valuestring[0] != '\0')
			return v->valuestring;
	}
	return NULL;
}

static X509 *
cert_decode(const char *b64)
{
	unsigned char *pem = NULL;
	size_t len = strlen(b64);
	X509 *cert = NULL;
	BIO *bio = NULL;
	int n;

	if (len > CERT_B64_MAX || len % 4 != 0)
		return NULL;
	if ((pem = OPENSSL_malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	n = EVP_DecodeBlock(pem, (const unsigned char *)b64, (int)len);
	if (n <= 0)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, n)) == NULL)
		goto out;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
out:
	BIO_free(bio);
	OPENSSL_free(pem);
	return cert;
}

/* Copies len bytes, replacing control characters and DEL with '?'. */
static void
copy_printable(char *out, size_t outlen, const unsigned char *s, size_t len)
{
	size_t i;

	if (outlen == 0)
		return;
	if (len > outlen - 1)
		len = outlen - 1;
	for (i = 0; i < len; i++)
		out[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	out[len] = '\0';
}

static int
cert_san(X509 *cert, char *out, size_t outlen)
{
	GENERAL_NAMES *names;
	const GENERAL_NAME *gn;
	const ASN1_IA5STRING *s;
	int i, found = 0;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (names == NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type == GEN_EMAIL)
			s = gn->d.rfc822Name;
		else if (gn->type == GEN_URI)
			s = gn->d.uniformResourceIdentifier;
		else
			continue;
		copy_printable(out, outlen, ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
		found = out[0] != '\0';
	}
	GENERAL_NAMES_free(names);
	return found;
}

static int
cert_issuer(X509 *cert, char *out, size_t outlen)
{
	const char *oids[] = { OID_ISSUER_V2, OID_ISSUER_V1 };
	const unsigned char *p;
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *data;
	ASN1_UTF8STRING *utf8;
	X509_EXTENSION *ext;
	size_t i;
	int pos, found = 0;

	for (i = 0; i < 2 && !found; i++) {
		if ((obj = OBJ_txt2obj(oids[i], 1)) == NULL)
			return 0;
		pos = X509_get_ext_by_OBJ(cert, obj, -1);
		ASN1_OBJECT_free(obj);
		if (pos < 0)
			continue;
		ext = X509_get_ext(cert, pos);
		data = X509_EXTENSION_get_data(ext);
		p = ASN1_STRING_get0_data(data);
		if (i == 0) {
			utf8 = d2i_ASN1_UTF8STRING(NULL, &p,
			    ASN1_STRING_length(data));
			if (utf8 == NULL)
				continue;
			copy_printable(out, outlen,
			    ASN1_STRING_get0_data(utf8),
			    (size_t)ASN1_STRING_length(utf8));
			ASN1_UTF8STRING_free(utf8);
		} else
			copy_printable(out, outlen, p,
			    (size_t)ASN1_STRING_length(data));
		found = out[0] != '\0';
	}
	return found;
}

/*
 * Writes the signer identity of an entry record (its "body") to out:
 * "SAN" or "SAN (issuer ISSUER)", control characters replaced by '?'.
 * Returns 1 when the body contains a certificate with an e-mail or URI SAN,
 * 0 otherwise (out is then empty).  The identity is what the certificate
 * states; the caller decides whether the entry was verified.
 */
int
signer_identity(const cJSON *rec, char *out, size_t outlen)
{
	char san[SIGNER_MAX / 2], issuer[SIGNER_MAX / 2];
	const char *b64;
	X509 *cert;
	int found;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	b64 = cert_b64(cJSON_GetObjectItemCaseSensitive(rec, "body"));
	if (b64 == NULL || (cert = cert_decode(b64)) == NULL)
		return 0;
	found = cert_san(cert, san, sizeof(san));
	if (found && cert_issuer(cert, issuer, sizeof(issuer)))
		snprintf(out, outlen, "%s (issuer %s)", san, issuer);
	else if (found)
		snprintf(out, outlen, "%s", san);
	X509_free(cert);
	return found;
}
