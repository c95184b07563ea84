/*
 * Batches: pending entries are sent to each policy's opa in one Data API
 * request.  When that request fails (a conflict error, or with
 * strict-builtin-errors a failing built-in), it is evaluated again in
 * parts, down to single entries, so that an entry that fails never costs
 * the other entries their result.
 *
 * Every request uses strict-builtin-errors, so that a failing built-in is
 * seen.  A single entry on which a built-in failed is then evaluated
 * without it, which gives the result that opa eval gives by default
 * (the failed call is undefined), unless --strict makes it an error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batch.h"
#include "log.h"
#include "record.h"
#include "util.h"

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return p;
}

/* p is at the opening quote; returns the position after the closing one. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

static const char *
skip_value(const char *p, const char *end)
{
	int depth = 0;

	if (p < end && *p == '"')
		return skip_string(p, end);
	if (p < end && *p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
		    !isspace((unsigned char)*p))
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return end;
}

/*
 * Finds the first member named key in the JSON object text, which cJSON
 * has already accepted, and stores where its value starts and how long
 * it is.  A key written with escapes is not found; the caller then
 * serialises the parsed value instead.  Returns 0, or -1.
 */
static int
find_member(const char *text, size_t len, const char *key, size_t *off,
    size_t *vlen)
{
	const char *p = text, *end = text + len, *k, *kend, *v;
	size_t klen = strlen(key);

	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return -1;
	for (p++;;) {
		p = skip_ws(p, end);
		if (p == end || *p != '"')
			return -1;
		k = p + 1;
		p = skip_string(p, end);
		kend = p - 1;
		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return -1;
		v = skip_ws(p + 1, end);
		p = skip_value(v, end);
		if ((size_t)(kend - k) == klen && memcmp(k, key, klen) == 0) {
			*off = (size_t)(v - text);
			*vlen = (size_t)(p - v);
			return 0;
		}
		p = skip_ws(p, end);
		if (p == end || *p != ',')
			return -1;
		p++;
	}
}

static void
entry_clear(struct batch_entry *e)
{
	free(e->line);
	free(e->log_id);
	if (e->body_owned)
		free(e->body);
	memset(e, 0, sizeof(*e));
}

/*
 * Appends an entry record: line is its text (len bytes, without the
 * newline), rec its parsed form.  Returns 0, 1 when the record lacks a
 * field rekor-policy needs (reported), or -1 when out of memory.
 */
int
batch_add(struct batch *b, const char *line, size_t len, size_t lineno,
    const void *parsed)
{
	const cJSON *rec = parsed, *log_id;
	struct batch_entry *e, *grown;
	size_t off, vlen;
	uint64_t index;

	if (record_get_index(rec, &index) == -1) {
		log_error("line %zu: 'logIndex' is not a whole number from 0 "
		    "to 2^53; skipped", lineno);
		return 1;
	}
	log_id = cJSON_GetObjectItemCaseSensitive(rec, "logID");
	if (!cJSON_IsString(log_id)) {
		log_error("line %zu: entry %llu has no 'logID' string; "
		    "skipped", lineno, (unsigned long long)index);
		return 1;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap != 0 ? b->cap * 2 : 64;

		if ((grown = reallocarray(b->entries, cap,
		    sizeof(*grown))) == NULL)
			return -1;
		b->entries = grown;
		b->cap = cap;
	}
	e = &b->entries[b->n];
	memset(e, 0, sizeof(*e));
	e->lineno = lineno;
	e->index = index;
	e->len = len;
	if ((e->line = malloc(len + 1)) == NULL ||
	    (e->log_id = strdup(log_id->valuestring)) == NULL)
		goto nomem;
	memcpy(e->line, line, len);
	e->line[len] = '\0';
	if (find_member(e->line, len, "body", &off, &vlen) == 0) {
		e->body = e->line + off;
		e->body_len = vlen;
	} else {
		e->body = cJSON_PrintUnformatted(
		    cJSON_GetObjectItemCaseSensitive(rec, "body"));
		if (e->body == NULL)
			goto nomem;
		e->body_owned = 1;
		e->body_len = strlen(e->body);
	}
	if (b->n == 0)
		b->first_ms = now_ms();
	b->n++;
	b->bytes += len;
	return 0;
nomem:
	entry_clear(e);
	return -1;
}

