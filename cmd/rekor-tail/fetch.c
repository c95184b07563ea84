/*
 * rekor-tail: the request loop.  Indexes are fetched in batches of at most
 * BATCH_MAX through POST /api/v1/log/entries/retrieve, several batches in
 * flight on one libcurl multi handle, and written strictly in index order:
 * a batch is written once every batch before it has been written.  The
 * window of batches is bounded, so memory stays flat however long the
 * tail runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "exitcodes.h"
#include "log.h"
#include "retry.h"
#include "state.h"
#include "tail.h"
#include "util.h"

#define REPLY_MAX	(256UL * 1024 * 1024)	/* larger replies fail */
#define STATE_EVERY_MS	1000	/* least time between two state writes */
#define POLL_MAX_MS	200	/* longest wait between two checks of stop */

struct batch;

/* One HTTP request in flight: log info when batch is NULL. */
struct request {
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 reply;
	struct buf		 post;
	struct batch		*batch;
	int			 have_retry_after;
	uint64_t		 retry_after_ms;
	char			 error[CURL_ERROR_SIZE];
};

/* Consecutive global indexes [start, start + n). */
struct batch {
	uint64_t	 start;
	unsigned int	 n;
	unsigned int	 filled;	/* lines served */
	unsigned int	 written;	/* lines written, from the start */
	char		*lines[BATCH_MAX];	/* NULL: not served or written */
	unsigned int	 failures;	/* attempts in a row without progress */
	uint64_t	 not_before;	/* monotonic ms */
	struct request	*req;
	struct batch	*next;
};

struct tail {
	const struct tail_opts	*opts;
	CURLM			*multi;
	struct retry_policy	 retry;
	struct layout		 layout;	/* n == 0 until the first reply */
	struct state		 state;		/* log identity, next to write */
	struct batch		*head, *last;
	unsigned int		 batches, in_flight;
	uint64_t		 next_sched;	/* first index in no batch */
	uint64_t		 end;		/* stop before; UINT64_MAX: follow */
	struct request		*log_req;
	unsigned int		 log_failures;
	uint64_t		 log_not_before;
	uint64_t		 last_mark_ms;
	uint64_t		 mark_next;	/* "next" of the last mark */
	uint64_t		 state_ms;
	uint64_t		 state_next;	/* "next" in the state file */
	int			 out_closed;	/* the reader has gone */
	int			 malformed;
	int			 rc;		/* -1 while running */
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct request *r = arg;

	if (r->reply.len + size * n > REPLY_MAX ||
	    buf_append(&r->reply, data, size * n) == -1)
		return 0;
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct request *r = arg;
	size_t len = size * n;
	char value[128];

	/* Headers of an earlier response (a 100 Continue) are replaced. */
	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0 &&
	    len - 12 < sizeof(value)) {
		memcpy(value, data + 12, len - 12);
		value[len - 12] = '\0';
		r->have_retry_after = retry_after_parse(value,
		    &r->retry_after_ms) == 0;
	}
	return len;
}

static void
request_free(struct request *r)
{
	if (r == NULL)
		return;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_free(&r->reply);
	buf_free(&r->post);
	free(r);
}

/* Starts a GET of path, or a POST of post when it is not NULL. */
static struct request *
request_start(struct tail *t, const char *path, struct buf *post)
{
	struct request *r;
	struct buf url = BUF_INIT;
	CURL *e;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (post != NULL) {
		r->post = *post;
		memset(post, 0, sizeof(*post));
	}
	if ((r->easy = e = curl_easy_init()) == NULL ||
	    buf_printf(&url, "%s%s", t->opts->server, path) == -1 ||
	    (r->headers = curl_slist_append(NULL, "Accept: application/json"))
	    == NULL ||
	    (post != NULL && (r->headers = curl_slist_append(r->headers,
	    "Content-Type: application/json")) == NULL))
		goto fail;
	curl_easy_setopt(e, CURLOPT_URL, url.data);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rekor-tail/" RK_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->opts->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	if (post != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post.data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->post.len);
	}
	if (curl_multi_add_handle(t->multi, e) != CURLM_OK)
		goto fail;
	buf_free(&url);
	return r;
