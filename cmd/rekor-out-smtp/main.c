/*
 * rekor-out-smtp: sends one e-mail per alert through an SMTP server with
 * libcurl: smtp:// with STARTTLS as --starttls sets, or smtps:// (TLS
 * from the first byte).  A 5xx reply is permanent (dead-letter file);
 * 4xx replies, timeouts and connection or TLS errors are retried.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "deliver.h"
#include "exitcodes.h"
#include "log.h"
#include "secret.h"
#include "smtp.h"
#include "util.h"

#define ENV_PASSWORD	"REKOR_SIDEKICK_OUTPUTS_SMTP_PASSWORD"
#define PORT_DEFAULT	587
/* The port of SMTP submission over implicit TLS (RFC 8314). */
#define PORT_SMTPS	465

struct smtp_ctx {
	struct smtp_config	 cfg;
	const struct deliver_config *dcfg;
	CURL			*curl;
	char			*url;
	int			 implicit_tls;
	long			 use_ssl;	/* CURLUSESSL_* */
	const char		*username;
	struct buf		 password;	/* secret */
	struct curl_slist	*rcpt;
	char			 mail_from[600];
	struct buf		 msg;
	size_t			 msg_off;
	char			 error[CURL_ERROR_SIZE];
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: %s [-kqv] -H host -f address -t address[,...] "
	    "[-P port]\n"
	    "       [-p file] [-U user] [-x required|try|never] [-C file] "
	    "[-d file]\n"
	    "       [-M bytes] [-R duration] [-s file] [-S dir] "
	    "[-T duration]\n", log_progname());
	if (fp != stdout)
		return;
	fputs("Send an e-mail for every alert read on standard input.\n\n"
	    "  -f, --from ADDRESS         envelope and header sender\n"
	    "  -H, --host HOST            SMTP server: a host name, or "
	    "smtp://HOST or\n"
	    "                             smtps://HOST (implicit TLS, also "
	    "the default on\n"
	    "                             port 465)\n"
	    "  -p, --password-file FILE   SMTP AUTH password (secret; "
	    "default:\n"
	    "                             $" ENV_PASSWORD ")\n"
	    "  -P, --port PORT            SMTP port (default 587)\n"
	    "  -t, --to ADDRESS[,...]     recipients (repeatable)\n"
	    "  -U, --username USER        SMTP AUTH user\n"
	    "  -x, --starttls MODE        on smtp://: required (default), "
	    "try or never\n", fp);
	fputs(DELIVER_USAGE_OPTIONS, fp);
	fputs("  -h, --help                 show this help and exit\n"
	    "  -V, --version              show the version and exit\n", fp);
}

/*
 * Checks a mailbox address (addr-spec, RFC 5322 section 3.4.1) in the
 * dot-atom form: local@domain, with a domain name or an [address
 * literal].  Quoted local parts, comments and display names are
 * rejected.  So is any space or control character, so that an address
 * cannot carry a header or an SMTP command.
 */
static int
address_valid(const char *a)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	const char *at, *p;
	size_t len = strlen(a);

	if (len == 0 || len > 254 || (at = strrchr(a, '@')) == NULL ||
	    at == a || at[1] == '\0')
		return 0;
	if (a[0] == '.' || at[-1] == '.' || strstr(a, "..") != NULL)
		return 0;
	for (p = a; p < at; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' &&
		    strchr(atext, *p) == NULL)
			return 0;
	p = at + 1;
	if (*p == '[') {
		len = strlen(p);
		if (p[len - 1] != ']' || len < 3)
			return 0;
		for (p++; *p != ']'; p++)
			if (!isxdigit((unsigned char)*p) && *p != '.' &&
			    *p != ':')
				return 0;
		return 1;
	}
	if (*p == '.' || *p == '-')
		return 0;
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return 0;
	return 1;
}

