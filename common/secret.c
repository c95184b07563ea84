/*
 * Secrets from the environment or from a file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "log.h"
#include "secret.h"

#define SECRET_FILE_MAX	(64 * 1024)

static int
read_file(const char *path, struct buf *out)
{
	char chunk[4096];
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_error("cannot open secret file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_error("cannot read secret file '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > SECRET_FILE_MAX) {
			log_error("secret file '%s' is larger than %d bytes",
			    path, SECRET_FILE_MAX);
			goto out;
		}
		if (buf_append(out, chunk, (size_t)n) == -1) {
			log_error("out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	if (rc == -1)
		buf_wipe(out);
	return rc;
}

int
secret_read(const char *env, const char *path, struct buf *out)
{
	char *v;

	buf_wipe(out);
	if (path != NULL) {
		if (read_file(path, out) == -1)
			return -1;
		if (out->len > 0 && out->data[out->len - 1] == '\n')
			out->data[--out->len] = '\0';
		if (out->len > 0 && out->data[out->len - 1] == '\r')
			out->data[--out->len] = '\0';
		if (out->len == 0) {
			log_error("secret file '%s' is empty", path);
			return -1;
		}
		return 0;
	}
	if (env == NULL || (v = getenv(env)) == NULL || *v == '\0')
		return 1;
	if (buf_append_str(out, v) == -1) {
		log_error("out of memory");
		return -1;
	}
	/* The value lives in the environment block: wipe it there too. */
	OPENSSL_cleanse(v, strlen(v));
	unsetenv(env);
	return 0;
}