fail:
	log_error("cannot start a request to '%s': out of memory",
	    t->opts->server);
	buf_free(&url);
	request_free(r);
	return NULL;
}

static void
request_finish(struct tail *t, struct request *r)
{
	curl_multi_remove_handle(t->multi, r->easy);
	request_free(r);
}

/*
 * Decides when a failed request goes again.  Returns 0 with the time in
 * *when, or -1 when the retries are used up (reported, t->rc set).
 */
static int
schedule_retry(struct tail *t, unsigned int *failures, struct request *r,
    const char *what, const char *why, uint64_t *when)
{
	uint64_t delay;

	if (++*failures > t->opts->retries) {
		log_error("%s: %s; giving up after %u attempts; check the "
		    "server or raise --retries", what, why, *failures);
		t->rc = RK_EXIT_REMOTE;
		return -1;
	}
	delay = retry_delay_ms(&t->retry, *failures);
	if (r != NULL && r->have_retry_after && r->retry_after_ms > delay)
		delay = r->retry_after_ms;
	log_warn("%s: %s; retrying in %llu ms (attempt %u of %u)", what, why,
	    (unsigned long long)delay, *failures + 1, t->opts->retries + 1);
	*when = now_ms() + delay;
	return 0;
}

/*
 * Classifies a finished request.  Returns 0 for a 200 reply that parses
 * as JSON (in *doc), 1 for a failure worth a retry (reason in why), or -1
 * for a failure that no retry fixes (reported, t->rc set).
 */
static int
reply_classify(struct tail *t, struct request *r, CURLcode cc,
    const char *what, cJSON **doc, struct buf *why)
{
	long status = 0;
	const cJSON *msg;

	*doc = NULL;
	if (cc != CURLE_OK) {
		buf_printf(why, "%s", r->error[0] != '\0' ? r->error :
		    curl_easy_strerror(cc));
		return cc == CURLE_UNSUPPORTED_PROTOCOL ||
		    cc == CURLE_URL_MALFORMAT ? -1 : 1;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		buf_printf(why, "HTTP status %ld", status);
		if (retry_status_transient(status))
			return 1;
		*doc = cJSON_ParseWithLength(r->reply.data, r->reply.len);
		msg = cJSON_GetObjectItemCaseSensitive(*doc, "message");
		log_error("%s: %s%s%.200s%s", what, why->data,
		    cJSON_IsString(msg) ? " ('" : "",
		    cJSON_IsString(msg) ? msg->valuestring : "",
		    cJSON_IsString(msg) ? "')" : "");
		cJSON_Delete(*doc);
		*doc = NULL;
		t->rc = RK_EXIT_REMOTE;
		return -1;
	}
	if (r->reply.len == 0 || (*doc = cJSON_ParseWithLength(r->reply.data,
	    r->reply.len)) == NULL) {
		buf_printf(why, "the reply is not JSON");
		return 1;
	}
	return 0;
}

/*
 * Prints the mark record: every index below t->state.next is written.
 * Returns 0, or -1 when standard output is gone (t->rc set).
 */
static int
write_mark(struct tail *t)
{
	cJSON *rec;
	char *text = NULL, num[32];
	int rc;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)t->state.next);
	if ((rec = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(rec, "control", "mark") == NULL ||
	    cJSON_AddStringToObject(rec, "log", t->state.log) == NULL ||
	    cJSON_AddStringToObject(rec, "server", t->opts->server) == NULL ||
	    cJSON_AddRawToObject(rec, "next", num) == NULL ||
	    (text = cJSON_PrintUnformatted(rec)) == NULL) {
		log_error("cannot build a mark record: out of memory");
		cJSON_Delete(rec);
		t->rc = RK_EXIT_IO;
		return -1;
	}
	cJSON_Delete(rec);
	rc = out_write_line(text, strlen(text));
	cJSON_free(text);
	if (rc == 0) {
		t->mark_next = t->state.next;
		t->last_mark_ms = now_ms();
		return 0;
	}
	t->out_closed = 1;
	t->rc = rc == -1 ? RK_EXIT_OK : RK_EXIT_IO;
	return -1;
}

