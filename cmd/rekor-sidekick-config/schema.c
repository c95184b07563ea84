/*
 * Every key the config accepts (docs/config-keys.md), and the checks of
 * their values.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define R	KEY_REQUIRED

/* Keys of outputs that speak HTTP or SMTP. */
#define NET_KEYS(o) \
	{ "outputs." o ".insecure", KT_BOOL, NULL, 0 }, \
	{ "outputs." o ".caFile", KT_PATH, NULL, 0 }, \
	{ "outputs." o ".timeout", KT_DURATION, NULL, 0 }

const struct key_def config_keys[] = {
	{ "server", KT_URL, NULL, 0 },
	{ "start", KT_START, NULL, 0 },
	{ "index", KT_OLD_INDEX, NULL, 0 },
	{ "end", KT_START, NULL, 0 },
	{ "interval", KT_DURATION, NULL, 0 },
	{ "timeout", KT_DURATION, NULL, 0 },
	{ "stateDir", KT_PATH, NULL, 0 },
	{ "logging.level", KT_LEVEL, NULL, 0 },

	{ "outputs.stdout.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.stdout.format", KT_ENUM, "json|text", 0 },

	{ "outputs.cloudevents.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.cloudevents.sourceID", KT_STRING, NULL, R },
	{ "outputs.cloudevents.http.url", KT_URL, NULL, R },
	{ "outputs.cloudevents.mode", KT_ENUM, "binary|structured", 0 },
	NET_KEYS("cloudevents"),

	{ "outputs.pagerduty.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.pagerduty.integrationKey", KT_SECRET, NULL, R },
	{ "outputs.pagerduty.apiToken", KT_SECRET, NULL, 0 },
	{ "outputs.pagerduty.severity", KT_ENUM,
	    "critical|error|warning|info", 0 },
	{ "outputs.pagerduty.url", KT_URL, NULL, 0 },
	NET_KEYS("pagerduty"),

	{ "outputs.opensearch.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.opensearch.server", KT_URL, NULL, R },
	{ "outputs.opensearch.index", KT_STRING, NULL, R },
	{ "outputs.opensearch.username", KT_STRING, NULL, 0 },
	{ "outputs.opensearch.password", KT_SECRET, NULL, 0 },
	{ "outputs.opensearch.severity", KT_STRING, NULL, 0 },
	NET_KEYS("opensearch"),

	{ "outputs.loki.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.loki.url", KT_URL, NULL, R },
	{ "outputs.loki.tenant", KT_STRING, NULL, 0 },
	{ "outputs.loki.username", KT_STRING, NULL, 0 },
	{ "outputs.loki.password", KT_SECRET, NULL, 0 },
	{ "outputs.loki.labels", KT_LABELS, NULL, 0 },
	NET_KEYS("loki"),

	{ "outputs.smtp.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.smtp.host", KT_STRING, NULL, R },
	{ "outputs.smtp.port", KT_PORT, NULL, 0 },
	{ "outputs.smtp.username", KT_STRING, NULL, 0 },
	{ "outputs.smtp.password", KT_SECRET, NULL, 0 },
	{ "outputs.smtp.from", KT_STRING, NULL, R },
	{ "outputs.smtp.to", KT_LIST, NULL, R },
	{ "outputs.smtp.starttls", KT_ENUM, "required|try|never", 0 },
	NET_KEYS("smtp"),

	{ "outputs.webhook.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.webhook.url", KT_SECRET, NULL, R },
	{ "outputs.webhook.format", KT_ENUM, "json|slack", 0 },
	{ "outputs.webhook.headers", KT_SECRET, NULL, 0 },
	NET_KEYS("webhook"),

	{ "outputs.exec.enabled", KT_BOOL, NULL, 0 },
	{ "outputs.exec.command", KT_STRING, NULL, R },
	{ "outputs.exec.timeout", KT_DURATION, NULL, 0 },
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

const char *const config_outputs[] = {
	"stdout", "cloudevents", "pagerduty", "opensearch", "loki", "smtp",
	"webhook", "exec", NULL
};

/* In the order of enum policy_field. */
const char *const policy_keys[] = {
	"name", "description", "body", "file", "input", NULL
};

/* Returns the index of the key with this canonical path, or -1. */
int
key_find(const char *path)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].path, path) == 0)
			return (int)i;
	return -1;
}

/* Tells whether PATH is a key of output NAME ("outputs.NAME."). */
int
key_is_output(const char *path, const char *name)
{
	size_t n = strlen(name);

	return strncmp(path, "outputs.", 8) == 0 &&
	    strncmp(path + 8, name, n) == 0 && path[8 + n] == '.';
}

/*
 * Edit distance, case-insensitive, that counts a swap of two neighbouring
 * letters as one edit (optimal string alignment).
 */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, w, *d, best, cost;

	if (la > 128 || lb > 128)
		return SIZE_MAX;
	w = lb + 1;
	if ((d = calloc((la + 1) * w, sizeof(*d))) == NULL)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i * w] = i;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			best = d[(i - 1) * w + j - 1] + cost;
			if (d[(i - 1) * w + j] + 1 < best)
				best = d[(i - 1) * w + j] + 1;
			if (d[i * w + j - 1] + 1 < best)
				best = d[i * w + j - 1] + 1;
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[j - 1]) &&
			    d[(i - 2) * w + j - 2] + 1 < best)
				best = d[(i - 2) * w + j - 2] + 1;
			d[i * w + j] = best;
		}
	best = d[la * w + lb];
	free(d);
	return best;
}

