/*
 * The rekor-sidekick config: a YAML tree read with libyaml, the table of
 * every accepted key, and the settings after the environment is applied.
 */
#ifndef RK_CONFIG_H
#define RK_CONFIG_H

#include <stddef.h>

#include "buf.h"

/* YAML, as a tree that keeps the position of every node. */
enum node_kind {
	NODE_NULL,
	NODE_SCALAR,
	NODE_MAP,
	NODE_SEQ
};

struct node;

struct node_pair {
	char		*key;
	size_t		 line, column;
	struct node	*value;
};

struct node {
	enum node_kind	 kind;
	char		*scalar;	/* NODE_SCALAR */
	size_t		 line, column;	/* 1-based */
	struct node_pair *pairs;	/* NODE_MAP */
	struct node	**items;	/* NODE_SEQ */
	size_t		 len;
};

int	 tree_load(const char *, struct node **);
void	 tree_free(struct node *);

/* Keys. */
enum key_type {
	KT_STRING,
	KT_SECRET,
	KT_URL,
	KT_PATH,
	KT_BOOL,
	KT_PORT,
	KT_START,	/* "tip" or an index */
	KT_OLD_INDEX,	/* -1 or an index */
	KT_DURATION,
	KT_LEVEL,
	KT_ENUM,
	KT_LIST,
	KT_LABELS
};

#define KEY_REQUIRED	0x1	/* required when its output is enabled */

struct key_def {
	const char	*path;		/* canonical spelling */
	enum key_type	 type;
	const char	*choices;	/* KT_ENUM: "a|b|c" */
	unsigned int	 flags;
};

extern const struct key_def	 config_keys[];
extern const size_t		 config_nkeys;
extern const char *const	 config_outputs[];
extern const char *const	 policy_keys[];

int	 key_find(const char *);
int	 key_is_output(const char *, const char *);
const char *key_closest(const char *, const char *const *, size_t);
void	 key_env_name(const char *, struct buf *);
int	 key_check_value(const struct key_def *, const char *, struct buf *);

/* Settings. */
struct value {
	int	 set;
	char	*scalar;
	char	**list;		/* KT_LIST */
	size_t	 nlist;
	char	*where;		/* "file:line:col" or the variable's name */
};

enum policy_field {
	PF_NAME,
	PF_DESCRIPTION,
	PF_BODY,
	PF_FILE,
	PF_INPUT,
	PF_COUNT
};

struct policy {
	struct value	 field[PF_COUNT];
	char		*where;
	int		 file_from_env;
};

struct config {
	const char	*path;		/* the config file */
	struct value	*values;	/* one per config_keys[] entry */
	struct policy	*policies;
	size_t		 npolicies;
	int		 policies_set;	/* the key appeared at all */
	int		 outputs_set;
	size_t		 nproblems;
	char		**env_names;	/* REKOR_SIDEKICK_* seen */
	size_t		 nenv;
};

int	 config_init(struct config *, const char *);
void	 config_free(struct config *);
void	 config_problem(struct config *, const char *, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
void	 config_from_tree(struct config *, const struct node *);
void	 config_from_env(struct config *, char **);
void	 config_validate(struct config *);
int	 value_set(struct value *, const char *, const char *);
int	 value_set_csv(struct value *, const char *, const char *);
void	 value_clear(struct value *);

/* Output for the wrapper. */
int	 emit_shell(const struct config *);

#endif
