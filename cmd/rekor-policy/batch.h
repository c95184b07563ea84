/*
 * rekor-policy: pending entries, evaluated together against every policy
 * and written out in input order.
 */
#ifndef RK_BATCH_H
#define RK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "policy.h"

struct batch_entry {
	char		*line;		/* the record as read, trimmed */
	size_t		 len;
	size_t		 lineno;
	uint64_t	 index;		/* logIndex */
	char		*log_id;
	char		*body;		/* the "body" value as JSON text */
	size_t		 body_len;
	int		 body_owned;	/* body is not a pointer into line */
};

struct batch {
	struct policy	*policies;
	size_t		 npolicies;
	int		 strict;	/* a failing built-in is an error */
	struct batch_entry *entries;
	size_t		 n;
	size_t		 cap;
	size_t		 bytes;		/* of the pending records */
	uint64_t	 first_ms;	/* when the oldest entry was read */
	unsigned char	*verdicts;	/* n * npolicies enum verdict */
	struct buf	 req;
	struct buf	 resp;
	struct buf	 out;
	/* The first, concurrent requests of a flush: [input mode][part]. */
	struct buf	 part_req[2][POLICY_CONNECTIONS];
	struct opa_request *reqs;	/* npolicies * POLICY_CONNECTIONS */
};

/* batch_flush() results besides 0. */
#define BATCH_OPA_FAILED	(-1)	/* opa died or hangs: reported */
#define BATCH_READER_GONE	(-2)	/* EPIPE on standard output */
#define BATCH_WRITE_FAILED	(-3)	/* other write error: reported */

int	 batch_add(struct batch *, const char *, size_t, size_t,
	    const void *);
int	 batch_flush(struct batch *);
void	 batch_discard(struct batch *);
void	 batch_free(struct batch *);

#endif
