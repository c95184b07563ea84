/*
 * Capped exponential backoff with full jitter, and Retry-After parsing
 * (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "retry.h"
#include "util.h"

/*
 * Returns 1 for statuses worth another attempt: 408, 425, 429 and every
 * 5xx except 501 Not Implemented, which will not change on retry.
 */
int
retry_status_transient(long status)
{
	if (status == 408 || status == 425 || status == 429)
		return 1;
	return status >= 500 && status <= 599 && status != 501;
}

/*
 * Returns the delay before attempt number `attempt` (1 for the first
 * retry): a random value in [d/2, d] where d = min(cap, base * 2^(n-1)).
 * Half the delay is kept fixed so that a retry never fires at once.
 */
uint64_t
retry_delay_ms(const struct retry_policy *p, unsigned int attempt)
{
	uint64_t d = p->base_ms;
	uint32_t r;
	unsigned int i;

	for (i = 1; i < attempt && d < p->cap_ms; i++)
		d *= 2;
	if (d > p->cap_ms)
		d = p->cap_ms;
	if (d < 2)
		return d;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return d / 2 + r % (d / 2 + 1);
}

/*
 * Parses a Retry-After value into milliseconds from now.  Returns 0, or
 * -1 when the value is neither a number of seconds nor an HTTP-date.
 * Dates in the past give 0.  Values over one hour are clamped to one hour
 * so that a broken server cannot park a client for days.
 */
int
retry_after_parse(const char *v, uint64_t *out_ms)
{
	const uint64_t max_ms = 3600 * 1000;
	struct tm tm;
	const char *end;
	uint64_t secs;
	time_t when, now;
	char num[32];
	size_t n;

	while (isspace((unsigned char)*v))
		v++;
	n = strcspn(v, " \t\r\n");
	if (n > 0 && n < sizeof(num) && strspn(v, "0123456789") == n) {
		memcpy(num, v, n);
		num[n] = '\0';
		if (parse_uint64(num, 0, UINT64_MAX / 1000, &secs) == -1)
			secs = max_ms / 1000;
		*out_ms = secs * 1000 > max_ms ? max_ms : secs * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	when = timegm(&tm);
	now = time(NULL);
	if (when <= now)
		*out_ms = 0;
	else if ((uint64_t)(when - now) * 1000 > max_ms)
		*out_ms = max_ms;
	else
		*out_ms = (uint64_t)(when - now) * 1000;
	return 0;
}
