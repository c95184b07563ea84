/*
 * Standard streams, number parsing, time helpers and a UTF-8 check.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "util.h"

/*
 * Makes sure descriptors 0-2 are open, so that a file we open later never
 * becomes "stdout" by accident, ignores SIGPIPE so that a closed reader
 * shows up as EPIPE on write, and line-buffers stdout so that each record
 * reaches the next stage as soon as it is written.
 */
void
stdio_setup(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFL) == -1 && errno == EBADF) {
			if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) !=
			    fd)
				_exit(RK_EXIT_IO);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/*
 * Writes one record and a newline to stdout and flushes it.  Returns 0,
 * -1 when the reader has gone (EPIPE: stop quietly), or -2 on any other
 * write error, which has been reported.
 */
int
out_write_line(const char *rec, size_t len)
{
	if (fwrite(rec, 1, len, stdout) != len || putchar('\n') == EOF ||
	    fflush(stdout) == EOF) {
		if (errno == EPIPE)
			return -1;
		log_error("write error on standard output: %s",
		    strerror(errno));
		return -2;
	}
	return 0;
}

/*
 * Flushes and closes stdout and returns the final exit status: rc, or
 * RK_EXIT_IO when a buffered write fails at this point.  EPIPE is not an
 * error: the reader took what it wanted.
 */
int
stdout_finish(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE) {
			log_error("write error on standard output: %s",
			    strerror(errno));
			rc = rc == RK_EXIT_OK ? RK_EXIT_IO : rc;
		}
	}
	if (fclose(stdout) == EOF && errno != EPIPE && errno != EBADF) {
		log_error("write error on standard output: %s",
		    strerror(errno));
		rc = rc == RK_EXIT_OK ? RK_EXIT_IO : rc;
	}
	return rc;
}

/*
 * Parses a decimal number in [min, max].  Rejects signs, spaces, empty
 * strings and trailing garbage.  Returns 0 or -1.
 */
int
parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parses a duration: a whole number with an optional unit ms, s, m or h
 * (no unit means seconds) into milliseconds within [min, max].
 */
int
parse_duration_ms(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v, mult;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else
		return -1;
	if (v > UINT64_MAX / mult || v * mult < min || v * mult > max)
		return -1;
	*out = v * mult;
	return 0;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps, resuming after signals, unless the signal handler exits. */
void
sleep_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Formats Unix seconds as RFC 3339 UTC ("2023-04-08T12:00:00Z"). */
int
format_rfc3339(int64_t secs, char *out, size_t len)
{
	struct tm tm;
	time_t t = (time_t)secs;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* Tells whether the n bytes at p are well-formed UTF-8 (RFC 3629). */
int
utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0, k, len;
	unsigned int c;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((c == 0xe0 && s[i + 1] < 0xa0) ||
		    (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) ||
		    (c == 0xf4 && s[i + 1] > 0x8f))
			return 0;
		i += len;
	}
	return 1;
}
