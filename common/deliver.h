/*
 * Delivery engine shared by every rekor-out-* program.
 *
 * An output program parses its own options, fills a struct deliver_output
 * with a send callback and calls deliver_run().  The engine does the rest:
 *
 *  - It reads records from standard input, one JSON object per line (at
 *    most DELIVER_LINE_MAX bytes).  A line that is not valid JSON, or not
 *    an alert, is reported with its line number and kept in the
 *    dead-letter file.  `malformed` control records are reported on
 *    stderr; other control records except `mark` are ignored.
 *  - It appends every alert to a spool (a folder of segment files) and a
 *    sender thread delivers from the spool, so that reading waits for the
 *    destination only when the spool is full.  Reading blocks only when the undelivered part
 *    of the spool reaches --spool-max bytes: that is the backpressure.
 *  - It acknowledges a `mark` by writing its `next` to the --state file:
 *    with --spool DIR (durable spool) once every alert before the mark
 *    is fsynced into the spool; without --spool (the spool lives in a
 *    private temporary folder) once every alert before the mark is
 *    delivered or dead-lettered.  A restart with the same --spool DIR
 *    first resends whatever the spool holds undelivered.
 *  - It retries connection errors, timeouts, 408, 425, 429 and 5xx except
 *    501 with capped exponential backoff and jitter (retry.h), honouring
 *    Retry-After, for at most --retry-max-time (default: no limit).
 *    Every other failure is permanent: the alert goes to the dead-letter
 *    file (--dead-letter FILE, one JSON line per failure, appended and
 *    fsynced) and the reason to stderr.
 *
 * deliver_run() returns the exit status (exitcodes.h): 0; 1 when something
 * was dead-lettered or reported bad; 3 when a transient failure outlasted
 * --retry-max-time (the alert stays in the spool and its mark is not
 * acknowledged); 4 when the state file is invalid or from another log;
 * 5 on a local I/O error (spool, state or dead-letter file).
 *
 * The shape of an output program:
 *
 *	struct deliver_config cfg;
 *	struct deliver_output out = { "pagerduty", 1, 0, &ctx, send_cb };
 *
 *	deliver_config_init(&cfg);
 *	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS "u:", opts,
 *	    NULL)) != -1) {
 *		switch (deliver_config_option(&cfg, c, optarg)) {
 *		case 1:
 *			continue;	(an engine option, handled)
 *		case -1:
 *			usage(); exit 2	(invalid value, reported)
 *		}
 *		switch (c) { ... the output's own options ... }
 *	}
 *	... read secrets with secret_read() (secret.h), set up ctx ...
 *	rc = deliver_run(&cfg, &out);
 *
 * where opts lists the output's own long options followed by
 * DELIVER_LONGOPTS and a zero terminator.  The engine reserves the short
 * options in DELIVER_SHORTOPTS; -h and -V stay with the program, which
 * prints DELIVER_USAGE_OPTIONS in its --help text.
 */
#ifndef RK_DELIVER_H
#define RK_DELIVER_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Maximum length of an input line; a longer one is dead-lettered. */
#define DELIVER_LINE_MAX	(64UL * 1024 * 1024)
/* Default --spool-max: undelivered spool bytes before reading blocks. */
#define DELIVER_SPOOL_MAX	(256ULL * 1024 * 1024)
/* Default --timeout of one request, milliseconds. */
#define DELIVER_TIMEOUT_MS	30000
#define DELIVER_REASON_MAX	512

/*
 * Engine options.  Short letters taken by the engine: C d k M q R s S T v.
 * deliver_config_option() returns the long option's value for these.
 */
#define DELIVER_SHORTOPTS	"C:d:kM:qR:s:S:T:v"
#define DELIVER_LONGOPTS \
	{ "ca-file",		required_argument, NULL, 'C' }, \
	{ "dead-letter",	required_argument, NULL, 'd' }, \
	{ "insecure",		no_argument,	   NULL, 'k' }, \
	{ "spool-max",		required_argument, NULL, 'M' }, \
	{ "quiet",		no_argument,	   NULL, 'q' }, \
	{ "retry-max-time",	required_argument, NULL, 'R' }, \
	{ "state",		required_argument, NULL, 's' }, \
	{ "spool",		required_argument, NULL, 'S' }, \
	{ "timeout",		required_argument, NULL, 'T' }, \
	{ "verbose",		no_argument,	   NULL, 'v' }

