/*
 * rekor-out-webhook: POSTs every alert to a webhook URL, either the alert
 * record itself (--format json) or a Slack incoming-webhook message
 * (--format slack).  The URL and the extra headers are secrets: chat
 * webhook URLs carry their token in the path.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "alertfacts.h"
#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "httpout.h"
#include "record.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define ENV_URL		"REKOR_SIDEKICK_OUTPUTS_WEBHOOK_URL"
#define ENV_HEADERS	"REKOR_SIDEKICK_OUTPUTS_WEBHOOK_HEADERS"
/*
 * Extra header lines accepted from the headers secret: httpout sends at
 * most 32 headers of a request, and Idempotency-Key is one of them.
 */
#define HEADERS_MAX	31

enum webhook_format {
	FORMAT_JSON,
	FORMAT_SLACK
};

struct webhook_ctx {
	struct httpout		 http;
	enum webhook_format	 format;
	struct buf		 url;		/* secret */
	struct buf		 headers_raw;	/* secret, split in place */
	char			 idempotency[ALERT_ID_LEN + 24];
	/* Idempotency-Key, then the user's headers, then NULL. */
	const char		*headers[HEADERS_MAX + 2];
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-kqv] [-f json|slack] [-H file] [-u file] "
	    "[-C file] [-d file]\n"
	    "       [-M bytes] [-R duration] [-s file] [-S dir] "
	    "[-T duration]\n", log_progname());
	if (fp != stdout)
		return;
	fputs("POST every alert read on standard input to a webhook.\n\n"
	    "  -f, --format json|slack    the alert record (default), or "
	    "Slack's {\"text\": ...}\n"
	    "  -H, --headers-file FILE    extra headers, 'Name: value' per "
	    "line (secret;\n"
	    "                             default: $" ENV_HEADERS ")\n"
	    "  -u, --url-file FILE        the webhook URL (secret; default: "
	    "$" ENV_URL ")\n", fp);
	fputs(DELIVER_USAGE_OPTIONS, fp);
	fputs("  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n", fp);
}

/* Returns 1 for an http(s) URL without spaces or control characters. */
static int
url_valid(const char *url)
{
	const unsigned char *p;

	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		return 0;
	for (p = (const unsigned char *)url; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return 0;
	/* Something must follow "://". */
	return url[strcspn(url, ":") + 3] != '\0';
}

/* RFC 9110 token characters, the only ones allowed in a header name. */
static int
token_char(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * Splits the headers secret into lines and checks each "Name: value"
 * line.  Names are checked against RFC 9110; values may hold any byte but
 * CR, LF, NUL and other control characters except tab.  Headers that
 * the program sets itself are rejected.  Messages name the line number,
 * never the value.  Returns 0 or -1.
 */
static int
headers_parse(struct webhook_ctx *ctx, const char *source)
{
	static const char *const reserved[] = { "host", "content-length",
	    "content-type", "transfer-encoding", "connection",
	    "idempotency-key", "expect", NULL };
	char *line, *next, *colon, *p;
	size_t n = 1, i, lineno = 0;

	for (line = ctx->headers_raw.data; line != NULL; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (*line == '\0')
			continue;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			log_error("%s, line %zu: expected 'Name: value'",
			    source, lineno);
			return -1;
		}
		for (p = line; p < colon; p++)
			if (!token_char((unsigned char)*p)) {
				log_error("%s, line %zu: invalid character in "
				    "the header name", source, lineno);
				return -1;
			}
		for (p = colon + 1; *p != '\0'; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f) {
				log_error("%s, line %zu: control character in "
				    "the value of header '%.*s'", source,
				    lineno, (int)(colon - line), line);
				return -1;
			}
		for (i = 0; reserved[i] != NULL; i++)
			if (strlen(reserved[i]) == (size_t)(colon - line) &&
			    strncasecmp(line, reserved[i], colon - line) == 0) {
				log_error("%s, line %zu: header '%.*s' is set "
				    "by %s itself", source, lineno,
				    (int)(colon - line), line, log_progname());
				return -1;
			}
		if (n == HEADERS_MAX + 1) {
			log_error("%s: more than %d headers", source,
			    HEADERS_MAX);
			return -1;
		}
		ctx->headers[n++] = line;
	}
	ctx->headers[n] = NULL;
	return 0;
}

/* Appends s with Slack's three escapes (&, <, >) and controls as '?'. */
static int
slack_escape(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '&')
			rc = buf_append_str(b, "&amp;");
		else if (*s == '<')
			rc = buf_append_str(b, "&lt;");
		else if (*s == '>')
			rc = buf_append_str(b, "&gt;");
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			rc = buf_append(b, "?", 1);
		else
			rc = buf_append(b, s, 1);
	}
	return rc;
}

static int
slack_line(struct buf *b, const char *label, const char *value)
{
	if (value[0] == '\0')
		return 0;
	if (buf_printf(b, "\n%s: ", label) == -1)
		return -1;
	return slack_escape(b, value);
}

/*
 * Builds the Slack message: a first line naming the policy and the entry,
 * then one line per fact.  Returns the JSON text (caller frees) or NULL.
 */
