/*
 * Segment files, cursor and recovery of the output spool.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"
#include "spool.h"

#define SPOOL_CACHE	(256 * 1024)
#define SEGMENT_MIN	(64ULL * 1024)
#define SEGMENT_MAX	(64ULL * 1024 * 1024)

static int
segment_path(const struct spool *sp, uint64_t seg, char *out, size_t len)
{
	int n;

	n = snprintf(out, len, "%s/seg-%016" PRIx64, sp->dir, seg);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
parse_segment_name(const char *name, uint64_t *seg)
{
	char *end;

	if (strncmp(name, "seg-", 4) != 0 || strlen(name) != 20)
		return -1;
	errno = 0;
	*seg = strtoull(name + 4, &end, 16);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
fsync_path(const char *path)
{
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(fd) == -1 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

/* Reads the cursor file; a missing or unreadable cursor means 0/0. */
static void
read_cursor(struct spool *sp, uint64_t *seg, uint64_t *off)
{
	char path[PATH_MAX], data[256];
	cJSON *doc = NULL, *s, *o;
	ssize_t n;
	int fd;

	*seg = *off = 0;
	if (snprintf(path, sizeof(path), "%s/cursor", sp->dir) >=
	    (int)sizeof(path))
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		goto bad;
	data[n] = '\0';
	doc = cJSON_Parse(data);
	s = cJSON_GetObjectItemCaseSensitive(doc, "segment");
	o = cJSON_GetObjectItemCaseSensitive(doc, "offset");
	if (!cJSON_IsNumber(s) || !cJSON_IsNumber(o) || s->valuedouble < 0 ||
	    o->valuedouble < 0)
		goto bad;
	*seg = (uint64_t)s->valuedouble;
	*off = (uint64_t)o->valuedouble;
	cJSON_Delete(doc);
	return;
bad:
	/* Starting from the oldest segment only sends duplicates. */
	log_warn("spool cursor '%s' is invalid; resending the whole spool",
	    path);
	cJSON_Delete(doc);
}

/* Marks everything read so far as delivered, for the next cursor save. */
void
spool_commit(struct spool *sp)
{
	sp->cseg = sp->rseg;
	sp->coff = sp->roff;
}

/*
 * Writes the committed position as the cursor, then deletes the segments
 * before it.  The cursor is
 * renamed into place but not fsynced: after a power loss an older cursor
 * only makes the program send some alerts twice.
 */
int
spool_save_cursor(struct spool *sp)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[128];
	DIR *d;
	struct dirent *de;
	uint64_t seg;
	int fd, n, len;

	if (snprintf(path, sizeof(path), "%s/cursor", sp->dir) >=
	    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/cursor.tmp", sp->dir) >=
	    (int)sizeof(tmp))
		return -1;
	len = snprintf(line, sizeof(line), "{\"segment\":%" PRIu64
	    ",\"offset\":%" PRIu64 "}\n", sp->cseg, sp->coff);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		goto fail;
	n = (int)write(fd, line, (size_t)len);
	if (close(fd) == -1 || n != len || rename(tmp, path) == -1)
		goto fail;
	if ((d = opendir(sp->dir)) == NULL)
		goto fail;
	while ((de = readdir(d)) != NULL) {
		if (parse_segment_name(de->d_name, &seg) == 0 &&
		    seg < sp->cseg) {
			segment_path(sp, seg, path, sizeof(path));
			unlink(path);
		}
	}
	closedir(d);
	return 0;
fail:
	log_error("cannot write spool cursor in '%s': %s", sp->dir,
	    strerror(errno));
	return -1;
}