/* Builds {"input":[...]} for entries [lo, hi), bodies or whole records. */
static int
build_request_into(struct buf *dst, const struct batch *b, int records,
    size_t lo, size_t hi)
{
	const struct batch_entry *e;
	size_t i;

	buf_reset(dst);
	if (buf_append_str(dst, "{\"input\":[") == -1)
		return -1;
	for (i = lo; i < hi; i++) {
		e = &b->entries[i];
		if (i > lo && buf_append(dst, ",", 1) == -1)
			return -1;
		if (records ? buf_append(dst, e->line, e->len) :
		    buf_append(dst, e->body, e->body_len))
			return -1;
	}
	return buf_append_str(dst, "]}");
}

static int
build_request(struct batch *b, const struct policy *p, size_t lo,
    size_t hi)
{
	return build_request_into(&b->req, b, p->input_record, lo, hi);
}

/*
 * Reads {"result": [{"value": v} or {}, ...]} into the verdicts of
 * entries [lo, hi).  Returns 0, or -1 when the response does not have
 * that shape.
 */
static int
read_results(struct batch *b, size_t col, size_t lo, size_t hi,
    const char *text)
{
	cJSON *doc, *result, *item, *value;
	size_t i = lo;
	int rc = -1;

	if ((doc = cJSON_Parse(text)) == NULL)
		return -1;
	result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (!cJSON_IsArray(result) ||
	    (size_t)cJSON_GetArraySize(result) != hi - lo)
		goto out;
	cJSON_ArrayForEach(item, result) {
		value = cJSON_GetObjectItemCaseSensitive(item, "value");
		b->verdicts[i * b->npolicies + col] = cJSON_IsTrue(value) ?
		    VERDICT_ALERT : VERDICT_NONE;
		i++;
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

/*
 * Describes opa's error response in msg: the first error's code, location
 * (in the user's file) and message.  Returns the first error's code, or
 * "" when the response has none.
 */
static const char *
describe_error(const struct policy *p, const cJSON *doc, struct buf *msg)
{
	const cJSON *errors, *first, *code, *text, *loc, *file, *row, *col;
	const char *c;

	errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	first = cJSON_GetArrayItem(errors, 0);
	if (first == NULL)
		first = doc;
	code = cJSON_GetObjectItemCaseSensitive(first, "code");
	text = cJSON_GetObjectItemCaseSensitive(first, "message");
	loc = cJSON_GetObjectItemCaseSensitive(first, "location");
	file = cJSON_GetObjectItemCaseSensitive(loc, "file");
	row = cJSON_GetObjectItemCaseSensitive(loc, "row");
	col = cJSON_GetObjectItemCaseSensitive(loc, "col");
	c = cJSON_IsString(code) ? code->valuestring : "";
	buf_reset(msg);
	if (cJSON_IsString(file) && cJSON_IsNumber(row) &&
	    cJSON_IsNumber(col))
		buf_printf(msg, "%s:%d:%d: ",
		    strcmp(file->valuestring, p->copy) == 0 ||
		    strcmp(file->valuestring, "policy.rego") == 0 ? p->file :
		    file->valuestring, row->valueint, col->valueint);
	buf_printf(msg, "%s%s%s", c, *c != '\0' ? ": " : "",
	    cJSON_IsString(text) ? text->valuestring : "unknown error");
	return c;
}

static void
report_builtin_failure(struct policy *p, const struct batch_entry *e,
    const char *msg, int strict)
{
	p->builtin_failures++;
	if (strict) {
		log_error("entry %llu (line %zu): policy '%s': built-in "
		    "failed: %s; no result (--strict)",
		    (unsigned long long)e->index, e->lineno, p->name, msg);
		return;
	}
	if (p->builtin_failures <= POLICY_BUILTIN_SHOWN)
		log_warn("entry %llu (line %zu): policy '%s': built-in "
		    "failed: %s; the call is undefined, as in opa eval%s",
		    (unsigned long long)e->index, e->lineno, p->name, msg,
		    p->builtin_failures == POLICY_BUILTIN_SHOWN ?
		    " (further failures of this policy are counted, and "
		    "shown with -v)" : "");
	else
		log_info("entry %llu (line %zu): policy '%s': built-in "
		    "failed: %s", (unsigned long long)e->index, e->lineno,
		    p->name, msg);
}

/*
 * Evaluates one entry after its strict evaluation failed with the
 * response in b->resp.  Returns 0 or BATCH_OPA_FAILED.
 */
static int
eval_failed_entry(struct batch *b, struct policy *p, size_t col, size_t i)
{
	struct batch_entry *e = &b->entries[i];
	unsigned char *v = &b->verdicts[i * b->npolicies + col];
	struct buf msg = BUF_INIT;
	cJSON *doc;
	const char *code;
	long status;
	int rc = 0;

	doc = cJSON_Parse(b->resp.data != NULL ? b->resp.data : "");
	code = describe_error(p, doc, &msg);
	if (strcmp(code, "eval_builtin_error") == 0) {
		report_builtin_failure(p, e, msg.data, b->strict);
		if (b->strict)
			goto failed;
		if (build_request(b, p, i, i + 1) == -1)
			goto nomem;
		if (server_post(p, b->req.data, b->req.len, 0, &b->resp,
		    &status) == -1) {
			rc = BATCH_OPA_FAILED;
			goto out;
		}
		if (status == 200 && read_results(b, col, i, i + 1,
		    b->resp.data) == 0)
			goto out;
		cJSON_Delete(doc);
		doc = cJSON_Parse(b->resp.data != NULL ? b->resp.data : "");
		describe_error(p, doc, &msg);
	}
	log_error("entry %llu (line %zu): policy '%s': evaluation failed: "
	    "%s", (unsigned long long)e->index, e->lineno, p->name,
	    msg.data != NULL ? msg.data : "no response");
	goto failed;
nomem:
	log_error("entry %llu (line %zu): policy '%s': out of memory",
	    (unsigned long long)e->index, e->lineno, p->name);
failed:
	*v = VERDICT_ERROR;
	p->errors++;
out:
	cJSON_Delete(doc);
	buf_free(&msg);
	return rc;
}

static int	eval_range(struct batch *, struct policy *, size_t, size_t,
		    size_t);

/*
 * Evaluates entries [lo, hi) again after their request failed.  A range
 * from the first requests of a flush is split in chunks of about the
 * square root of its size, and a chunk entry by entry.  Two levels keep
 * the cost near three evaluations per entry even when most entries fail,
 * where halving would cost one per level.  Returns 0 or BATCH_OPA_FAILED.
 */
static int
eval_failed_range(struct batch *b, struct policy *p, size_t col, size_t lo,
    size_t hi, int in_chunks)
{
	size_t i, step = 1;

	if (hi - lo == 1)
		return eval_failed_entry(b, p, col, lo);
	log_debug("policy '%s': %zu entries from line %zu failed together; "
	    "evaluating them in parts", p->name, hi - lo,
	    b->entries[lo].lineno);
	if (in_chunks)
		while (step * step < hi - lo)
			step++;
	if (step >= hi - lo)
		step = 1;
	for (i = lo; i < hi; i += step) {
		if (eval_range(b, p, col, i, i + step < hi ? i + step : hi) ==
		    BATCH_OPA_FAILED)
			return BATCH_OPA_FAILED;
	}
	return 0;
}

/*
 * Evaluates entries [lo, hi) against policy p (column col of the
 * verdicts) in one request, and entry by entry when that fails.  Returns
 * 0 or BATCH_OPA_FAILED.
 */
static int
eval_range(struct batch *b, struct policy *p, size_t col, size_t lo,
    size_t hi)
{
	long status;

	if (build_request(b, p, lo, hi) == -1) {
		log_error("policy '%s': out of memory for %zu entries",
		    p->name, hi - lo);
		if (hi - lo == 1) {
			b->verdicts[lo * b->npolicies + col] = VERDICT_ERROR;
			p->errors++;
			return 0;
		}
		return eval_failed_range(b, p, col, lo, hi, 0);
	}
	if (server_post(p, b->req.data, b->req.len, 1, &b->resp,
	    &status) == -1)
		return BATCH_OPA_FAILED;
	if (status == 200 && read_results(b, col, lo, hi, b->resp.data) == 0)
		return 0;
	if (hi - lo == 1)
		return eval_failed_entry(b, p, col, lo);
	return eval_failed_range(b, p, col, lo, hi, 0);
}

/*
 * Sends the first requests of a flush at once: for each policy, the
 * batch in up to POLICY_CONNECTIONS parts, each on its own connection, so
 * that the opa servers use every core.  Stores the requests in b->reqs
 * and their number in nreqs.  A policy in one_by_one mode gets none.
 * Returns 0, BATCH_OPA_FAILED or BATCH_WRITE_FAILED (out of memory).
 */
static int
send_first_requests(struct batch *b, size_t *nreqs)
{
	struct opa_request *r;
	struct policy *p;
	size_t j, k, parts, lo, hi, n = 0;

	parts = b->n >= 64 ? POLICY_CONNECTIONS : 1;
	for (k = 0; k < parts; k++) {
		lo = b->n * k / parts;
		hi = b->n * (k + 1) / parts;
		if (build_request_into(&b->part_req[0][k], b, 0, lo, hi) ==
		    -1 || build_request_into(&b->part_req[1][k], b, 1, lo,
		    hi) == -1) {
			log_error("out of memory for %zu entries", b->n);
			return BATCH_WRITE_FAILED;
		}
	}
	for (j = 0; j < b->npolicies; j++) {
		p = &b->policies[j];
		if (p->one_by_one)
			continue;
		for (k = 0; k < parts; k++) {
			r = &b->reqs[n++];
			r->policy = p;
			r->curl = p->curl[k];
			r->lo = b->n * k / parts;
			r->hi = b->n * (k + 1) / parts;
			r->body = b->part_req[p->input_record][k].data;
			r->len = b->part_req[p->input_record][k].len;
		}
	}
	*nreqs = n;
	return server_post_many(b->reqs, n) == -1 ? BATCH_OPA_FAILED : 0;
}

/*
 * Evaluates the batch against every policy.  After a batch in which more
 * than one entry in eight failed for a policy, its next batch is
 * evaluated entry by entry from the start.  A policy that fails on most
 * entries, such as one that parses every key as a certificate, would
 * otherwise pay for failed batch and chunk requests every time.
 */
static int
eval_policies(struct batch *b)
{
	struct opa_request *r;
	struct policy *p;
	uint64_t *before, failed;
	size_t i, j, nreqs = 0;
	int rc = 0;

	if ((before = calloc(b->npolicies, sizeof(*before))) == NULL) {
		log_error("out of memory");
		return BATCH_WRITE_FAILED;
	}
	for (j = 0; j < b->npolicies; j++)
		before[j] = b->policies[j].errors +
		    b->policies[j].builtin_failures;
	if ((rc = send_first_requests(b, &nreqs)) != 0)
		goto out;
	for (i = 0; i < nreqs; i++) {
		r = &b->reqs[i];
		j = (size_t)(r->policy - b->policies);
		if (r->status == 200 && read_results(b, j, r->lo, r->hi,
		    r->resp.data) == 0)
			continue;
		/* eval_failed_entry() reads the failure from b->resp. */
		buf_reset(&b->resp);
		if (r->resp.data != NULL && buf_append(&b->resp, r->resp.data,
		    r->resp.len) == -1) {
			rc = BATCH_WRITE_FAILED;
			goto out;
		}
		if ((rc = eval_failed_range(b, r->policy, j, r->lo, r->hi,
		    1)) != 0)
			goto out;
	}
	for (j = 0; j < b->npolicies; j++) {
		p = &b->policies[j];
		for (i = 0; p->one_by_one && i < b->n; i++)
			if ((rc = eval_range(b, p, j, i, i + 1)) != 0)
				goto out;
		failed = p->errors + p->builtin_failures - before[j];
		if (p->one_by_one != (failed * 8 > b->n))
			log_debug("policy '%s': %llu of %zu entries failed; "
			    "evaluating the next batch %s", p->name,
			    (unsigned long long)failed, b->n,
			    failed * 8 > b->n ? "entry by entry" :
			    "in one request");
		p->one_by_one = failed * 8 > b->n;
	}
out:
	free(before);
	return rc;
}

/* Writes the entry plus "policy" and "alertID" for a matching policy. */
static int
write_alert(struct batch *b, const struct batch_entry *e,
    const struct policy *p)
{
	char id[ALERT_ID_LEN + 1];
	size_t end = e->len;

	while (end > 0 && e->line[end - 1] != '}')
		end--;
	if (end == 0 || alert_id(e->log_id, e->index, p->name, id) == -1) {
		log_error("entry %llu (line %zu): cannot build the alert of "
		    "policy '%s'", (unsigned long long)e->index, e->lineno,
		    p->name);
		return 0;
	}
	buf_reset(&b->out);
	if (buf_append(&b->out, e->line, end - 1) == -1 ||
	    buf_append_str(&b->out, p->alert_suffix) == -1 ||
	    buf_append_str(&b->out, id) == -1 ||
	    buf_append_str(&b->out, "\"}") == -1) {
		log_error("out of memory");
		return BATCH_WRITE_FAILED;
	}
	switch (out_write_line(b->out.data, b->out.len)) {
	case 0:
		return 0;
	case -1:
		return BATCH_READER_GONE;
	default:
		return BATCH_WRITE_FAILED;
	}
}

/*
 * Evaluates every pending entry against every policy and writes the
 * alerts in input order, each entry's alerts in policy order.  Returns
 * 0, BATCH_OPA_FAILED, BATCH_READER_GONE or BATCH_WRITE_FAILED; the
 * batch is empty afterwards in every case.
 */
int
batch_flush(struct batch *b)
{
	struct policy *p;
	unsigned char *v;
	size_t i, j;
	int rc = 0;

	if (b->n == 0)
		return 0;
	v = reallocarray(b->verdicts, b->n, b->npolicies);
	if (v == NULL) {
		log_error("out of memory for %zu entries", b->n);
		batch_discard(b);
		return BATCH_WRITE_FAILED;
	}
	b->verdicts = v;
	memset(v, VERDICT_NONE, b->n * b->npolicies);
	if (b->reqs == NULL && (b->reqs = calloc(b->npolicies *
	    POLICY_CONNECTIONS, sizeof(*b->reqs))) == NULL) {
		log_error("out of memory");
		batch_discard(b);
		return BATCH_WRITE_FAILED;
	}
	if ((rc = eval_policies(b)) != 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->npolicies; j++) {
			if (v[i * b->npolicies + j] != VERDICT_ALERT)
				continue;
			p = &b->policies[j];
			p->alerts++;
			if ((rc = write_alert(b, &b->entries[i], p)) != 0)
				goto out;
		}
	}
out:
	batch_discard(b);
	return rc;
}

/* Drops every pending entry. */
void
batch_discard(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		entry_clear(&b->entries[i]);
	b->n = 0;
	b->bytes = 0;
}

void
batch_free(struct batch *b)
{
	size_t i, j;

	batch_discard(b);
	for (i = 0; i < 2; i++)
		for (j = 0; j < POLICY_CONNECTIONS; j++)
			buf_free(&b->part_req[i][j]);
	for (i = 0; b->reqs != NULL && i < b->npolicies * POLICY_CONNECTIONS;
	    i++)
		buf_free(&b->reqs[i].resp);
	free(b->reqs);
	free(b->entries);
	free(b->verdicts);
	buf_free(&b->req);
	buf_free(&b->resp);
	buf_free(&b->out);
	b->entries = NULL;
	b->verdicts = NULL;
	b->reqs = NULL;
	b->cap = 0;
}
