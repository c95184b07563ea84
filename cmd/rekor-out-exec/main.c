/*
 * rekor-out-exec: runs a shell command once per alert, with the alert
 * record on its standard input and the facts of the alert in environment
 * variables.  Exit status 0 means delivered.  Anything else is retried
 * with backoff, and after EXEC_ATTEMPTS_MAX failed runs of the same alert
 * the alert goes to the dead-letter file.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alertfacts.h"
#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "log.h"
#include "record.h"
#include "util.h"

/* Runs of one alert before it is dead-lettered. */
#define EXEC_ATTEMPTS_MAX	5
/* After --timeout: SIGTERM to the process group, SIGKILL this much later. */
#define EXEC_KILL_GRACE_MS	2000

extern char **environ;

struct exec_ctx {
	const char	*command;
	uint64_t	 timeout_ms;
	char		**base_env;	/* environ without REKOR_SIDEKICK_* */
	size_t		 base_len;
	char		 failing_id[ALERT_ID_LEN + 1];
	unsigned int	 attempts;	/* failed runs of failing_id */
};

/* The variables set for the command; values come from struct alert_facts. */
static const char *const exec_vars[] = {
	"REKOR_ALERT_ID", "REKOR_POLICY", "REKOR_POLICY_DESCRIPTION",
	"REKOR_LOG_INDEX", "REKOR_UUID", "REKOR_KIND", "REKOR_API_VERSION",
	"REKOR_ENTRY_URL", "REKOR_INTEGRATED_TIME", "REKOR_TIME",
	"REKOR_LOG_ID", "REKOR_TREE_ID", "REKOR_TREE_INDEX", "REKOR_SIGNER",
};
#define EXEC_NVARS	(sizeof(exec_vars) / sizeof(exec_vars[0]))

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-kqv] -c command [-d file] [-M bytes] "
	    "[-R duration] [-s file]\n"
	    "       [-S dir] [-T duration]\n", log_progname());
	if (fp != stdout)
		return;
	fputs("Run a shell command for every alert read on standard "
	    "input.\n\n"
	    "  -c, --command CMD          run CMD with /bin/sh -c once per "
	    "alert\n"
	    "                             (record on stdin, facts in "
	    "REKOR_* variables)\n"
	    "  -T, --timeout DUR          kill the command after DUR "
	    "(default 30s)\n", fp);
	fputs(DELIVER_USAGE_OPTIONS, fp);
	fputs("  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n", fp);
}

