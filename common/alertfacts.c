/*
 * The human-facing facts of an alert record.
 */
#include <stdint.h>
#include <stdio.h>

#include "alertfacts.h"
#include "signer.h"

static const char *
string_member(const cJSON *obj, const char *key)
{
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/*
 * Writes a JSON number with a whole value to out as decimal, or ""
 * when it is missing, not a number or not whole.  Integers up to 2^53
 * are exact in a double, which covers log indexes and Unix times.
 */
static void
integer_member(const cJSON *obj, const char *key, char *out, size_t len)
{
	const cJSON *v;
	double d;

	out[0] = '\0';
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return;
	d = v->valuedouble;
	if (d < -9007199254740992.0 || d > 9007199254740992.0 ||
	    d != (double)(int64_t)d)
		return;
	snprintf(out, len, "%lld", (long long)d);
}

void
alertfacts_get(const cJSON *rec, struct alert_facts *f)
{
	const cJSON *policy;

	policy = cJSON_GetObjectItemCaseSensitive(rec, "policy");
	f->policy = string_member(policy, "name");
	f->description = string_member(policy, "description");
	f->alert_id = string_member(rec, "alertID");
	f->uuid = string_member(rec, "uuid");
	f->url = string_member(rec, "url");
	f->kind = string_member(rec, "kind");
	f->api_version = string_member(rec, "apiVersion");
	f->time = string_member(rec, "time");
	f->log_id = string_member(rec, "logID");
	f->tree_id = string_member(rec, "treeID");
	integer_member(rec, "logIndex", f->index, sizeof(f->index));
	integer_member(rec, "treeIndex", f->tree_index, sizeof(f->tree_index));
	integer_member(rec, "integratedTime", f->integrated_time,
	    sizeof(f->integrated_time));
	signer_identity(rec, f->signer, sizeof(f->signer));
}
