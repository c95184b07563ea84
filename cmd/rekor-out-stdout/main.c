/*
 * rekor-out-stdout: writes each alert read on standard input to standard
 * output, as a compact JSON line or as one readable logfmt line, and
 * acknowledges progress marks in a state file once every alert before
 * them has been written and flushed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "exitcodes.h"
#include "identity.h"
#include "log.h"
#include "record.h"
#include "state.h"
#include "util.h"

enum format {
	FORMAT_JSON,
	FORMAT_TEXT
};

struct opts {
	enum format	 format;
	const char	*state;
	const char	*dead_letter;
};

struct run {
	const struct opts *o;
	struct state	 acked;		/* what the state file holds */
	int		 have_state;
	uint64_t	 line;
	int		 bad;		/* records reported bad */
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: rekor-out-stdout [-hqVv] [-d file] [-f format] "
	    "[-s file]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Writes the alerts read on standard input to standard output.\n\n"
	    "  -f, --format FORMAT     json: the alert record on one line "
	    "(default);\n"
	    "                          text: policy, index, kind, time and "
	    "signer\n"
	    "  -s, --state FILE        acknowledge progress marks in FILE\n"
	    "  -d, --dead-letter FILE  accepted for the wrapper; unused, since "
	    "writing\n"
	    "                          to standard output cannot fail for "
	    "one alert only\n"
	    "  -q, --quiet             show errors only\n"
	    "  -v, --verbose           show more; twice: debug\n"
	    "  -h, --help              show this help\n"
	    "  -V, --version           show the version\n");
}

