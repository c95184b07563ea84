/*
 * rekor-out-loki: pushes alerts to Grafana Loki (or any receiver of
 * Loki's push API) as log lines.  Each line is the alert record.  The
 * stream labels are job, policy and kind plus the static --labels, which
 * all take few values; the UUID and the index stay in the line.
 *
 * The entry timestamp is the delivery time, not the entry's integrated
 * time.  Loki rejects, with 400, entries older than
 * reject_old_samples_max_age (default one week) and entries more than an
 * hour behind the newest entry of their stream; a catch-up from an old
 * index, or a replay after an outage, would lose its alerts to those
 * checks.  The integrated time stays in the line ("integratedTime",
 * "time").  Timestamps increase strictly within one process, so that
 * entries never arrive out of order.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "httpout.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define ENV_PASSWORD	"REKOR_SIDEKICK_OUTPUTS_LOKI_PASSWORD"
#define PUSH_PATH	"/loki/api/v1/push"

/*
 * Loki's default limits (limits_config, as its ingestion troubleshooting
 * guide lists them): at most 15 labels per stream, label names up to
 * 1024 bytes and values up to 2048.  The Helm chart's gateway caps a
 * request body at 4 MB, so requests stay under 1 MiB, the default batch
 * size of Grafana Alloy.
 */
#define LABELS_MAX		15
#define LABEL_NAME_MAX		1024
#define LABEL_VALUE_MAX		2048
#define REQUEST_BYTES_MAX	(1024 * 1024)
#define BATCH_MAX		500
#define BATCH_WAIT_MS		200
/* Loki tenant IDs: at most 150 bytes of these characters. */
#define TENANT_MAX		150
#define TENANT_CHARS \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" \
	"!-_.*'()"

struct label {
	char	*name;
	char	*value;
};

struct label_ref {
	const char	*name;
	const char	*value;
};

struct loki_ctx {
	struct httpout	 http;
	char		*push_url;
	const char	*username;
	struct buf	 password;	/* secret */
	char		 tenant_header[TENANT_MAX + 32];
	const char	*headers[2];
	struct label	 labels[LABELS_MAX];	/* static labels, job first */
	size_t		 nlabels;
	uint64_t	 last_ns;	/* timestamp of the last entry sent */
	struct buf	 body;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-kqv] -u url [-l labels] [-p file] "
	    "[-t tenant] [-U user]\n"
	    "       [-C file] [-d file] [-M bytes] [-R duration] [-s file] "
	    "[-S dir]\n"
	    "       [-T duration]\n", log_progname());
	if (fp != stdout)
		return;
	fputs("Push every alert read on standard input to Loki.\n\n"
	    "  -l, --labels K=V,...       extra static stream labels\n"
	    "  -p, --password-file FILE   basic auth password (secret; "
	    "default:\n"
	    "                             $" ENV_PASSWORD ")\n"
	    "  -t, --tenant ID            X-Scope-OrgID header\n"
	    "  -u, --url URL              Loki base URL (the push path "
	    PUSH_PATH " is added)\n"
	    "  -U, --username USER        basic auth user\n", fp);
	fputs(DELIVER_USAGE_OPTIONS, fp);
	fputs("  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n", fp);
}

/* Prometheus label name syntax; names starting "__" are reserved. */
static int
label_name_valid(const char *s)
{
	const char *p;

	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	if (s[0] == '_' && s[1] == '_')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return p - s <= LABEL_NAME_MAX;
}

