/*
 * Settings from the YAML tree.  Each problem is reported on its own line
 * and counted, and nothing stops at the first one, so that a user fixes a
 * config in one pass.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define MAX_COMPONENTS	64
#define MAX_POLICIES	1000

int
config_init(struct config *cfg, const char *path)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = path;
	cfg->values = calloc(config_nkeys, sizeof(*cfg->values));
	return cfg->values != NULL ? 0 : -1;
}

void
value_clear(struct value *v)
{
	size_t i;

	/* Secrets pass through here: wipe every value. */
	if (v->scalar != NULL)
		OPENSSL_cleanse(v->scalar, strlen(v->scalar));
	free(v->scalar);
	for (i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	free(v->where);
	memset(v, 0, sizeof(*v));
}

void
config_free(struct config *cfg)
{
	size_t i, j;

	if (cfg->values != NULL)
		for (i = 0; i < config_nkeys; i++)
			value_clear(&cfg->values[i]);
	free(cfg->values);
	for (i = 0; i < cfg->npolicies; i++) {
		for (j = 0; j < PF_COUNT; j++)
			value_clear(&cfg->policies[i].field[j]);
		free(cfg->policies[i].where);
	}
	free(cfg->policies);
	for (i = 0; i < cfg->nenv; i++)
		free(cfg->env_names[i]);
	free(cfg->env_names);
	memset(cfg, 0, sizeof(*cfg));
}

/*
 * Reports one problem: "WHERE: KEY: message".  WHERE is "file:line:col"
 * or a variable name, KEY the key path; either may be NULL.
 */
void
config_problem(struct config *cfg, const char *where, const char *key,
    const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	char msg[2048];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where != NULL)
		buf_printf(&line, "%s: ", where);
	if (key != NULL)
		buf_printf(&line, "%s: ", key);
	buf_append_str(&line, msg);
	log_error("%s", line.data != NULL ? line.data : msg);
	buf_free(&line);
	cfg->nproblems++;
}

/* Replaces the value with a scalar.  Returns 0 or -1 (out of memory). */
int
value_set(struct value *v, const char *scalar, const char *where)
{
	char *s, *w;

	if ((s = strdup(scalar)) == NULL || (w = strdup(where)) == NULL) {
		free(s);
		return -1;
	}
	value_clear(v);
	v->set = 1;
	v->scalar = s;
	v->where = w;
	return 0;
}

/* Sets a list from comma-separated text; blanks around items go. */
int
value_set_csv(struct value *v, const char *text, const char *where)
{
	const char *p = text, *end, *comma;
	char **list = NULL, **grown;
	size_t n = 0;

	if (value_set(v, text, where) == -1)
		return -1;
	while (*p != '\0') {
		comma = strchr(p, ',');
		end = comma != NULL ? comma : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if ((grown = realloc(list, (n + 1) * sizeof(*list))) == NULL)
			goto nomem;
		list = grown;
		if ((list[n] = strndup(p, (size_t)(end - p))) == NULL)
			goto nomem;
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	v->list = list;
	v->nlist = n;
	return 0;
nomem:
	while (n > 0)
		free(list[--n]);
	free(list);
	return -1;
}

static char *
where_of(const struct config *cfg, size_t line, size_t column)
{
	struct buf b = BUF_INIT;

	if (buf_printf(&b, "%s:%zu:%zu", cfg->path, line, column) == -1)
		return NULL;
	return b.data;
}

/*
 * Collects the distinct path components that may follow PREFIX ("" at the
 * top).  Returns how many were stored in OUT.
 */
static size_t
next_components(const char *prefix, const char **out, size_t *lens)
{
	size_t plen = strlen(prefix), i, j, n = 0, len;
	const char *rest, *dot;

	for (i = 0; i < config_nkeys; i++) {
		rest = config_keys[i].path;
		if (plen > 0) {
			if (strncmp(rest, prefix, plen) != 0 ||
			    rest[plen] != '.')
				continue;
			rest += plen + 1;
		}
		dot = strchr(rest, '.');
		len = dot != NULL ? (size_t)(dot - rest) : strlen(rest);
		for (j = 0; j < n; j++)
			if (lens[j] == len && strncmp(out[j], rest, len) == 0)
				break;
		if (j == n && n < MAX_COMPONENTS) {
			out[n] = rest;
			lens[n++] = len;
		}
	}
	return n;
}

static void
suggest(struct config *cfg, const char *where, const char *path,
    const char *key, const char **comps, const size_t *lens, size_t n,
    const char *what)
{
	char *names[MAX_COMPONENTS + 1];
	struct buf all = BUF_INIT;
	const char *close;
	size_t i;

	for (i = 0; i < n; i++) {
		names[i] = strndup(comps[i], lens[i]);
		buf_printf(&all, "%s%s", i > 0 ? ", " : "",
		    names[i] != NULL ? names[i] : "?");
	}
	names[n] = NULL;
	close = key_closest(key, (const char *const *)names, n);
	if (close != NULL)
		config_problem(cfg, where, path, "unknown %s; did you mean "
		    "'%s'?", what, close);
	else
		config_problem(cfg, where, path, "unknown %s; expected one "
		    "of %s", what, all.data != NULL ? all.data : "");
	for (i = 0; i < n; i++)
		free(names[i]);
	buf_free(&all);
}

/* Finds a key among earlier keys of the same mapping, ignoring case. */
static int
is_duplicate(const struct node *map, size_t upto)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (strcasecmp(map->pairs[i].key, map->pairs[upto].key) == 0)
			return 1;
	return 0;
}