/* Adds the comma-separated addresses of one --to option. */
static int
to_add(struct smtp_config *cfg, const char *list)
{
	const char *p = list, *end;
	size_t n;
	char *a;

	for (;;) {
		end = p + strcspn(p, ",");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if ((a = strndup(p, n)) == NULL)
			return -1;
		if (!address_valid(a)) {
			log_error("invalid recipient address '%s' in --to: "
			    "expected local@domain", a);
			free(a);
			return -1;
		}
		if (cfg->nto == SMTP_TO_MAX) {
			log_error("more than %d recipients in --to",
			    SMTP_TO_MAX);
			free(a);
			return -1;
		}
		cfg->to[cfg->nto++] = a;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/*
 * Builds the server URL from --host and --port.  A bare host becomes
 * smtps:// on port 465 and smtp:// on any other; an IPv6 address gets
 * its brackets.  Returns 0 or -1 (reported).
 */
static int
server_url(struct smtp_ctx *ctx, const char *host, long port)
{
	const char *scheme, *name = host, *p;
	int bracket;

	if (strncasecmp(host, "smtps://", 8) == 0) {
		scheme = "smtps";
		name = host + 8;
	} else if (strncasecmp(host, "smtp://", 7) == 0) {
		scheme = "smtp";
		name = host + 7;
	} else
		scheme = port == PORT_SMTPS ? "smtps" : "smtp";
	if (*name == '\0') {
		log_error("invalid host '%s': expected a host name",
		    host);
		return -1;
	}
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL) {
			log_error("invalid host '%s': expected a host name or "
			    "address, with no port, path or user", host);
			return -1;
		}
	bracket = strchr(name, ':') != NULL && name[0] != '[';
	ctx->implicit_tls = strcmp(scheme, "smtps") == 0;
	if (asprintf(&ctx->url, "%s://%s%s%s:%ld", scheme, bracket ? "[" : "",
	    name, bracket ? "]" : "", port) == -1) {
		ctx->url = NULL;
		return -1;
	}
	return 0;
}

/*
 * Adds the --ca-file certificates to OpenSSL's default store, so that
 * the file extends the system CAs rather than replacing them.
 */
static CURLcode
load_extra_ca(CURL *curl, void *ssl_ctx, void *path)
{
	(void)curl;
	if (X509_STORE_load_file(SSL_CTX_get_cert_store(ssl_ctx),
	    path) == 1)
		return CURLE_OK;
	log_error("cannot load CA file '%s'", (const char *)path);
	return CURLE_SSL_CACERT_BADFILE;
}

/*
 * Traces the SMTP dialogue at -vv.  Server replies are shown; of the
 * client's commands only the verb, and AUTH exchanges not at all, since
 * they carry the credentials.
 */
static int
trace(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	static const char *const shown[] = { "EHLO", "HELO", "MAIL", "RCPT",
	    "DATA", "QUIT", "STARTTLS", "RSET", "NOOP", NULL };
	size_t n = size, i;

	(void)curl;
	(void)arg;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	if (n == 0)
		return 0;
	switch (type) {
	case CURLINFO_TEXT:
		log_debug("smtp: %.*s", (int)n, data);
		break;
	case CURLINFO_HEADER_IN:
		log_debug("smtp: < %.*s", (int)n, data);
		break;
	case CURLINFO_HEADER_OUT:
		for (i = 0; shown[i] != NULL; i++)
			if (n >= strlen(shown[i]) &&
			    strncasecmp(data, shown[i], strlen(shown[i])) == 0)
				break;
		if (shown[i] != NULL)
			log_debug("smtp: > %s ...", shown[i]);
		else
			log_debug("smtp: > (hidden)");
		break;
	default:
		break;
	}
	return 0;
}

static size_t
read_message(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct smtp_ctx *ctx = arg;
	size_t room = size * nmemb, left = ctx->msg.len - ctx->msg_off;

	if (left < room)
		room = left;
	memcpy(dst, ctx->msg.data + ctx->msg_off, room);
	ctx->msg_off += room;
	return room;
}

static void
set_options(struct smtp_ctx *ctx)
{
	const struct deliver_config *d = ctx->dcfg;
	CURL *c = ctx->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, ctx->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ctx->error);
	curl_easy_setopt(c, CURLOPT_USE_SSL, ctx->implicit_tls ?
	    (long)CURLUSESSL_ALL : ctx->use_ssl);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, d->insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, d->insecure ? 0L : 2L);
	if (d->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, load_extra_ca);
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, d->ca_file);
	}
	if (ctx->username != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, ctx->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, ctx->password.data);
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, ctx->mail_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, ctx->rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(c, CURLOPT_READDATA, ctx);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)ctx->msg.len);
	if (log_get_level() >= LOG_DEBUG) {
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, trace);
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
}

