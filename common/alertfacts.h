/*
 * The facts of an alert record that outputs show to people: policy,
 * entry coordinates, times and the signer.  String members point into the
 * cJSON record (valid while it lives) and are never NULL: a missing field
 * is "".
 */
#ifndef RK_ALERTFACTS_H
#define RK_ALERTFACTS_H

#include <cjson/cJSON.h>

#include "signer.h"

struct alert_facts {
	const char	*policy;		/* policy.name */
	const char	*description;		/* policy.description */
	const char	*alert_id;
	const char	*uuid;
	const char	*url;			/* entry URL */
	const char	*kind;
	const char	*api_version;
	const char	*time;			/* RFC 3339 */
	const char	*log_id;
	const char	*tree_id;
	char		 index[24];		/* logIndex, decimal */
	char		 tree_index[24];
	char		 integrated_time[24];	/* Unix seconds */
	char		 signer[SIGNER_MAX];	/* "" when none */
};

void	 alertfacts_get(const cJSON *, struct alert_facts *);

#endif