/* Writes --state when it moved and the last write is old enough. */
static int
save_state(struct tail *t, int force)
{
	if (t->opts->state_path == NULL || t->state_next == t->state.next)
		return 0;
	if (!force && now_ms() - t->state_ms < STATE_EVERY_MS)
		return 0;
	if (state_write(t->opts->state_path, &t->state) == -1) {
		t->rc = RK_EXIT_IO;
		return -1;
	}
	t->state_next = t->state.next;
	t->state_ms = now_ms();
	return 0;
}

static void
batch_free(struct batch *b)
{
	unsigned int i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		cJSON_free(b->lines[i]);
	free(b);
}

/*
 * Writes the head of the window up to the first index not yet served,
 * then a mark.  Stops after the current line on SIGINT or SIGTERM.
 */
static int
write_ready(struct tail *t)
{
	struct batch *b;
	int rc, wrote = 0;

	while ((b = t->head) != NULL) {
		while (b->written < b->n && b->lines[b->written] != NULL &&
		    !stop_signal) {
			rc = out_write_line(b->lines[b->written],
			    strlen(b->lines[b->written]));
			if (rc != 0) {
				t->out_closed = 1;
				t->rc = rc == -1 ? RK_EXIT_OK : RK_EXIT_IO;
				return -1;
			}
			cJSON_free(b->lines[b->written]);
			b->lines[b->written] = NULL;
			b->written++;
			t->state.next = b->start + b->written;
			wrote = 1;
		}
		if (b->written < b->n)
			break;
		t->head = b->next;
		if (t->head == NULL)
			t->last = NULL;
		t->batches--;
		batch_free(b);
	}
	if (wrote && write_mark(t) == -1)
		return -1;
	return save_state(t, 0);
}

/* Places one item of a reply into its batch.  Returns 0 or -1 (t->rc). */
static int
place_item(struct tail *t, struct batch *b, const cJSON *item,
    int *progress)
{
	struct buf err = BUF_INIT;
	const cJSON *entry;
	const char *uuid;
	enum item_result res;
	uint64_t idx;
	char *line;
	int rc = -1;

	if (item_split(item, &uuid, &entry, &idx, &err) == -1) {
		rc = 1;
		goto out;
	}
	if (idx < b->start || idx >= b->start + b->n ||
	    idx - b->start < b->written || b->lines[idx - b->start] != NULL) {
		log_error("the log contradicts itself: entry '%s' came back as "
		    "index %llu in a reply for indexes %llu-%llu that did not "
		    "ask for it", uuid, (unsigned long long)idx,
		    (unsigned long long)b->start,
		    (unsigned long long)(b->start + b->n - 1));
		t->rc = RK_EXIT_DATA;
		goto out;
	}
	res = item_record(&t->layout, t->opts->server, item, uuid, entry,
	    idx, &line, &err);
	switch (res) {
	case ITEM_ENTRY:
		break;
	case ITEM_MALFORMED:
		log_error("entry %llu '%s': %s; written as a malformed record",
		    (unsigned long long)idx, uuid, err.data);
		t->malformed = 1;
		break;
	case ITEM_BAD_REPLY:
		rc = 1;
		goto out;
	case ITEM_CONTRADICTION:
		log_error("the log contradicts itself at index %llu: %s",
		    (unsigned long long)idx, err.data);
		t->rc = RK_EXIT_DATA;
		goto out;
	}
	b->lines[idx - b->start] = line;
	b->filled++;
	*progress = 1;
	rc = 0;
out:
	if (rc == 1)
		log_warn("invalid item in the reply for indexes %llu-%llu: %s",
		    (unsigned long long)b->start,
		    (unsigned long long)(b->start + b->n - 1), err.data);
	buf_free(&err);
	return rc;
}