/* Sends one alert and sets its outcome. */
static void
send_one(struct smtp_ctx *ctx, struct deliver_item *it)
{
	CURLcode cc;
	long code = 0;

	if (message_build(&ctx->cfg, it, &ctx->msg) == -1) {
		deliver_item_set(it, DELIVER_RETRY, 0, "out of memory");
		return;
	}
	ctx->msg_off = 0;
	ctx->error[0] = '\0';
	set_options(ctx);
	cc = curl_easy_perform(ctx->curl);
	curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_OK) {
		log_info("alert '%s': mail accepted (%ld)", it->alert_id,
		    code);
		deliver_item_set(it, DELIVER_OK, 0, "SMTP %ld", code);
		return;
	}
	if (ctx->error[0] == '\0')
		snprintf(ctx->error, sizeof(ctx->error), "%s",
		    curl_easy_strerror(cc));
	/* Only a 5xx reply is permanent; RFC 5321 makes 4xx transient. */
	if (code >= 500 && code <= 599)
		deliver_item_set(it, DELIVER_FAIL, 0, "SMTP server replied "
		    "%ld: %s", code, ctx->error);
	else if (code >= 400 && code <= 499)
		deliver_item_set(it, DELIVER_RETRY, 0, "SMTP server replied "
		    "%ld: %s", code, ctx->error);
	else
		deliver_item_set(it, DELIVER_RETRY, 0, "SMTP failed: %s",
		    ctx->error);
}

static void
smtp_send(void *arg, struct deliver_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		send_one(arg, &items[i]);
}

