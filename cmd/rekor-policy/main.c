/*
 * rekor-policy: reads entry records on standard input, evaluates each
 * against every Rego policy given with -p, and writes one alert record
 * per (entry, policy) whose "alert" rule is true.  Control records pass
 * through in order; the pending batch is evaluated and written before
 * each of them, so that a mark never overtakes an alert.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "batch.h"
#include "buf.h"
#include "exitcodes.h"
#include "log.h"
#include "policy.h"
#include "record.h"
#include "util.h"

#define LINE_MAX_BYTES	(32 * 1024 * 1024)	/* one input record */
#define BATCH_MAX_BYTES	(16 * 1024 * 1024)	/* pending records */
#define READY_TIMEOUT_MS	30000		/* opa start-up */

struct options {
	const char	*opa;
	struct policy	*policies;
	size_t		 npolicies;
	uint64_t	 batch_size;
	uint64_t	 wait_ms;
	int		 strict;
};

struct input {
	struct buf	 data;
	size_t		 scan;		/* bytes of data known to hold no \n */
	size_t		 lineno;
	int		 skipping;	/* inside an over-long line */
	uint64_t	 entries;
	uint64_t	 bad_lines;
};

static volatile sig_atomic_t stop_signal;

static void
usage(FILE *f)
{
	fprintf(f, "usage: rekor-policy [-hqsVv] [-b entries] [-o opa] "
	    "[-w wait]\n"
	    "                    [[-d description] [-i body|record] "
	    "[-n name] -p policy.rego] ...\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\nReads entry records (rekor-tail) on standard input and "
	    "writes an alert record\nfor each entry and policy whose "
	    "'alert' rule is true.\n\n"
	    "  -p, --policy FILE       a Rego policy, package sidekick "
	    "(repeatable)\n"
	    "  -n, --name NAME         alert name of the next -p (default: "
	    "METADATA title,\n"
	    "                          else the file name without .rego)\n"
	    "  -d, --description TEXT  description of the next -p "
	    "(default: METADATA\n"
	    "                          description, else empty)\n"
	    "  -i, --input body|record what the next -p sees as input: the "
	    "decoded body\n"
	    "                          (default) or the whole entry record\n"
	    "  -b, --batch N           entries per opa request, 1 to 10000 "
	    "(default 256)\n"
	    "  -w, --wait DURATION     longest an entry waits for a full "
	    "batch (default 100ms)\n"
	    "  -s, --strict            a failing built-in is an evaluation "
	    "error, not undefined\n"
	    "  -o, --opa PATH          the opa binary (default: opa on "
	    "PATH)\n"
	    "  -q, --quiet             show errors only\n"
	    "  -v, --verbose           show progress; twice: debug\n"
	    "  -h, --help              show this help\n"
	    "  -V, --version           show the version\n");
}

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static struct policy *
add_policy(struct options *o, const char *file)
{
	struct policy *grown;

	grown = reallocarray(o->policies, o->npolicies + 1, sizeof(*grown));
	if (grown == NULL) {
		log_error("out of memory");
		exit(RK_EXIT_USAGE);
	}
	o->policies = grown;
	grown = &o->policies[o->npolicies++];
	memset(grown, 0, sizeof(*grown));
	grown->file = (char *)file;
	return grown;
}

/*
 * Parses the command line.  -n, -d and -i set the next -p only.  Exits 2
 * on misuse.
 */
static void
parse_args(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "batch",	 required_argument, NULL, 'b' },
		{ "description", required_argument, NULL, 'd' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ "input",	 required_argument, NULL, 'i' },
		{ "name",	 required_argument, NULL, 'n' },
		{ "opa",	 required_argument, NULL, 'o' },
		{ "policy",	 required_argument, NULL, 'p' },
		{ "quiet",	 no_argument,	    NULL, 'q' },
		{ "strict",	 no_argument,	    NULL, 's' },
		{ "verbose",	 no_argument,	    NULL, 'v' },
		{ "version",	 no_argument,	    NULL, 'V' },
		{ "wait",	 required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL, *desc = NULL, *input = NULL;
	struct policy *p;
	int ch, verbose = 0, quiet = 0;

	while ((ch = getopt_long(argc, argv, "b:d:hi:n:o:p:qsVvw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (parse_uint64(optarg, 1, 10000, &o->batch_size) ==
			    -1) {
				log_error("invalid batch size '%s': expected "
				    "1 to 10000 entries", optarg);
				exit(RK_EXIT_USAGE);
			}
			break;
		case 'd':
			desc = optarg;
			break;
		case 'h':
			help();
			exit(RK_EXIT_OK);
		case 'i':
			if (strcmp(optarg, "body") != 0 &&
			    strcmp(optarg, "record") != 0) {
				log_error("invalid input '%s': expected body "
				    "or record", optarg);
				exit(RK_EXIT_USAGE);
			}
			input = optarg;
			break;
		case 'n':
			if (*optarg == '\0') {
				log_error("empty policy name: give -n a "
				    "name");
				exit(RK_EXIT_USAGE);
			}
			name = optarg;
			break;
		case 'o':
			o->opa = optarg;
			break;
		case 'p':
			p = add_policy(o, optarg);
			if (name != NULL) {
				p->name = strdup(name);
				p->name_from_option = 1;
			}
			if (desc != NULL) {
				p->description = strdup(desc);
				p->description_from_option = 1;
			}
			p->input_record = input != NULL &&
			    strcmp(input, "record") == 0;
			name = desc = input = NULL;
			break;
		case 'q':
			quiet = 1;
			break;
		case 's':
			o->strict = 1;
			break;
		case 'V':
			printf("rekor-policy %s\n", RK_VERSION);
			exit(RK_EXIT_OK);
		case 'v':
			verbose++;
			break;
		case 'w':
			if (parse_duration_ms(optarg, 1, 60000, &o->wait_ms) ==
			    -1) {
				log_error("invalid wait '%s': expected a "
				    "duration from 1ms to 60s, such as 100ms",
				    optarg);
				exit(RK_EXIT_USAGE);
			}
			break;
		default:
			usage(stderr);
			exit(RK_EXIT_USAGE);
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s': policies are given "
		    "with -p", argv[optind]);
		usage(stderr);
		exit(RK_EXIT_USAGE);
	}
	if (name != NULL || desc != NULL || input != NULL) {
		log_error("-n, -d and -i apply to the next -p, and no -p "
		    "follows them");
		exit(RK_EXIT_USAGE);
	}
	if (o->npolicies == 0) {
		log_error("no policy: give at least one -p FILE");
		usage(stderr);
		exit(RK_EXIT_USAGE);
	}
	if (quiet)
		log_set_level(LOG_ERROR);
	else if (verbose > 0)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
}

