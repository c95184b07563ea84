/*
 * rekor-out-pagerduty: triggers one PagerDuty alert per alert read on
 * standard input, through the Events API v2 (POST /v2/enqueue).  The
 * alertID is the dedup_key, so a replay after a crash updates the same
 * PagerDuty alert instead of opening a second one.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "httpout.h"
#include "log.h"
#include "record.h"
#include "secret.h"
#include "util.h"

#define DEFAULT_URL	"https://events.pagerduty.com/v2/enqueue"
#define EVENT_CLASS	"rekor-sidekick.policy.violation.v1"
#define ENV_KEY		"REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_INTEGRATIONKEY"
#define ENV_TOKEN	"REKOR_SIDEKICK_OUTPUTS_PAGERDUTY_APITOKEN"
/* Events API v2: payload.summary is at most 1024 characters. */
#define SUMMARY_MAX	1024

struct pagerduty {
	struct httpout	 http;
	const char	*url;
	const char	*severity;
	struct buf	 key;		/* routing key: secret */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: rekor-out-pagerduty [-kqv] [-C ca-file] "
	    "[-d dead-letter] [-e severity]\n"
	    "       [-K integration-key-file] [-M spool-max] "
	    "[-R retry-max-time] [-s state]\n"
	    "       [-S spool] [-T timeout] [-u url]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nTrigger a PagerDuty alert (Events API v2) for each alert on "
	    "standard input.\nThe routing key comes from " ENV_KEY "\n"
	    "or from --integration-key-file.\n\n"
	    "  -e, --severity LEVEL       critical, error (default), "
	    "warning or info\n"
	    "  -K, --integration-key-file FILE\n"
	    "                             read the routing key from FILE\n"
	    "  -A, --api-token-file FILE  accepted and ignored (not used by "
	    "Events API v2)\n"
	    "  -u, --url URL              Events API endpoint (default "
	    DEFAULT_URL ")\n"
	    DELIVER_USAGE_OPTIONS
	    "  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n");
}

/*
 * Copies at most max bytes of s into b, never cutting a UTF-8 sequence:
 * the cut moves back to the start of the sequence it would split.
 */
static int
append_utf8_prefix(struct buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return buf_append(b, s, n);
}

/* "policy 'NAME' matched entry INDEX (KIND): DESCRIPTION", cut to fit. */
static int
summary(const cJSON *alert, struct buf *out)
{
	const cJSON *policy;
	const char *name, *desc, *kind;
	struct buf full = BUF_INIT;
	uint64_t index = 0;
	int rc;

	policy = cJSON_GetObjectItemCaseSensitive(alert, "policy");
	name = deliver_alert_string(policy, "name");
	desc = deliver_alert_string(policy, "description");
	kind = deliver_alert_string(alert, "kind");
	record_get_index(alert, &index);
	rc = buf_printf(&full, "rekor-sidekick: policy '%s' matched entry "
	    "%" PRIu64 " (%s)", name != NULL ? name : "?", index,
	    kind != NULL ? kind : "unknown kind");
	if (rc == 0 && desc != NULL && *desc != '\0')
		rc = buf_printf(&full, ": %s", desc);
	if (rc == 0)
		rc = append_utf8_prefix(out, full.data, SUMMARY_MAX);
	buf_free(&full);
	return rc;
}

static void
copy_member(cJSON *to, const cJSON *from, const char *key)
{
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(from, key);
	if (v != NULL)
		cJSON_AddItemToObject(to, key, cJSON_Duplicate(v, 1));
}

/*
 * Builds the event without its routing key, as JSON text that starts
 * after the opening brace, so that the key can be put in front without
 * passing through cJSON (which frees without wiping).
 */
