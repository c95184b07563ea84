/*
 * rekor-out-cloudevents: POSTs every alert read on standard input as a
 * CloudEvents 1.0 event over HTTP, in binary content mode (attributes in
 * ce-* headers, the alert as the body) or structured content mode (one
 * application/cloudevents+json document).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "httpout.h"
#include "log.h"
#include "util.h"

/* The older daemon's event source prefix, kept for existing consumers. */
#define SOURCE_PREFIX	"github.com/nsmith5/rekor-sidekick:"
#define EVENT_TYPE	"rekor-sidekick.policy.violation.v1"

struct cloudevents {
	struct httpout	 http;
	const char	*url;
	char		*source;
	int		 structured;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: rekor-out-cloudevents -i source-id -u url "
	    "[-m binary|structured]\n"
	    "       [-kqv] [-C ca-file] [-d dead-letter] [-M spool-max] "
	    "[-R retry-max-time]\n"
	    "       [-s state] [-S spool] [-T timeout]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nPOST each alert on standard input as a CloudEvent.\n\n"
	    "  -i, --source-id ID         appended to the event source "
	    "(required)\n"
	    "  -u, --http-url URL         where events are POSTed "
	    "(required)\n"
	    "  -m, --mode MODE            binary (default) or structured\n"
	    DELIVER_USAGE_OPTIONS
	    "  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n");
}

/*
 * Percent-encodes a header value as the CloudEvents HTTP binding requires
 * for binary mode: space, '"', '%' and every byte outside printable ASCII.
 */
static int
header_value(struct buf *b, const char *name, const char *value)
{
	const unsigned char *p;

	if (buf_printf(b, "%s: ", name) == -1)
		return -1;
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '%') {
			if (buf_printf(b, "%%%02X", *p) == -1)
				return -1;
		} else if (buf_append(b, p, 1) == -1) {
			return -1;
		}
	}
	return 0;
}

/*
 * Builds the event source, a URI-reference (CloudEvents 1.0 core): the
 * older daemon's prefix, then the source ID with every byte that RFC 3986
 * does not allow in a path segment percent-encoded.
 */
static int
source_uri(struct buf *b, const char *id)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/";
	const unsigned char *p;

	if (buf_append_str(b, SOURCE_PREFIX) == -1)
		return -1;
	for (p = (const unsigned char *)id; *p != '\0'; p++) {
		if (strchr(allowed, *p) != NULL) {
			if (buf_append(b, p, 1) == -1)
				return -1;
		} else if (buf_printf(b, "%%%02X", *p) == -1) {
			return -1;
		}
	}
	return 0;
}

/* The entry's integration time in RFC 3339, the event's "time". */
static int
event_time(const cJSON *alert, char *out, size_t len)
{
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(alert, "integratedTime");
	if (!cJSON_IsNumber(v))
		return -1;
	return format_rfc3339((int64_t)v->valuedouble, out, len);
}

static int
binary_request(struct cloudevents *ce, struct deliver_item *it,
    struct httpout_request *req, struct buf h[5], const char *headers[6])
{
	char when[32];
	int n = 0;

	if (buf_printf(&h[n++], "ce-specversion: 1.0") == -1 ||
	    header_value(&h[n++], "ce-id", it->alert_id) == -1 ||
	    header_value(&h[n++], "ce-source", ce->source) == -1 ||
	    buf_printf(&h[n++], "ce-type: %s", EVENT_TYPE) == -1)
		return -1;
	if (event_time(it->alert, when, sizeof(when)) == 0 &&
	    buf_printf(&h[n++], "ce-time: %s", when) == -1)
		return -1;
	for (int i = 0; i < n; i++)
		headers[i] = h[i].data;
	headers[n] = NULL;
	req->content_type = "application/json";
	req->body = it->line;
	req->body_len = it->line_len;
	return 0;
}

static int
structured_request(struct cloudevents *ce, struct deliver_item *it,
    struct httpout_request *req, struct buf *body)
{
	cJSON *ev;
	char *head = NULL, when[32];
	int rc = -1;