static const char *
kind_name(enum node_kind k)
{
	switch (k) {
	case NODE_MAP:
		return "a mapping";
	case NODE_SEQ:
		return "a list";
	case NODE_NULL:
		return "empty";
	default:
		return "a single value";
	}
}

static void
store_leaf(struct config *cfg, int ki, const char *path, const struct node *n)
{
	struct value *v = &cfg->values[ki];
	const struct key_def *k = &config_keys[ki];
	char *where, **list;
	size_t i;

	if ((where = where_of(cfg, n->line, n->column)) == NULL)
		goto nomem;
	if (n->kind == NODE_NULL) {
		/* "key:" with nothing after it leaves the default. */
		value_clear(v);
	} else if (n->kind == NODE_SCALAR) {
		if (k->type == KT_LIST) {
			if (value_set_csv(v, n->scalar, where) == -1)
				goto nomem;
		} else if (value_set(v, n->scalar, where) == -1) {
			goto nomem;
		}
	} else if (n->kind == NODE_SEQ && k->type == KT_LIST) {
		if (value_set(v, "", where) == -1)
			goto nomem;
		if (n->len > 0 &&
		    (list = calloc(n->len, sizeof(*list))) != NULL)
			v->list = list;
		else if (n->len > 0)
			goto nomem;
		for (i = 0; i < n->len; i++) {
			if (n->items[i]->kind != NODE_SCALAR) {
				config_problem(cfg, where, path, "item %zu is "
				    "%s; write one address per item", i,
				    kind_name(n->items[i]->kind));
				continue;
			}
			if ((v->list[v->nlist] = strdup(n->items[i]->scalar))
			    == NULL)
				goto nomem;
			v->nlist++;
		}
	} else {
		config_problem(cfg, where, path, "expected %s, found %s; "
		    "write 'key: value'", k->type == KT_LIST ?
		    "a list or a comma-separated value" : "a single value",
		    kind_name(n->kind));
	}
	free(where);
	return;
nomem:
	free(where);
	config_problem(cfg, NULL, path, "out of memory");
}

static void walk_map(struct config *, const struct node *, const char *);