static const struct option longopts[] = {
	{ "from",		required_argument, NULL, 'f' },
	{ "host",		required_argument, NULL, 'H' },
	{ "password-file",	required_argument, NULL, 'p' },
	{ "port",		required_argument, NULL, 'P' },
	{ "starttls",		required_argument, NULL, 'x' },
	{ "to",			required_argument, NULL, 't' },
	{ "username",		required_argument, NULL, 'U' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	DELIVER_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

/* Checks the option values that depend on each other; reads secrets. */
static int
setup(struct smtp_ctx *ctx, const char *host, long port,
    const char *password_file)
{
	size_t i;
	int r;

	if (host == NULL) {
		log_error("missing --host: give the SMTP server");
		return -1;
	}
	if (ctx->cfg.from == NULL) {
		log_error("missing --from: give the sender address");
		return -1;
	}
	if (ctx->cfg.nto == 0) {
		log_error("missing --to: give at least one recipient");
		return -1;
	}
	if (server_url(ctx, host, port) == -1)
		return -1;
	r = secret_read(ENV_PASSWORD, password_file, &ctx->password);
	if (r == -1)
		return -1;
	if (r == 0 && ctx->username == NULL) {
		log_error("a password is set but --username is missing");
		return -1;
	}
	if (r == 1 && ctx->username != NULL) {
		log_error("--username needs a password: set %s or give "
		    "--password-file", ENV_PASSWORD);
		return -1;
	}
	if (r == 0 && !ctx->implicit_tls && ctx->use_ssl == CURLUSESSL_NONE)
		log_warn("--starttls never: the SMTP password is sent "
		    "without TLS");
	snprintf(ctx->mail_from, sizeof(ctx->mail_from), "<%s>",
	    ctx->cfg.from);
	for (i = 0; i < ctx->cfg.nto; i++) {
		char rcpt[600];
		struct curl_slist *l;

		snprintf(rcpt, sizeof(rcpt), "<%s>", ctx->cfg.to[i]);
		if ((l = curl_slist_append(ctx->rcpt, rcpt)) == NULL)
			return -1;
		ctx->rcpt = l;
	}
	return 0;
}

static int
parse_option(struct smtp_ctx *ctx, int c, const char *arg, const char **host,
    long *port, const char **password_file)
{
	uint64_t v;

	switch (c) {
	case 'f':
		if (!address_valid(arg)) {
			log_error("invalid sender address '%s' in --from: "
			    "expected local@domain", arg);
			return -1;
		}
		ctx->cfg.from = arg;
		break;
	case 'H':
		*host = arg;
		break;
	case 'p':
		*password_file = arg;
		break;
	case 'P':
		if (parse_uint64(arg, 1, 65535, &v) == -1) {
			log_error("invalid port '%s': expected 1 to 65535",
			    arg);
			return -1;
		}
		*port = (long)v;
		break;
	case 't':
		return to_add(&ctx->cfg, arg);
	case 'U':
		if (strpbrk(arg, "\r\n") != NULL || *arg == '\0') {
			log_error("invalid username: empty or with a line "
			    "break");
			return -1;
		}
		ctx->username = arg;
		break;
	case 'x':
		if (strcmp(arg, "required") == 0)
			ctx->use_ssl = CURLUSESSL_ALL;
		else if (strcmp(arg, "try") == 0)
			ctx->use_ssl = CURLUSESSL_TRY;
		else if (strcmp(arg, "never") == 0)
			ctx->use_ssl = CURLUSESSL_NONE;
		else {
			log_error("invalid --starttls '%s': expected "
			    "required, try or never", arg);
			return -1;
		}
		break;
	default:
		return -1;
	}
	return 0;
}

static void
ctx_free(struct smtp_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->cfg.nto; i++)
		free(ctx->cfg.to[i]);
	curl_slist_free_all(ctx->rcpt);
	free(ctx->url);
	buf_wipe(&ctx->password);
	buf_free(&ctx->msg);
}

int
main(int argc, char *argv[])
{
	struct deliver_config cfg;
	struct smtp_ctx ctx;
	struct deliver_output out = { "SMTP server", 1, 0, &ctx, smtp_send };
	const char *host = NULL, *password_file = NULL;
	long port = PORT_DEFAULT;
	int c, rc = RK_EXIT_USAGE;

	stdio_setup();
	log_init(argv[0]);
	memset(&ctx, 0, sizeof(ctx));
	ctx.use_ssl = CURLUSESSL_ALL;
	deliver_config_init(&cfg);
	while ((c = getopt_long(argc, argv, DELIVER_SHORTOPTS
	    "f:H:p:P:t:U:x:hV", longopts, NULL)) != -1) {
		switch (deliver_config_option(&cfg, c, optarg)) {
		case 1:
			continue;
		case -1:
			usage(stderr);
			goto out;
		}
		if (c == 'h') {
			usage(stdout);
			rc = RK_EXIT_OK;
			goto out;
		}
		if (c == 'V') {
			printf("%s %s\n", log_progname(), RK_VERSION);
			rc = RK_EXIT_OK;
			goto out;
		}
		if (c == '?' || parse_option(&ctx, c, optarg, &host, &port,
		    &password_file) == -1) {
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s': alerts are read from "
		    "standard input", argv[optind]);
		usage(stderr);
		goto out;
	}
	if (setup(&ctx, host, port, password_file) == -1)
		goto out;
	ctx.dcfg = &cfg;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (ctx.curl = curl_easy_init()) == NULL) {
		log_error("cannot initialise libcurl");
		rc = RK_EXIT_IO;
		goto out;
	}
	rc = deliver_run(&cfg, &out);
	curl_easy_cleanup(ctx.curl);
	curl_global_cleanup();
out:
	ctx_free(&ctx);
	return stdout_finish(rc);
}
