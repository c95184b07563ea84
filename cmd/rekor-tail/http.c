/*
 * rekor-tail: one HTTP request to the log on the shared libcurl multi
 * handle, and what its reply means: data, a failure worth a retry, or a
 * failure that no retry fixes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"
#include "retry.h"
#include "tail.h"

#define REPLY_MAX	(256UL * 1024 * 1024)	/* larger replies fail */

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct request *r = arg;

	if (r->reply.len + size * n > REPLY_MAX ||
	    buf_append(&r->reply, data, size * n) == -1)
		return 0;
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct request *r = arg;
	size_t len = size * n;
	char value[128];

	/* Headers of an earlier response (a 100 Continue) are replaced. */
	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0 &&
	    len - 12 < sizeof(value)) {
		memcpy(value, data + 12, len - 12);
		value[len - 12] = '\0';
		r->have_retry_after = retry_after_parse(value,
		    &r->retry_after_ms) == 0;
	}
	return len;
}

void
request_free(struct request *r)
{
	if (r == NULL)
		return;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_free(&r->reply);
	buf_free(&r->post);
	free(r);
}

/*
 * Starts a GET of server + path, or a POST of post (taken over) when it
 * is not NULL.  Returns the request, or NULL (reported).
 */
struct request *
request_start(CURLM *multi, const char *server, const char *path,
    struct buf *post, uint64_t timeout_ms)
{
	struct request *r;
	struct buf url = BUF_INIT;
	CURL *e;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (post != NULL) {
		r->post = *post;
		memset(post, 0, sizeof(*post));
	}
	if ((r->easy = e = curl_easy_init()) == NULL ||
	    buf_printf(&url, "%s%s", server, path) == -1 ||
	    (r->headers = curl_slist_append(NULL, "Accept: application/json"))
	    == NULL ||
	    (post != NULL && (r->headers = curl_slist_append(r->headers,
	    "Content-Type: application/json")) == NULL))
		goto fail;
	curl_easy_setopt(e, CURLOPT_URL, url.data);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rekor-tail/" RK_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	if (post != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post.data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->post.len);
	}
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
		goto fail;
	buf_free(&url);
	return r;
fail:
	log_error("cannot start a request to '%s': out of memory",
	    server);
	buf_free(&url);
	request_free(r);
	return NULL;
}

/* Removes a request from the multi handle and frees it. */
void
request_finish(CURLM *multi, struct request *r)
{
	curl_multi_remove_handle(multi, r->easy);
	request_free(r);
}

/*
 * Classifies a finished request.  Returns 0 for a 200 reply that parses
 * as JSON (in *doc), 1 for a failure worth a retry (reason in why), or -1
 * for a failure that no retry fixes (reported).
 */
int
reply_classify(struct request *r, CURLcode cc, const char *what,
    cJSON **doc, struct buf *why)
{
	long status = 0;
	const cJSON *msg;

	*doc = NULL;
	if (cc != CURLE_OK) {
		buf_printf(why, "%s", r->error[0] != '\0' ? r->error :
		    curl_easy_strerror(cc));
		return cc == CURLE_UNSUPPORTED_PROTOCOL ||
		    cc == CURLE_URL_MALFORMAT ? -1 : 1;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		buf_printf(why, "HTTP status %ld", status);
		if (retry_status_transient(status))
			return 1;
		*doc = cJSON_ParseWithLength(r->reply.data, r->reply.len);
		msg = cJSON_GetObjectItemCaseSensitive(*doc, "message");
		log_error("%s: %s%s%.200s%s", what, why->data,
		    cJSON_IsString(msg) ? " ('" : "",
		    cJSON_IsString(msg) ? msg->valuestring : "",
		    cJSON_IsString(msg) ? "')" : "");
		cJSON_Delete(*doc);
		*doc = NULL;
		return -1;
	}
	if (r->reply.len == 0 || (*doc = cJSON_ParseWithLength(r->reply.data,
	    r->reply.len)) == NULL) {
		buf_printf(why, "the reply is not JSON");
		return 1;
	}
	return 0;
}

