/*
 * rekor-tail: the shard layout of a Rekor v1 log, and the checks that one
 * item of a retrieve reply passes before it becomes a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "buf.h"
#include "tail.h"
#include "util.h"

#define JSON_INT_MAX	9007199254740992.0	/* 2^53: exact in a double */

/*
 * The deepest body written as an entry.  jq 1.6 reads 256 levels and
 * cJSON 1000, and a dead-letter line nests the body two levels deeper
 * than it is, so every stage and jq can read what rekor-tail writes.
 */
#define BODY_DEPTH_MAX	128
/*
 * A larger body would make an entry record that rekor-policy (32 MiB a
 * line) cannot read, so it would pass unevaluated.
 */
#define BODY_SIZE_MAX	(16 * 1024 * 1024)

/* Reads a non-negative integer that a double represents exactly. */
static int
json_get_index(const cJSON *parent, const char *name, uint64_t *out)
{
	const cJSON *v;
	double d;

	v = cJSON_GetObjectItemCaseSensitive(parent, name);
	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (d < 0 || d > JSON_INT_MAX || d != (double)(uint64_t)d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

/*
 * Fills one shard from an object with "treeID" (a decimal string: tree
 * ids use all 64 bits, so they never pass through a double) and
 * "treeSize".
 */
static int
shard_parse(const cJSON *obj, struct shard *s, struct buf *err)
{
	const cJSON *id;
	uint64_t v;

	id = cJSON_GetObjectItemCaseSensitive(obj, "treeID");
	if (!cJSON_IsString(id) || strlen(id->valuestring) >= TREE_ID_MAX ||
	    parse_uint64(id->valuestring, 0, UINT64_MAX, &v) == -1) {
		buf_printf(err, "\"treeID\" is not a decimal string");
		return -1;
	}
	if (json_get_index(obj, "treeSize", &s->size) == -1) {
		buf_printf(err, "\"treeSize\" of tree '%s' is not a valid "
		    "size", id->valuestring);
		return -1;
	}
	snprintf(s->tree_id, sizeof(s->tree_id), "%s", id->valuestring);
	snprintf(s->prefix, sizeof(s->prefix), "%016llx",
	    (unsigned long long)v);
	return 0;
}

/*
 * Reads the reply of GET /api/v1/log: the active shard at the top level
 * and the older ones in "inactiveShards", oldest first.  Returns 0, or -1
 * with the reason in err.
 */
int
layout_parse(const cJSON *doc, struct layout *l, struct buf *err)
{
	const cJSON *inactive, *s;
	size_t n = 1, i = 0;

	memset(l, 0, sizeof(*l));
	if (!cJSON_IsObject(doc)) {
		buf_printf(err, "log info is not a JSON object");
		return -1;
	}
	inactive = cJSON_GetObjectItemCaseSensitive(doc, "inactiveShards");
	if (inactive != NULL && !cJSON_IsNull(inactive)) {
		if (!cJSON_IsArray(inactive)) {
			buf_printf(err, "\"inactiveShards\" is not a list");
			return -1;
		}
		n += (size_t)cJSON_GetArraySize(inactive);
	} else
		inactive = NULL;
	if ((l->shards = calloc(n, sizeof(*l->shards))) == NULL) {
		buf_printf(err, "out of memory");
		return -1;
	}
	l->n = n;
	if (inactive != NULL)
		cJSON_ArrayForEach(s, inactive)
			if (shard_parse(s, &l->shards[i++], err) == -1)
				goto fail;
	if (shard_parse(doc, &l->shards[i], err) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		l->shards[i].offset = l->tip;
		if (l->shards[i].size > (uint64_t)JSON_INT_MAX - l->tip) {
			buf_printf(err, "shard sizes add up past 2^53");
			goto fail;
		}
		l->tip += l->shards[i].size;
	}
	return 0;
fail:
	layout_free(l);
	return -1;
}

void
layout_free(struct layout *l)
{
	free(l->shards);
	memset(l, 0, sizeof(*l));
}

/* Returns the shard that contains global index idx, or NULL past the tip. */
const struct shard *
layout_find(const struct layout *l, uint64_t idx)
{
	size_t i;

	for (i = l->n; i > 0; i--)
		if (idx >= l->shards[i - 1].offset)
			return idx < l->tip ? &l->shards[i - 1] : NULL;
	return NULL;
}

/*
 * Checks that a newer layout only extends an older one: the same shards in
 * the same order, inactive shards frozen, the formerly active shard (and
 * only it) grown, new shards appended.  Anything else means the log
 * rewrote its history.  Returns 0, or -1 with the reason in err.
 */
int
layout_check_growth(const struct layout *old, const struct layout *new,
    struct buf *err)
{
	const struct shard *a, *b;
	size_t i;

	for (i = 0; i < old->n && i < new->n; i++) {
		a = &old->shards[i];
		b = &new->shards[i];
		if (strcmp(a->tree_id, b->tree_id) != 0) {
			buf_printf(err, "shard %zu is tree '%s' now, '%s' before",
			    i, b->tree_id, a->tree_id);
			return -1;
		}
		if (b->size < a->size || (i + 1 < old->n && b->size != a->size)) {
			buf_printf(err, "tree '%s' has %llu entries now, %llu "
			    "before", a->tree_id, (unsigned long long)b->size,
			    (unsigned long long)a->size);
			return -1;
		}
	}
	if (new->n < old->n) {
		buf_printf(err, "the log has %zu shards now, %zu before",
		    new->n, old->n);
		return -1;
	}
	return 0;
}

/*
 * Splits one item of a retrieve reply, a map {uuid: entry}, and reads the
 * entry's global "logIndex".  Returns 0, or -1 with the reason in err.
 */
int
item_split(const cJSON *item, const char **uuid, const cJSON **entry,
    uint64_t *idx, struct buf *err)
{
	const cJSON *e;

	if (!cJSON_IsObject(item) || (e = item->child) == NULL ||
	    e->next != NULL || !cJSON_IsObject(e)) {
		buf_printf(err, "an item is not a map of one UUID to an entry");
		return -1;
	}
	if (json_get_index(e, "logIndex", idx) == -1) {
		buf_printf(err, "entry '%s' has no valid \"logIndex\"",
		    e->string);
		return -1;
	}
	*uuid = e->string;
	*entry = e;
	return 0;
}

/*
 * Decodes standard base64 with padding.  Returns the length, or -1 on any
 * character outside the alphabet, bad padding or a length that is not a
 * multiple of four.  out must hold 3 * strlen(in) / 4 bytes.
 */
static long
base64_decode(const char *in, unsigned char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(in), i, pad = 0;
	unsigned long n = 0;
	const char *p;
	long o = 0;
	int j;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		n = 0;
		for (j = 0; j < 4; j++) {
			if (i + (size_t)j >= len - pad) {
				n <<= 6;
				continue;
			}
			if (in[i + j] == '\0' ||
			    (p = strchr(alphabet, in[i + j])) == NULL)
				return -1;
			n = n << 6 | (unsigned long)(p - alphabet);
		}
		out[o++] = (unsigned char)(n >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (unsigned char)(n >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (unsigned char)n;
	}
	/* Padding bits must be zero, as RFC 4648 section 3.5 requires. */
	if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0))
		return -1;
	return o;
}

/* Writes the hex RFC 6962 leaf hash, SHA-256(0x00 || data), into out. */
static int
leaf_hash_hex(const unsigned char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, "\0", 1) == 1 &&
	    EVP_DigestUpdate(ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
		for (i = 0; i < mdlen; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Prints rec into *line.  Returns 0, or -1 (out of memory). */
static int
print_record(cJSON *rec, char **line)
{
	*line = rec != NULL ? cJSON_PrintUnformatted(rec) : NULL;
	cJSON_Delete(rec);
	return *line != NULL ? 0 : -1;
}

static int
malformed_record(uint64_t idx, const char *uuid, const char *why,
    const cJSON *item, int omit_body, char **line)
{
	cJSON *rec, *raw, *entry;
	char num[32];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)idx);
	if ((rec = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(rec, "control", "malformed") == NULL ||
	    cJSON_AddRawToObject(rec, "logIndex", num) == NULL ||
	    cJSON_AddStringToObject(rec, "uuid", uuid) == NULL ||
	    cJSON_AddStringToObject(rec, "error", why) == NULL ||
	    (raw = cJSON_Duplicate(item, 1)) == NULL) {
		cJSON_Delete(rec);
		return -1;
	}
	/* An oversized body stays out, so the record itself stays small. */
	if (omit_body) {
		cJSON_ArrayForEach(entry, raw)
			cJSON_DeleteItemFromObjectCaseSensitive(entry, "body");
	}
	cJSON_AddItemToObject(rec, "raw", raw);
	return print_record(rec, line);
}

/*
 * Builds the entry record (docs/design.md "Entry").  body is the minified
 * body text, placed raw so that its numbers are never re-formatted.
 */
static int
entry_record(const struct shard *s, const char *server, const char *uuid,
    const cJSON *entry, uint64_t idx, const cJSON *bodydoc, char *body,
    char **line)
{
	const cJSON *logid, *verification;
	char num[32], local[32], itime[32], when[32];
	cJSON *rec, *copy;
	struct buf url = BUF_INIT;
	double t;
	int rc = -1;

	logid = cJSON_GetObjectItemCaseSensitive(entry, "logID");
	verification = cJSON_GetObjectItemCaseSensitive(entry,
	    "verification");
	t = cJSON_GetObjectItemCaseSensitive(entry, "integratedTime")->
	    valuedouble;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)idx);
	snprintf(local, sizeof(local), "%llu",
	    (unsigned long long)(idx - s->offset));
	snprintf(itime, sizeof(itime), "%lld", (long long)t);
	if (format_rfc3339((int64_t)t, when, sizeof(when)) == -1 ||
	    buf_printf(&url, "%s/api/v1/log/entries/%s", server, uuid) == -1)
		goto out;
	if ((rec = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(rec, "uuid", uuid) == NULL ||
	    cJSON_AddRawToObject(rec, "logIndex", num) == NULL ||
	    cJSON_AddStringToObject(rec, "treeID", s->tree_id) == NULL ||
	    cJSON_AddRawToObject(rec, "treeIndex", local) == NULL ||
	    cJSON_AddStringToObject(rec, "logID", logid->valuestring) == NULL ||
	    cJSON_AddRawToObject(rec, "integratedTime", itime) == NULL ||
	    cJSON_AddStringToObject(rec, "time", when) == NULL ||
	    cJSON_AddStringToObject(rec, "kind", cJSON_GetObjectItemCaseSensitive(
	    bodydoc, "kind")->valuestring) == NULL ||
	    cJSON_AddStringToObject(rec, "apiVersion",
	    cJSON_GetObjectItemCaseSensitive(bodydoc, "apiVersion")->
	    valuestring) == NULL ||
	    cJSON_AddRawToObject(rec, "body", body) == NULL ||
	    cJSON_AddStringToObject(rec, "url", url.data) == NULL ||
	    (copy = cJSON_Duplicate(verification, 1)) == NULL) {
		cJSON_Delete(rec);
		goto out;
	}
	cJSON_AddItemToObject(rec, "verification", copy);
	rc = print_record(rec, line);
out:
	buf_free(&url);
	return rc;
}

/*
 * Checks the fields that every entry carries besides its body.  Returns
 * 0, or -1 with the reason in err.
 */
static int
entry_check_fields(const cJSON *entry, uint64_t *local, struct buf *err)
{
	const cJSON *v, *proof;
	double t;

	v = cJSON_GetObjectItemCaseSensitive(entry, "logID");
	if (!cJSON_IsString(v) || strlen(v->valuestring) != 64 ||
	    !is_hex(v->valuestring, 64)) {
		buf_printf(err, "no valid \"logID\"");
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(entry, "integratedTime");
	t = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (t < 0 || t > 253402300799.0 || t != (double)(int64_t)t) {
		buf_printf(err, "no valid \"integratedTime\"");
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(entry, "body");
	if (!cJSON_IsString(v)) {
		buf_printf(err, "no \"body\" string");
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(entry, "verification");
	proof = cJSON_GetObjectItemCaseSensitive(v, "inclusionProof");
	if (!cJSON_IsObject(v) || json_get_index(proof, "logIndex", local)
	    == -1) {
		buf_printf(err, "no \"verification.inclusionProof.logIndex\"");
		return -1;
	}
	return 0;
}

/*
 * Checks that the UUID names the shard that owns idx and that the proof's
 * shard index lines up with it.  A UUID of 64 hex digits, without the
 * tree id, is accepted only from a log of one shard, where no other shard
 * could be meant.
 */
static int
entry_check_place(const struct layout *l, const struct shard *s,
    const char *uuid, uint64_t idx, uint64_t local, struct buf *err)
{
	size_t len = strlen(uuid);

	if (len == 80 && is_hex(uuid, 80)) {
		if (strncmp(uuid, s->prefix, 16) != 0) {
			buf_printf(err, "UUID '%s' names tree %.16s, but index "
			    "%llu belongs to tree '%s' (%s)", uuid, uuid,
			    (unsigned long long)idx, s->tree_id, s->prefix);
			return -1;
		}
	} else if (len != 64 || !is_hex(uuid, 64)) {
		buf_printf(err, "UUID '%s' at index %llu is neither 80 nor 64 "
		    "lowercase hex digits", uuid, (unsigned long long)idx);
		return -1;
	} else if (l->n != 1) {
		buf_printf(err, "UUID '%s' at index %llu has no tree id, but "
		    "the log has %zu shards", uuid, (unsigned long long)idx,
		    l->n);
		return -1;
	}
	if (local != idx - s->offset) {
		buf_printf(err, "entry '%s' at index %llu has proof index "
		    "%llu in tree '%s', which is global index %llu", uuid,
		    (unsigned long long)idx, (unsigned long long)local,
		    s->tree_id, (unsigned long long)(local + s->offset));
		return -1;
	}
	return 0;
}

/* Returns the nesting depth of node: 1 for a scalar or an empty list. */
static int
json_depth(const cJSON *node)
{
	const cJSON *c;
	int max = 0, d;

	for (c = node->child; c != NULL; c = c->next)
		if ((d = json_depth(c)) > max)
			max = d;
	return max + 1;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Finds a key that occurs twice in one object anywhere in node.  cJSON
 * looks up the first of two equal keys and opa the last, so the record's
 * fields and the policies would see different values.
 * Returns 1 with the key in *dup, 0 when there is none, -1 when out of
 * memory.  The recursion is as deep as the parser allowed.
 */
static int
find_dup_key(const cJSON *node, const char **dup)
{
	const cJSON *c;
	const char **keys;
	size_t n = 0, i;
	int rc = 0;

	if (cJSON_IsObject(node) && node->child != NULL &&
	    node->child->next != NULL) {
		for (c = node->child; c != NULL; c = c->next)
			n++;
		if ((keys = malloc(n * sizeof(*keys))) == NULL)
			return -1;
		i = 0;
		for (c = node->child; c != NULL; c = c->next)
			keys[i++] = c->string;
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 1; i < n && rc == 0; i++)
			if (strcmp(keys[i - 1], keys[i]) == 0) {
				*dup = keys[i];
				rc = 1;
			}
		free(keys);
	}
	for (c = node->child; c != NULL && rc == 0; c = c->next)
		rc = find_dup_key(c, dup);
	return rc;
}

/*
 * Tells whether JSON text contains the escape \u0000, which cJSON reads as
 * the end of its string, so that "kind\u0000" would pass for "kind".
 */
static int
has_nul_escape(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && n - i >= 6 &&
		    strncmp(s + i + 2, "0000", 4) == 0)
			return 1;
		i++;
	}
	return 0;
}

/*
 * Checks the entry served for global index idx and builds its record in
 * *line (caller frees).  Returns ITEM_ENTRY, or ITEM_MALFORMED with a
 * malformed control record in *line and the reason in err, or
 * ITEM_BAD_REPLY / ITEM_CONTRADICTION with the reason in err.
 */
enum item_result
item_record(const struct layout *l, const char *server, const cJSON *item,
    const char *uuid, const cJSON *entry, uint64_t idx, char **line,
    struct buf *err)
{
	const struct shard *s;
	const cJSON *kind, *version;
	cJSON *doc = NULL;
	unsigned char *raw = NULL;
	const char *b64, *end, *dup;
	char leaf[65], *text = NULL;
	enum item_result rc = ITEM_BAD_REPLY;
	uint64_t local;
	long n;
	int omit_body = 0;

	*line = NULL;
	if (entry_check_fields(entry, &local, err) == -1)
		return ITEM_BAD_REPLY;
	if ((s = layout_find(l, idx)) == NULL) {
		buf_printf(err, "index %llu is past the tip %llu",
		    (unsigned long long)idx, (unsigned long long)l->tip);
		return ITEM_CONTRADICTION;
	}
	if (entry_check_place(l, s, uuid, idx, local, err) == -1)
		return ITEM_CONTRADICTION;

	b64 = cJSON_GetObjectItemCaseSensitive(entry, "body")->valuestring;
	if ((raw = malloc(strlen(b64) / 4 * 3 + 1)) == NULL)
		goto oom;
	if ((n = base64_decode(b64, raw)) == -1) {
		buf_printf(err, "body is not valid base64");
		goto malformed;
	}
	if (leaf_hash_hex(raw, (size_t)n, leaf) == -1)
		goto oom;
	if ((size_t)n > BODY_SIZE_MAX && strcmp(uuid + strlen(uuid) - 64,
	    leaf) == 0) {
		buf_printf(err, "body of %ld bytes is over the limit of %d "
		    "bytes; 'raw' leaves it out", n, BODY_SIZE_MAX);
		omit_body = 1;
		goto malformed;
	}
	raw[n] = '\0';
	if (strcmp(uuid + strlen(uuid) - 64, leaf) != 0) {
		buf_printf(err, "UUID '%s' at index %llu does not end with the "
		    "leaf hash of its body, %s", uuid,
		    (unsigned long long)idx, leaf);
		rc = ITEM_CONTRADICTION;
		goto out;
	}
	if (memchr(raw, '\0', (size_t)n) != NULL) {
		buf_printf(err, "body contains a NUL byte");
		goto malformed;
	}
	if (!utf8_valid(raw, (size_t)n)) {
		buf_printf(err, "body is not valid UTF-8");
		goto malformed;
	}
	if (has_nul_escape((const char *)raw, (size_t)n)) {
		buf_printf(err, "body contains the escape \\u0000");
		goto malformed;
	}
	doc = cJSON_ParseWithLengthOpts((const char *)raw, (size_t)n, &end, 0);
	if (doc != NULL)
		end += strspn(end, " \t\r\n");
	if (doc == NULL || end != (const char *)raw + n || !cJSON_IsObject(doc)) {
		buf_printf(err, "body is not a JSON object");
		goto malformed;
	}
	kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	version = cJSON_GetObjectItemCaseSensitive(doc, "apiVersion");
	if (!cJSON_IsString(kind) || !cJSON_IsString(version)) {
		buf_printf(err, "body has no \"kind\" or \"apiVersion\" string");
		goto malformed;
	}
	if (json_depth(doc) > BODY_DEPTH_MAX) {
		buf_printf(err, "body nests deeper than %d levels",
		    BODY_DEPTH_MAX);
		goto malformed;
	}
	switch (find_dup_key(doc, &dup)) {
	case -1:
		goto oom;
	case 1:
		buf_printf(err, "body has the key '%s' twice in one object",
		    dup);
		goto malformed;
	}
	/* Minify a NUL-terminated copy: the parser stopped at byte n. */
	if ((text = malloc((size_t)n + 1)) == NULL)
		goto oom;
	memcpy(text, raw, (size_t)n);
	text[n] = '\0';
	cJSON_Minify(text);
	if (entry_record(s, server, uuid, entry, idx, doc, text, line) == -1)
		goto oom;
	rc = ITEM_ENTRY;
	goto out;
malformed:
	if (malformed_record(idx, uuid, err->data, item, omit_body,
	    line) == -1)
		goto oom;
	rc = ITEM_MALFORMED;
	goto out;
oom:
	buf_reset(err);
	buf_printf(err, "out of memory");
	rc = ITEM_BAD_REPLY;
out:
	cJSON_Delete(doc);
	free(raw);
	free(text);
	return rc;
}
