/*
 * Delivery engine of the rekor-out-* programs: the reading thread (the
 * caller's) spools alerts and acknowledges marks, the sender thread
 * delivers from the spool.  deliver.h describes the contract.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "deadletter.h"
#include "deliver.h"
#include "exitcodes.h"
#include "log.h"
#include "record.h"
#include "retry.h"
#include "spool.h"
#include "state.h"
#include "util.h"

#define READ_CHUNK	(64 * 1024)
#define POLL_MS		250

struct engine {
	const struct deliver_config *cfg;
	const struct deliver_output *out;
	struct spool	 spool;
	struct deadletter dl;

	pthread_mutex_t	 mu;
	pthread_cond_t	 more;		/* reader to sender: data, eof, stop */
	pthread_cond_t	 space;		/* sender to reader: bytes freed */
	uint64_t	 wseg, woff;	/* writer position, published */
	uint64_t	 pending;	/* spooled bytes not yet delivered */
	int		 eof;
	int		 stop;
	int		 drained;
	int		 sender_done;	/* sender thread has returned */

	/* Outcome; each field is written under mu. */
	int		 io_error;
	int		 data_error;
	int		 gave_up;
	unsigned long	 bad;		/* reported records */

	struct state	 state;		/* last acknowledged mark */
	int		 have_state;
};

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

void
deliver_config_init(struct deliver_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->spool_max = DELIVER_SPOOL_MAX;
	cfg->timeout_ms = DELIVER_TIMEOUT_MS;
}