/*
 * Handles one input line (without its newline).  Returns 0 or a
 * batch_flush() result.
 */
static int
handle_line(struct batch *b, struct input *in, char *line, size_t len,
    const struct options *o)
{
	cJSON *rec;
	int rc = 0, r;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	if (strspn(line, " \t") >= len)
		return 0;
	if ((rec = cJSON_ParseWithLength(line, len)) == NULL) {
		log_error("line %zu: invalid JSON; skipped", in->lineno);
		in->bad_lines++;
		return 0;
	}
	switch (record_type(rec)) {
	case RECORD_CONTROL:
		if ((rc = batch_flush(b)) != 0)
			break;
		switch (out_write_line(line, len)) {
		case 0:
			break;
		case -1:
			rc = BATCH_READER_GONE;
			break;
		default:
			rc = BATCH_WRITE_FAILED;
		}
		break;
	case RECORD_ENTRY:
		r = batch_add(b, line, len, in->lineno, rec);
		if (r == -1) {
			log_error("out of memory");
			rc = BATCH_WRITE_FAILED;
			break;
		}
		if (r == 1) {
			in->bad_lines++;
			break;
		}
		in->entries++;
		if (b->n >= o->batch_size || b->bytes >= BATCH_MAX_BYTES)
			rc = batch_flush(b);
		break;
	case RECORD_ALERT:
		log_error("line %zu: an alert record, not an entry; skipped",
		    in->lineno);
		in->bad_lines++;
		break;
	default:
		log_error("line %zu: neither an entry (logIndex and body) "
		    "nor a control record; skipped", in->lineno);
		in->bad_lines++;
	}
	cJSON_Delete(rec);
	return rc;
}

/* Handles every complete line in the input buffer. */
static int
handle_lines(struct batch *b, struct input *in, const struct options *o)
{
	char *nl;
	size_t used = 0;
	int rc = 0;

	while (rc == 0 && (nl = memchr(in->data.data + in->scan, '\n',
	    in->data.len - in->scan)) != NULL) {
		in->lineno++;
		*nl = '\0';
		if (!in->skipping)
			rc = handle_line(b, in, in->data.data + used,
			    (size_t)(nl - in->data.data) - used, o);
		in->skipping = 0;
		used = (size_t)(nl - in->data.data) + 1;
		in->scan = used;
	}
	memmove(in->data.data, in->data.data + used, in->data.len - used);
	in->data.len -= used;
	in->scan -= used;
	in->data.data[in->data.len] = '\0';
	if (in->data.len > LINE_MAX_BYTES && !in->skipping) {
		log_error("line %zu: longer than %d MiB; skipped",
		    in->lineno + 1, LINE_MAX_BYTES / (1024 * 1024));
		in->bad_lines++;
		in->skipping = 1;
	}
	if (in->skipping) {
		in->data.len = in->scan = 0;
		in->data.data[0] = '\0';
	}
	in->scan = in->data.len;
	return rc;
}

/*
 * Reads standard input to its end, or until a signal stops the run.
 * Returns 0 or a batch_flush() result.
 */
