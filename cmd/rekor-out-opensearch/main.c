/*
 * rekor-out-opensearch: indexes every alert read on standard input as one
 * document through the OpenSearch Bulk API, several alerts per request.
 * Each document is created with the alertID as its _id, so that a replay
 * after a crash meets 409 (already there) instead of a second copy.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "httpout.h"
#include "log.h"
#include "retry.h"
#include "secret.h"
#include "util.h"

#define ENV_PASSWORD	"REKOR_SIDEKICK_OUTPUTS_OPENSEARCH_PASSWORD"
#define BATCH_MAX	200	/* alerts per bulk request */
#define BATCH_WAIT_MS	200	/* wait for more before a partial batch */
#define INDEX_MAX	255	/* OpenSearch index names: at most 255 bytes */

struct opensearch {
	struct httpout	 http;
	char		*bulk_url;
	const char	*index;		/* template with %Y, %m, %d */
	const char	*username;
	const char	*severity;
	struct buf	 password;	/* secret */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: rekor-out-opensearch -u server -i index [-kqv] "
	    "[-C ca-file] [-d dead-letter]\n"
	    "       [-e severity] [-M spool-max] [-P password-file] "
	    "[-R retry-max-time]\n"
	    "       [-s state] [-S spool] [-T timeout] [-U username]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nIndex each alert on standard input into OpenSearch (Bulk "
	    "API).\nThe password comes from " ENV_PASSWORD "\n"
	    "or from --password-file.\n\n"
	    "  -u, --server URL           cluster address (required)\n"
	    "  -i, --index NAME           index name; %%Y, %%m and %%d take "
	    "the entry's\n"
	    "                             integrated time (UTC) (required)\n"
	    "  -U, --username USER        basic auth user\n"
	    "  -P, --password-file FILE   read the basic auth password from "
	    "FILE\n"
	    "  -e, --severity STRING      copied into each document\n"
	    DELIVER_USAGE_OPTIONS
	    "  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n");
}

/*
 * Expands %Y, %m, %d (and %% for '%') with the UTC date of t.  Returns 0,
 * or -1 on an unknown conversion.
 */