/* Parses a size in bytes with an optional suffix k, M or G (powers of 2). */
static int
parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
		mult = 1024;
	else if (strcmp(end, "M") == 0)
		mult = 1024 * 1024;
	else if (strcmp(end, "G") == 0)
		mult = 1024 * 1024 * 1024;
	else if (*end != '\0')
		return -1;
	if (v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * Handles one engine option.  Returns 1 when c was an engine option, 0
 * when it is not, -1 when its value is invalid (reported).
 */
int
deliver_config_option(struct deliver_config *cfg, int c, const char *arg)
{
	switch (c) {
	case 'C':
		cfg->ca_file = arg;
		break;
	case 'd':
		cfg->dead_letter_path = arg;
		break;
	case 'k':
		cfg->insecure = 1;
		break;
	case 'M':
		if (parse_size(arg, &cfg->spool_max) == -1) {
			log_error("invalid spool size '%s': expected bytes "
			    "with an optional suffix k, M or G", arg);
			return -1;
		}
		break;
	case 'q':
		cfg->verbosity = -1;
		log_set_level(LOG_ERROR);
		break;
	case 'R':
		if (parse_duration_ms(arg, 0, UINT64_MAX / 2,
		    &cfg->retry_max_time_ms) == -1) {
			log_error("invalid retry time '%s': expected a "
			    "duration such as 90s or 10m (0: no limit)", arg);
			return -1;
		}
		break;
	case 's':
		cfg->state_path = arg;
		break;
	case 'S':
		cfg->spool_dir = arg;
		break;
	case 'T':
		if (parse_duration_ms(arg, 1, 3600 * 1000,
		    &cfg->timeout_ms) == -1) {
			log_error("invalid timeout '%s': expected a duration "
			    "from 1ms to 1h, such as 30s", arg);
			return -1;
		}
		break;
	case 'v':
		if (cfg->verbosity < 2)
			cfg->verbosity = cfg->verbosity < 0 ? 1 :
			    cfg->verbosity + 1;
		log_set_level(cfg->verbosity >= 2 ? LOG_DEBUG : LOG_INFO);
		break;
	default:
		return 0;
	}
	return 1;
}

void
deliver_item_set(struct deliver_item *it, enum deliver_status status,
    long http_status, const char *fmt, ...)
{
	va_list ap;

	it->status = status;
	it->http_status = http_status;
	va_start(ap, fmt);
	vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
	va_end(ap);
}

const char *
deliver_alert_string(const cJSON *alert, const char *key)
{
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(alert, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
set_flag(struct engine *e, int *flag)
{
	pthread_mutex_lock(&e->mu);
	*flag = 1;
	e->stop = 1;
	pthread_cond_broadcast(&e->more);
	pthread_cond_broadcast(&e->space);
	pthread_mutex_unlock(&e->mu);
}

static void
count_bad(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->bad++;
	pthread_mutex_unlock(&e->mu);
}

/* Waits on cond until ms have passed or the engine stops. */
static void
wait_ms(struct engine *e, pthread_cond_t *cond, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, &e->mu, &ts);
}

/* ---- Reading thread ---- */

/*
 * Reads a mark's "log", "server" and "next" into st.  Returns 0 or -1
 * when a field is missing or invalid.
 */
static int
mark_parse(const cJSON *mark, struct state *st)
{
	const cJSON *log, *server, *next;
	double d;

	log = cJSON_GetObjectItemCaseSensitive(mark, "log");
	server = cJSON_GetObjectItemCaseSensitive(mark, "server");
	next = cJSON_GetObjectItemCaseSensitive(mark, "next");
	d = cJSON_IsNumber(next) ? next->valuedouble : -1;
	/* Indexes are exact in a double up to 2^53. */
	if (!cJSON_IsString(log) || *log->valuestring == '\0' ||
	    strlen(log->valuestring) >= sizeof(st->log) || d < 0 ||
	    d > 9007199254740992.0 || d != (double)(uint64_t)d)
		return -1;
	memset(st, 0, sizeof(*st));
	strcpy(st->log, log->valuestring);
	if (cJSON_IsString(server) &&
	    strlen(server->valuestring) < sizeof(st->server))
		strcpy(st->server, server->valuestring);
	st->next = (uint64_t)d;
	return 0;
}

/*
 * Acknowledges a valid mark: records in the state file that every entry
 * before "next" is handled.  Returns 0, or -1 after setting an error flag.
 */
static int
ack_mark(struct engine *e, const cJSON *mark)
{
	struct state st;

	if (e->cfg->state_path == NULL || mark_parse(mark, &st) == -1)
		return 0;
	if (e->have_state && strcmp(e->state.log, st.log) != 0) {
		log_error("mark for log '%s', but state file '%s' belongs to "
		    "log '%s'; give each log its own state file", st.log,
		    e->cfg->state_path, e->state.log);
		set_flag(e, &e->data_error);
		return -1;
	}
	if (state_write(e->cfg->state_path, &st) == -1) {
		set_flag(e, &e->io_error);
		return -1;
	}
	e->state = st;
	e->have_state = 1;
	log_debug("acknowledged mark next=%" PRIu64, st.next);
	return 0;
}

/*
 * Appends a record to the spool, first waiting while the undelivered
 * part is at --spool-max.  Returns 0, or -1 when the engine stops.
 */
static int
spool_record(struct engine *e, const char *line, size_t len)
{
	pthread_mutex_lock(&e->mu);
	while (!e->stop && e->pending > 0 &&
	    e->pending + len + 1 > e->cfg->spool_max) {
		/* Wake up now and then: a signal does not end the wait. */
		wait_ms(e, &e->space, POLL_MS);
		if (got_signal != 0) {
			e->stop = 1;
			pthread_cond_broadcast(&e->more);
		}
	}
	if (e->stop) {
		pthread_mutex_unlock(&e->mu);
		return -1;
	}
	pthread_mutex_unlock(&e->mu);
	if (spool_append(&e->spool, line, len) == -1) {
		set_flag(e, &e->io_error);
		return -1;
	}
	pthread_mutex_lock(&e->mu);
	e->wseg = e->spool.wseg;
	e->woff = e->spool.woff;
	e->pending += len + 1;
	pthread_cond_signal(&e->more);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

static void
report_malformed(struct engine *e, const cJSON *rec, unsigned long lineno)
{
	const char *uuid, *error;
	uint64_t index = 0;
	int has_index;

	has_index = record_get_index(rec, &index) == 0;
	uuid = deliver_alert_string(rec, "uuid");
	error = deliver_alert_string(rec, "error");
	if (has_index)
		log_error("line %lu: the log served entry %" PRIu64
		    " (uuid '%s') undecodable: %s", lineno, index,
		    uuid != NULL ? uuid : "", error != NULL ? error : "");
	else
		log_error("line %lu: the log served an undecodable entry: %s",
		    lineno, error != NULL ? error : "");
	count_bad(e);
}

static void
reject_line(struct engine *e, const char *line, size_t len,
    unsigned long lineno, const char *why)
{
	char reason[256];

	snprintf(reason, sizeof(reason), "line %lu: %s", lineno, why);
	log_error("%s%s", reason, e->dl.path != NULL ?
	    "; kept in the dead-letter file" : "");
	if (deadletter_line(&e->dl, reason, line, len) == -1)
		set_flag(e, &e->io_error);
	count_bad(e);
}

/*
 * Passes a mark to the sender, which flushes its batch there and, with a
 * temporary spool, acknowledges the mark once everything before it is
 * settled.  With a durable spool the mark is acknowledged here, as soon
 * as everything before it is fsynced into the spool.
 */
static int
handle_mark(struct engine *e, const cJSON *rec, const char *line,
    size_t len, unsigned long lineno)
{
	struct state st;

	if (mark_parse(rec, &st) == -1) {
		log_error("line %lu: invalid mark: expected a \"log\" string "
		    "and a \"next\" index; ignoring it", lineno);
		count_bad(e);
		return 0;
	}
	if (!e->spool.temporary) {
		if (spool_sync(&e->spool) == -1) {
			set_flag(e, &e->io_error);
			return -1;
		}
		if (ack_mark(e, rec) == -1)
			return -1;
	}
	return spool_record(e, line, len);
}

/* Classifies one input line.  Returns -1 when the engine stops. */
static int
handle_line(struct engine *e, const char *line, size_t len,
    unsigned long lineno)
{
	const char *ctype, *id;
	cJSON *rec;
	size_t i;
	int rc = 0;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return 0;
	if ((rec = cJSON_ParseWithLength(line, len)) == NULL) {
		reject_line(e, line, len, lineno, "invalid JSON");
		return 0;
	}
	switch (record_type(rec)) {
	case RECORD_ALERT:
		id = deliver_alert_string(rec, "alertID");
		if (id == NULL || strlen(id) != ALERT_ID_LEN)
			reject_line(e, line, len, lineno, "alert without a "
			    "valid \"alertID\"");
		else
			rc = spool_record(e, line, len);
		break;
	case RECORD_CONTROL:
		ctype = record_control_type(rec);
		if (strcmp(ctype, "mark") == 0) {
			rc = handle_mark(e, rec, line, len, lineno);
		} else if (strcmp(ctype, "malformed") == 0) {
			report_malformed(e, rec, lineno);
		} else {
			log_debug("line %lu: ignoring control record '%s'",
			    lineno, ctype);
		}
		break;
	case RECORD_ENTRY:
		reject_line(e, line, len, lineno, "an entry, not an alert "
		    "(rekor-policy turns entries into alerts)");
		break;
	default:
		reject_line(e, line, len, lineno, "not a pipeline record");
		break;
	}
	cJSON_Delete(rec);
	return rc;
}

/*
 * Reads standard input until end of file or stop.  A line longer than
 * DELIVER_LINE_MAX is streamed into the dead-letter file as it arrives,
 * so memory stays bounded.
 */
static void
read_input(struct engine *e)
{
	struct buf line = BUF_INIT;
	char *chunk, *p, *nl;
	struct pollfd pfd;
	unsigned long lineno = 1;
	size_t n, take;
	ssize_t got;
	int overlong = 0, rc;

	if ((chunk = malloc(READ_CHUNK)) == NULL) {
		log_error("out of memory");
		set_flag(e, &e->io_error);
		return;
	}
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	for (;;) {
		if (got_signal != 0) {
			log_info("stopping on signal %d", (int)got_signal);
			set_flag(e, &e->stop);
		}
		pthread_mutex_lock(&e->mu);
		rc = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (rc)
			goto out;
		if (poll(&pfd, 1, POLL_MS) <= 0)
			continue;
		got = read(STDIN_FILENO, chunk, READ_CHUNK);
		if (got == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("cannot read standard input: %s",
			    strerror(errno));
			set_flag(e, &e->io_error);
			goto out;
		}
		if (got == 0)
			break;
		p = chunk;
		n = (size_t)got;
		while (n > 0) {
			nl = memchr(p, '\n', n);
			take = nl != NULL ? (size_t)(nl - p) : n;
			if (!overlong && line.len + take > DELIVER_LINE_MAX) {
				overlong = 1;
				log_error("line %lu: longer than %lu bytes; "
				    "kept in the dead-letter file", lineno,
				    DELIVER_LINE_MAX);
				count_bad(e);
				if (deadletter_long_begin(&e->dl, lineno,
				    line.data, line.len) == -1)
					set_flag(e, &e->io_error);
				buf_free(&line);
			}
			if (overlong) {
				if (deadletter_long_add(&e->dl, p, take) == -1)
					set_flag(e, &e->io_error);
			} else if (buf_append(&line, p, take) == -1) {
				log_error("out of memory");
				set_flag(e, &e->io_error);
				goto out;
			}
			if (nl == NULL)
				break;
			if (overlong) {
				if (deadletter_long_end(&e->dl) == -1)
					set_flag(e, &e->io_error);
				overlong = 0;
			} else if (handle_line(e, line.data, line.len,
			    lineno) == -1) {
				goto out;
			}
			buf_reset(&line);
			lineno++;
			p = nl + 1;
			n -= take + 1;
		}
	}
	/* A last line without a newline still counts. */
	if (overlong)
		deadletter_long_end(&e->dl);
	else if (line.len > 0)
		handle_line(e, line.data, line.len, lineno);
out:
	free(chunk);
	buf_free(&line);
}

/* ---- Sender thread ---- */

struct batch {
	struct deliver_item	*items;
	size_t			 n;
	size_t			 bytes;
	uint64_t		 consumed;	/* spool bytes moved past */
	int			 mark;		/* a mark ends the batch */
	cJSON			*mark_rec;
};

static void
item_free(struct deliver_item *it)
{
	cJSON_Delete((cJSON *)it->alert);
	free((char *)it->line);
	memset(it, 0, sizeof(*it));
}

static void
batch_clear(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		item_free(&b->items[i]);
	cJSON_Delete(b->mark_rec);
	b->mark_rec = NULL;
	b->n = b->bytes = 0;
	b->consumed = 0;
	b->mark = 0;
}

/*
 * Turns one spool line into a batch item or a mark.  Spool lines were
 * checked on the way in; a line that fails now (a spool edited by hand)
 * is dead-lettered.
 */
static void
batch_add(struct engine *e, struct batch *b, struct buf *line)
{
	struct deliver_item *it;
	cJSON *rec;
	const char *ctype;

	rec = cJSON_ParseWithLength(line->data, line->len);
	if (rec != NULL && record_type(rec) == RECORD_CONTROL) {
		ctype = record_control_type(rec);
		if (strcmp(ctype, "mark") == 0) {
			b->mark = 1;
			b->mark_rec = rec;
			return;
		}
		cJSON_Delete(rec);
		return;
	}
	if (rec == NULL || record_type(rec) != RECORD_ALERT ||
	    deliver_alert_string(rec, "alertID") == NULL) {
		log_error("spool '%s' contains a record that is not an alert; "
		    "kept in the dead-letter file", e->spool.dir);
		if (deadletter_line(&e->dl, "spool record is not an alert",
		    line->data, line->len) == -1)
			set_flag(e, &e->io_error);
		count_bad(e);
		cJSON_Delete(rec);
		return;
	}
	it = &b->items[b->n++];
	memset(it, 0, sizeof(*it));
	it->alert = rec;
	it->alert_id = deliver_alert_string(rec, "alertID");
	it->line = line->data;
	it->line_len = line->len;
	b->bytes += line->len;
	/* The item owns the line now. */
	memset(line, 0, sizeof(*line));
}

/*
 * Fills a batch from the spool: waits without limit for the first record,
 * then up to batch_wait_ms for more.  Stops early at a mark.  Returns 0,
 * 1 at the end of input with an empty spool, or -1 when stopping.
 */
static int
batch_fill(struct engine *e, struct batch *b)
{
	const struct deliver_output *out = e->out;
	size_t max = out->batch_max > 1 ? out->batch_max : 1;
	struct buf line = BUF_INIT;
	uint64_t wseg, woff, consumed, deadline = 0;
	int r, rc = 0;

	while (b->n < max && b->bytes < DELIVER_BATCH_BYTES && !b->mark) {
		pthread_mutex_lock(&e->mu);
		wseg = e->wseg;
		woff = e->woff;
		pthread_mutex_unlock(&e->mu);
		r = spool_read_line(&e->spool, wseg, woff, &line, &consumed);
		if (r == -1) {
			set_flag(e, &e->io_error);
			rc = -1;
			break;
		}
		b->consumed += consumed;
		if (r == 0) {
			batch_add(e, b, &line);
			if (b->n == 1 && deadline == 0)
				deadline = now_ms() + out->batch_wait_ms;
			continue;
		}
		/* Nothing to read: wait for the writer. */
		pthread_mutex_lock(&e->mu);
		if (e->stop) {
			pthread_mutex_unlock(&e->mu);
			rc = -1;
			break;
		}
		if (e->wseg != wseg || e->woff != woff) {
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		if (e->eof) {
			pthread_mutex_unlock(&e->mu);
			rc = b->n == 0 && b->consumed == 0 ? 1 : 0;
			break;
		}
		if (b->n > 0 && now_ms() >= deadline) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		if (b->n > 0)
			wait_ms(e, &e->more, deadline - now_ms());
		else
			pthread_cond_wait(&e->more, &e->mu);
		pthread_mutex_unlock(&e->mu);
	}
	buf_free(&line);
	return rc;
}

static void
dead_letter_item(struct engine *e, struct deliver_item *it)
{
	uint64_t index = 0;

	record_get_index(it->alert, &index);
	log_error("alert '%s' (logIndex %" PRIu64 ") failed for good: %s%s",
	    it->alert_id, index, it->reason, e->dl.path != NULL ?
	    "; kept in the dead-letter file" : "");
	if (deadletter_alert(&e->dl, it) == -1)
		set_flag(e, &e->io_error);
	count_bad(e);
}

/* Logs retry number n when n is a power of two, so repeats thin out. */
static void
log_retry(struct deliver_item *it, size_t count, unsigned int attempt,
    uint64_t delay)
{
	enum log_level level = LOG_DEBUG;

	if ((attempt & (attempt - 1)) == 0)
		level = LOG_WARN;
	if (level > log_get_level())
		return;
	(level == LOG_WARN ? log_warn : log_debug)("alert '%s'%s: %s; "
	    "retry %u in %" PRIu64 " ms", it->alert_id, count > 1 ?
	    " and others" : "", it->reason, attempt, delay);
}

/*
 * Delivers a batch: items that succeed or fail for good leave it, the
 * others are sent again after a backoff.  Returns 0 when every item is
 * settled, -1 when the engine stops or --retry-max-time ran out.
 */
static int
batch_deliver(struct engine *e, struct batch *b)
{
	struct retry_policy policy = RETRY_POLICY_DEFAULT;
	struct deliver_item tmp;
	uint64_t start = now_ms(), delay;
	unsigned int attempt = 0;
	size_t i, left = b->n;
	int stop;

	while (left > 0) {
		for (i = 0; i < left; i++) {
			b->items[i].status = DELIVER_PENDING;
			b->items[i].http_status = 0;
			b->items[i].retry_after_ms = 0;
			b->items[i].reason[0] = '\0';
		}
		e->out->send(e->out->ctx, b->items, left);
		delay = 0;
		for (i = 0; i < left; i++) {
			struct deliver_item *it = &b->items[i];

			if (it->status == DELIVER_PENDING) {
				it->status = DELIVER_RETRY;
				snprintf(it->reason, sizeof(it->reason),
				    "not sent");
			}
			if (it->status == DELIVER_FAIL)
				dead_letter_item(e, it);
			if (it->status == DELIVER_RETRY &&
			    it->retry_after_ms > delay)
				delay = it->retry_after_ms;
		}
		/* Move the items to retry to the front, keeping order. */
		for (i = 0, left = 0; i < b->n; i++) {
			if (b->items[i].status != DELIVER_RETRY)
				continue;
			tmp = b->items[left];
			b->items[left] = b->items[i];
			b->items[i] = tmp;
			left++;
		}
		if (left == 0)
			break;
		attempt++;
		if (retry_delay_ms(&policy, attempt) > delay)
			delay = retry_delay_ms(&policy, attempt);
		if (e->cfg->retry_max_time_ms != 0 &&
		    now_ms() - start + delay > e->cfg->retry_max_time_ms) {
			log_error("alert '%s': %s; giving up after %u attempts "
			    "(--retry-max-time); it stays in the spool",
			    b->items[0].alert_id, b->items[0].reason, attempt);
			set_flag(e, &e->gave_up);
			return -1;
		}
		log_retry(&b->items[0], left, attempt, delay);
		pthread_mutex_lock(&e->mu);
		if (!e->stop)
			wait_ms(e, &e->more, delay);
		stop = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			return -1;
	}
	return 0;
}

static void
sender_loop(struct engine *e)
{
	struct batch b;
	size_t max = e->out->batch_max > 1 ? e->out->batch_max : 1;
	uint64_t saved_seg = e->spool.cseg, last_save = now_ms();
	int r;

	memset(&b, 0, sizeof(b));
	if ((b.items = calloc(max, sizeof(*b.items))) == NULL) {
		log_error("out of memory");
		set_flag(e, &e->io_error);
		return;
	}
	for (;;) {
		r = batch_fill(e, &b);
		if (r == 1) {
			pthread_mutex_lock(&e->mu);
			e->drained = 1;
			pthread_mutex_unlock(&e->mu);
			break;
		}
		if (b.n > 0 && batch_deliver(e, &b) == -1)
			break;
		if (b.mark && e->spool.temporary &&
		    ack_mark(e, b.mark_rec) == -1)
			break;
		pthread_mutex_lock(&e->mu);
		e->pending -= b.consumed < e->pending ? b.consumed :
		    e->pending;
		pthread_cond_broadcast(&e->space);
		pthread_mutex_unlock(&e->mu);
		batch_clear(&b);
		spool_commit(&e->spool);
		/*
		 * Save the cursor when a segment is done (so it can go) and
		 * at most once a second otherwise: a stale cursor only
		 * resends alerts after a crash.
		 */
		if (!e->spool.temporary && (e->spool.cseg != saved_seg ||
		    now_ms() - last_save >= 1000)) {
			if (spool_save_cursor(&e->spool) == -1) {
				set_flag(e, &e->io_error);
				break;
			}
			saved_seg = e->spool.cseg;
			last_save = now_ms();
		}
		if (r == -1)
			break;
	}
	batch_clear(&b);
	free(b.items);
}

static void *
sender_main(void *arg)
{
	struct engine *e = arg;

	sender_loop(e);
	pthread_mutex_lock(&e->mu);
	e->sender_done = 1;
	pthread_cond_broadcast(&e->space);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---- Setup ---- */

static int
load_state(struct engine *e)
{
	int r;

	if (e->cfg->state_path == NULL)
		return 0;
	r = state_read(e->cfg->state_path, &e->state);
	if (r == STATE_INVALID)
		return -1;
	e->have_state = r == 0;
	return 0;
}

static int
exit_status(const struct engine *e)
{
	if (e->io_error)
		return RK_EXIT_IO;
	if (e->data_error)
		return RK_EXIT_DATA;
	if (e->gave_up)
		return RK_EXIT_REMOTE;
	if (e->bad > 0)
		return RK_EXIT_PARTIAL;
	return RK_EXIT_OK;
}

/*
 * Runs the engine until standard input ends and the spool is delivered,
 * or until an error or a signal (SIGINT, SIGTERM, SIGHUP) stops it.
 * Returns the exit status.
 */
int
deliver_run(const struct deliver_config *cfg, const struct deliver_output *out)
{
	struct sigaction sa;
	sigset_t block, old;
	pthread_t sender;
	struct engine e;
	int rc, sig;

	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.out = out;
	e.dl.fd = -1;		/* deadletter_close() before open is a no-op */
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.more, NULL);
	pthread_cond_init(&e.space, NULL);
	if (load_state(&e) == -1) {
		rc = RK_EXIT_DATA;
		goto out;
	}
	if (deadletter_open(&e.dl, cfg->dead_letter_path) == -1 ||
	    spool_open(&e.spool, cfg->spool_dir, cfg->spool_max) == -1) {
		rc = RK_EXIT_IO;
		goto out;
	}
	e.wseg = e.spool.wseg;
	e.woff = e.spool.woff;
	e.pending = e.spool.undelivered;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Signals go to the reading thread, which stops the sender. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&sender, NULL, sender_main, &e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("cannot start the sender thread: %s", strerror(rc));
		spool_close(&e.spool, 0);
		rc = RK_EXIT_IO;
		goto out;
	}

	read_input(&e);
	pthread_mutex_lock(&e.mu);
	e.eof = 1;
	pthread_cond_broadcast(&e.more);
	/*
	 * Signals reach only this thread.  After end of input the sender may
	 * still be retrying a down destination, so keep watching for them.
	 */
	while (!e.sender_done) {
		wait_ms(&e, &e.space, POLL_MS);
		if (got_signal != 0 && !e.stop) {
			log_info("stopping on signal %d", (int)got_signal);
			e.stop = 1;
			pthread_cond_broadcast(&e.more);
		}
	}
	pthread_mutex_unlock(&e.mu);
	pthread_join(sender, NULL);

	spool_close(&e.spool, e.drained);
	rc = exit_status(&e);
	if ((sig = got_signal) != 0) {
		deadletter_close(&e.dl);
		signal(sig, SIG_DFL);
		raise(sig);
	}
out:
	deadletter_close(&e.dl);
	pthread_cond_destroy(&e.more);
	pthread_cond_destroy(&e.space);
	pthread_mutex_destroy(&e.mu);
	return rc;
}