static char *
slack_body(const cJSON *alert)
{
	struct alert_facts f;
	struct buf text = BUF_INIT;
	cJSON *doc = NULL;
	char *json = NULL;
	int rc;

	alertfacts_get(alert, &f);
	rc = buf_append_str(&text, "Rekor alert: policy '");
	rc |= slack_escape(&text, f.policy);
	rc |= buf_append_str(&text, "' matched log entry ");
	rc |= slack_escape(&text, f.index);
	rc |= slack_line(&text, "Description", f.description);
	if (rc == 0 && f.kind[0] != '\0') {
		rc |= buf_append_str(&text, "\nKind: ");
		rc |= slack_escape(&text, f.kind);
		rc |= buf_append(&text, " ", 1);
		rc |= slack_escape(&text, f.api_version);
	}
	rc |= slack_line(&text, "Integrated", f.time);
	rc |= slack_line(&text, "Signer", f.signer);
	rc |= slack_line(&text, "UUID", f.uuid);
	rc |= slack_line(&text, "Entry", f.url);
	rc |= slack_line(&text, "Alert ID", f.alert_id);
	if (rc != 0)
		goto out;
	if ((doc = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(doc, "text", text.data) == NULL)
		goto out;
	json = cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	buf_free(&text);
	return json;
}

static void
webhook_send(void *arg, struct deliver_item *items, size_t n)
{
	struct webhook_ctx *ctx = arg;
	struct httpout_request req;
	struct httpout_response resp;
	struct deliver_item *item;
	char *slack = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		item = &items[i];
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.method = "POST";
		req.url = ctx->url.data;
		req.content_type = "application/json";
		if (ctx->format == FORMAT_SLACK) {
			if ((slack = slack_body(item->alert)) == NULL) {
				deliver_item_set(item, DELIVER_RETRY, 0,
				    "out of memory");
				continue;
			}
			req.body = slack;
			req.body_len = strlen(slack);
		} else {
			req.body = item->line;
			req.body_len = item->line_len;
		}
		snprintf(ctx->idempotency, sizeof(ctx->idempotency),
		    "Idempotency-Key: %s", item->alert_id);
		ctx->headers[0] = ctx->idempotency;
		req.headers = ctx->headers;
		httpout_send(&ctx->http, &req, &resp);
		httpout_classify(&resp, item);
		httpout_response_free(&resp);
		free(slack);
		slack = NULL;
	}
}

static int
read_secrets(struct webhook_ctx *ctx, const char *url_file,
    const char *headers_file)
{
	int r;

	r = secret_read(ENV_URL, url_file, &ctx->url);
	if (r == 1) {
		log_error("missing webhook URL: set %s or give --url-file",
		    ENV_URL);
		return -1;
	}
	if (r == -1)
		return -1;
	if (!url_valid(ctx->url.data)) {
		log_error("invalid webhook URL in %s: expected an http:// or "
		    "https:// URL without spaces", url_file != NULL ?
		    "--url-file" : ENV_URL);
		return -1;
	}
	r = secret_read(ENV_HEADERS, headers_file, &ctx->headers_raw);
	if (r == -1)
		return -1;
	if (r == 1) {
		ctx->headers[1] = NULL;
		return 0;
	}
	return headers_parse(ctx, headers_file != NULL ? headers_file :
	    ENV_HEADERS);
}

static const struct option longopts[] = {
	{ "format",		required_argument, NULL, 'f' },
	{ "headers-file",	required_argument, NULL, 'H' },
	{ "url-file",		required_argument, NULL, 'u' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	DELIVER_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	struct deliver_config cfg;
	struct webhook_ctx ctx;
	struct deliver_output out = { "webhook", 1, 0, &ctx, webhook_send };
	const char *url_file = NULL, *headers_file = NULL;
	int c, rc = RK_EXIT_USAGE;

	stdio_setup();
	log_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	deliver_config_init(&cfg);
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "f:H:u:hV",
	    longopts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			usage(stderr);
			return RK_EXIT_USAGE;
		}
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") == 0)
				ctx.format = FORMAT_JSON;
			else if (strcmp(optarg, "slack") == 0)
				ctx.format = FORMAT_SLACK;
			else {
				log_error("invalid format '%s': expected json "
				    "or slack", optarg);
				return RK_EXIT_USAGE;
			}
			break;
		case 'H':
			headers_file = optarg;
			break;
		case 'u':
			url_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return stdout_finish(RK_EXIT_OK);
		case 'V':
			printf("%s %s\n", log_progname(), RK_VERSION);
			return stdout_finish(RK_EXIT_OK);
		default:
			usage(stderr);
			return RK_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s': the URL comes from %s or "
		    "--url-file", argv[optind], ENV_URL);
		usage(stderr);
		return RK_EXIT_USAGE;
	}
	if (read_secrets(&ctx, url_file, headers_file) == -1)
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
	buf_wipe(&ctx.url);
	buf_wipe(&ctx.headers_raw);
	return stdout_finish(rc);
}
