/*
 * The e-mail for one alert (RFC 5322, MIME): a plain-text part with the
 * facts of the alert and the record attached as a JSON file.
 *
 * Header injection: every configured header value (From, To) was checked
 * for CR, LF and other control characters when the options were read.
 * Every value taken from the record is cleaned here: control characters
 * become spaces and non-ASCII text becomes RFC 2047 encoded words.  So no
 * record can add a header line or end the header block.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "alertfacts.h"
#include "buf.h"
#include "smtp.h"

/* Maximum bytes of the policy name in the Subject; the body has it all. */
#define SUBJECT_POLICY_MAX	200
/* Base64 line length in the attachment (RFC 2045 allows up to 76). */
#define B64_LINE		76
/* Input bytes per encoded word: 45 bytes give 60 base64 characters. */
#define WORD_BYTES		45

/*
 * Copies s into out with every control character (C0, DEL) replaced by a
 * space, cut at max bytes without splitting a UTF-8 sequence.
 */
static void
clean_text(const char *s, size_t max, struct buf *out)
{
	size_t n = strlen(s), i;
	unsigned char c;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		buf_append(out, c < 0x20 || c == 0x7f ? " " : &s[i], 1);
	}
}

/*
 * Appends "Subject: TEXT" and CRLF.  Printable ASCII is written as is.
 * Anything else is written as UTF-8 "B" encoded words (RFC 2047) of at
 * most WORD_BYTES input bytes each, on folded lines.  Each word ends on a
 * character boundary.
 */
static int
header_subject(struct buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	unsigned char enc[WORD_BYTES / 3 * 4 + 4];
	size_t len = strlen(text), i, take;
	int ascii = 1;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			ascii = 0;
	if (ascii && len < 900)
		return buf_printf(b, "Subject: %s\r\n", text);
	if (buf_append_str(b, "Subject:") == -1)
		return -1;
	for (i = 0; i < len; i += take) {
		take = len - i < WORD_BYTES ? len - i : WORD_BYTES;
		while (i + take < len && (p[i + take] & 0xc0) == 0x80)
			take--;
		EVP_EncodeBlock(enc, p + i, (int)take);
		if (buf_printf(b, "%s=?UTF-8?B?%s?=", i == 0 ? " " : "\r\n ",
		    (char *)enc) == -1)
			return -1;
	}
	return buf_append_str(b, "\r\n");
}

/*
 * Appends text as quoted-printable (RFC 2045) with CRLF line
 * ends; "\n" in text ends a line.  Soft line breaks keep encoded lines
 * within 76 characters.  "=" is always encoded, so the MIME boundary
 * (which starts with "=_") cannot appear in the part.
 */
static int
quoted_printable(struct buf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)text;
	char enc[3];
	size_t col = 0, w;
	int rc = 0;

	for (; *p != '\0' && rc == 0; p++) {
		if (*p == '\n') {
			rc = buf_append_str(b, "\r\n");
			col = 0;
			continue;
		}
		/* Space and tab are encoded at the end of a line only. */
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && p[1] != '\n' &&
		    p[1] != '\0')) {
			enc[0] = (char)*p;
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			w = 3;
		}
		if (col + w > 75) {
			rc |= buf_append_str(b, "=\r\n");
			col = 0;
		}
		rc |= buf_append(b, enc, w);
		col += w;
	}
	if (rc == 0 && col > 0)
		rc = buf_append_str(b, "\r\n");
	return rc;
}

/* Appends data as base64 in lines of B64_LINE characters. */
static int
base64_lines(struct buf *b, const char *data, size_t len)
{
	unsigned char enc[B64_LINE + 4];
	size_t i, take;

	for (i = 0; i < len; i += take) {
		take = len - i < B64_LINE / 4 * 3 ? len - i : B64_LINE / 4 * 3;
		EVP_EncodeBlock(enc, (const unsigned char *)data + i,
		    (int)take);
		if (buf_printf(b, "%s\r\n", (char *)enc) == -1)
			return -1;
	}
	return 0;
}

static void
fact(struct buf *text, const char *label, const char *value)
{
	if (value[0] == '\0')
		return;
	buf_printf(text, "%-13s ", label);
	clean_text(value, (size_t)-1, text);
	buf_append_str(text, "\n");
}