static void
batch_done(struct tail *t, struct batch *b, struct request *r, CURLcode cc)
{
	struct buf why = BUF_INIT, what = BUF_INIT;
	const cJSON *item;
	cJSON *doc = NULL;
	int rc, progress = 0, bad = 0;
	unsigned int i;

	b->req = NULL;
	t->in_flight--;
	buf_printf(&what, "retrieving indexes %llu-%llu from '%s'",
	    (unsigned long long)b->start,
	    (unsigned long long)(b->start + b->n - 1), t->opts->server);
	rc = reply_classify(t, r, cc, what.data, &doc, &why);
	if (rc == -1)
		goto out;
	if (rc == 0 && !cJSON_IsArray(doc)) {
		buf_printf(&why, "the reply is not a JSON list");
		rc = 1;
	}
	if (rc == 0) {
		cJSON_ArrayForEach(item, doc) {
			rc = place_item(t, b, item, &progress);
			if (rc == -1)
				goto out;
			bad |= rc == 1;
		}
		rc = 0;
		if (bad)
			buf_printf(&why, "the reply has invalid items");
		else if (b->filled < b->n) {
			for (i = b->written; b->lines[i] != NULL; i++)
				;
			buf_printf(&why, "the reply lacks index %llu",
			    (unsigned long long)(b->start + i));
		}
	}
	if (progress && !bad)
		b->failures = 0;
	if (b->filled < b->n)
		schedule_retry(t, &b->failures, r, what.data, why.data,
		    &b->not_before);
out:
	cJSON_Delete(doc);
	buf_free(&why);
	buf_free(&what);
}

/* Builds {"logIndexes":[...]} for the indexes of b not yet served. */
static int
batch_post(const struct batch *b, struct buf *post)
{
	unsigned int i;
	int first = 1;

	if (buf_append_str(post, "{\"logIndexes\":[") == -1)
		return -1;
	for (i = b->written; i < b->n; i++) {
		if (b->lines[i] != NULL)
			continue;
		if (buf_printf(post, "%s%llu", first ? "" : ",",
		    (unsigned long long)(b->start + i)) == -1)
			return -1;
		first = 0;
	}
	return buf_append_str(post, "]}");
}

/* Adds batches up to the window size and starts the ones that are due. */
static int
schedule(struct tail *t)
{
	uint64_t limit, now = now_ms();
	struct buf post = BUF_INIT;
	struct batch *b;

	limit = t->layout.tip < t->end ? t->layout.tip : t->end;
	while (t->batches < 2 * t->opts->parallel && t->next_sched < limit) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			goto oom;
		b->start = t->next_sched;
		b->n = limit - b->start < BATCH_MAX ?
		    (unsigned int)(limit - b->start) : BATCH_MAX;
		t->next_sched += b->n;
		if (t->last != NULL)
			t->last->next = b;
		else
			t->head = b;
		t->last = b;
		t->batches++;
	}
	for (b = t->head; b != NULL && t->in_flight < t->opts->parallel;
	    b = b->next) {
		if (b->req != NULL || b->filled == b->n || b->not_before > now)
			continue;
		if (batch_post(b, &post) == -1 ||
		    (b->req = request_start(t, "/api/v1/log/entries/retrieve",
		    &post)) == NULL)
			goto oom;
		b->req->batch = b;
		t->in_flight++;
	}
	return 0;
oom:
	buf_free(&post);
	log_error("cannot schedule a request: out of memory");
	t->rc = RK_EXIT_IO;
	return -1;
}

/*
 * Reads one state file for the start position.  Returns 0 with the
 * position in *next, 1 when the file does not exist, or -1 (reported)
 * when it is invalid or belongs to another log.
 */
static int
start_read_state(struct tail *t, const char *path, uint64_t *next)
{
	struct state st;
	int rc;

	rc = state_read(path, &st);
	if (rc == STATE_MISSING)
		return 1;
	if (rc != 0)
		return -1;
	if (strcmp(st.log, t->state.log) != 0) {
		log_error("state file '%s' belongs to log '%s', but '%s' "
		    "serves log '%s'; use a state file of this log or remove "
		    "it", path, st.log, t->opts->server, t->state.log);
		return -1;
	}
	*next = st.next;
	return 0;
}

/*
 * Decides the start position once the first log info has arrived: the
 * lowest "next" among the state files that exist, else --from, else the
 * tip.  Creates the --ack-state files that do not exist yet, and the
 * --state file, with that position before any record is written.
 * Returns 0, or -1 (reported, t->rc set).
 */
