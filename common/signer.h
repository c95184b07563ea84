/*
 * The signer identity of a Rekor entry, read from the certificate in its
 * body: the first e-mail or URI subject alternative name and, from the
 * Fulcio extensions, the OIDC issuer.  Entries signed with a bare public
 * key have no identity.
 */
#ifndef RK_SIGNER_H
#define RK_SIGNER_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Enough for a SAN, the issuer and the words between them. */
#define SIGNER_MAX	1024

int	 signer_identity(const cJSON *, char *, size_t);

#endif
