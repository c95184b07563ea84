/*
 * rekor-policy: one opa server per policy file, and the batches of
 * entries evaluated against them.
 */
#ifndef RK_POLICY_H
#define RK_POLICY_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"

/* Built-in failures shown per policy as warnings; later ones only with -v. */
#define POLICY_BUILTIN_SHOWN	10

/* Connections to each opa, so that the parts of one batch run at once. */
#define POLICY_CONNECTIONS	2

struct policy {
	char		*file;		/* path as given to -p */
	char		*name;		/* from -n, METADATA or the file name */
	char		*description;
	int		 name_from_option;
	int		 description_from_option;
	int		 input_record;	/* input is the whole record, not body */
	int		 v0;		/* read as Rego v0 */
	char		*dir;		/* private: copy, socket, opa log */
	char		*copy;		/* dir/policy.rego */
	char		*socket;	/* dir/opa.sock */
	char		*opa_log;	/* dir/opa.log: opa's stderr */
	char		*alert_suffix;	/* ,"policy":{...},"alertID":" */
	pid_t		 pid;
	CURL		*curl[POLICY_CONNECTIONS];
	struct curl_slist *headers;
	uint64_t	 alerts;
	uint64_t	 errors;	/* entries whose evaluation failed */
	uint64_t	 builtin_failures;
	int		 one_by_one;	/* evaluate the next batch per entry */
};

struct opa_env {
	char		*opa;		/* absolute path of the opa binary */
	char		*workdir;	/* private temporary directory */
	char		*caps[2];	/* capabilities files, [v0] */
};

/* Result of evaluating one entry against one policy. */
enum verdict {
	VERDICT_NONE = 0,	/* alert was undefined, false or not boolean */
	VERDICT_ALERT,		/* alert was exactly true */
	VERDICT_ERROR		/* evaluation failed; reported */
};

/* policy.c */
int	 opa_env_init(struct opa_env *, const char *);
void	 opa_env_free(struct opa_env *);
int	 opa_capture(const struct opa_env *, const char *const [],
	    struct buf *,
	    int *);
int	 policy_load(struct policy *, const struct opa_env *, size_t);
int	 policy_names_check(struct policy *, size_t);
void	 policy_free(struct policy *);

/* One request of server_post_many(). */
struct opa_request {
	struct policy	*policy;
	CURL		*curl;
	const char	*body;
	size_t		 len;
	size_t		 lo, hi;	/* the entries it evaluates */
	struct buf	 resp;
	long		 status;
	int		 failed;	/* opa did not respond */
};

/* server.c */
int	 server_start(struct policy *, const struct opa_env *);
int	 server_wait_ready(struct policy *, uint64_t);
int	 server_post(struct policy *, const char *, size_t, int,
	    struct buf *, long *);
int	 server_post_many(struct opa_request *, size_t);
int	 server_check_alive(struct policy *);
void	 server_stop(struct policy *);
void	 server_report_log(const struct policy *);

#endif