static int
tail_start(struct tail *t, const struct layout *l)
{
	const struct tail_opts *o = t->opts;
	unsigned char *missing;
	uint64_t start = UINT64_MAX, next;
	const char *path, *from_file = NULL;
	size_t i, n = o->n_ack + 1;
	int rc = -1, r;

	snprintf(t->state.log, sizeof(t->state.log), "%s", l->shards[0].tree_id);
	snprintf(t->state.server, sizeof(t->state.server), "%s", o->server);
	if ((missing = calloc(n, 1)) == NULL) {
		log_error("out of memory");
		t->rc = RK_EXIT_IO;
		return -1;
	}
	for (i = 0; i < n; i++) {
		path = i < o->n_ack ? o->ack_paths[i] : o->state_path;
		if (path == NULL)
			continue;
		if ((r = start_read_state(t, path, &next)) == -1) {
			t->rc = RK_EXIT_DATA;
			goto out;
		}
		missing[i] = r == 1;
		if (r == 0 && next < start) {
			start = next;
			from_file = path;
		}
	}
	if (from_file != NULL) {
		if (start > l->tip) {
			log_error("state file '%s' is ahead of the log: it "
			    "resumes at %llu, but the log has %llu entries",
			    from_file, (unsigned long long)start,
			    (unsigned long long)l->tip);
			t->rc = RK_EXIT_DATA;
			goto out;
		}
		if (o->from_given)
			log_warn("resuming at %llu from state file '%s'; "
			    "--from applies only when no state file exists",
			    (unsigned long long)start, from_file);
	} else
		start = o->from_tip ? l->tip : o->from;
	t->state.next = start;
	t->state_next = start;
	for (i = 0; i < n; i++) {
		path = i < o->n_ack ? o->ack_paths[i] : o->state_path;
		if (path != NULL && missing[i] &&
		    state_write(path, &t->state) == -1) {
			t->rc = RK_EXIT_IO;
			goto out;
		}
	}
	t->next_sched = start;
	if (o->have_to)
		t->end = o->to_tip ? l->tip : o->to;
	if (t->end < start)
		t->end = start;
	if (start > l->tip || (t->end != UINT64_MAX && t->end > l->tip))
		log_warn("waiting for the log to reach index %llu; it has %llu "
		    "entries", (unsigned long long)(start > l->tip ? start :
		    t->end - 1), (unsigned long long)l->tip);
	log_info("log '%s' at '%s': %zu shards, %llu entries; starting at "
	    "%llu", t->state.log, o->server, l->n,
	    (unsigned long long)l->tip, (unsigned long long)start);
	rc = write_mark(t);
out:
	free(missing);
	return rc;
}

static void
log_done(struct tail *t, struct request *r, CURLcode cc)
{
	struct buf why = BUF_INIT, what = BUF_INIT, err = BUF_INIT;
	struct layout l = { NULL, 0, 0 };
	cJSON *doc = NULL;
	int rc;

	t->log_req = NULL;
	buf_printf(&what, "reading the log info from '%s'", t->opts->server);
	rc = reply_classify(t, r, cc, what.data, &doc, &why);
	if (rc == -1)
		goto out;
	if (rc == 0 && layout_parse(doc, &l, &err) == -1) {
		buf_printf(&why, "%s", err.data);
		rc = 1;
	}
	if (rc == 1) {
		schedule_retry(t, &t->log_failures, r, what.data, why.data,
		    &t->log_not_before);
		goto out;
	}
	t->log_failures = 0;
	t->log_not_before = now_ms() + t->opts->interval_ms;
	if (t->layout.n == 0) {
		if (tail_start(t, &l) == -1)
			goto out;
		t->layout = l;
		l.shards = NULL;
	} else if (strcmp(l.shards[0].tree_id, t->state.log) != 0 ||
	    layout_check_growth(&t->layout, &l, &err) == -1) {
		log_error("the log contradicts itself: %s", err.len > 0 ?
		    err.data : "its oldest shard changed");
		t->rc = RK_EXIT_DATA;
	} else {
		layout_free(&t->layout);
		t->layout = l;
		l.shards = NULL;
	}
out:
	layout_free(&l);
	cJSON_Delete(doc);
	buf_free(&why);
	buf_free(&what);
	buf_free(&err);
}

/* Returns 1 when the loop needs fresh log info: at start, or caught up. */
static int
need_log_info(const struct tail *t)
{
	if (t->layout.n == 0)
		return 1;
	return t->next_sched >= t->layout.tip && t->end > t->layout.tip;
}

