/*
 * rekor-tail: the start position, from the state files of this run and of
 * the pipeline's outputs, or from --from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "state.h"
#include "tail.h"

/*
 * Reads one state file for the start position.  Returns 0 with the
 * position in *next, 1 when the file does not exist, or -1 (reported)
 * when it is invalid or belongs to another log.
 */
static int
read_position(const struct state *want, const char *path, uint64_t *next)
{
	struct state st;
	int rc;

	rc = state_read(path, &st);
	if (rc == STATE_MISSING)
		return 1;
	if (rc != 0)
		return -1;
	if (strcmp(st.log, want->log) != 0) {
		log_error("state file '%s' belongs to log '%s', but '%s' "
		    "serves log '%s'; use a state file of this log or remove "
		    "it", path, st.log, want->server, want->log);
		return -1;
	}
	*next = st.next;
	return 0;
}

/* Returns the i-th state file: the --ack-state files, then --state. */
static const char *
state_path(const struct tail_opts *o, size_t i)
{
	return i < o->n_ack ? o->ack_paths[i] : o->state_path;
}

/*
 * Decides the start position once the first log info has arrived: the
 * lowest "next" among the state files that exist, else --from, else the
 * tip.  Creates the state files that do not exist yet with that position,
 * before any record is written, and fills st.  Returns 0 or an exit
 * status (reported).
 */
int
start_position(const struct tail_opts *o, const struct layout *l,
    struct state *st)
{
	unsigned char *missing;
	uint64_t start = UINT64_MAX, next;
	const char *path, *from_file = NULL;
	size_t i, n = o->n_ack + 1;
	int rc = RK_EXIT_DATA, r;

	memset(st, 0, sizeof(*st));
	snprintf(st->log, sizeof(st->log), "%s", l->shards[0].tree_id);
	snprintf(st->server, sizeof(st->server), "%s", o->server);
	if ((missing = calloc(n, 1)) == NULL) {
		log_error("cannot read the state files: out of memory");
		return RK_EXIT_IO;
	}
	for (i = 0; i < n; i++) {
		if ((path = state_path(o, i)) == NULL)
			continue;
		if ((r = read_position(st, path, &next)) == -1)
			goto out;
		missing[i] = r == 1;
		if (r == 0 && next < start) {
			start = next;
			from_file = path;
		}
	}

	if (from_file == NULL)
		start = o->from_tip ? l->tip : o->from;
	else if (start > l->tip) {
		log_error("state file '%s' is ahead of the log: it resumes at "
		    "%llu, but the log has %llu entries", from_file,
		    (unsigned long long)start, (unsigned long long)l->tip);
		goto out;
	} else if (o->from_given)
		log_warn("resuming at %llu from state file '%s'; --from "
		    "applies only when no state file exists",
		    (unsigned long long)start, from_file);
	st->next = start;

	for (i = 0; i < n; i++) {
		path = state_path(o, i);
		if (path != NULL && missing[i] && state_write(path, st) == -1) {
			rc = RK_EXIT_IO;
			goto out;
		}
	}
	rc = 0;
out:
	free(missing);
	return rc;
}
