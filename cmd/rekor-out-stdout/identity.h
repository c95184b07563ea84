/*
 * The signer of a Rekor entry as one short word for a person: the e-mail
 * or URI subject alternative names of its certificate, or the SHA-256
 * fingerprint of its bare public key.
 */
#ifndef RK_IDENTITY_H
#define RK_IDENTITY_H

#include <cjson/cJSON.h>

#include "buf.h"

int	 identity_describe(const cJSON *, struct buf *);

#endif