/*
 * Returns the candidate closest to WORD when it is close enough to be the
 * intended spelling (at most a third of its letters differ, and at least
 * one and at most three are allowed), else NULL.
 */
const char *
key_closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit;

	limit = strlen(word) / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (i = 0; i < n; i++) {
		d = edit_distance(word, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

/* Appends the environment variable name of a key path. */
void
key_env_name(const char *path, struct buf *out)
{
	const char *p;
	char c;

	buf_append_str(out, "REKOR_SIDEKICK_");
	for (p = path; *p != '\0'; p++) {
		c = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
		buf_append(out, &c, 1);
	}
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	return -1;
}

static int
enum_match(const char *choices, const char *s, struct buf *canon)
{
	const char *p = choices, *bar;
	size_t n;

	for (;;) {
		bar = strchr(p, '|');
		n = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (strlen(s) == n && strncasecmp(p, s, n) == 0) {
			buf_append(canon, p, n);
			return 0;
		}
		if (bar == NULL)
			return -1;
		p = bar + 1;
	}
}

/* Appends "a, b or c" for the choices "a|b|c". */
static void
choices_text(const char *choices, struct buf *out)
{
	const char *p = choices, *bar;

	while ((bar = strchr(p, '|')) != NULL) {
		buf_append(out, p, (size_t)(bar - p));
		buf_append_str(out, strchr(bar + 1, '|') != NULL ? ", " :
		    " or ");
		p = bar + 1;
	}
	buf_append_str(out, p);
}

static int
is_url(const char *s)
{
	return (strncasecmp(s, "http://", 7) == 0 && s[7] != '\0') ||
	    (strncasecmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/* Checks "k=v,k=v": label names as Loki (Prometheus) accepts them. */
static int
labels_valid(const char *s)
{
	const char *p = s;

	while (*p != '\0') {
		if (!isalpha((unsigned char)*p) && *p != '_')
			return 0;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (*p++ != '=')
			return 0;
		while (*p != '\0' && *p != ',')
			p++;
		if (*p == ',')
			p++;
	}
	return 1;
}

/*
 * Checks a scalar against its key's type.  On success returns 0 and
 * appends the canonical form to CANON; on failure returns -1 and appends
 * what is expected to CANON instead.  Never copies a secret into CANON on
 * failure.
 */
int
key_check_value(const struct key_def *k, const char *s, struct buf *canon)
{
	enum log_level lvl;
	uint64_t u, ms;
	int b;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
	case KT_SECRET:
	case KT_LIST:
		if (*s == '\0') {
			buf_append_str(canon, "a non-empty value");
			return -1;
		}
		break;
	case KT_URL:
		if (!is_url(s)) {
			buf_append_str(canon, "an http:// or https:// URL");
			return -1;
		}
		break;
	case KT_BOOL:
		if (parse_bool(s, &b) == -1) {
			buf_append_str(canon, "true or false");
			return -1;
		}
		buf_append_str(canon, b ? "true" : "false");
		return 0;
	case KT_PORT:
		if (parse_uint64(s, 1, 65535, &u) == -1) {
			buf_append_str(canon, "a port number from 1 to 65535");
			return -1;
		}
		break;
	case KT_START:
		if (strcasecmp(s, "tip") == 0) {
			buf_append_str(canon, "tip");
			return 0;
		}
		if (parse_uint64(s, 0, INT64_MAX, &u) == -1) {
			buf_append_str(canon, "'tip' or a log index (0 or more)");
			return -1;
		}
		break;
	case KT_OLD_INDEX:
		if (strcmp(s, "-1") == 0)
			break;
		if (parse_uint64(s, 0, INT64_MAX, &u) == -1) {
			buf_append_str(canon, "-1 (the tip) or a log index");
			return -1;
		}
		break;
	case KT_DURATION:
		if (parse_duration_ms(s, 1, UINT64_MAX, &ms) == -1) {
			buf_append_str(canon, "a duration such as 500ms, 10s, "
			    "5m or 1h");
			return -1;
		}
		break;
	case KT_LEVEL:
		if (log_parse_level(s, &lvl) == -1) {
			buf_append_str(canon, "error, warn, info or debug");
			return -1;
		}
		buf_append_str(canon, lvl == LOG_ERROR ? "error" :
		    lvl == LOG_WARN ? "warn" : lvl == LOG_INFO ? "info" :
		    "debug");
		return 0;
	case KT_ENUM:
		if (enum_match(k->choices, s, canon) == -1) {
			choices_text(k->choices, canon);
			return -1;
		}
		return 0;
	case KT_LABELS:
		if (!labels_valid(s)) {
			buf_append_str(canon, "labels as name=value,"
			    "name=value");
			return -1;
		}
		break;
	}
	buf_append_str(canon, s);
	return 0;
}
