/*
 * Classification of pipeline records and the alert idempotency key.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "record.h"

enum record_type
record_type(const cJSON *rec)
{
	const cJSON *control;

	if (!cJSON_IsObject(rec))
		return RECORD_INVALID;
	control = cJSON_GetObjectItemCaseSensitive(rec, "control");
	if (control != NULL)
		return cJSON_IsString(control) ? RECORD_CONTROL :
		    RECORD_INVALID;
	if (cJSON_GetObjectItemCaseSensitive(rec, "logIndex") == NULL ||
	    cJSON_GetObjectItemCaseSensitive(rec, "body") == NULL)
		return RECORD_INVALID;
	if (cJSON_GetObjectItemCaseSensitive(rec, "policy") != NULL)
		return RECORD_ALERT;
	return RECORD_ENTRY;
}

/* Returns the control type ("mark", "malformed", ...) or NULL. */
const char *
record_control_type(const cJSON *rec)
{
	const cJSON *control;

	control = cJSON_GetObjectItemCaseSensitive(rec, "control");
	return cJSON_IsString(control) ? control->valuestring : NULL;
}

/* Reads the global "logIndex" of an entry or alert.  Returns 0 or -1. */
int
record_get_index(const cJSON *rec, uint64_t *out)
{
	const cJSON *v;
	double d;

	v = cJSON_GetObjectItemCaseSensitive(rec, "logIndex");
	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

/*
 * Computes the idempotency key of an alert: the hex SHA-256 of
 * "rekor-sidekick alert v1\n" LOGID "\n" INDEX "\n" POLICY.  The same
 * entry matched by the same policy always gets the same key, so a replay
 * after a crash is recognised downstream (PagerDuty dedup_key,
 * CloudEvents id, OpenSearch _id).  Returns 0 or -1.
 */
int
alert_id(const char *log_id, uint64_t index, const char *policy,
    char out[ALERT_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char num[32];
	EVP_MD_CTX *ctx;
	int rc = -1;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)index);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, "rekor-sidekick alert v1\n", 24) != 1 ||
	    EVP_DigestUpdate(ctx, log_id, strlen(log_id)) != 1 ||
	    EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, num, strlen(num)) != 1 ||
	    EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, policy, strlen(policy)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}