static int
open_writer(struct spool *sp)
{
	char path[PATH_MAX];

	if (segment_path(sp, sp->wseg, path, sizeof(path)) == -1)
		return -1;
	sp->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
	    O_CLOEXEC, 0600);
	if (sp->wfd == -1) {
		log_error("cannot create spool segment '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	sp->woff = 0;
	sp->dir_dirty = 1;
	return 0;
}

/*
 * Finds the segments left by an earlier run, positions the reader at the
 * cursor and counts the undelivered bytes.
 */
static int
recover(struct spool *sp)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat stt;
	uint64_t seg, cseg, coff, first = UINT64_MAX, last = 0;
	DIR *d;

	read_cursor(sp, &cseg, &coff);
	if ((d = opendir(sp->dir)) == NULL) {
		log_error("cannot read spool '%s': %s", sp->dir,
		    strerror(errno));
		return -1;
	}
	sp->undelivered = 0;
	while ((de = readdir(d)) != NULL) {
		if (parse_segment_name(de->d_name, &seg) == -1)
			continue;
		segment_path(sp, seg, path, sizeof(path));
		if (seg < cseg) {
			unlink(path);
			continue;
		}
		if (stat(path, &stt) == -1)
			continue;
		sp->undelivered += (uint64_t)stt.st_size;
		if (seg == cseg)
			sp->undelivered -= (uint64_t)stt.st_size < coff ?
			    (uint64_t)stt.st_size : coff;
		if (seg < first)
			first = seg;
		if (seg > last)
			last = seg;
	}
	closedir(d);
	if (first == UINT64_MAX) {
		sp->rseg = sp->wseg = cseg + 1;
		sp->roff = 0;
	} else {
		sp->rseg = first;
		sp->roff = first == cseg ? coff : 0;
		sp->wseg = last + 1;
	}
	spool_commit(sp);
	if (sp->undelivered > 0)
		log_info("spool '%s' contains %" PRIu64 " undelivered bytes; "
		    "sending them first", sp->dir, sp->undelivered);
	return 0;
}

/*
 * Opens the spool folder dir (created when missing), or a private
 * temporary folder when dir is NULL.  Returns 0 or -1 (reported).
 */
int
spool_open(struct spool *sp, const char *dir, uint64_t max_bytes)
{
	char path[PATH_MAX], tmpl[PATH_MAX];
	const char *tmpdir;

	memset(sp, 0, sizeof(*sp));
	sp->lock_fd = sp->wfd = sp->rfd = -1;
	sp->segment_max = max_bytes / 8;
	if (sp->segment_max < SEGMENT_MIN)
		sp->segment_max = SEGMENT_MIN;
	if (sp->segment_max > SEGMENT_MAX)
		sp->segment_max = SEGMENT_MAX;
	if (dir == NULL) {
		if ((tmpdir = getenv("TMPDIR")) == NULL || *tmpdir == '\0')
			tmpdir = "/tmp";
		snprintf(tmpl, sizeof(tmpl), "%s/rekor-out.XXXXXX", tmpdir);
		if (mkdtemp(tmpl) == NULL) {
			log_error("cannot create a spool folder in '%s': %s",
			    tmpdir, strerror(errno));
			return -1;
		}
		dir = tmpl;
		sp->temporary = 1;
	} else if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_error("cannot create spool folder '%s': %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((sp->dir = strdup(dir)) == NULL ||
	    (sp->cache = malloc(SPOOL_CACHE)) == NULL) {
		log_error("out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/lock", sp->dir);
	sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lock_fd == -1) {
		log_error("cannot open spool lock '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		log_error("spool '%s' is in use by another process; give "
		    "each output its own --spool folder", sp->dir);
		goto fail;
	}
	if (recover(sp) == -1 || open_writer(sp) == -1)
		goto fail;
	return 0;
fail:
	spool_close(sp, 0);
	return -1;
}