	/* The event without "data", which is spliced in as read. */
	if ((ev = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(ev, "specversion", "1.0") == NULL ||
	    cJSON_AddStringToObject(ev, "id", it->alert_id) == NULL ||
	    cJSON_AddStringToObject(ev, "source", ce->source) == NULL ||
	    cJSON_AddStringToObject(ev, "type", EVENT_TYPE) == NULL ||
	    cJSON_AddStringToObject(ev, "datacontenttype",
	    "application/json") == NULL)
		goto out;
	if (event_time(it->alert, when, sizeof(when)) == 0 &&
	    cJSON_AddStringToObject(ev, "time", when) == NULL)
		goto out;
	if ((head = cJSON_PrintUnformatted(ev)) == NULL)
		goto out;
	head[strlen(head) - 1] = '\0';		/* drop the closing brace */
	if (buf_printf(body, "%s,\"data\":", head) == -1 ||
	    buf_append(body, it->line, it->line_len) == -1 ||
	    buf_append_str(body, "}") == -1)
		goto out;
	req->content_type = "application/cloudevents+json; charset=utf-8";
	req->body = body->data;
	req->body_len = body->len;
	rc = 0;
out:
	cJSON_free(head);
	cJSON_Delete(ev);
	return rc;
}

static void
send_one(struct cloudevents *ce, struct deliver_item *it)
{
	struct httpout_request req;
	struct httpout_response resp;
	struct buf h[5] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT,
	    BUF_INIT };
	struct buf body = BUF_INIT;
	const char *headers[6] = { NULL };
	int i, rc;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = ce->url;
	req.headers = headers;
	if (ce->structured)
		rc = structured_request(ce, it, &req, &body);
	else
		rc = binary_request(ce, it, &req, h, headers);
	if (rc == -1) {
		deliver_item_set(it, DELIVER_RETRY, 0, "out of memory");
		goto out;
	}
	httpout_send(&ce->http, &req, &resp);
	httpout_classify(&resp, it);
	httpout_response_free(&resp);
out:
	for (i = 0; i < 5; i++)
		buf_free(&h[i]);
	buf_free(&body);
}

static void
send_events(void *ctx, struct deliver_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		send_one(ctx, &items[i]);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help",	no_argument,	   NULL, 'h' },
		{ "source-id",	required_argument, NULL, 'i' },
		{ "mode",	required_argument, NULL, 'm' },
		{ "http-url",	required_argument, NULL, 'u' },
		{ "version",	no_argument,	   NULL, 'V' },
		DELIVER_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct deliver_config cfg;
	struct deliver_output out;
	struct cloudevents ce;
	const char *source_id = NULL, *mode = "binary";
	struct buf source = BUF_INIT;
	int c, rc;

	stdio_setup();
	log_init(argv[0]);
	deliver_config_init(&cfg);
	memset(&ce, 0, sizeof(ce));
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "hi:m:u:V",
	    opts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			return RK_EXIT_USAGE;
		}
		switch (c) {
		case 'h':
			help();
			return stdout_finish(RK_EXIT_OK);
		case 'i':
			source_id = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'u':
			ce.url = optarg;
			break;
		case 'V':
			printf("rekor-out-cloudevents %s\n", RK_VERSION);
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
	if (source_id == NULL || *source_id == '\0') {
		log_error("missing --source-id: it names this sender in the "
		    "event source");
		return RK_EXIT_USAGE;
	}
	if (ce.url == NULL || httpout_check_url(ce.url) == -1) {
		log_error("invalid or missing --http-url '%s': expected an "
		    "http:// or https:// URL", ce.url != NULL ? ce.url : "");
		return RK_EXIT_USAGE;
	}
	if (strcmp(mode, "binary") == 0)
		ce.structured = 0;
	else if (strcmp(mode, "structured") == 0)
		ce.structured = 1;
	else {
		log_error("invalid --mode '%s': expected binary or "
		    "structured", mode);
		return RK_EXIT_USAGE;
	}
	if (source_uri(&source, source_id) == -1) {
		log_error("out of memory");
		return RK_EXIT_IO;
	}
	ce.source = source.data;

	if (httpout_global_init() == -1 || httpout_init(&ce.http, &cfg) == -1) {
		buf_free(&source);
		return RK_EXIT_IO;
	}
	out.name = "cloudevents";
	out.batch_max = 1;
	out.batch_wait_ms = 0;
	out.ctx = &ce;
	out.send = send_events;
	rc = deliver_run(&cfg, &out);
	httpout_free(&ce.http);
	httpout_global_cleanup();
	buf_free(&source);
	return stdout_finish(rc);
}
