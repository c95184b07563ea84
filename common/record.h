/*
 * The records that flow between stages, one JSON object per line.
 * docs/records.md describes every field.
 *
 *	entry	written by rekor-tail: has "logIndex" and "body"
 *	alert	written by rekor-policy: an entry plus "policy" and "alertID"
 *	control	has "control" (a string naming its type); no entry or alert
 *		has this field, and every stage passes through the control
 *		records it does not handle
 */
#ifndef RK_RECORD_H
#define RK_RECORD_H

#include <stdint.h>

#include <cjson/cJSON.h>

enum record_type {
	RECORD_INVALID = 0,
	RECORD_ENTRY,
	RECORD_ALERT,
	RECORD_CONTROL
};

#define ALERT_ID_LEN	64	/* hex SHA-256, without the NUL */

enum record_type record_type(const cJSON *);
const char	*record_control_type(const cJSON *);
int		 record_get_index(const cJSON *, uint64_t *);
int		 alert_id(const char *, uint64_t, const char *,
		    char [ALERT_ID_LEN + 1]);

#endif
