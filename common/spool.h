/*
 * On-disk spool of the output programs: a folder of append-only segment
 * files "seg-<16 hex digits>" holding one record per line, and a file
 * "cursor" ({"segment":N,"offset":O}) naming the first byte not yet
 * delivered.  The writer only ever appends to a new segment it created
 * itself, so a line torn by a crash can only be the last line of an old
 * segment; the reader skips it (its mark was never acknowledged, so the
 * record comes again).  A lock (flock on "lock") keeps a second process
 * out of the folder.
 *
 * The spool itself is not thread-safe: deliver.c calls the writer side
 * from the reading thread and the reader side from the sender thread, and
 * shares the positions between them under its own lock.
 */
#ifndef RK_SPOOL_H
#define RK_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct spool {
	char		*dir;
	int		 temporary;	/* remove the folder at close */
	int		 lock_fd;
	uint64_t	 segment_max;	/* rotate the writer past this size */

	/* Writer side. */
	int		 wfd;
	uint64_t	 wseg;
	uint64_t	 woff;
	int		 dir_dirty;	/* a segment was created since sync */

	/* Reader side: read position, and the committed one (the cursor). */
	int		 rfd;
	uint64_t	 rseg;
	uint64_t	 roff;
	uint64_t	 cseg;
	uint64_t	 coff;
	char		*cache;		/* read-ahead of segment rseg */
	uint64_t	 cache_off;
	size_t		 cache_len;

	uint64_t	 undelivered;	/* bytes from the cursor at open */
};

/* spool_read_line() results besides 0 (a line). */
#define SPOOL_NO_DATA	1	/* nothing beyond the limit yet */

int	 spool_open(struct spool *, const char *dir, uint64_t max_bytes);
void	 spool_close(struct spool *, int drained);
int	 spool_append(struct spool *, const char *, size_t);
int	 spool_sync(struct spool *);
int	 spool_read_line(struct spool *, uint64_t wseg, uint64_t woff,
	    struct buf *, uint64_t *consumed);
void	 spool_commit(struct spool *);
int	 spool_save_cursor(struct spool *);

#endif