static char *
event_tail(struct pagerduty *pd, const cJSON *alert, const char *id)
{
	static const char *const facts[] = {
		"logIndex", "uuid", "kind", "apiVersion", "logID", "treeID",
		"integratedTime", "time", "url", "alertID", NULL
	};
	const cJSON *policy;
	cJSON *ev, *payload, *details;
	const char *source, *kind, *name, *when;
	struct buf sum = BUF_INIT;
	char *text = NULL;
	size_t i;

	policy = cJSON_GetObjectItemCaseSensitive(alert, "policy");
	name = deliver_alert_string(policy, "name");
	source = deliver_alert_string(alert, "url");
	kind = deliver_alert_string(alert, "kind");
	when = deliver_alert_string(alert, "time");
	if (summary(alert, &sum) == -1)
		return NULL;
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "event_action", "trigger");
	cJSON_AddStringToObject(ev, "dedup_key", id);
	cJSON_AddStringToObject(ev, "client", "rekor-sidekick");
	if (source != NULL)
		cJSON_AddStringToObject(ev, "client_url", source);
	payload = cJSON_AddObjectToObject(ev, "payload");
	cJSON_AddStringToObject(payload, "summary", sum.data);
	cJSON_AddStringToObject(payload, "source", source != NULL ? source :
	    "rekor-sidekick");
	cJSON_AddStringToObject(payload, "severity", pd->severity);
	if (when != NULL)
		cJSON_AddStringToObject(payload, "timestamp", when);
	cJSON_AddStringToObject(payload, "component", kind != NULL ? kind :
	    "unknown");
	cJSON_AddStringToObject(payload, "group", name != NULL ? name :
	    "unknown");
	cJSON_AddStringToObject(payload, "class", EVENT_CLASS);
	details = cJSON_AddObjectToObject(payload, "custom_details");
	if (details != NULL) {
		copy_member(details, alert, "policy");
		for (i = 0; facts[i] != NULL; i++)
			copy_member(details, alert, facts[i]);
	}
	if (ev != NULL && payload != NULL && details != NULL)
		text = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	buf_free(&sum);
	return text;
}

/*
 * Explains a 400: the Events API returns {"status": ..., "message": ...,
 * "errors": [...]}.
 */
static void
explain_400(const struct httpout_response *resp, struct deliver_item *it)
{
	const cJSON *msg, *errors, *e;
	struct buf why = BUF_INIT;
	cJSON *doc;

	doc = cJSON_ParseWithLength(resp->body.data, resp->body.len);
	msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
	errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
	if (cJSON_IsString(msg))
		buf_append_str(&why, msg->valuestring);
	cJSON_ArrayForEach(e, errors) {
		if (cJSON_IsString(e))
			buf_printf(&why, "%s%s", why.len > 0 ? "; " : "",
			    e->valuestring);
	}
	if (why.len > 0)
		deliver_item_set(it, DELIVER_FAIL, 400,
		    "PagerDuty rejected the event: %s", why.data);
	buf_free(&why);
	cJSON_Delete(doc);
}