static int
run(struct batch *b, struct input *in, const struct options *o)
{
	struct pollfd pfd = { 0, POLLIN, 0 };
	char chunk[65536];
	uint64_t now;
	ssize_t n;
	int timeout, r, rc;

	for (;;) {
		if (stop_signal != 0) {
			if (b->n > 0)
				log_info("stopping on signal %d: %zu pending "
				    "entries were not evaluated",
				    (int)stop_signal, b->n);
			batch_discard(b);
			return 0;
		}
		timeout = -1;
		if (b->n > 0) {
			now = now_ms();
			timeout = now >= b->first_ms + o->wait_ms ? 0 :
			    (int)(b->first_ms + o->wait_ms - now);
		}
		r = poll(&pfd, 1, timeout);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			log_error("cannot poll standard input: %s",
			    strerror(errno));
			return BATCH_WRITE_FAILED;
		}
		if (r == 0) {
			if ((rc = batch_flush(b)) != 0)
				return rc;
			continue;
		}
		n = read(0, chunk, sizeof(chunk));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			log_error("read error on standard input: %s",
			    strerror(errno));
			return BATCH_WRITE_FAILED;
		}
		if (n == 0)
			break;
		if (buf_append(&in->data, chunk, (size_t)n) == -1) {
			log_error("out of memory");
			return BATCH_WRITE_FAILED;
		}
		if ((rc = handle_lines(b, in, o)) != 0)
			return rc;
	}
	/* A last line without a newline is still a record. */
	if (in->data.len > 0 && !in->skipping) {
		in->lineno++;
		if ((rc = handle_line(b, in, in->data.data, in->data.len,
		    o)) != 0)
			return rc;
	}
	return batch_flush(b);
}

/* Loads every policy, then starts all opa servers and waits for them. */
static int
start_policies(struct options *o, struct opa_env *env)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < o->npolicies; i++)
		if (policy_load(&o->policies[i], env, i) == -1)
			failed++;
	if (failed > 0) {
		log_error("%d of %zu policies did not compile; nothing was "
		    "read", failed, o->npolicies);
		return -1;
	}
	if (policy_names_check(o->policies, o->npolicies) == -1)
		return -1;
	for (i = 0; i < o->npolicies; i++)
		if (server_start(&o->policies[i], env) == -1)
			return -1;
	for (i = 0; i < o->npolicies; i++) {
		if (server_wait_ready(&o->policies[i], READY_TIMEOUT_MS) == -1)
			return -1;
		log_info("policy '%s' from '%s' ready (Rego %s, input %s)",
		    o->policies[i].name, o->policies[i].file,
		    o->policies[i].v0 ? "v0" : "v1",
		    o->policies[i].input_record ? "record" : "body");
	}
	return 0;
}

/* Reports the counters and returns the exit status for a finished run. */
static int
report(const struct options *o, const struct input *in)
{
	const struct policy *p;
	int rc = RK_EXIT_OK;
	size_t i;

	for (i = 0; i < o->npolicies; i++) {
		p = &o->policies[i];
		log_info("policy '%s': %llu alerts", p->name,
		    (unsigned long long)p->alerts);
		if (p->builtin_failures > 0 && !o->strict)
			log_warn("policy '%s': a built-in failed on %llu "
			    "entries and was taken as undefined; --strict "
			    "makes that an error", p->name,
			    (unsigned long long)p->builtin_failures);
		if (p->errors > 0) {
			log_error("policy '%s': evaluation failed on %llu "
			    "entries; no alert was written for them",
			    p->name, (unsigned long long)p->errors);
			rc = RK_EXIT_PARTIAL;
		}
	}
	if (in->bad_lines > 0) {
		log_error("%llu input lines were skipped",
		    (unsigned long long)in->bad_lines);
		rc = RK_EXIT_PARTIAL;
	}
	log_info("%llu entries read", (unsigned long long)in->entries);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct options opts = { "opa", NULL, 0, 256, 100, 0 };
	struct input in = { BUF_INIT, 0, 0, 0, 0, 0 };
	struct batch b;
	struct opa_env env;
	struct sigaction sa;
	size_t i;
	int rc = RK_EXIT_USAGE, r;

	log_init(argv[0]);
	stdio_setup();
	parse_args(argc, argv, &opts);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	curl_global_init(CURL_GLOBAL_NOTHING);
	memset(&b, 0, sizeof(b));
	b.policies = opts.policies;
	b.npolicies = opts.npolicies;
	b.strict = opts.strict;
	if (opa_env_init(&env, opts.opa) == -1 ||
	    start_policies(&opts, &env) == -1)
		goto out;
	r = run(&b, &in, &opts);
	if (r == BATCH_OPA_FAILED) {
		log_error("stopped at line %zu: entries from the last batch "
		    "on have no result", in.lineno);
		rc = RK_EXIT_REMOTE;
	} else if (r == BATCH_WRITE_FAILED) {
		rc = RK_EXIT_IO;
	} else {
		/* The reader left: the EPIPE is no error at exit either. */
		if (r == BATCH_READER_GONE)
			clearerr(stdout);
		rc = report(&opts, &in);
	}
out:
	batch_free(&b);
	for (i = 0; i < opts.npolicies; i++) {
		server_stop(&opts.policies[i]);
		policy_free(&opts.policies[i]);
	}
	opa_env_free(&env);
	free(opts.policies);
	buf_free(&in.data);
	curl_global_cleanup();
	return stdout_finish(rc);
}