/* Returns how long the loop may wait for network activity, in ms. */
static long
poll_timeout(const struct tail *t)
{
	uint64_t now = now_ms(), until = now + POLL_MAX_MS;
	const struct batch *b;

	if (t->log_req == NULL && need_log_info(t) &&
	    t->log_not_before < until)
		until = t->log_not_before;
	for (b = t->head; b != NULL; b = b->next)
		if (b->req == NULL && b->filled < b->n && b->not_before < until)
			until = b->not_before;
	if (t->layout.n > 0 && t->last_mark_ms + t->opts->interval_ms < until)
		until = t->last_mark_ms + t->opts->interval_ms;
	return until > now ? (long)(until - now) : 0;
}

/* Handles every finished transfer.  Returns 0 or -1 (t->rc set). */
static int
collect(struct tail *t)
{
	struct request *r;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r->batch != NULL)
			batch_done(t, r->batch, r, m->data.result);
		else
			log_done(t, r, m->data.result);
		request_finish(t, r);
		if (t->rc != -1)
			return -1;
	}
	return 0;
}

/* One turn of the loop: requests out, wait, replies in, records out. */
static int
step(struct tail *t)
{
	int running;

	if (t->log_req == NULL && need_log_info(t) &&
	    now_ms() >= t->log_not_before &&
	    (t->log_req = request_start(t, "/api/v1/log", NULL)) == NULL) {
		t->rc = RK_EXIT_IO;
		return -1;
	}
	if (t->layout.n > 0 && schedule(t) == -1)
		return -1;
	if (t->layout.n > 0 &&
	    now_ms() >= t->last_mark_ms + t->opts->interval_ms &&
	    (write_mark(t) == -1 || save_state(t, 0) == -1))
		return -1;
	curl_multi_poll(t->multi, NULL, 0, (int)poll_timeout(t), NULL);
	curl_multi_perform(t->multi, &running);
	if (collect(t) == -1)
		return -1;
	if (t->layout.n > 0)
		return write_ready(t);
	return 0;
}

static void
tail_free(struct tail *t)
{
	struct batch *b, *next;

	for (b = t->head; b != NULL; b = next) {
		next = b->next;
		if (b->req != NULL)
			request_finish(t, b->req);
		batch_free(b);
	}
	if (t->log_req != NULL)
		request_finish(t, t->log_req);
	curl_multi_cleanup(t->multi);
	layout_free(&t->layout);
}

/*
 * Runs the tail until --to is reached, a signal arrives, the reader goes
 * away or an error stops it.  Returns the exit status.
 */
int
tail_run(const struct tail_opts *o)
{
	struct sigaction sa;
	struct tail t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.opts = o;
	t.retry = (struct retry_policy)RETRY_POLICY_DEFAULT;
	t.end = UINT64_MAX;
	t.rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((t.multi = curl_multi_init()) == NULL) {
		log_error("cannot start libcurl: out of memory");
		return RK_EXIT_IO;
	}
	curl_multi_setopt(t.multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)o->parallel + 1);
	while (t.rc == -1 && !stop_signal) {
		if (t.layout.n > 0 && t.state.next >= t.end) {
			t.rc = RK_EXIT_OK;
			break;
		}
		step(&t);
	}
	if (stop_signal)
		log_info("stopping at index %llu on signal %d",
		    (unsigned long long)t.state.next, (int)stop_signal);
	if (t.rc == -1)
		t.rc = RK_EXIT_OK;
	rc = t.rc;
	/* Everything below state.next was written, whatever stopped us. */
	if (t.layout.n > 0 && !t.out_closed && t.mark_next != t.state.next &&
	    write_mark(&t) == -1 && t.rc == RK_EXIT_IO && rc == RK_EXIT_OK)
		rc = RK_EXIT_IO;
	if (t.layout.n > 0 && save_state(&t, 1) == -1 && rc == RK_EXIT_OK)
		rc = RK_EXIT_IO;
	tail_free(&t);
	if (rc == RK_EXIT_OK && t.malformed)
		return RK_EXIT_PARTIAL;
	return rc;
}