/* Returns the index of label `name`, or -1. */
static int
label_find(const struct loki_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < ctx->nlabels; i++)
		if (strcmp(ctx->labels[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
label_add(struct loki_ctx *ctx, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	struct label *l = &ctx->labels[ctx->nlabels];

	if ((l->name = strndup(name, nlen)) == NULL ||
	    (l->value = strndup(value, vlen)) == NULL) {
		free(l->name);
		return -1;
	}
	ctx->nlabels++;
	return 0;
}

/*
 * Parses --labels "k=v,k2=v2" into static labels.  Names follow the
 * Prometheus syntax; values are non-empty, at most LABEL_VALUE_MAX bytes
 * and free of control characters (a comma cannot be written, it
 * separates pairs).  "job" replaces the default job label; "policy" and
 * "kind" are set per alert and cannot be given.  Returns 0 or -1.
 */
static int
labels_parse(struct loki_ctx *ctx, const char *spec)
{
	const char *p = spec, *end, *eq, *c;
	char name[LABEL_NAME_MAX + 2];
	int i, job_given = 0;

	while (*p != '\0') {
		end = p + strcspn(p, ",");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || eq == p || eq + 1 == end) {
			log_error("invalid label '%.*s' in --labels: expected "
			    "name=value", (int)(end - p), p);
			return -1;
		}
		if ((size_t)(eq - p) > LABEL_NAME_MAX) {
			log_error("label name in --labels longer than %d "
			    "bytes", LABEL_NAME_MAX);
			return -1;
		}
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		if (!label_name_valid(name)) {
			log_error("invalid label name '%s' in --labels: "
			    "expected letters, digits and '_', not starting "
			    "with a digit or '__'", name);
			return -1;
		}
		if (strcmp(name, "policy") == 0 || strcmp(name, "kind") == 0) {
			log_error("label '%s' in --labels is set from each "
			    "alert: choose another name", name);
			return -1;
		}
		if ((size_t)(end - eq - 1) > LABEL_VALUE_MAX) {
			log_error("value of label '%s' in --labels is longer "
			    "than %d bytes", name, LABEL_VALUE_MAX);
			return -1;
		}
		for (c = eq + 1; c < end; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				log_error("control character in the value of "
				    "label '%s' in --labels", name);
				return -1;
			}
		i = label_find(ctx, name);
		if (i > 0 || (i == 0 && job_given)) {
			log_error("label '%s' appears twice in --labels",
			    name);
			return -1;
		}
		if (i == 0) {		/* job: replace the default */
			job_given = 1;
			free(ctx->labels[0].value);
			ctx->labels[0].value = strndup(eq + 1,
			    (size_t)(end - eq - 1));
			if (ctx->labels[0].value == NULL)
				return -1;
		} else {
			/* Two label slots stay free for policy and kind. */
			if (ctx->nlabels >= LABELS_MAX - 2) {
				log_error("too many labels in --labels: Loki "
				    "takes at most %d per stream, 3 are "
				    "set by %s", LABELS_MAX, log_progname());
				return -1;
			}
			if (label_add(ctx, name, strlen(name), eq + 1,
			    (size_t)(end - eq - 1)) == -1)
				return -1;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* Appends s as a JSON string, quotes included. */
static int
json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s, *end = s + len;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	unsigned char c;

	if (buf_append(b, "\"", 1) == -1)
		return -1;
	for (; s < end; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, run, (size_t)(s - run)) == -1)
			return -1;
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			if (buf_append(b, esc, 2) == -1)
				return -1;
			esc[1] = 'u';
		} else {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			if (buf_append(b, esc, 6) == -1)
				return -1;
		}
	}
	if (buf_append(b, run, (size_t)(end - run)) == -1)
		return -1;
	return buf_append(b, "\"", 1);
}

/*
 * Returns the per-alert label value `key` of the alert ("policy" from
 * policy.name, "kind" from kind) when it can be a label value, or NULL:
 * empty, too long or with control characters.  Such an alert goes to
 * the stream without that label, and the line still contains the full
 * record.
 */
static const char *
alert_label(const cJSON *alert, const char *key)
{
	const cJSON *v;
	const char *s;

	if (strcmp(key, "policy") == 0)
		v = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(alert, "policy"), "name");
	else
		v = cJSON_GetObjectItemCaseSensitive(alert, key);
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) > LABEL_VALUE_MAX)
		return NULL;
	for (s = v->valuestring; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return NULL;
	return v->valuestring;
}

/*
 * Appends the stream object of an alert: its labels in name order, as
 * Loki prints them, so that equal label sets give equal text.
 */
static int
stream_labels(const struct loki_ctx *ctx, const cJSON *alert, struct buf *b)
{
	struct label_ref sorted[LABELS_MAX], t;
	const char *v;
	size_t n = 0, i, j;
	int rc = 0;

	for (i = 0; i < ctx->nlabels; i++) {
		sorted[n].name = ctx->labels[i].name;
		sorted[n++].value = ctx->labels[i].value;
	}
	if ((v = alert_label(alert, "kind")) != NULL) {
		sorted[n].name = "kind";
		sorted[n++].value = v;
	}
	if ((v = alert_label(alert, "policy")) != NULL) {
		sorted[n].name = "policy";
		sorted[n++].value = v;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 &&
		    strcmp(sorted[j - 1].name, sorted[j].name) > 0; j--) {
			t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	rc |= buf_append(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			rc |= buf_append(b, ",", 1);
		rc |= json_string(b, sorted[i].name, strlen(sorted[i].name));
		rc |= buf_append(b, ":", 1);
		rc |= json_string(b, sorted[i].value, strlen(sorted[i].value));
	}
	rc |= buf_append(b, "}", 1);
	return rc == 0 ? 0 : -1;
}

/* The next entry timestamp: wall clock, strictly above the last one. */
static uint64_t
next_timestamp(struct loki_ctx *ctx)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (ns <= ctx->last_ns)
		ns = ctx->last_ns + 1;
	ctx->last_ns = ns;
	return ns;
}

