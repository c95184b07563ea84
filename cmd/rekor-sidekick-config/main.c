/*
 * rekor-sidekick-config: reads the rekor-sidekick YAML config, applies the
 * REKOR_SIDEKICK_* environment, checks every key, and prints the pipeline
 * as shell assignments for the rekor-sidekick wrapper.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "exitcodes.h"
#include "log.h"
#include "util.h"

#define DEFAULT_CONFIG	"/etc/rekor-sidekick/config.yaml"

extern char **environ;

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: rekor-sidekick-config [-hnV] [-c file]\n");
	if (fp != stdout)
		return;
	fprintf(fp, "\n"
	    "  -c, --config FILE  the YAML config (default: $REKOR_SIDEKICK_CONFIG,\n"
	    "                     else " DEFAULT_CONFIG ")\n"
	    "  -n, --check        check the config, print nothing\n"
	    "  -h, --help         print this help\n"
	    "  -V, --version      print the version\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct config cfg;
	struct node *tree = NULL;
	const char *path;
	int ch, check = 0, rc = RK_EXIT_USAGE;

	stdio_setup();
	log_init(argv[0]);
	path = getenv("REKOR_SIDEKICK_CONFIG");
	if (path == NULL || *path == '\0')
		path = DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:hnV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return stdout_finish(RK_EXIT_OK);
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("rekor-sidekick-config %s\n", RK_VERSION);
			return stdout_finish(RK_EXIT_OK);
		default:
			usage(stderr);
			return RK_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'; the config file goes "
		    "after --config", argv[optind]);
		usage(stderr);
		return RK_EXIT_USAGE;
	}
	if (config_init(&cfg, path) == -1) {
		log_error("out of memory");
		return RK_EXIT_USAGE;
	}
	if (tree_load(path, &tree) == -1)
		goto out;
	config_from_tree(&cfg, tree);
	config_from_env(&cfg, environ);
	config_validate(&cfg);
	if (cfg.nproblems > 0)
		goto out;
	if (check) {
		rc = RK_EXIT_OK;
		goto out;
	}
	rc = emit_shell(&cfg) == 0 ? RK_EXIT_OK : RK_EXIT_USAGE;
out:
	tree_free(tree);
	config_free(&cfg);
	return stdout_finish(rc);
}
