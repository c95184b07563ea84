/*
 * rekor-out-smtp: configuration shared by main.c and message.c.
 */
#ifndef RK_OUT_SMTP_H
#define RK_OUT_SMTP_H

#include <stddef.h>

#include "buf.h"
#include "deliver.h"
#include "record.h"

/* Recipients accepted in --to. */
#define SMTP_TO_MAX	64

struct smtp_config {
	const char	*from;			/* checked address */
	char		*to[SMTP_TO_MAX];	/* checked addresses */
	size_t		 nto;
};

int	 message_build(const struct smtp_config *,
	    const struct deliver_item *, struct buf *);

#endif