static int
expand_index(const char *tmpl, time_t t, struct buf *out)
{
	struct tm tm;
	const char *p;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (buf_append(out, p, 1) == -1)
				return -1;
			continue;
		}
		switch (*++p) {
		case 'Y':
			if (buf_printf(out, "%04d", tm.tm_year + 1900) == -1)
				return -1;
			break;
		case 'm':
			if (buf_printf(out, "%02d", tm.tm_mon + 1) == -1)
				return -1;
			break;
		case 'd':
			if (buf_printf(out, "%02d", tm.tm_mday) == -1)
				return -1;
			break;
		case '%':
			if (buf_append(out, "%", 1) == -1)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/*
 * Checks an index name by OpenSearch's rules: lowercase; none of
 * \ / * ? " < > | space , # :; not starting with _ - +; not "." or "..";
 * at most 255 bytes.
 */
static int
index_valid(const char *name)
{
	const char *p;

	if (*name == '\0' || strlen(name) > INDEX_MAX ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr("_-+", *name) != NULL)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (isupper((unsigned char)*p) ||
		    strchr("\\/*?\"<>| ,#:", *p) != NULL ||
		    (unsigned char)*p < 0x20)
			return 0;
	return 1;
}

static int
integrated_time(const cJSON *alert, time_t *t)
{
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(alert, "integratedTime");
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return -1;
	*t = (time_t)v->valuedouble;
	return 0;
}

/*
 * Appends the action line and the document of one alert.  The document
 * is the alert as read, with "@timestamp" (the integrated time) and, when
 * set, "severity" put in front; the rest stays byte for byte.
 */
static int
append_item(struct opensearch *os, struct deliver_item *it, struct buf *b)
{
	struct buf index = BUF_INIT;
	char when[32];
	cJSON *sev = NULL;
	char *sevtext = NULL;
	const char *p;
	size_t start = b->len;
	time_t t;
	int rc = -1;

	if (integrated_time(it->alert, &t) == -1) {
		deliver_item_set(it, DELIVER_FAIL, 0, "alert has no valid "
		    "\"integratedTime\" for the index name and @timestamp");
		return 0;
	}
	if (expand_index(os->index, t, &index) == -1 ||
	    format_rfc3339((int64_t)t, when, sizeof(when)) == -1)
		goto out;
	if (os->severity != NULL &&
	    ((sev = cJSON_CreateString(os->severity)) == NULL ||
	    (sevtext = cJSON_PrintUnformatted(sev)) == NULL))
		goto out;
	p = memchr(it->line, '{', it->line_len);
	if (p == NULL)
		goto out;
	/* The index name and the alert ID need no JSON escaping. */
	if (buf_printf(b, "{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\"}}\n"
	    "{\"@timestamp\":\"%s\",", index.data, it->alert_id, when) == -1)
		goto out;
	if (sevtext != NULL && buf_printf(b, "\"severity\":%s,", sevtext) ==
	    -1)
		goto out;
	p++;
	while (p < it->line + it->line_len && isspace((unsigned char)*p))
		p++;
	/* An empty object leaves a trailing comma: close it instead. */
	if (*p == '}')
		b->len--;
	if (buf_append(b, p, (size_t)(it->line + it->line_len - p)) == -1 ||
	    buf_append_str(b, "\n") == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		/* Drop the half-written item so that the others stay valid. */
		b->len = start;
		if (b->data != NULL)
			b->data[start] = '\0';
		deliver_item_set(it, DELIVER_RETRY, 0, "cannot build the bulk "
		    "request: out of memory");
	}
	cJSON_free(sevtext);
	cJSON_Delete(sev);
	buf_free(&index);
	return rc;
}

/*
 * Sets an item's outcome from its entry in the bulk response: 200/201
 * created, 409 already there (delivered by an earlier attempt), 429 and
 * 5xx transient (retried alone), anything else permanent.
 */
static void
item_result(const cJSON *entry, struct deliver_item *it)
{
	const cJSON *op, *status, *err, *type, *reason;
	long code;

	op = cJSON_GetObjectItemCaseSensitive(entry, "create");
	status = cJSON_GetObjectItemCaseSensitive(op, "status");
	if (!cJSON_IsNumber(status)) {
		deliver_item_set(it, DELIVER_RETRY, 200, "bulk response item "
		    "has no create status");
		return;
	}
	code = (long)status->valuedouble;
	err = cJSON_GetObjectItemCaseSensitive(op, "error");
	type = cJSON_GetObjectItemCaseSensitive(err, "type");
	reason = cJSON_GetObjectItemCaseSensitive(err, "reason");
	if (code == 200 || code == 201) {
		deliver_item_set(it, DELIVER_OK, code, "created");
	} else if (code == 409) {
		deliver_item_set(it, DELIVER_OK, code, "already indexed");
	} else {
		deliver_item_set(it, code == 429 ||
		    retry_status_transient(code) ? DELIVER_RETRY :
		    DELIVER_FAIL, code, "bulk item %ld: %s: %s", code,
		    cJSON_IsString(type) ? type->valuestring : "error",
		    cJSON_IsString(reason) ? reason->valuestring :
		    "no reason given");
	}
}

static void
read_bulk_response(const struct httpout_response *resp,
    struct deliver_item **sent, size_t n)
{
	const cJSON *errors, *items, *entry;
	cJSON *doc;
	size_t i = 0;

	doc = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (!cJSON_IsBool(errors) || !cJSON_IsArray(items) ||
	    (size_t)cJSON_GetArraySize(items) != n) {
		for (i = 0; i < n; i++)
			deliver_item_set(sent[i], DELIVER_RETRY, resp->status,
			    "bulk response does not list %zu items", n);
		goto out;
	}
	cJSON_ArrayForEach(entry, items)
		item_result(entry, sent[i++]);
out:
	cJSON_Delete(doc);
}

static void
send_bulk(void *ctx, struct deliver_item *items, size_t n)
{
	struct opensearch *os = ctx;
	struct httpout_request req;
	struct httpout_response resp;
	struct deliver_item **sent;
	struct buf body = BUF_INIT;
	size_t i, k = 0;

	if ((sent = calloc(n, sizeof(*sent))) == NULL) {
		for (i = 0; i < n; i++)
			deliver_item_set(&items[i], DELIVER_RETRY, 0,
			    "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		if (append_item(os, &items[i], &body) == 0 &&
		    items[i].status == DELIVER_PENDING)
			sent[k++] = &items[i];
	}
	if (k == 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = os->bulk_url;
	req.content_type = "application/x-ndjson";
	req.body = body.data;
	req.body_len = body.len;
	req.username = os->username;
	req.password = os->password.data;
	httpout_send(&os->http, &req, &resp);
	if (resp.status == 200) {
		read_bulk_response(&resp, sent, k);
	} else {
		/* XXX: a 413 fails the whole batch instead of splitting it. */
		for (i = 0; i < k; i++)
			httpout_classify(&resp, sent[i]);
	}
	httpout_response_free(&resp);
out:
	buf_free(&body);
	free(sent);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "severity",		required_argument, NULL, 'e' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "index",		required_argument, NULL, 'i' },
		{ "password-file",	required_argument, NULL, 'P' },
		{ "server",		required_argument, NULL, 'u' },
		{ "username",		required_argument, NULL, 'U' },
		{ "version",		no_argument,	   NULL, 'V' },
		DELIVER_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct deliver_config cfg;
	struct deliver_output out;
	struct opensearch os;
	struct buf probe = BUF_INIT, url = BUF_INIT;
	const char *server = NULL, *password_file = NULL;
	int c, rc, r;

	stdio_setup();
	log_init(argv[0]);
	deliver_config_init(&cfg);
	memset(&os, 0, sizeof(os));
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "e:hi:P:u:U:V",
	    opts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			return RK_EXIT_USAGE;
		}
		switch (c) {
		case 'e':
			os.severity = optarg;
			break;
		case 'h':
			help();
			return stdout_finish(RK_EXIT_OK);
		case 'i':
			os.index = optarg;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'u':
			server = optarg;
			break;
		case 'U':
			os.username = optarg;
			break;
		case 'V':
			printf("rekor-out-opensearch %s\n", RK_VERSION);
			return stdout_finish(RK_EXIT_OK);
		default:
			usage(stderr);
			return RK_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; alerts are read from "
		    "standard input", argv[optind]);
		usage(stderr);
		return RK_EXIT_USAGE;
	}
	if (server == NULL || httpout_check_url(server) == -1) {
		log_error("invalid or missing --server '%s': expected an "
		    "http:// or https:// URL", server != NULL ? server : "");
		return RK_EXIT_USAGE;
	}
	if (os.index == NULL) {
		log_error("missing --index: name the index to write to");
		return RK_EXIT_USAGE;
	}
	/* Check the name as it would be on an arbitrary date. */
	if (expand_index(os.index, 0, &probe) == -1 ||
	    !index_valid(probe.data)) {
		log_error("invalid --index '%s': expected a lowercase index "
		    "name without \\ / * ? \" < > | , # : or spaces, where "
		    "only %%Y, %%m and %%d are expanded", os.index);
		buf_free(&probe);
		return RK_EXIT_USAGE;
	}
	buf_free(&probe);
	r = secret_read(ENV_PASSWORD, password_file, &os.password);
	if (r == -1)
		return RK_EXIT_USAGE;
	if (r == 0 && os.username == NULL) {
		log_error("a password is set but --username is not");
		buf_wipe(&os.password);
		return RK_EXIT_USAGE;
	}
	if (buf_printf(&url, "%s%s_bulk", server,
	    server[strlen(server) - 1] == '/' ? "" : "/") == -1) {
		buf_wipe(&os.password);
		return RK_EXIT_IO;
	}
	os.bulk_url = url.data;
	if (httpout_global_init() == -1 || httpout_init(&os.http, &cfg) == -1) {
		buf_wipe(&os.password);
		buf_free(&url);
		return RK_EXIT_IO;
	}
	out.name = "opensearch";
	out.batch_max = BATCH_MAX;
	out.batch_wait_ms = BATCH_WAIT_MS;
	out.ctx = &os;
	out.send = send_bulk;
	rc = deliver_run(&cfg, &out);
	buf_wipe(&os.password);
	buf_free(&url);
	httpout_free(&os.http);
	httpout_global_cleanup();
	return stdout_finish(rc);
}
