/*
 * rekor-tail: the parts shared by main.c (options, start position, state
 * files), fetch.c (the request loop) and entry.c (checking one item and
 * turning it into a record).
 */
#ifndef REKOR_TAIL_H
#define REKOR_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

#define BATCH_MAX	10	/* Rekor rejects more logIndexes per request */
#define TREE_ID_MAX	21	/* decimal digits of a 64-bit tree id, + NUL */

/* One Trillian tree of a Rekor v1 log. */
struct shard {
	char		tree_id[TREE_ID_MAX];	/* decimal, as served */
	char		prefix[17];	/* the same id in 16 hex digits */
	uint64_t	size;
	uint64_t	offset;		/* global index of its entry 0 */
};

/* All shards, oldest first and the active one last. */
struct layout {
	struct shard	*shards;
	size_t		 n;
	uint64_t	 tip;		/* global index one past the last entry */
};

struct tail_opts {
	char		 *server;	/* base URL without a trailing '/' */
	int		  from_given;	/* --from was on the command line */
	int		  from_tip;
	uint64_t	  from;
	int		  have_to;
	int		  to_tip;
	uint64_t	  to;		/* exclusive */
	uint64_t	  interval_ms;
	uint64_t	  timeout_ms;
	unsigned int	  retries;
	unsigned int	  parallel;
	const char	 *state_path;
	const char	**ack_paths;
	size_t		  n_ack;
};

/* How a checked item ends up. */
enum item_result {
	ITEM_ENTRY,		/* an entry record */
	ITEM_MALFORMED,		/* a malformed control record: log goes on */
	ITEM_BAD_REPLY,		/* not the shape the API defines: retry */
	ITEM_CONTRADICTION	/* fails a cross-check: stop with 4 */
};

int	 layout_parse(const cJSON *, struct layout *, struct buf *);
void	 layout_free(struct layout *);
const struct shard *layout_find(const struct layout *, uint64_t);
int	 layout_check_growth(const struct layout *, const struct layout *,
	    struct buf *);

int	 item_split(const cJSON *, const char **, const cJSON **,
	    uint64_t *, struct buf *);
enum item_result item_record(const struct layout *, const char *,
	    const cJSON *, const char *, const cJSON *, uint64_t, char **,
	    struct buf *);

int	 tail_run(const struct tail_opts *);

#endif
