/*
 * Appending, fsynced dead-letter file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "buf.h"
#include "deadletter.h"
#include "log.h"
#include "util.h"

#define B64_CHUNK	(48 * 1024)	/* a multiple of 3 */

int
deadletter_open(struct deadletter *dl, const char *path)
{
	memset(dl, 0, sizeof(*dl));
	dl->fd = -1;
	dl->path = path;
	pthread_mutex_init(&dl->mu, NULL);
	dl->ready = 1;
	if (path == NULL)
		return 0;
	dl->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (dl->fd == -1) {
		log_error("cannot open dead-letter file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
deadletter_close(struct deadletter *dl)
{
	if (dl->fd != -1)
		close(dl->fd);
	dl->fd = -1;
	if (dl->ready)
		pthread_mutex_destroy(&dl->mu);
	dl->ready = 0;
}

static int
write_all(struct deadletter *dl, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(dl->fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			log_error("cannot write dead-letter file '%s': %s",
			    dl->path, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
sync_file(struct deadletter *dl)
{
	if (fsync(dl->fd) == -1) {
		log_error("cannot sync dead-letter file '%s': %s", dl->path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Appends "time" and "reason" members, with the opening brace. */
static int
add_head(struct buf *b, const char *reason)
{
	char when[32];
	char *quoted;
	cJSON *s;
	int rc;

	if (format_rfc3339((int64_t)time(NULL), when, sizeof(when)) == -1)
		return -1;
	if ((s = cJSON_CreateString(reason)) == NULL)
		return -1;
	quoted = cJSON_PrintUnformatted(s);
	cJSON_Delete(s);
	if (quoted == NULL)
		return -1;
	rc = buf_printf(b, "{\"time\":\"%s\",\"reason\":%s", when, quoted);
	cJSON_free(quoted);
	return rc;
}

static int
write_locked(struct deadletter *dl, const struct buf *b)
{
	int rc;

	pthread_mutex_lock(&dl->mu);
	rc = write_all(dl, b->data, b->len);
	if (rc == 0)
		rc = sync_file(dl);
	pthread_mutex_unlock(&dl->mu);
	return rc;
}

int
deadletter_alert(struct deadletter *dl, const struct deliver_item *it)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	if (dl->fd == -1)
		return 0;
	if (add_head(&b, it->reason) == -1)
		goto nomem;
	if (it->http_status > 0)
		rc = buf_printf(&b, ",\"status\":%ld", it->http_status);
	else
		rc = buf_append_str(&b, ",\"status\":null");
	/* The alert ID is 64 hex digits, checked when it was read. */
	if (rc == -1 ||
	    buf_printf(&b, ",\"alertID\":\"%s\",\"record\":", it->alert_id) ==
	    -1 || buf_append(&b, it->line, it->line_len) == -1 ||
	    buf_append_str(&b, "}\n") == -1)
		goto nomem;
	rc = write_locked(dl, &b);
	buf_free(&b);
	return rc;
nomem:
	log_error("cannot write dead-letter file '%s': out of memory",
	    dl->path);
	buf_free(&b);
	return -1;
}

static int
append_base64(struct buf *b, const unsigned char *p, size_t n)
{
	size_t enc = 4 * ((n + 2) / 3);
	unsigned char *tmp;
	int rc;

	if ((tmp = malloc(enc + 1)) == NULL)
		return -1;
	EVP_EncodeBlock(tmp, p, (int)n);
	rc = buf_append(b, tmp, enc);
	free(tmp);
	return rc;
}

/* Keeps an input line that could not be used, with the reason. */
int
deadletter_line(struct deadletter *dl, const char *reason, const char *line,
    size_t len)
{
	struct buf b = BUF_INIT;
	cJSON *s = NULL;
	char *quoted = NULL, *copy = NULL;
	int rc = -1;

	if (dl->fd == -1)
		return 0;
	if (add_head(&b, reason) == -1)
		goto out;
	if (utf8_valid(line, len) &&
	    memchr(line, '\0', len) == NULL) {
		if ((copy = strndup(line, len)) == NULL ||
		    (s = cJSON_CreateString(copy)) == NULL ||
		    (quoted = cJSON_PrintUnformatted(s)) == NULL ||
		    buf_printf(&b, ",\"line\":%s}\n", quoted) == -1)
			goto out;
	} else if (buf_append_str(&b, ",\"lineBase64\":\"") == -1 ||
	    append_base64(&b, (const unsigned char *)line, len) == -1 ||
	    buf_append_str(&b, "\"}\n") == -1) {
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		log_error("cannot write dead-letter file '%s': out of memory",
		    dl->path);
	else
		rc = write_locked(dl, &b);
	cJSON_free(quoted);
	cJSON_Delete(s);
	free(copy);
	buf_free(&b);
	return rc;
}

/*
 * A line too long to hold in memory is written in pieces while it is
 * read: begin (with what was read so far), add for every further piece,
 * end.  The file stays locked from begin to end, so that no other record
 * lands in the middle.
 */
int
deadletter_long_begin(struct deadletter *dl, unsigned long lineno,
    const char *start, size_t len)
{
	struct buf b = BUF_INIT;
	char reason[128];
	int rc;

	if (dl->fd == -1)
		return 0;
	/* Locked even on failure: deadletter_long_end() unlocks. */
	pthread_mutex_lock(&dl->mu);
	dl->carry_len = 0;
	snprintf(reason, sizeof(reason), "line %lu: longer than %lu bytes",
	    lineno, DELIVER_LINE_MAX);
	if (add_head(&b, reason) == -1 ||
	    buf_append_str(&b, ",\"lineBase64\":\"") == -1) {
		buf_free(&b);
		return -1;
	}
	rc = write_all(dl, b.data, b.len);
	buf_free(&b);
	if (rc == 0)
		rc = deadletter_long_add(dl, start, len);
	return rc;
}

int
deadletter_long_add(struct deadletter *dl, const char *p, size_t n)
{
	struct buf b = BUF_INIT;
	unsigned char block[B64_CHUNK];
	size_t take;
	int rc = 0;

	if (dl->fd == -1)
		return 0;
	while (n > 0 && rc == 0) {
		memcpy(block, dl->carry, dl->carry_len);
		take = sizeof(block) - dl->carry_len;
		if (take > n)
			take = n;
		memcpy(block + dl->carry_len, p, take);
		p += take;
		n -= take;
		take += dl->carry_len;
		/* Encode whole groups of 3; keep the rest for later. */
		dl->carry_len = take % 3;
		memcpy(dl->carry, block + take - dl->carry_len,
		    dl->carry_len);
		buf_reset(&b);
		if (append_base64(&b, block, take - dl->carry_len) == -1)
			rc = -1;
		else
			rc = write_all(dl, b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

int
deadletter_long_end(struct deadletter *dl)
{
	struct buf b = BUF_INIT;
	int rc;

	if (dl->fd == -1)
		return 0;
	rc = append_base64(&b, dl->carry, dl->carry_len);
	if (rc == 0)
		rc = buf_append_str(&b, "\"}\n");
	if (rc == 0)
		rc = write_all(dl, b.data, b.len);
	if (rc == 0)
		rc = sync_file(dl);
	dl->carry_len = 0;
	pthread_mutex_unlock(&dl->mu);
	buf_free(&b);
	return rc;
}