/* Removes every segment and the cursor (and the folder if temporary). */
static void
remove_all(struct spool *sp)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t seg;
	DIR *d;

	if ((d = opendir(sp->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (parse_segment_name(de->d_name, &seg) == 0 ||
		    strcmp(de->d_name, "cursor") == 0 ||
		    (sp->temporary && strcmp(de->d_name, "lock") == 0)) {
			snprintf(path, sizeof(path), "%s/%s", sp->dir,
			    de->d_name);
			unlink(path);
		}
	}
	closedir(d);
	if (sp->temporary)
		rmdir(sp->dir);
}

/*
 * Closes the spool.  With drained set, everything was delivered and the
 * segments go; otherwise they stay for the next run (unless temporary).
 */
void
spool_close(struct spool *sp, int drained)
{
	if (sp->wfd != -1)
		close(sp->wfd);
	if (sp->rfd != -1)
		close(sp->rfd);
	if (sp->dir != NULL) {
		if (drained || sp->temporary)
			remove_all(sp);
		else if (sp->cseg != 0)
			spool_save_cursor(sp);
	}
	if (sp->lock_fd != -1)
		close(sp->lock_fd);
	free(sp->dir);
	free(sp->cache);
	memset(sp, 0, sizeof(*sp));
	sp->wfd = sp->rfd = sp->lock_fd = -1;
}

/*
 * Appends one record and a newline.  Starts a new segment first when the
 * current one is full; a full segment of a durable spool is fsynced
 * before it is closed.  Returns 0 or -1 (reported).
 */
int
spool_append(struct spool *sp, const char *line, size_t len)
{
	char *p;
	ssize_t n;
	size_t off = 0, total = len + 1;

	if (sp->woff >= sp->segment_max) {
		if (!sp->temporary && fdatasync(sp->wfd) == -1)
			goto fail;
		close(sp->wfd);
		sp->wfd = -1;
		sp->wseg++;
		if (open_writer(sp) == -1)
			return -1;
	}
	/* One write per record, so that a crash tears at most this one. */
	if ((p = malloc(total)) == NULL) {
		log_error("out of memory");
		return -1;
	}
	memcpy(p, line, len);
	p[len] = '\n';
	while (off < total) {
		n = write(sp->wfd, p + off, total - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(p);
			goto fail;
		}
		off += (size_t)n;
	}
	free(p);
	sp->woff += total;
	return 0;
fail:
	log_error("cannot write spool segment in '%s': %s", sp->dir,
	    strerror(errno));
	return -1;
}

/* Makes everything appended so far durable.  Returns 0 or -1 (reported). */
int
spool_sync(struct spool *sp)
{
	if (sp->temporary)
		return 0;
	if (fdatasync(sp->wfd) == -1 ||
	    (sp->dir_dirty && fsync_path(sp->dir) == -1)) {
		log_error("cannot sync spool '%s': %s", sp->dir,
		    strerror(errno));
		return -1;
	}
	sp->dir_dirty = 0;
	return 0;
}

static int
open_reader(struct spool *sp, uint64_t wseg)
{
	char path[PATH_MAX];

	/* Segments numbers are consecutive; skip any removed by hand. */
	for (;;) {
		segment_path(sp, sp->rseg, path, sizeof(path));
		sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
		if (sp->rfd != -1)
			break;
		if (errno != ENOENT || sp->rseg >= wseg) {
			log_error("cannot open spool segment '%s': %s", path,
			    strerror(errno));
			return -1;
		}
		sp->rseg++;
		sp->roff = 0;
	}
	sp->cache_len = 0;
	sp->cache_off = sp->roff;
	return 0;
}

/*
 * Reads the next record into line (without its newline).  The writer's
 * published position (wseg, woff) bounds what may be read from segment
 * wseg; older segments are read to their end.  consumed receives the
 * number of spool bytes the reader moved past, torn lines included.
 * Returns 0, SPOOL_NO_DATA, or -1 (reported).
 */
int
spool_read_line(struct spool *sp, uint64_t wseg, uint64_t woff,
    struct buf *line, uint64_t *consumed)
{
	uint64_t limit, pos;
	size_t avail, i;
	ssize_t n;
	char *nl;

	buf_reset(line);
	*consumed = 0;
	for (;;) {
		if (sp->rfd == -1 && open_reader(sp, wseg) == -1)
			return -1;
		limit = sp->rseg == wseg ? woff : UINT64_MAX;
		pos = sp->roff + line->len;
		if (pos >= limit)
			return SPOOL_NO_DATA;
		if (pos < sp->cache_off ||
		    pos >= sp->cache_off + sp->cache_len) {
			avail = SPOOL_CACHE;
			if (limit - pos < avail)
				avail = (size_t)(limit - pos);
			n = pread(sp->rfd, sp->cache, avail, (off_t)pos);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				log_error("cannot read spool '%s': %s",
				    sp->dir, strerror(errno));
				return -1;
			}
			sp->cache_off = pos;
			sp->cache_len = (size_t)n;
		}
		i = (size_t)(pos - sp->cache_off);
		avail = sp->cache_len - i;
		if (avail == 0) {
			/* End of an older segment. */
			if (sp->rseg == wseg)
				return SPOOL_NO_DATA;
			if (line->len > 0) {
				log_warn("spool segment %" PRIu64 " ends in "
				    "a torn record of %zu bytes; skipping it",
				    sp->rseg, line->len);
				*consumed += line->len;
				buf_reset(line);
			}
			close(sp->rfd);
			sp->rfd = -1;
			sp->rseg++;
			sp->roff = 0;
			continue;
		}
		nl = memchr(sp->cache + i, '\n', avail);
		if (nl == NULL) {
			if (buf_append(line, sp->cache + i, avail) == -1)
				goto nomem;
			continue;
		}
		if (buf_append(line, sp->cache + i,
		    (size_t)(nl - (sp->cache + i))) == -1)
			goto nomem;
		sp->roff += line->len + 1;
		*consumed += line->len + 1;
		return 0;
	}
nomem:
	log_error("out of memory");
	return -1;
}
