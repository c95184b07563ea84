/*
 * Growable byte buffer.  The data is always NUL-terminated so that it can
 * be passed to string functions; len does not count the NUL.
 */
#ifndef RK_BUF_H
#define RK_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

int	 buf_append(struct buf *, const void *, size_t);
int	 buf_append_str(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);	/* accepts a zeroed buffer */
void	 buf_wipe(struct buf *);	/* cleanses, then frees: secrets */

#endif