/*
 * Builds the push body for items[0..n): one stream per distinct label
 * set, in order of first appearance, entries in input order.  Returns 0
 * or -1 (out of memory).
 */
static int
build_body(struct loki_ctx *ctx, struct deliver_item *items, size_t n)
{
	struct buf *labels;
	size_t *group, ngroups = 0, i, g;
	int rc = -1, first;
	char ts[32];

	labels = calloc(n, sizeof(*labels));
	group = calloc(n, sizeof(*group));
	if (labels == NULL || group == NULL)
		goto out;
	/* group[i]: the index of the first item with item i's labels. */
	for (i = 0; i < n; i++) {
		if (stream_labels(ctx, items[i].alert, &labels[i]) == -1)
			goto out;
		group[i] = i;
		for (g = 0; g < i; g++)
			if (group[g] == g && labels[g].len == labels[i].len &&
			    memcmp(labels[g].data, labels[i].data,
			    labels[i].len) == 0) {
				group[i] = g;
				break;
			}
		if (group[i] == i)
			ngroups++;
	}
	buf_reset(&ctx->body);
	if (buf_append_str(&ctx->body, "{\"streams\":[") == -1)
		goto out;
	first = 1;
	for (g = 0; g < n; g++) {
		if (group[g] != g)
			continue;
		if (buf_printf(&ctx->body, "%s{\"stream\":%s,\"values\":[",
		    first ? "" : ",", labels[g].data) == -1)
			goto out;
		first = 0;
		for (i = g; i < n; i++) {
			if (group[i] != g)
				continue;
			snprintf(ts, sizeof(ts), "%llu",
			    (unsigned long long)next_timestamp(ctx));
			if (buf_printf(&ctx->body, "%s[\"%s\",", i == g ? "" :
			    ",", ts) == -1 ||
			    json_string(&ctx->body, items[i].line,
			    items[i].line_len) == -1 ||
			    buf_append(&ctx->body, "]", 1) == -1)
				goto out;
		}
		if (buf_append(&ctx->body, "]}", 2) == -1)
			goto out;
	}
	rc = buf_append(&ctx->body, "]}", 2);
	log_debug("push of %zu alerts in %zu streams, %zu bytes", n, ngroups,
	    ctx->body.len);
out:
	if (labels != NULL)
		for (i = 0; i < n; i++)
			buf_free(&labels[i]);
	free(labels);
	free(group);
	return rc;
}

/*
 * Pushes items[0..n) in one request and sets every item's outcome.
 * A 400 means Loki rejected some entries and may have stored the others,
 * because it validates entry by entry.  So the request is never sent
 * again, and every item in it goes to the dead-letter file with Loki's
 * message.
 */
