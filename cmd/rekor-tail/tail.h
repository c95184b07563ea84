/*
 * rekor-tail: the parts shared by main.c (options), start.c (the start
 * position and state files), fetch.c (the request loop), http.c (one
 * request and its reply) and entry.c (the shard layout, and checking one
 * item and turning it into a record).
 */
#ifndef REKOR_TAIL_H
#define REKOR_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "state.h"

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

/* Outcome of checking one item of a retrieve reply. */
enum item_result {
	ITEM_ENTRY,		/* an entry record */
	ITEM_MALFORMED,		/* a malformed control record: log goes on */
	ITEM_BAD_REPLY,		/* not the shape the API defines: retry */
	ITEM_CONTRADICTION	/* fails a cross-check: stop with 4 */
};

struct batch;

/* One HTTP request in flight: log info when batch is NULL. */
struct request {
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 reply;
	struct buf		 post;
	struct batch		*batch;
	int			 have_retry_after;
	uint64_t		 retry_after_ms;
	char			 error[CURL_ERROR_SIZE];
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

struct request *request_start(CURLM *, const char *, const char *,
	    struct buf *, uint64_t);
void	 request_finish(CURLM *, struct request *);
void	 request_free(struct request *);
int	 reply_classify(struct request *, CURLcode, const char *, cJSON **,
	    struct buf *);

int	 start_position(const struct tail_opts *, const struct layout *,
	    struct state *);

int	 tail_run(const struct tail_opts *);

#endif