/* Appends a logfmt value: bare when safe, else quoted and escaped. */
static void
logfmt_value(struct buf *out, const char *s)
{
	const unsigned char *p;
	int bare = *s != '\0';

	for (p = (const unsigned char *)s; *p != '\0' && bare; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			bare = 0;
	if (bare) {
		buf_append_str(out, s);
		return;
	}
	buf_append_str(out, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_append_str(out, "\\n");
		else if (*p == '\t')
			buf_append_str(out, "\\t");
		else if (*p < ' ' || *p == 0x7f)
			buf_printf(out, "\\x%02x", *p);
		else
			buf_append(out, p, 1);
	}
	buf_append_str(out, "\"");
}

static const char *
string_field(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One readable line: time, policy, index, kind and signer. */
static int
format_text(const cJSON *alert, struct buf *out)
{
	const cJSON *policy, *body;
	struct buf who = BUF_INIT;
	const char *s;
	uint64_t index;

	policy = cJSON_GetObjectItemCaseSensitive(alert, "policy");
	body = cJSON_GetObjectItemCaseSensitive(alert, "body");
	buf_append_str(out, "time=");
	s = string_field(alert, "time");
	logfmt_value(out, s != NULL ? s : "unknown");
	buf_append_str(out, " policy=");
	s = string_field(policy, "name");
	logfmt_value(out, s != NULL ? s : "unknown");
	if (record_get_index(alert, &index) == 0)
		buf_printf(out, " index=%llu", (unsigned long long)index);
	buf_append_str(out, " kind=");
	s = string_field(alert, "kind");
	if (s == NULL)
		s = string_field(body, "kind");
	logfmt_value(out, s != NULL ? s : "unknown");
	if (identity_describe(body, &who) == 0) {
		buf_append_str(out, " signer=");
		logfmt_value(out, who.data);
	}
	buf_free(&who);
	return out->data != NULL ? 0 : -1;
}

/*
 * Acknowledges a mark: records its "next" in the state file.  Returns 0,
 * or an exit status.
 */
static int
ack_mark(struct run *r, const cJSON *mark)
{
	const char *log_id, *server;
	const cJSON *v;
	struct state st;
	double d;

	if (r->o->state == NULL)
		return 0;
	log_id = string_field(mark, "log");
	server = string_field(mark, "server");
	v = cJSON_GetObjectItemCaseSensitive(mark, "next");
	d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	if (log_id == NULL || *log_id == '\0' ||
	    strlen(log_id) >= sizeof(st.log) || d < 0 ||
	    d > 9007199254740992.0 || d != (double)(uint64_t)d) {
		log_error("line %llu: mark without a valid \"log\" and "
		    "\"next\"; the stage before is broken, state not "
		    "updated", (unsigned long long)r->line);
		r->bad = 1;
		return 0;
	}
	if (r->have_state && strcmp(r->acked.log, log_id) != 0) {
		log_error("state file '%s' belongs to log '%s', but the marks "
		    "come from log '%s'; use another state file",
		    r->o->state, r->acked.log, log_id);
		return RK_EXIT_DATA;
	}
	memset(&st, 0, sizeof(st));
	strcpy(st.log, log_id);
	if (server != NULL && strlen(server) < sizeof(st.server))
		strcpy(st.server, server);
	st.next = (uint64_t)d;
	if (r->have_state && st.next == r->acked.next &&
	    strcmp(st.server, r->acked.server) == 0)
		return 0;
	if (state_write(r->o->state, &st) == -1)
		return RK_EXIT_IO;
	r->acked = st;
	r->have_state = 1;
	log_debug("acknowledged index %llu", (unsigned long long)st.next);
	return 0;
}

static void
report_malformed(struct run *r, const cJSON *rec)
{
	const char *uuid = string_field(rec, "uuid");
	const char *why = string_field(rec, "error");
	uint64_t index;

	if (record_get_index(rec, &index) == 0)
		log_error("entry %llu (uuid '%s'): the log served a body "
		    "that cannot be decoded: %s", (unsigned long long)index,
		    uuid != NULL ? uuid : "unknown",
		    why != NULL ? why : "no reason given");
	else
		log_error("line %llu: malformed entry without a valid "
		    "logIndex: %s", (unsigned long long)r->line,
		    why != NULL ? why : "no reason given");
	r->bad = 1;
}

/*
 * Handles one input line.  Returns 0 to go on, -1 when the reader of
 * standard output has gone, or an exit status.
 */
static int
handle_line(struct run *r, const char *line, size_t len)
{
	struct buf text = BUF_INIT;
	const char *ctl;
	cJSON *rec;
	int rc = 0;

	if ((rec = cJSON_ParseWithLength(line, len)) == NULL) {
		log_error("line %llu: not valid JSON; skipped",
		    (unsigned long long)r->line);
		r->bad = 1;
		return 0;
	}
	switch (record_type(rec)) {
	case RECORD_ALERT:
		if (r->o->format == FORMAT_JSON) {
			rc = out_write_line(line, len);
		} else if (format_text(rec, &text) == 0) {
			rc = out_write_line(text.data, text.len);
		} else {
			log_error("out of memory");
			rc = -2;
		}
		if (rc == -2)
			rc = RK_EXIT_IO;
		break;
	case RECORD_CONTROL:
		ctl = record_control_type(rec);
		if (strcmp(ctl, "mark") == 0)
			rc = ack_mark(r, rec);
		else if (strcmp(ctl, "malformed") == 0)
			report_malformed(r, rec);
		break;
	case RECORD_ENTRY:
		log_error("line %llu: an entry, not an alert; put "
		    "rekor-policy before rekor-out-stdout",
		    (unsigned long long)r->line);
		r->bad = 1;
		break;
	default:
		log_error("line %llu: not a pipeline record (no \"control\", "
		    "or no \"logIndex\" and \"body\"); skipped",
		    (unsigned long long)r->line);
		r->bad = 1;
		break;
	}
	cJSON_Delete(rec);
	buf_free(&text);
	return rc;
}

static int
run(const struct opts *o)
{
	struct run r;
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t n;
	int rc = 0, st;

	memset(&r, 0, sizeof(r));
	r.o = o;
	if (o->state != NULL) {
		st = state_read(o->state, &r.acked);
		if (st == STATE_INVALID)
			return RK_EXIT_DATA;
		r.have_state = st == 0;
	}
	while ((n = getline(&line, &cap, stdin)) != -1) {
		r.line++;
		len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		line[len] = '\0';
		if ((rc = handle_line(&r, line, len)) != 0)
			break;
	}
	if (rc == 0 && ferror(stdin)) {
		log_error("read error on standard input: %s",
		    strerror(errno));
		rc = RK_EXIT_IO;
	}
	free(line);
	if (rc == -1)
		return RK_EXIT_OK;	/* the reader left: not an error */
	if (rc == 0 && r.bad)
		rc = RK_EXIT_PARTIAL;
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "dead-letter", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "state", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { FORMAT_JSON, NULL, NULL };
	int ch, verbose = 0, quiet = 0;

	stdio_setup();
	log_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "d:f:hqs:Vv", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'd':
			o.dead_letter = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				o.format = FORMAT_JSON;
			else if (strcmp(optarg, "text") == 0)
				o.format = FORMAT_TEXT;
			else {
				log_error("invalid format '%s': expected json "
				    "or text", optarg);
				usage(stderr);
				return RK_EXIT_USAGE;
			}
			break;
		case 'h':
			help();
			return stdout_finish(RK_EXIT_OK);
		case 'q':
			quiet = 1;
			break;
		case 's':
			o.state = optarg;
			break;
		case 'V':
			printf("rekor-out-stdout %s\n", RK_VERSION);
			return stdout_finish(RK_EXIT_OK);
		case 'v':
			verbose++;
			break;
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
	if (quiet)
		log_set_level(LOG_ERROR);
	else if (verbose > 0)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
	return stdout_finish(run(&o));
}
