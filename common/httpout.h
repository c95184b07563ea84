/*
 * HTTP requests for the output programs, over one libcurl easy handle per
 * sender (keep-alive).  TLS verification is on unless --insecure; only
 * http and https are allowed and redirects are not followed.  At -vv the
 * exchange is traced on stderr with every header value except a few
 * harmless ones hidden, so that Authorization never shows.
 */
#ifndef RK_HTTPOUT_H
#define RK_HTTPOUT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "deliver.h"

/* Most extra headers of one request; more make httpout_send() fail. */
#define HTTPOUT_HEADERS_MAX	32
/* Response bodies beyond this size are cut: only error texts are read. */
#define HTTPOUT_BODY_MAX	(4UL * 1024 * 1024)

struct httpout {
	CURL		*curl;
	uint64_t	 timeout_ms;
	int		 insecure;
	const char	*ca_file;
};

/*
 * One request.  headers is a NULL-terminated list of "Name: value"
 * strings, used in place and never copied or logged, so they may hold
 * secrets.  With username set, the request carries HTTP basic auth built
 * from username and password; the encoded header is wiped after use.
 */
struct httpout_request {
	const char		*method;	/* "POST", "PUT" */
	const char		*url;
	const char		*content_type;
	const char		*body;
	size_t			 body_len;
	const char *const	*headers;	/* NULL: none */
	const char		*username;
	const char		*password;
};

struct httpout_response {
	long		 status;	/* 0: no response */
	struct buf	 body;		/* at most HTTPOUT_BODY_MAX bytes */
	int		 has_retry_after;
	uint64_t	 retry_after_ms;
	char		 error[CURL_ERROR_SIZE];	/* when status is 0 */
};

int	 httpout_global_init(void);
void	 httpout_global_cleanup(void);
int	 httpout_init(struct httpout *, const struct deliver_config *);
void	 httpout_free(struct httpout *);
int	 httpout_check_url(const char *);
int	 httpout_send(struct httpout *, const struct httpout_request *,
	    struct httpout_response *);
void	 httpout_response_free(struct httpout_response *);
void	 httpout_classify(const struct httpout_response *,
	    struct deliver_item *);
void	 httpout_body_excerpt(const struct httpout_response *, char *,
	    size_t);

#endif