static void
push(struct loki_ctx *ctx, struct deliver_item *items, size_t n)
{
	struct httpout_request req;
	struct httpout_response resp;
	char excerpt[DELIVER_REASON_MAX - 64];
	size_t i;

	if (build_body(ctx, items, n) == -1) {
		for (i = 0; i < n; i++)
			deliver_item_set(&items[i], DELIVER_RETRY, 0,
			    "out of memory");
		return;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = "POST";
	req.url = ctx->push_url;
	req.content_type = "application/json";
	req.body = ctx->body.data;
	req.body_len = ctx->body.len;
	req.headers = ctx->headers;
	req.username = ctx->username;
	req.password = ctx->username != NULL ? ctx->password.data : NULL;
	httpout_send(&ctx->http, &req, &resp);
	if (resp.status == 400) {
		httpout_body_excerpt(&resp, excerpt, sizeof(excerpt));
		for (i = 0; i < n; i++)
			deliver_item_set(&items[i], DELIVER_FAIL, 400,
			    "Loki rejected the push (400, not resent): %s",
			    excerpt);
	} else
		for (i = 0; i < n; i++)
			httpout_classify(&resp, &items[i]);
	httpout_response_free(&resp);
}

/*
 * Sends the batch in requests of at most REQUEST_BYTES_MAX of records.
 * After a request that did not succeed, the rest of the batch waits for
 * the engine's next attempt, so that entries keep their order.
 */
static void
loki_send(void *arg, struct deliver_item *items, size_t n)
{
	struct loki_ctx *ctx = arg;
	size_t start = 0, end, bytes, i;

	while (start < n) {
		bytes = items[start].line_len;
		for (end = start + 1; end < n; end++) {
			if (bytes + items[end].line_len > REQUEST_BYTES_MAX)
				break;
			bytes += items[end].line_len;
		}
		push(ctx, items + start, end - start);
		for (i = start; i < end; i++)
			if (items[i].status != DELIVER_OK &&
			    items[i].status != DELIVER_FAIL)
				return;
		start = end;
	}
}

/*
 * Builds the push URL from --url: the base URL plus PUSH_PATH, or the
 * URL as given when it already ends with PUSH_PATH.
 */
static char *
push_url(const char *base)
{
	size_t len = strlen(base), plen = strlen(PUSH_PATH);
	char *url;

	if (len >= plen && strcmp(base + len - plen, PUSH_PATH) == 0)
		return strdup(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	if (asprintf(&url, "%.*s%s", (int)len, base, PUSH_PATH) == -1)
		return NULL;
	return url;
}

static int
tenant_valid(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n <= TENANT_MAX && strspn(t, TENANT_CHARS) == n &&
	    strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
}

static void
ctx_free(struct loki_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nlabels; i++) {
		free(ctx->labels[i].name);
		free(ctx->labels[i].value);
	}
	free(ctx->push_url);
	buf_wipe(&ctx->password);
	buf_free(&ctx->body);
}

static const struct option longopts[] = {
	{ "labels",		required_argument, NULL, 'l' },
	{ "password-file",	required_argument, NULL, 'p' },
	{ "tenant",		required_argument, NULL, 't' },
	{ "url",		required_argument, NULL, 'u' },
	{ "username",		required_argument, NULL, 'U' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	DELIVER_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

/* Checks the options after parsing and reads the password. */
static int
setup(struct loki_ctx *ctx, const char *url, const char *tenant,
    const char *password_file)
{
	int r;

	if (url == NULL) {
		log_error("missing --url: give the Loki base URL");
		return -1;
	}
	if (httpout_check_url(url) == -1)
		return -1;
	if ((ctx->push_url = push_url(url)) == NULL)
		return -1;
	if (tenant != NULL) {
		if (!tenant_valid(tenant)) {
			log_error("invalid tenant '%s': expected 1 to %d "
			    "letters, digits or !-_.*'()", tenant, TENANT_MAX);
			return -1;
		}
		snprintf(ctx->tenant_header, sizeof(ctx->tenant_header),
		    "X-Scope-OrgID: %s", tenant);
		ctx->headers[0] = ctx->tenant_header;
	}
	r = secret_read(ENV_PASSWORD, password_file, &ctx->password);
	if (r == -1)
		return -1;
	if (r == 0 && ctx->username == NULL) {
		log_error("a password is set but --username is missing");
		return -1;
	}
	if (r == 1 && ctx->username != NULL) {
		log_error("--username needs a password: set %s or give "
		    "--password-file", ENV_PASSWORD);
		return -1;
	}
	if (ctx->username != NULL && strchr(ctx->username, ':') != NULL) {
		log_error("invalid username '%s': basic auth user names "
		    "cannot contain ':'", ctx->username);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct deliver_config cfg;
	struct loki_ctx ctx;
	struct deliver_output out = { "Loki", BATCH_MAX, BATCH_WAIT_MS, &ctx,
	    loki_send };
	const char *url = NULL, *tenant = NULL, *password_file = NULL;
	const char *labels = NULL;
	int c, rc = RK_EXIT_USAGE;

	stdio_setup();
	log_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	deliver_config_init(&cfg);
	if (label_add(&ctx, "job", 3, "rekor-sidekick", 14) == -1)
		return RK_EXIT_IO;
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "l:p:t:u:U:hV",
	    longopts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			usage(stderr);
			goto out;
		}
		switch (c) {
		case 'l':
			labels = optarg;
			break;
		case 'p':
			password_file = optarg;
			break;
		case 't':
			tenant = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'U':
			ctx.username = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = RK_EXIT_OK;
			goto out;
		case 'V':
			printf("%s %s\n", log_progname(), RK_VERSION);
			rc = RK_EXIT_OK;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s': alerts are read from "
		    "standard input", argv[optind]);
		usage(stderr);
		goto out;
	}
	if ((labels != NULL && labels_parse(&ctx, labels) == -1) ||
	    setup(&ctx, url, tenant, password_file) == -1)
		goto out;
	if (httpout_global_init() == -1 ||
	    httpout_init(&ctx.http, &cfg) == -1) {
		rc = RK_EXIT_IO;
		goto out;
	}
	rc = deliver_run(&cfg, &out);
	httpout_free(&ctx.http);
	httpout_global_cleanup();
out:
	ctx_free(&ctx);
	return stdout_finish(rc);
}
