/*
 * HTTP requests of the output programs over libcurl.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "deliver.h"
#include "httpout.h"
#include "log.h"
#include "retry.h"

#define MAX_HEADERS	32

int
httpout_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return -1;
	}
	return 0;
}

void
httpout_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Accepts http:// and https:// URLs with a host. */
int
httpout_check_url(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
	    *host != '\0')
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/*
 * Adds the --ca-file certificates to the default trust store, so that the
 * file extends the system CAs rather than replacing them.
 */
static CURLcode
add_ca_file(CURL *curl, void *ssl_ctx, void *arg)
{
	X509_STORE *store;

	(void)curl;
	store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
	if (X509_STORE_load_file(store, (const char *)arg) != 1) {
		log_error("cannot load CA file '%s'", (const char *)arg);
		return CURLE_SSL_CACERT_BADFILE;
	}
	return CURLE_OK;
}

/* Response header values that are safe to show in traces. */
static int
header_shown(const char *line, size_t len)
{
	static const char *const safe[] = {
		"content-type", "content-length", "user-agent", "accept",
		"host", "expect", "ce-specversion", "ce-type", "ce-id",
		"ce-source", "ce-time", NULL
	};
	size_t i, n;

	for (i = 0; safe[i] != NULL; i++) {
		n = strlen(safe[i]);
		if (len > n && line[n] == ':' &&
		    strncasecmp(line, safe[i], n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Traces the exchange at -vv.  Request headers show their names only,
 * except the harmless ones above.  The request line shows the method
 * only, because a webhook path may contain a token.  Bodies never show.
 */
static int
trace(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	const char *p = data, *end = data + size, *eol, *colon;
	size_t n;
	int first = 1;

	(void)curl;
	(void)arg;
	switch (type) {
	case CURLINFO_TEXT:
		n = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
		log_debug("http: %.*s", (int)n, data);
		break;
	case CURLINFO_HEADER_OUT:
		for (; p < end; p = eol + 1, first = 0) {
			if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
				eol = end;
			n = (size_t)(eol - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n == 0)
				continue;
			colon = memchr(p, first ? ' ' : ':', n);
			if (colon == NULL)
				continue;
			if (first)
				log_debug("http: > %.*s (path hidden)",
				    (int)(colon - p), p);
			else if (header_shown(p, n))
				log_debug("http: > %.*s", (int)n, p);
			else
				log_debug("http: > %.*s: (hidden)",
				    (int)(colon - p), p);
			if (eol == end)
				break;
		}
		break;
	case CURLINFO_HEADER_IN:
		n = size;
		while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
			n--;
		if (n > 0)
			log_debug("http: < %.*s", (int)n, data);
		break;
	default:
		break;
	}
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpout_response *resp = arg;
	size_t n = size * nmemb, room;

	room = HTTPOUT_BODY_MAX - resp->body.len;
	if (buf_append(&resp->body, data, n < room ? n : room) == -1)
		return 0;
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpout_response *resp = arg;
	size_t n = size * nmemb;
	char value[128];
	size_t vlen;

	if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
		vlen = n - 12 < sizeof(value) - 1 ? n - 12 : sizeof(value) - 1;
		memcpy(value, data + 12, vlen);
		value[vlen] = '\0';
		value[strcspn(value, "\r\n")] = '\0';
		if (retry_after_parse(value, &resp->retry_after_ms) == 0)
			resp->has_retry_after = 1;
	} else if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget the old. */
		resp->has_retry_after = 0;
	}
	return n;
}

int
httpout_init(struct httpout *h, const struct deliver_config *cfg)
{
	memset(h, 0, sizeof(*h));
	h->timeout_ms = cfg->timeout_ms;
	h->insecure = cfg->insecure;
	h->ca_file = cfg->ca_file;
	if ((h->curl = curl_easy_init()) == NULL) {
		log_error("cannot initialise libcurl");
		return -1;
	}
	return 0;
}

void
httpout_free(struct httpout *h)
{
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

void
httpout_response_free(struct httpout_response *resp)
{
	buf_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* Builds "Authorization: Basic base64(user:password)" into out. */
static int
basic_auth(const char *user, const char *password, struct buf *out)
{
	struct buf plain = BUF_INIT;
	unsigned char *enc = NULL;
	size_t enclen;
	int rc = -1;

	if (buf_printf(&plain, "%s:%s", user, password != NULL ?
	    password : "") == -1)
		goto out;
	enclen = 4 * ((plain.len + 2) / 3);
	if ((enc = malloc(enclen + 1)) == NULL)
		goto out;
	EVP_EncodeBlock(enc, (unsigned char *)plain.data, (int)plain.len);
	rc = buf_printf(out, "Authorization: Basic %s", (char *)enc);
	OPENSSL_cleanse(enc, enclen);
out:
	free(enc);
	buf_wipe(&plain);
	return rc;
}

static void
set_options(struct httpout *h, const struct httpout_request *req,
    struct httpout_response *resp, struct curl_slist *headers)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "rekor-sidekick/" RK_VERSION);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->insecure ? 0L : 2L);
	if (h->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, add_ca_file);
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h->ca_file);
	}
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->error);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body != NULL ?
	    req->body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->body_len);
	if (req->method != NULL && strcmp(req->method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (log_get_level() >= LOG_DEBUG) {
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, trace);
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
}

/*
 * Sends one request and waits for the response.  Returns 0 when a
 * response arrived (any status), -1 when none did (resp->error contains the reason).
 * The caller frees resp with httpout_response_free().
 */
int
httpout_send(struct httpout *h, const struct httpout_request *req,
    struct httpout_response *resp)
{
	struct curl_slist nodes[MAX_HEADERS + 3];
	struct buf ctype = BUF_INIT, auth = BUF_INIT;
	size_t n = 0, i;
	CURLcode cc;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	/*
	 * The header list is built from nodes on the stack around strings
	 * owned here, so that no copy of a secret header is left behind.
	 */
	if (req->content_type != NULL) {
		if (buf_printf(&ctype, "Content-Type: %s",
		    req->content_type) == -1)
			goto nomem;
		nodes[n++].data = ctype.data;
	}
	nodes[n++].data = (char *)"Expect:";
	for (i = 0; req->headers != NULL && req->headers[i] != NULL &&
	    i < MAX_HEADERS; i++)
		nodes[n++].data = (char *)req->headers[i];
	if (req->username != NULL) {
		if (basic_auth(req->username, req->password, &auth) == -1)
			goto nomem;
		nodes[n++].data = auth.data;
	}
	for (i = 0; i < n; i++)
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;

	set_options(h, req, resp, nodes);
	cc = curl_easy_perform(h->curl);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE,
		    &resp->status);
		rc = 0;
	} else {
		if (resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s",
			    curl_easy_strerror(cc));
		resp->status = 0;
	}
	/* Drop libcurl's pointers to the header list and error buffer. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	goto out;
nomem:
	snprintf(resp->error, sizeof(resp->error), "out of memory");
out:
	buf_wipe(&auth);
	buf_free(&ctype);
	return rc;
}

/*
 * Copies the start of the response body into out as one printable line,
 * for error messages.
 */
