/*
 * rekor-tail: reads a Rekor v1 transparency log over its REST API and
 * writes one entry record per line on standard output, in global index
 * order, with each body decoded.  Without --to it follows the log and
 * polls for new entries until it is stopped.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "exitcodes.h"
#include "log.h"
#include "tail.h"
#include "util.h"

#define DEFAULT_SERVER	"https://rekor.sigstore.dev"
#define INDEX_MAX	9007199254740992ULL	/* 2^53, exact in JSON */

static void
usage(FILE *f)
{
	fprintf(f, "usage: rekor-tail [-hqVv] [-a file] [-f index | tip] "
	    "[-i interval] [-P count]\n"
	    "                  [-r count] [-S file] [-s url] [-T timeout] "
	    "[-t index | tip]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Writes the entries of a Rekor v1 log as JSON lines, in index "
	    "order.\n\n"
	    "  -s, --server URL       log to read (default %s)\n"
	    "  -f, --from N|tip       first global index; tip: the next new "
	    "entry (default tip)\n"
	    "  -t, --to N|tip         stop before index N, or at the tip seen "
	    "at start;\n"
	    "                         without it, follow the log until "
	    "stopped\n"
	    "  -i, --interval TIME    poll for new entries and write a mark "
	    "this often\n"
	    "                         (default 5s; units ms, s, m, h)\n"
	    "  -T, --timeout TIME     limit for one request (default 30s)\n"
	    "  -r, --retries N        retries of a failed request before "
	    "giving up (default 8)\n"
	    "  -P, --parallel N       requests in flight, 1-32 (default 4)\n"
	    "  -S, --state FILE       keep the next index in FILE and resume "
	    "from it\n"
	    "  -a, --ack-state FILE   resume from the lowest index among these "
	    "files;\n"
	    "                         repeatable; missing files are created\n"
	    "  -q, --quiet            show errors only\n"
	    "  -v, --verbose          show progress; twice: debug\n"
	    "  -h, --help             show this help\n"
	    "  -V, --version          show the version\n", DEFAULT_SERVER);
}

static void
bad_option(const char *opt, const char *value, const char *expected)
{
	log_error("invalid %s '%s': expected %s", opt, value, expected);
	usage(stderr);
	exit(RK_EXIT_USAGE);
}

static void
parse_index(const char *opt, const char *s, int *tip, uint64_t *out)
{
	*tip = strcmp(s, "tip") == 0;
	if (!*tip && parse_uint64(s, 0, INDEX_MAX, out) == -1)
		bad_option(opt, s, "a log index or 'tip'");
}

/* Checks a server URL and strips trailing slashes (caller frees). */
static char *
parse_server(const char *s)
{
	char *url;
	size_t n;

	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		bad_option("--server", s, "an http:// or https:// URL");
	if ((url = strdup(s)) == NULL) {
		log_error("out of memory");
		exit(RK_EXIT_IO);
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if (strchr(url, '?') != NULL || strchr(url, '#') != NULL ||
	    strlen(url) <= 8) {
		free(url);
		bad_option("--server", s, "a base URL without query or fragment");
	}
	return url;
}

static void
add_ack(struct tail_opts *o, const char *path)
{
	const char **p;

	if ((p = realloc(o->ack_paths, (o->n_ack + 1) * sizeof(*p))) == NULL) {
		log_error("out of memory");
		exit(RK_EXIT_IO);
	}
	p[o->n_ack++] = path;
	o->ack_paths = p;
}

static void
parse_args(int argc, char **argv, struct tail_opts *o)
{
	static const struct option longopts[] = {
		{ "ack-state",	required_argument,	NULL, 'a' },
		{ "from",	required_argument,	NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "interval",	required_argument,	NULL, 'i' },
		{ "parallel",	required_argument,	NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "retries",	required_argument,	NULL, 'r' },
		{ "server",	required_argument,	NULL, 's' },
		{ "state",	required_argument,	NULL, 'S' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "to",		required_argument,	NULL, 't' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *server = DEFAULT_SERVER;
	uint64_t v;
	int c, verbose = 0, quiet = 0;

	o->from_tip = 1;
	o->interval_ms = 5000;
	o->timeout_ms = 30000;
	o->retries = 8;
	o->parallel = 4;
	while ((c = getopt_long(argc, argv, "a:f:hi:P:qr:S:s:T:t:Vv", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'a':
			add_ack(o, optarg);
			break;
		case 'f':
			parse_index("--from", optarg, &o->from_tip, &o->from);
			o->from_given = 1;
			break;
		case 'h':
			help();
			exit(RK_EXIT_OK);
		case 'i':
			if (parse_duration_ms(optarg, 100, 3600000,
			    &o->interval_ms) == -1)
				bad_option("--interval", optarg,
				    "a time from 100ms to 1h");
			break;
		case 'P':
			if (parse_uint64(optarg, 1, 32, &v) == -1)
				bad_option("--parallel", optarg,
				    "a number from 1 to 32");
			o->parallel = (unsigned int)v;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'r':
			if (parse_uint64(optarg, 0, 1000, &v) == -1)
				bad_option("--retries", optarg,
				    "a number from 0 to 1000");
			o->retries = (unsigned int)v;
			break;
		case 'S':
			o->state_path = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'T':
			if (parse_duration_ms(optarg, 100, 3600000,
			    &o->timeout_ms) == -1)
				bad_option("--timeout", optarg,
				    "a time from 100ms to 1h");
			break;
		case 't':
			parse_index("--to", optarg, &o->to_tip, &o->to);
			o->have_to = 1;
			break;
		case 'V':
			printf("rekor-tail %s\n", RK_VERSION);
			exit(RK_EXIT_OK);
		case 'v':
			verbose++;
			break;
		default:
			usage(stderr);
			exit(RK_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		exit(RK_EXIT_USAGE);
	}
	if (quiet && verbose > 0) {
		log_error("-q and -v exclude each other");
		usage(stderr);
		exit(RK_EXIT_USAGE);
	}
	if (quiet)
		log_set_level(LOG_ERROR);
	else if (verbose > 0)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
	if (o->have_to && !o->to_tip && !o->from_tip && o->to <= o->from) {
		log_error("--to %llu must be greater than --from %llu",
		    (unsigned long long)o->to, (unsigned long long)o->from);
		usage(stderr);
		exit(RK_EXIT_USAGE);
	}
	o->server = parse_server(server);
}

int
main(int argc, char **argv)
{
	struct tail_opts opts;
	int rc;

	stdio_setup();
	log_init(argv[0]);
	memset(&opts, 0, sizeof(opts));
	parse_args(argc, argv, &opts);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		free(opts.server);
		free(opts.ack_paths);
		return RK_EXIT_IO;
	}
	rc = tail_run(&opts);
	curl_global_cleanup();
	free(opts.server);
	free(opts.ack_paths);
	return stdout_finish(rc);
}