static void
send_one(struct pagerduty *pd, struct deliver_item *it)
{
	struct httpout_request req;
	struct httpout_response resp;
	struct buf body = BUF_INIT;
	char *tail;

	if ((tail = event_tail(pd, it->alert, it->alert_id)) == NULL) {
		deliver_item_set(it, DELIVER_RETRY, 0, "out of memory");
		return;
	}
	/* The key was checked at startup: no character needs escaping. */
	if (buf_printf(&body, "{\"routing_key\":\"%s\",%s", pd->key.data,
	    tail + 1) == -1) {
		deliver_item_set(it, DELIVER_RETRY, 0, "out of memory");
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = pd->url;
	req.content_type = "application/json";
	req.body = body.data;
	req.body_len = body.len;
	httpout_send(&pd->http, &req, &resp);
	httpout_classify(&resp, it);
	/* The Events API accepts an event with 202 and nothing else. */
	if (it->status == DELIVER_OK && resp.status != 202)
		deliver_item_set(it, DELIVER_FAIL, resp.status,
		    "HTTP %ld: expected 202 Accepted", resp.status);
	if (resp.status == 400)
		explain_400(&resp, it);
	httpout_response_free(&resp);
out:
	buf_wipe(&body);
	cJSON_free(tail);
}

static void
send_events(void *ctx, struct deliver_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		send_one(ctx, &items[i]);
}

/* A routing key is printable ASCII with nothing JSON must escape. */
static int
key_valid(const struct buf *key)
{
	size_t i;

	for (i = 0; i < key->len; i++)
		if (key->data[i] <= 0x20 || key->data[i] >= 0x7f ||
		    key->data[i] == '"' || key->data[i] == '\\')
			return 0;
	return key->len > 0;
}

/* Reads the secrets; returns 0 or an exit status. */
static int
read_secrets(struct pagerduty *pd, const char *key_file,
    const char *token_file)
{
	struct buf token = BUF_INIT;
	int r;

	r = secret_read(ENV_TOKEN, token_file, &token);
	buf_wipe(&token);
	if (r == -1)
		return RK_EXIT_USAGE;
	if (r == 0)
		log_warn("ignoring the PagerDuty apiToken: Events API v2 "
		    "uses only the integration key");
	r = secret_read(ENV_KEY, key_file, &pd->key);
	if (r == -1)
		return RK_EXIT_USAGE;
	if (r == 1) {
		log_error("missing integration key: set " ENV_KEY " or pass "
		    "--integration-key-file");
		return RK_EXIT_USAGE;
	}
	if (!key_valid(&pd->key)) {
		log_error("invalid integration key: expected printable ASCII "
		    "without spaces or quotes");
		return RK_EXIT_USAGE;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "api-token-file",	  required_argument, NULL, 'A' },
		{ "severity",		  required_argument, NULL, 'e' },
		{ "help",		  no_argument,	     NULL, 'h' },
		{ "integration-key-file", required_argument, NULL, 'K' },
		{ "url",		  required_argument, NULL, 'u' },
		{ "version",		  no_argument,	     NULL, 'V' },
		DELIVER_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct deliver_config cfg;
	struct deliver_output out;
	struct pagerduty pd;
	const char *key_file = NULL, *token_file = NULL;
	int c, rc;

	stdio_setup();
	log_init(argv[0]);
	deliver_config_init(&cfg);
	memset(&pd, 0, sizeof(pd));
	pd.url = DEFAULT_URL;
	pd.severity = "error";
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "A:e:hK:u:V",
	    opts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			return RK_EXIT_USAGE;
		}
		switch (c) {
		case 'A':
			token_file = optarg;
			break;
		case 'e':
			pd.severity = optarg;
			break;
		case 'h':
			help();
			return stdout_finish(RK_EXIT_OK);
		case 'K':
			key_file = optarg;
			break;
		case 'u':
			pd.url = optarg;
			break;
		case 'V':
			printf("rekor-out-pagerduty %s\n", RK_VERSION);
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
	/* Events API v2: the four severities of PD-CEF. */
	if (strcmp(pd.severity, "critical") != 0 &&
	    strcmp(pd.severity, "error") != 0 &&
	    strcmp(pd.severity, "warning") != 0 &&
	    strcmp(pd.severity, "info") != 0) {
		log_error("invalid --severity '%s': expected critical, error, "
		    "warning or info", pd.severity);
		return RK_EXIT_USAGE;
	}
	if (httpout_check_url(pd.url) == -1) {
		log_error("invalid --url '%s': expected an http:// or "
		    "https:// URL", pd.url);
		return RK_EXIT_USAGE;
	}
	if ((rc = read_secrets(&pd, key_file, token_file)) != 0) {
		buf_wipe(&pd.key);
		return rc;
	}
	if (httpout_global_init() == -1 || httpout_init(&pd.http, &cfg) == -1) {
		buf_wipe(&pd.key);
		return RK_EXIT_IO;
	}
	out.name = "pagerduty";
	out.batch_max = 1;
	out.batch_wait_ms = 0;
	out.ctx = &pd;
	out.send = send_events;
	rc = deliver_run(&cfg, &out);
	buf_wipe(&pd.key);
	httpout_free(&pd.http);
	httpout_global_cleanup();
	return stdout_finish(rc);
}