static void
walk_policies(struct config *cfg, const struct node *seq)
{
	const struct node *item, *v;
	struct policy *p;
	struct buf path = BUF_INIT;
	char *where;
	size_t i, j, f;

	cfg->policies_set = 1;
	if (seq->kind == NODE_NULL)
		return;
	where = where_of(cfg, seq->line, seq->column);
	if (seq->kind != NODE_SEQ) {
		config_problem(cfg, where, "policies", "expected a list of "
		    "policies, found %s; start each policy with '- name:'",
		    kind_name(seq->kind));
		free(where);
		return;
	}
	free(where);
	if (seq->len > MAX_POLICIES) {
		config_problem(cfg, NULL, "policies", "more than %d policies",
		    MAX_POLICIES);
		return;
	}
	if (seq->len > 0 &&
	    (cfg->policies = calloc(seq->len, sizeof(*cfg->policies))) ==
	    NULL) {
		config_problem(cfg, NULL, "policies", "out of memory");
		return;
	}
	cfg->npolicies = seq->len;
	for (i = 0; i < seq->len; i++) {
		item = seq->items[i];
		p = &cfg->policies[i];
		p->where = where_of(cfg, item->line, item->column);
		buf_reset(&path);
		buf_printf(&path, "policies[%zu]", i);
		if (item->kind != NODE_MAP) {
			config_problem(cfg, p->where, path.data, "expected a "
			    "mapping with name and body, found %s",
			    kind_name(item->kind));
			continue;
		}
		for (j = 0; j < item->len; j++) {
			buf_reset(&path);
			buf_printf(&path, "policies[%zu].%s", i,
			    item->pairs[j].key);
			where = where_of(cfg, item->pairs[j].line,
			    item->pairs[j].column);
			for (f = 0; f < PF_COUNT; f++)
				if (strcasecmp(policy_keys[f],
				    item->pairs[j].key) == 0)
					break;
			v = item->pairs[j].value;
			if (f == PF_COUNT) {
				const char *close = key_closest(
				    item->pairs[j].key, policy_keys, PF_COUNT);

				if (close != NULL)
					config_problem(cfg, where, path.data,
					    "unknown key; did you mean '%s'?",
					    close);
				else
					config_problem(cfg, where, path.data,
					    "unknown key; expected name, "
					    "description, body, file or input");
			} else if (is_duplicate(item, j)) {
				config_problem(cfg, where, path.data,
				    "duplicate key; keep one");
			} else if (v->kind == NODE_SCALAR) {
				free(where);
				where = where_of(cfg, v->line, v->column);
				if (value_set(&p->field[f], v->scalar, where)
				    == -1)
					config_problem(cfg, NULL, path.data,
					    "out of memory");
			} else if (v->kind != NODE_NULL) {
				config_problem(cfg, where, path.data,
				    "expected text, found %s; use a block "
				    "scalar ('|') for several lines",
				    kind_name(v->kind));
			}
			free(where);
		}
	}
	buf_free(&path);
}

/* Walks one mapping whose keys continue the key path PREFIX. */
static void
walk_map(struct config *cfg, const struct node *map, const char *prefix)
{
	const char *comps[MAX_COMPONENTS];
	size_t lens[MAX_COMPONENTS], n, i, j;
	struct buf path = BUF_INIT;
	const struct node_pair *pr;
	char *where;
	int ki, is_outputs;

	if (map->kind == NODE_NULL)
		return;
	if (map->kind != NODE_MAP) {
		where = where_of(cfg, map->line, map->column);
		config_problem(cfg, where, *prefix != '\0' ? prefix : NULL,
		    "expected a mapping of keys, found %s",
		    kind_name(map->kind));
		free(where);
		return;
	}
	n = next_components(prefix, comps, lens);
	is_outputs = strcmp(prefix, "outputs") == 0;
	for (i = 0; i < map->len; i++) {
		pr = &map->pairs[i];
		where = where_of(cfg, pr->line, pr->column);
		buf_reset(&path);
		if (*prefix != '\0')
			buf_printf(&path, "%s.", prefix);
		if (*prefix == '\0' && strcasecmp(pr->key, "policies") == 0) {
			if (is_duplicate(map, i))
				config_problem(cfg, where, "policies",
				    "duplicate key; keep one");
			else
				walk_policies(cfg, pr->value);
			free(where);
			continue;
		}
		for (j = 0; j < n; j++)
			if (strlen(pr->key) == lens[j] &&
			    strncasecmp(pr->key, comps[j], lens[j]) == 0)
				break;
		if (j == n) {
			buf_append_str(&path, pr->key);
			if (*prefix == '\0') {
				comps[n] = "policies";
				lens[n] = 8;
				suggest(cfg, where, path.data, pr->key, comps,
				    lens, n + 1, "key");
			} else {
				suggest(cfg, where, path.data, pr->key, comps,
				    lens, n, is_outputs ? "output" : "key");
			}
			free(where);
			continue;
		}
		buf_append(&path, comps[j], lens[j]);
		if (is_duplicate(map, i)) {
			config_problem(cfg, where, path.data, "duplicate key "
			    "(keys ignore case); keep one");
			free(where);
			continue;
		}
		if (is_outputs)
			cfg->outputs_set = 1;
		if (*prefix == '\0' && strcmp(path.data, "outputs") == 0)
			cfg->outputs_set = 1;
		if ((ki = key_find(path.data)) >= 0)
			store_leaf(cfg, ki, path.data, pr->value);
		else
			walk_map(cfg, pr->value, path.data);
		free(where);
	}
	buf_free(&path);
}

void
config_from_tree(struct config *cfg, const struct node *root)
{
	if (root->kind == NODE_NULL)
		return;
	walk_map(cfg, root, "");
}
