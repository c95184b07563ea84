/*
 * Atomic, validated state files.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"
#include "state.h"

#define STATE_FILE_MAX	(64 * 1024)

/*
 * Reads and validates a state file.  Returns 0, STATE_MISSING when the
 * file does not exist, or STATE_INVALID (reported) when it exists but is
 * empty, torn, not ours or unreadable: the caller must stop rather than
 * guess a position.
 */
int
state_read(const char *path, struct state *st)
{
	char data[STATE_FILE_MAX + 1];
	cJSON *doc = NULL, *v;
	ssize_t n;
	size_t len = 0;
	int fd, rc = STATE_INVALID;
	double d;

	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return STATE_MISSING;
		log_error("cannot open state file '%s': %s", path,
		    strerror(errno));
		return STATE_INVALID;
	}
	while (len < sizeof(data) - 1 &&
	    (n = read(fd, data + len, sizeof(data) - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_error("cannot read state file '%s': %s", path,
			    strerror(errno));
			close(fd);
			return STATE_INVALID;
		}
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	if (len == 0) {
		log_error("state file '%s' is empty: it was not written by "
		    "a complete run; remove it and choose a start with --from",
		    path);
		return STATE_INVALID;
	}
	if ((doc = cJSON_ParseWithLength(data, len)) == NULL ||
	    !cJSON_IsObject(doc)) {
		log_error("state file '%s' is not valid JSON (torn or "
		    "edited?); remove it and choose a start with --from",
		    path);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "version");
	if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
		log_error("state file '%s' has an unknown version; expected "
		    "\"version\":1", path);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "log");
	if (!cJSON_IsString(v) || *v->valuestring == '\0' ||
	    strlen(v->valuestring) >= sizeof(st->log)) {
		log_error("state file '%s' has no valid \"log\" field", path);
		goto out;
	}
	strcpy(st->log, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(doc, "server");
	if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof(st->server))
		strcpy(st->server, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(doc, "next");
	d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	/* Indexes are exact in a double up to 2^53. */
	if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d) {
		log_error("state file '%s' has no valid \"next\" index", path);
		goto out;
	}
	st->next = (uint64_t)d;
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

static int
fsync_dir(const char *path)
{
	char *copy, *dir;
	int fd, rc = 0;

	if ((copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		free(copy);
		return -1;
	}
	if (fsync(fd) == -1 && errno != EINVAL)
		rc = -1;
	close(fd);
	free(copy);
	return rc;
}

/*
 * Replaces the state file atomically.  Returns 0, or -1 (reported).  A
 * crash at any moment leaves either the old or the new content.
 */
int
state_write(const char *path, const struct state *st)
{
	struct buf tmp = BUF_INIT, body = BUF_INIT;
	cJSON *doc;
	char *text = NULL;
	size_t off = 0;
	ssize_t n;
	int fd = -1, rc = -1;

	if ((doc = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(doc, "version", 1) == NULL ||
	    cJSON_AddStringToObject(doc, "log", st->log) == NULL ||
	    cJSON_AddStringToObject(doc, "server", st->server) == NULL ||
	    cJSON_AddNumberToObject(doc, "next", (double)st->next) == NULL ||
	    (text = cJSON_PrintUnformatted(doc)) == NULL ||
	    buf_printf(&body, "%s\n", text) == -1 ||
	    buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) == -1) {
		log_error("cannot write state file '%s': out of memory", path);
		goto out;
	}
	/*
	 * A file left at this name, or a symlink planted there, is removed
	 * rather than written through.
	 */
	if (unlink(tmp.data) == -1 && errno != ENOENT)
		goto fail;
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		goto fail;
	while (off < body.len) {
		n = write(fd, body.data + off, body.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp.data, path) == -1 || fsync_dir(path) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	log_error("cannot write state file '%s': %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp.data);
out:
	cJSON_free(text);
	cJSON_Delete(doc);
	buf_free(&tmp);
	buf_free(&body);
	return rc;
}