void
httpout_body_excerpt(const struct httpout_response *resp, char *out,
    size_t len)
{
	size_t i, n;

	n = resp->body.len < len - 1 ? resp->body.len : len - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)resp->body.data[i];

		out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[n] = '\0';
	/* Do not end inside a UTF-8 sequence. */
	while (n > 0 && ((unsigned char)out[n - 1] & 0x80) != 0 &&
	    n == len - 1) {
		if (((unsigned char)out[n - 1] & 0xc0) == 0xc0) {
			out[--n] = '\0';
			break;
		}
		out[--n] = '\0';
	}
}

/*
 * Sets an item's outcome from a response by the usual rules: no response,
 * 408, 425, 429 and 5xx except 501 are transient, 2xx is delivered,
 * anything else is permanent.
 */
void
httpout_classify(const struct httpout_response *resp,
    struct deliver_item *it)
{
	char excerpt[200];

	if (resp->status == 0) {
		deliver_item_set(it, DELIVER_RETRY, 0, "request failed: %s",
		    resp->error);
		return;
	}
	if (resp->status >= 200 && resp->status <= 299) {
		deliver_item_set(it, DELIVER_OK, resp->status, "HTTP %ld",
		    resp->status);
		return;
	}
	httpout_body_excerpt(resp, excerpt, sizeof(excerpt));
	deliver_item_set(it, retry_status_transient(resp->status) ?
	    DELIVER_RETRY : DELIVER_FAIL, resp->status, "HTTP %ld: %s",
	    resp->status, excerpt[0] != '\0' ? excerpt : "(empty body)");
	if (resp->has_retry_after)
		it->retry_after_ms = resp->retry_after_ms;
}