/* Usage lines for the engine options, for each program's --help. */
#define DELIVER_USAGE_OPTIONS \
"  -C, --ca-file FILE         extra CA certificates (PEM) to trust\n" \
"  -d, --dead-letter FILE     append alerts that failed for good to FILE\n" \
"  -k, --insecure             do not verify the server's TLS certificate\n" \
"  -M, --spool-max BYTES      undelivered spool size before reading blocks\n" \
"                             (suffix k, M or G; default 256M)\n" \
"  -q, --quiet                show errors only\n" \
"  -R, --retry-max-time DUR   give up retrying after DUR (default: never)\n" \
"  -s, --state FILE           acknowledge marks in FILE\n" \
"  -S, --spool DIR            durable spool folder (default: temporary)\n" \
"  -T, --timeout DUR          timeout of one request (default 30s)\n" \
"  -v, --verbose              more messages on stderr (twice: debug)\n"

struct deliver_config {
	const char	*state_path;		/* NULL: marks are not acked */
	const char	*dead_letter_path;	/* NULL: stderr only */
	const char	*spool_dir;		/* NULL: private temporary */
	uint64_t	 spool_max;		/* bytes */
	uint64_t	 retry_max_time_ms;	/* 0: retry for ever */
	uint64_t	 timeout_ms;
	int		 insecure;
	const char	*ca_file;
	int		 verbosity;		/* -1 quiet, 0, 1 info, 2 debug */
};

enum deliver_status {
	DELIVER_PENDING = 0,	/* not attempted yet */
	DELIVER_OK,		/* accepted by the destination */
	DELIVER_RETRY,		/* transient failure: try again later */
	DELIVER_FAIL		/* permanent failure: dead-letter it */
};

/*
 * One alert handed to the send callback.  The engine owns the item; the
 * callback sets status (and for failures http_status and reason, and
 * retry_after_ms when the server sent Retry-After) on every item.
 */
struct deliver_item {
	const cJSON	*alert;		/* the parsed alert record */
	const char	*alert_id;	/* its "alertID", never NULL */
	const char	*line;		/* the record as read, no newline */
	size_t		 line_len;
	enum deliver_status status;
	long		 http_status;	/* 0: no HTTP status (connection) */
	uint64_t	 retry_after_ms;
	char		 reason[DELIVER_REASON_MAX];
};

/*
 * Callbacks and batching of one output program.  send() delivers n items, in order,
 * and sets each item's status; it is called from the sender thread only.
 * Items still DELIVER_PENDING after send() count as DELIVER_RETRY.  With
 * batch_max > 1 the engine passes up to batch_max alerts (and at most
 * DELIVER_BATCH_BYTES of records) per call; it sends a partial batch
 * after waiting batch_wait_ms for more, and at every mark.  Only the
 * items that need another attempt are passed again on retry.
 */
struct deliver_output {
	const char	*name;		/* destination, for messages */
	size_t		 batch_max;	/* 0 or 1: one alert per call */
	uint64_t	 batch_wait_ms;
	void		*ctx;		/* passed to send() */
	void		(*send)(void *ctx, struct deliver_item *items,
			    size_t n);
};

#define DELIVER_BATCH_BYTES	(8UL * 1024 * 1024)

void	 deliver_config_init(struct deliver_config *);
int	 deliver_config_option(struct deliver_config *, int, const char *);
int	 deliver_run(const struct deliver_config *, const struct deliver_output *);

/*
 * Sets an item's outcome: status, HTTP status (0 for none) and a reason
 * for the dead-letter file and stderr (printf format; never a secret).
 */
void	 deliver_item_set(struct deliver_item *, enum deliver_status, long,
	    const char *, ...) __attribute__((format(printf, 4, 5)));

/*
 * Returns the string member `key` of the alert, or NULL.  Shorthand for
 * the fields every output reads (alertID, uuid, url, kind, time).
 */
const char *deliver_alert_string(const cJSON *, const char *);

#endif
