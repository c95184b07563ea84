/*
 * Resume positions kept on disk.  A state file is one JSON object:
 *
 *	{"version":1,"log":"<log identity>","server":"<url>","next":<index>}
 *
 * "log" identifies the log (for Rekor v1, the tree id of its oldest
 * shard, which never changes when shards rotate), "next" is the first
 * global index not yet handled.  Files are replaced atomically: write a
 * temporary file, fsync, rename, fsync the directory.
 */
#ifndef RK_STATE_H
#define RK_STATE_H

#include <stdint.h>

#define STATE_LOG_MAX		128
#define STATE_SERVER_MAX	2048

struct state {
	char		log[STATE_LOG_MAX];
	char		server[STATE_SERVER_MAX];
	uint64_t	next;
};

/* state_read() results besides 0. */
#define STATE_MISSING	1	/* no such file: not an error by itself */
#define STATE_INVALID	(-1)	/* reported on stderr */

int	 state_read(const char *, struct state *);
int	 state_write(const char *, const struct state *);

#endif