/* Returns 1 for the variables that the child must not inherit. */
static int
env_scrubbed(const char *entry)
{
	size_t i, n;

	if (strncmp(entry, "REKOR_SIDEKICK_", 15) == 0)
		return 1;
	for (i = 0; i < EXEC_NVARS; i++) {
		n = strlen(exec_vars[i]);
		if (strncmp(entry, exec_vars[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

/*
 * Copies the environment without REKOR_SIDEKICK_* (the secrets and
 * settings of the outputs) and without the variables set per alert.
 */
static int
env_base(struct exec_ctx *ctx)
{
	size_t n = 0, i;

	while (environ[n] != NULL)
		n++;
	if ((ctx->base_env = calloc(n + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (!env_scrubbed(environ[i]))
			ctx->base_env[ctx->base_len++] = environ[i];
	return 0;
}

/*
 * Builds the child's environment: the base environment plus one
 * "NAME=value" per exec_vars entry, in strings (freed by the caller with
 * env_free).  Returns the NULL-terminated array or NULL.
 */
static char **
env_build(const struct exec_ctx *ctx, const struct alert_facts *f,
    char **strings)
{
	const char *values[EXEC_NVARS];
	char **env;
	size_t i;

	values[0] = f->alert_id;
	values[1] = f->policy;
	values[2] = f->description;
	values[3] = f->index;
	values[4] = f->uuid;
	values[5] = f->kind;
	values[6] = f->api_version;
	values[7] = f->url;
	values[8] = f->integrated_time;
	values[9] = f->time;
	values[10] = f->log_id;
	values[11] = f->tree_id;
	values[12] = f->tree_index;
	values[13] = f->signer;
	env = calloc(ctx->base_len + EXEC_NVARS + 1, sizeof(char *));
	if (env == NULL)
		return NULL;
	memcpy(env, ctx->base_env, ctx->base_len * sizeof(char *));
	for (i = 0; i < EXEC_NVARS; i++) {
		if (asprintf(&strings[i], "%s=%s", exec_vars[i],
		    values[i]) == -1) {
			strings[i] = NULL;
			free(env);
			return NULL;
		}
		env[ctx->base_len + i] = strings[i];
	}
	return env;
}

static void
env_free(char **env, char **strings)
{
	size_t i;

	for (i = 0; i < EXEC_NVARS; i++)
		free(strings[i]);
	free(env);
}

/* An anonymous file holding the record and a newline, at offset 0. */
static int
stdin_file(const struct deliver_item *item)
{
	const char *p = item->line;
	size_t left = item->line_len;
	ssize_t n;
	int fd;

	if ((fd = memfd_create("rekor-alert", MFD_CLOEXEC)) == -1)
		return -1;
	while (left > 0) {
		if ((n = write(fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	if (write(fd, "\n", 1) != 1 || lseek(fd, 0, SEEK_SET) == -1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Starts /bin/sh -c command in a new process group, the record on its
 * stdin, its stdout on our stderr (our stdout carries data only), every
 * other descriptor closed, SIGPIPE and the usual signals at their
 * defaults, no signal blocked.  Returns 0 and the pid, or an errno value.
 */
static int
spawn_command(const struct exec_ctx *ctx, int in_fd, char **env, pid_t *pid)
{
	char sh[] = "sh", dash_c[] = "-c";
	char *argv[] = { sh, dash_c, NULL, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def, none;
	int rc;

	argv[2] = (char *)ctx->command;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGQUIT);
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		return rc;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&attr);
		return rc;
	}
	if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &def)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, 2, 1)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0)
		rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/*
 * Waits up to ms milliseconds for the child to exit.  Returns 1 and its
 * wait status when it did, 0 when the time ran out, -1 on error.  A pidfd
 * lets poll() wait for the exit; kernels without pidfd_open (before 5.3)
 * fall back to checking every 10 ms.
 */
static int
wait_child(pid_t pid, uint64_t ms, int *status)
{
	uint64_t deadline = now_ms() + ms, now;
	struct pollfd pfd;
	pid_t r;
	int fd;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR)
			break;
		now = now_ms();
		if (now >= deadline) {
			r = 0;
			break;
		}
		if (fd >= 0) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			poll(&pfd, 1, deadline - now > 1000 ? 1000 :
			    (int)(deadline - now));
		} else
			sleep_ms(deadline - now > 10 ? 10 : deadline - now);
	}
	if (fd >= 0)
		close(fd);
	if (r == pid)
		return 1;
	return r == 0 ? 0 : -1;
}

/* Kills the command's process group: SIGTERM, then SIGKILL. */
static void
kill_group(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	if (wait_child(pid, EXEC_KILL_GRACE_MS, status) == 1)
		return;
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
}

/*
 * Runs the command for one alert.  Returns 0 when it exited with status
 * 0, else -1 with the cause in reason.
 */
static int
run_command(struct exec_ctx *ctx, const struct deliver_item *item,
    char *reason, size_t reason_len)
{
	char *strings[EXEC_NVARS] = { NULL };
	struct alert_facts facts;
	char **env = NULL;
	int fd = -1, status = 0, rc = -1, err, waited;
	pid_t pid;

	alertfacts_get(item->alert, &facts);
	if ((env = env_build(ctx, &facts, strings)) == NULL ||
	    (fd = stdin_file(item)) == -1) {
		snprintf(reason, reason_len, "cannot prepare the command: %s",
		    strerror(errno));
		goto out;
	}
	if ((err = spawn_command(ctx, fd, env, &pid)) != 0) {
		snprintf(reason, reason_len, "cannot run /bin/sh: %s",
		    strerror(err));
		goto out;
	}
	log_debug("alert %s: started command, pid %ld", item->alert_id,
	    (long)pid);
	waited = wait_child(pid, ctx->timeout_ms, &status);
	if (waited == 0) {
		kill_group(pid, &status);
		snprintf(reason, reason_len, "command timed out after %llu ms "
		    "and was killed", (unsigned long long)ctx->timeout_ms);
	} else if (waited == -1)
		snprintf(reason, reason_len, "cannot wait for the command: %s",
		    strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status))
		snprintf(reason, reason_len, "command exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(reason, reason_len, "command killed by signal %d "
		    "(%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(reason, reason_len, "command stopped with wait "
		    "status %d", status);
out:
	if (fd != -1)
		close(fd);
	env_free(env, strings);
	return rc;
}

static void
exec_send(void *arg, struct deliver_item *items, size_t n)
{
	struct exec_ctx *ctx = arg;
	struct deliver_item *item;
	char reason[DELIVER_REASON_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		item = &items[i];
		if (run_command(ctx, item, reason, sizeof(reason)) == 0) {
			log_info("alert %s: command exited with status 0",
			    item->alert_id);
			deliver_item_set(item, DELIVER_OK, 0, "delivered");
			ctx->failing_id[0] = '\0';
			ctx->attempts = 0;
			continue;
		}
		if (strcmp(ctx->failing_id, item->alert_id) != 0) {
			snprintf(ctx->failing_id, sizeof(ctx->failing_id), "%s",
			    item->alert_id);
			ctx->attempts = 0;
		}
		ctx->attempts++;
		if (ctx->attempts >= EXEC_ATTEMPTS_MAX) {
			deliver_item_set(item, DELIVER_FAIL, 0, "%s (run %u of "
			    "%u)", reason, ctx->attempts, EXEC_ATTEMPTS_MAX);
			ctx->failing_id[0] = '\0';
			ctx->attempts = 0;
		} else
			deliver_item_set(item, DELIVER_RETRY, 0, "%s (run %u "
			    "of %u)", reason, ctx->attempts,
			    EXEC_ATTEMPTS_MAX);
	}
}

static const struct option longopts[] = {
	{ "command",	required_argument, NULL, 'c' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
	DELIVER_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	struct deliver_config cfg;
	struct exec_ctx ctx;
	struct deliver_output out = { "command", 1, 0, &ctx, exec_send };
	int c, rc;

	stdio_setup();
	log_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	deliver_config_init(&cfg);
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "c:hV",
	    longopts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			usage(stderr);
			return RK_EXIT_USAGE;
		}
		switch (c) {
		case 'c':
			ctx.command = optarg;
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
		log_error("unexpected argument '%s': alerts are read from "
		    "standard input", argv[optind]);
		usage(stderr);
		return RK_EXIT_USAGE;
	}
	if (ctx.command == NULL || ctx.command[0] == '\0') {
		log_error("missing --command: give the shell command to run "
		    "for each alert");
		usage(stderr);
		return RK_EXIT_USAGE;
	}
	ctx.timeout_ms = cfg.timeout_ms;
	if (env_base(&ctx) == -1) {
		log_error("cannot copy the environment: %s", strerror(errno));
		return RK_EXIT_IO;
	}
	rc = deliver_run(&cfg, &out);
	free(ctx.base_env);
	return stdout_finish(rc);
}
