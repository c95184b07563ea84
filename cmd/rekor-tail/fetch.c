/*
 * rekor-tail: the request loop.  Indexes are fetched in batches of at most
 * BATCH_MAX through POST /api/v1/log/entries/retrieve, with several
 * batches in flight on one libcurl multi handle.  Entries are written
 * strictly in index order, so the oldest batch is written up to its first
 * entry not yet served.  The window of batches is bounded, so memory stays
 * flat however long the tail runs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "exitcodes.h"
#include "log.h"
#include "retry.h"
#include "tail.h"
#include "util.h"

#define STATE_EVERY_MS	1000	/* least time between two state writes */
#define POLL_MAX_MS	200	/* longest wait between two checks of stop */

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
	if (idx >= b->start && idx < b->start + b->n &&
	    (idx - b->start < b->written || b->lines[idx - b->start] != NULL)) {
		log_error("the log contradicts itself: entry '%s' came back as "
		    "index %llu, which this run has already received", uuid,
		    (unsigned long long)idx);
		t->rc = RK_EXIT_DATA;
		goto out;
	}
	if (idx < b->start || idx >= b->start + b->n) {
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
	rc = reply_classify(r, cc, what.data, &doc, &why);
	if (rc == -1) {
		t->rc = RK_EXIT_REMOTE;
		goto out;
	}
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
		    (b->req = request_start(t->multi, t->opts->server,
		    "/api/v1/log/entries/retrieve", &post, t->opts->timeout_ms)) == NULL)
			goto oom;
		b->req->batch = b;
		t->in_flight++;
		log_debug("requesting indexes %llu-%llu",
		    (unsigned long long)(b->start + b->written),
		    (unsigned long long)(b->start + b->n - 1));
	}
	return 0;
oom:
	buf_free(&post);
	log_error("cannot schedule a request: out of memory");
	t->rc = RK_EXIT_IO;
	return -1;
}

/*
 * Sets up the run once the first log info has arrived: the start
 * position, the end, and the first mark.  Returns 0 or -1 (t->rc set).
 */
static int
tail_start(struct tail *t, const struct layout *l)
{
	const struct tail_opts *o = t->opts;
	uint64_t start;
	int rc;

	if ((rc = start_position(o, l, &t->state)) != 0) {
		t->rc = rc;
		return -1;
	}
	start = t->state.next;
	t->state_next = start;
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
	return write_mark(t);
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
	rc = reply_classify(r, cc, what.data, &doc, &why);
	if (rc == -1) {
		t->rc = RK_EXIT_REMOTE;
		goto out;
	}
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
	} else if (layout_check_growth(&t->layout, &l, &err) == -1) {
		log_error("the log contradicts itself: %s", err.data);
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
	/* A batch waiting for a free request slot waits on the network. */
	for (b = t->head; b != NULL && t->in_flight < t->opts->parallel;
	    b = b->next)
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
		request_finish(t->multi, r);
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
	    (t->log_req = request_start(t->multi,
	    t->opts->server, "/api/v1/log", NULL, t->opts->timeout_ms)) == NULL) {
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
			request_finish(t->multi, b->req);
		batch_free(b);
	}
	if (t->log_req != NULL)
		request_finish(t->multi, t->log_req);
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
