/*
 * Retry policy for HTTP clients: which failures are transient, how long
 * to wait before the next attempt, and the server's Retry-After.
 */
#ifndef RK_RETRY_H
#define RK_RETRY_H

#include <stdint.h>

struct retry_policy {
	uint64_t	base_ms;	/* first delay */
	uint64_t	cap_ms;		/* largest delay between attempts */
	uint64_t	max_elapsed_ms;	/* give up after this long; 0: never */
};

#define RETRY_POLICY_DEFAULT	{ 500, 30000, 0 }

int	 retry_status_transient(long);
uint64_t retry_delay_ms(const struct retry_policy *, unsigned int);
int	 retry_after_parse(const char *, uint64_t *);

#endif
