/*
 * Leveled diagnostics on standard error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *progname = "rekor";
static enum log_level level = LOG_WARN;

/*
 * Sets the program name used as the message prefix.  REKOR_LOG_LEVEL
 * (error, warn, info, debug) sets the starting level, so that the wrapper
 * can pass the config's logging.level to every stage.
 */
void
log_init(const char *name)
{
	const char *env, *slash;
	enum log_level from_env;

	if (name != NULL) {
		slash = strrchr(name, '/');
		progname = slash != NULL ? slash + 1 : name;
	}
	env = getenv("REKOR_LOG_LEVEL");
	if (env != NULL && *env != '\0') {
		if (log_parse_level(env, &from_env) == 0)
			level = from_env;
		else
			log_warn("invalid REKOR_LOG_LEVEL '%s': expected error, "
			    "warn, info or debug; using warn", env);
	}
}

void
log_set_level(enum log_level l)
{
	level = l;
}

enum log_level
log_get_level(void)
{
	return level;
}

const char *
log_progname(void)
{
	return progname;
}

/* Parses a level name; "warning" and "fatal"/"panic" map as logrus did. */
int
log_parse_level(const char *s, enum log_level *out)
{
	if (strcasecmp(s, "error") == 0 || strcasecmp(s, "fatal") == 0 ||
	    strcasecmp(s, "panic") == 0)
		*out = LOG_ERROR;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*out = LOG_WARN;
	else if (strcasecmp(s, "info") == 0)
		*out = LOG_INFO;
	else if (strcasecmp(s, "debug") == 0 || strcasecmp(s, "trace") == 0)
		*out = LOG_DEBUG;
	else
		return -1;
	return 0;
}

static void
vlog(enum log_level l, const char *tag, const char *fmt, va_list ap)
{
	char line[4096];

	if (l > level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per message, so lines from parallel stages do not mix. */
	if (tag != NULL)
		fprintf(stderr, "%s: %s: %s\n", progname, tag, line);
	else
		fprintf(stderr, "%s: %s\n", progname, line);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARN, "warning", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, "debug", fmt, ap);
	va_end(ap);
}
