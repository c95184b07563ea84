/*
 * Exit statuses shared by every rekor-* program.  Each man page repeats
 * this table in its EXIT STATUS section.
 */
#ifndef RK_EXITCODES_H
#define RK_EXITCODES_H

enum rk_exit {
	RK_EXIT_OK = 0,		/* everything read was handled */
	RK_EXIT_PARTIAL = 1,	/* ran to the end, but some records were
				   reported bad, failed or dead-lettered */
	RK_EXIT_USAGE = 2,	/* bad option, config or policy */
	RK_EXIT_REMOTE = 3,	/* server unreachable, TLS, or bad replies
				   after every retry */
	RK_EXIT_DATA = 4,	/* the log contradicts itself, or a state
				   file is invalid or from another log */
	RK_EXIT_IO = 5		/* local I/O error (stdout, files) */
};

#endif
