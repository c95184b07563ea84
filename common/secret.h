/*
 * Secrets (passwords, tokens, routing keys) for the output programs.
 * They come from the environment or from a file, never from argv, and are
 * wiped from memory (buf_wipe) once the program is done with them.
 */
#ifndef RK_SECRET_H
#define RK_SECRET_H

#include "buf.h"

/*
 * Reads a secret into out: from the file `path` when path is not NULL,
 * else from the environment variable `env`, which is then wiped in place
 * and removed from the environment so that child processes and
 * /proc/PID/environ do not keep it.  One trailing newline (or CRLF) of a
 * file is dropped.  Returns 0 when the secret was read, 1 when neither
 * source is set (or the variable is empty), -1 on error (reported, with
 * the file name but never the content).  The caller wipes out with
 * buf_wipe().
 */
int	 secret_read(const char *env, const char *path, struct buf *out);

#endif