/* The plain-text body: one line per fact, cleaned of control characters. */
static int
body_text(const struct alert_facts *f, struct buf *text)
{
	buf_append_str(text, "Rekor alert: policy '");
	clean_text(f->policy, (size_t)-1, text);
	buf_printf(text, "' matched log entry %s.\n\n", f->index);
	fact(text, "Policy:", f->policy);
	fact(text, "Description:", f->description);
	fact(text, "Log index:", f->index);
	if (f->kind[0] != '\0') {
		buf_printf(text, "%-13s ", "Kind:");
		clean_text(f->kind, (size_t)-1, text);
		buf_append_str(text, " ");
		clean_text(f->api_version, (size_t)-1, text);
		buf_append_str(text, "\n");
	}
	if (f->time[0] != '\0') {
		buf_printf(text, "%-13s ", "Integrated:");
		clean_text(f->time, (size_t)-1, text);
		buf_printf(text, " (%s)\n", f->integrated_time);
	}
	fact(text, "Signer:", f->signer);
	fact(text, "UUID:", f->uuid);
	fact(text, "Entry URL:", f->url);
	fact(text, "Log ID:", f->log_id);
	fact(text, "Alert ID:", f->alert_id);
	return buf_printf(text, "\nThe alert record is attached as "
	    "alert-%s.json.\n", f->index[0] != '\0' ? f->index : "unknown");
}

/*
 * Writes the idempotency key into out for Message-ID and the boundary:
 * the alertID with every character outside [0-9a-zA-Z] replaced by '_'.
 * The engine has checked its length, not its characters.
 */
static void
safe_id(const char *alert_id, char *out, size_t len)
{
	size_t i;

	for (i = 0; alert_id[i] != '\0' && i + 1 < len; i++)
		out[i] = isalnum((unsigned char)alert_id[i]) ? alert_id[i] :
		    '_';
	out[i] = '\0';
}

/*
 * Builds the message for one alert into msg (reset first).  The
 * Message-ID is derived from the alertID, so every retry of an alert and
 * every replay after a crash carries the same Message-ID.  Returns 0 or
 * -1 (out of memory).
 */
int
message_build(const struct smtp_config *cfg, const struct deliver_item *it,
    struct buf *msg)
{
	struct alert_facts f;
	struct buf subject = BUF_INIT, text = BUF_INIT;
	char id[ALERT_ID_LEN + 1], date[64];
	const char *domain;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc = -1;

	alertfacts_get(it->alert, &f);
	safe_id(it->alert_id, id, sizeof(id));
	domain = strrchr(cfg->from, '@') + 1;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	buf_append_str(&subject, "Rekor alert: ");
	clean_text(f.policy, SUBJECT_POLICY_MAX, &subject);
	buf_append_str(&subject, " matched log entry ");
	clean_text(f.index, 32, &subject);
	body_text(&f, &text);

	buf_reset(msg);
	buf_printf(msg, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, cfg->from);
	for (i = 0; i < cfg->nto; i++)
		buf_printf(msg, "%s<%s>", i > 0 ? ",\r\n " : "", cfg->to[i]);
	buf_append_str(msg, "\r\n");
	if (subject.data == NULL || text.data == NULL ||
	    header_subject(msg, subject.data) == -1)
		goto out;
	buf_printf(msg, "Message-ID: <%s.alert@%s>\r\n"
	    "X-Rekor-Alert-ID: %s\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=_rekor_%s\"\r\n"
	    "\r\n"
	    "This is a MIME message.\r\n"
	    "\r\n"
	    "--=_rekor_%s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n", id, domain, id, id, id);
	if (quoted_printable(msg, text.data) == -1)
		goto out;
	buf_printf(msg, "--=_rekor_%s\r\n"
	    "Content-Type: application/json; name=\"alert-%s.json\"\r\n"
	    "Content-Disposition: attachment; filename=\"alert-%s.json\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n", id, f.index[0] != '\0' ? f.index : "unknown",
	    f.index[0] != '\0' ? f.index : "unknown");
	if (base64_lines(msg, it->line, it->line_len) == -1)
		goto out;
	if (buf_printf(msg, "--=_rekor_%s--\r\n", id) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&subject);
	buf_free(&text);
	return rc;
}
