/*
 * The dead-letter file of an output program: one JSON object per line for
 * every record that could not be delivered, appended and fsynced before
 * the call returns.
 *
 *	{"time":"<RFC 3339 UTC>","reason":"...","status":<HTTP status or
 *	 null>,"alertID":"...","record":{the alert as read}}
 *	{"time":"...","reason":"line 7: invalid JSON","line":"<the line>"}
 *
 * An input line that is not valid UTF-8, or longer than DELIVER_LINE_MAX,
 * is stored base64-encoded in "lineBase64" in place of "line".  All
 * functions are thread-safe; with no file every call succeeds and writes
 * nothing.
 */
#ifndef RK_DEADLETTER_H
#define RK_DEADLETTER_H

#include <pthread.h>
#include <stddef.h>

#include "deliver.h"

struct deadletter {
	const char	*path;		/* NULL: no file */
	int		 fd;
	int		 ready;		/* mutex initialised */
	pthread_mutex_t	 mu;
	unsigned char	 carry[3];	/* base64 input not yet encoded */
	size_t		 carry_len;
};

int	 deadletter_open(struct deadletter *, const char *);
void	 deadletter_close(struct deadletter *);
int	 deadletter_alert(struct deadletter *, const struct deliver_item *);
int	 deadletter_line(struct deadletter *, const char *, const char *,
	    size_t);
int	 deadletter_long_begin(struct deadletter *, unsigned long,
	    const char *, size_t);
int	 deadletter_long_add(struct deadletter *, const char *, size_t);
int	 deadletter_long_end(struct deadletter *);

#endif
