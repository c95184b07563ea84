/*
 * Environment overrides and the checks that need the whole config:
 * required keys, policies, enabled outputs.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define ENV_PREFIX	"REKOR_SIDEKICK_"
#define ENV_POLICIES	"REKOR_SIDEKICK_POLICIES_"

struct env_policy {
	unsigned long	 index;
	int		 field;
	const char	*value;
	const char	*name;
};

static int
from_env(const char *where)
{
	return where != NULL && strncmp(where, ENV_PREFIX,
	    sizeof(ENV_PREFIX) - 1) == 0;
}

/* Suggests the known variable closest to NAME. */
static void
env_unknown(struct config *cfg, const char *name)
{
	static const char *const extra[] = {
		"REKOR_SIDEKICK_POLICIES_0_NAME",
		"REKOR_SIDEKICK_POLICIES_0_DESCRIPTION",
		"REKOR_SIDEKICK_POLICIES_0_BODY",
		"REKOR_SIDEKICK_POLICIES_0_FILE",
		"REKOR_SIDEKICK_POLICIES_0_INPUT",
		"REKOR_SIDEKICK_CONFIG"
	};
	const size_t nextra = sizeof(extra) / sizeof(extra[0]);
	const char **names;
	struct buf *bufs;
	const char *close = NULL;
	size_t i;

	names = calloc(config_nkeys + nextra, sizeof(*names));
	bufs = calloc(config_nkeys, sizeof(*bufs));
	if (names != NULL && bufs != NULL) {
		for (i = 0; i < config_nkeys; i++) {
			key_env_name(config_keys[i].path, &bufs[i]);
			names[i] = bufs[i].data != NULL ? bufs[i].data : "";
		}
		for (i = 0; i < nextra; i++)
			names[config_nkeys + i] = extra[i];
		close = key_closest(name, names, config_nkeys + nextra);
	}
	if (close != NULL)
		config_problem(cfg, name, NULL, "unknown variable; did you "
		    "mean '%s'?", close);
	else
		config_problem(cfg, name, NULL, "unknown variable: no config "
		    "key has this name; unset it (rekor-sidekick.yaml(5) "
		    "lists every variable)");
	if (bufs != NULL)
		for (i = 0; i < config_nkeys; i++)
			buf_free(&bufs[i]);
	free(bufs);
	free(names);
}

/* Tells whether S is the key K in capitals ("NAME" for "name"). */
static int
is_upper_of(const char *s, const char *k)
{
	for (; *s != '\0' && *k != '\0'; s++, k++)
		if (*s != toupper((unsigned char)*k))
			return 0;
	return *s == *k;
}

/* Parses "REKOR_SIDEKICK_POLICIES_<N>_<FIELD>".  Returns 0 or -1. */
static int
parse_policy_var(const char *name, struct env_policy *ep)
{
	const char *p = name + sizeof(ENV_POLICIES) - 1, *field;
	char num[16];
	size_t n = 0;
	uint64_t idx;
	int f;

	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(num) || p[n] != '_')
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (parse_uint64(num, 0, 999999, &idx) == -1)
		return -1;
	field = p + n + 1;
	for (f = 0; f < PF_COUNT; f++)
		if (is_upper_of(field, policy_keys[f]))
			break;
	if (f == PF_COUNT)
		return -1;
	ep->index = (unsigned long)idx;
	ep->field = f;
	return 0;
}

static int
env_policy_cmp(const void *a, const void *b)
{
	const struct env_policy *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->field - y->field;
}

static void
apply_env_policies(struct config *cfg, struct env_policy *eps, size_t n)
{
	struct policy *grown, *p;
	size_t i;

	if (n > 1)
		qsort(eps, n, sizeof(*eps), env_policy_cmp);
	for (i = 0; i < n; i++) {
		if (eps[i].index > cfg->npolicies) {
			config_problem(cfg, eps[i].name, NULL, "policy %lu "
			    "would leave a gap: the config has %zu "
			    "policies, so the next one is number %zu",
			    eps[i].index, cfg->npolicies, cfg->npolicies);
			continue;
		}
		if (eps[i].index == cfg->npolicies) {
			grown = realloc(cfg->policies,
			    (cfg->npolicies + 1) * sizeof(*grown));
			if (grown == NULL) {
				config_problem(cfg, eps[i].name, NULL,
				    "out of memory");
				return;
			}
			cfg->policies = grown;
			memset(&grown[cfg->npolicies], 0, sizeof(*grown));
			grown[cfg->npolicies].where = strdup(eps[i].name);
			cfg->npolicies++;
		}
		p = &cfg->policies[eps[i].index];
		if (value_set(&p->field[eps[i].field], eps[i].value,
		    eps[i].name) == -1)
			config_problem(cfg, eps[i].name, NULL,
			    "out of memory");
		if (eps[i].field == PF_FILE)
			p->file_from_env = 1;
	}
	cfg->policies_set |= n > 0;

	/*
	 * A body from the environment replaces a file from the config file,
	 * and a file from the environment replaces a body.
	 */
	for (i = 0; i < cfg->npolicies; i++) {
		p = &cfg->policies[i];
		if (from_env(p->field[PF_BODY].where) &&
		    !from_env(p->field[PF_FILE].where))
			value_clear(&p->field[PF_FILE]);
		else if (from_env(p->field[PF_FILE].where) &&
		    !from_env(p->field[PF_BODY].where))
			value_clear(&p->field[PF_BODY]);
	}
}

/*
 * Applies every REKOR_SIDEKICK_* variable of ENVP.  An unknown one is a
 * problem, as an unknown key is.
 */
void
config_from_env(struct config *cfg, char **envp)
{
	struct env_policy *eps = NULL, *grown;
	struct buf want = BUF_INIT;
	const char *eq, *value;
	char *name, **names;
	size_t i, k, neps = 0;
	int found;

	for (i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], ENV_PREFIX, sizeof(ENV_PREFIX) - 1) != 0)
			continue;
		if ((eq = strchr(envp[i], '=')) == NULL)
			continue;
		value = eq + 1;
		name = strndup(envp[i], (size_t)(eq - envp[i]));
		names = realloc(cfg->env_names,
		    (cfg->nenv + 1) * sizeof(*names));
		if (name == NULL || names == NULL) {
			free(name);
			if (names != NULL)
				cfg->env_names = names;
			config_problem(cfg, NULL, NULL, "out of memory");
			break;
		}
		cfg->env_names = names;
		cfg->env_names[cfg->nenv++] = name;
		if (strcmp(name, "REKOR_SIDEKICK_CONFIG") == 0)
			continue;
		found = 0;
		for (k = 0; k < config_nkeys && !found; k++) {
			buf_reset(&want);
			key_env_name(config_keys[k].path, &want);
			if (want.data == NULL || strcmp(want.data, name) != 0)
				continue;
			found = 1;
			if ((config_keys[k].type == KT_LIST ?
			    value_set_csv(&cfg->values[k], value, name) :
			    value_set(&cfg->values[k], value, name)) == -1)
				config_problem(cfg, name, NULL,
				    "out of memory");
			if (strncmp(config_keys[k].path, "outputs.", 8) == 0)
				cfg->outputs_set = 1;
		}
		if (found)
			continue;
		if (strncmp(name, ENV_POLICIES, sizeof(ENV_POLICIES) - 1) ==
		    0) {
			grown = realloc(eps, (neps + 1) * sizeof(*eps));
			if (grown == NULL) {
				config_problem(cfg, name, NULL,
				    "out of memory");
				continue;
			}
			eps = grown;
			if (parse_policy_var(name, &eps[neps]) == 0) {
				eps[neps].value = value;
				eps[neps].name = name;
				neps++;
				continue;
			}
		}
		env_unknown(cfg, name);
	}
	apply_env_policies(cfg, eps, neps);
	free(eps);
	buf_free(&want);
}

/* Checks the type of every value that is set; stores canonical forms. */
static void
check_values(struct config *cfg)
{
	struct buf canon = BUF_INIT;
	const struct key_def *k;
	struct value *v;
	size_t i, j;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		v = &cfg->values[i];
		if (!v->set)
			continue;
		if (k->type == KT_LIST) {
			if (v->nlist == 0)
				config_problem(cfg, v->where, k->path,
				    "the list is empty; give at least one "
				    "address");
			for (j = 0; j < v->nlist; j++)
				if (*v->list[j] == '\0')
					config_problem(cfg, v->where, k->path,
					    "item %zu is empty; remove the "
					    "extra comma", j);
			continue;
		}
		buf_reset(&canon);
		if (key_check_value(k, v->scalar, &canon) == -1) {
			if (k->type == KT_SECRET)
				config_problem(cfg, v->where, k->path,
				    "invalid value; expected %s", canon.data);
			else
				config_problem(cfg, v->where, k->path,
				    "invalid value '%s'; expected %s",
				    v->scalar, canon.data);
			continue;
		}
		free(v->scalar);
		v->scalar = canon.data;
		canon.data = NULL;
		canon.len = canon.cap = 0;
	}
	buf_wipe(&canon);
}

static int
output_enabled(const struct config *cfg, const char *name)
{
	struct buf path = BUF_INIT;
	int ki, on;

	buf_printf(&path, "outputs.%s.enabled", name);
	ki = path.data != NULL ? key_find(path.data) : -1;
	on = ki >= 0 && cfg->values[ki].set &&
	    strcmp(cfg->values[ki].scalar, "true") == 0;
	buf_free(&path);
	return on;
}

static void
check_outputs(struct config *cfg)
{
	struct buf env = BUF_INIT;
	size_t i, k, nenabled = 0;

	for (i = 0; config_outputs[i] != NULL; i++) {
		if (!output_enabled(cfg, config_outputs[i]))
			continue;
		nenabled++;
		for (k = 0; k < config_nkeys; k++) {
			if (!key_is_output(config_keys[k].path,
			    config_outputs[i]) ||
			    !(config_keys[k].flags & KEY_REQUIRED) ||
			    cfg->values[k].set)
				continue;
			buf_reset(&env);
			key_env_name(config_keys[k].path, &env);
			config_problem(cfg, cfg->path, config_keys[k].path,
			    "missing, and required when outputs.%s.enabled "
			    "is true; set it in the config or in %s",
			    config_outputs[i], env.data);
		}
	}
	buf_free(&env);
	if (nenabled == 0)
		config_problem(cfg, cfg->path, "outputs", "no output is "
		    "enabled; add 'enabled: true' to one, for example "
		    "outputs.stdout.enabled");
}

/* Resolves a policy file; relative paths start at BASE. */
static void
resolve_policy_file(struct config *cfg, struct value *v, const char *key,
    const char *base)
{
	struct buf path = BUF_INIT;
	char *real;

	if (v->scalar[0] == '/' || base == NULL)
		buf_append_str(&path, v->scalar);
	else
		buf_printf(&path, "%s/%s", base, v->scalar);
	if (path.data == NULL || (real = realpath(path.data, NULL)) == NULL) {
		config_problem(cfg, v->where, key, "cannot open '%s': %s",
		    path.data != NULL ? path.data : v->scalar,
		    strerror(errno));
	} else if (access(real, R_OK) == -1) {
		config_problem(cfg, v->where, key, "cannot read '%s': %s",
		    real, strerror(errno));
		free(real);
	} else {
		free(v->scalar);
		v->scalar = real;
	}
	buf_free(&path);
}

static void
check_policies(struct config *cfg, const char *config_dir)
{
	struct buf key = BUF_INIT, canon = BUF_INIT;
	static const struct key_def input_def = {
		"policies[].input", KT_ENUM, "body|record", 0
	};
	struct policy *p;
	size_t i, j;
	char cwd[PATH_MAX];

	if (cfg->npolicies == 0) {
		config_problem(cfg, cfg->path, "policies", "%s; add at least "
		    "one policy with a name and a body or file",
		    cfg->policies_set ? "the list is empty" : "missing");
		return;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	for (i = 0; i < cfg->npolicies; i++) {
		p = &cfg->policies[i];
#define KEY(f) (buf_reset(&key), buf_printf(&key, "policies[%zu].%s", i, \
	    policy_keys[f]), key.data)
		if (!p->field[PF_NAME].set || *p->field[PF_NAME].scalar == '\0')
			config_problem(cfg, p->where, KEY(PF_NAME), "missing; "
			    "every policy needs a name, used in its alerts");
		else
			for (j = 0; j < i; j++)
				if (cfg->policies[j].field[PF_NAME].set &&
				    strcmp(cfg->policies[j].field[PF_NAME]
				    .scalar, p->field[PF_NAME].scalar) == 0)
					config_problem(cfg,
					    p->field[PF_NAME].where,
					    KEY(PF_NAME), "duplicate name "
					    "'%s' (also policies[%zu]); "
					    "names identify alerts, make it "
					    "unique", p->field[PF_NAME].scalar,
					    j);
		if (p->field[PF_BODY].set && p->field[PF_FILE].set)
			config_problem(cfg, p->field[PF_FILE].where,
			    KEY(PF_FILE), "set either body or file, not both");
		else if (!p->field[PF_BODY].set && !p->field[PF_FILE].set)
			config_problem(cfg, p->where, KEY(PF_BODY), "missing; "
			    "give the Rego source in body, or a path in file");
		else if (p->field[PF_BODY].set &&
		    *p->field[PF_BODY].scalar == '\0')
			config_problem(cfg, p->field[PF_BODY].where,
			    KEY(PF_BODY), "empty; give the Rego source of "
			    "package sidekick");
		else if (p->field[PF_FILE].set)
			resolve_policy_file(cfg, &p->field[PF_FILE],
			    KEY(PF_FILE), p->file_from_env ?
			    (cwd[0] != '\0' ? cwd : NULL) : config_dir);
		if (p->field[PF_INPUT].set) {
			buf_reset(&canon);
			if (key_check_value(&input_def,
			    p->field[PF_INPUT].scalar, &canon) == -1) {
				config_problem(cfg, p->field[PF_INPUT].where,
				    KEY(PF_INPUT), "invalid value '%s'; "
				    "expected %s", p->field[PF_INPUT].scalar,
				    canon.data);
			} else {
				free(p->field[PF_INPUT].scalar);
				p->field[PF_INPUT].scalar = canon.data;
				canon.data = NULL;
				canon.len = canon.cap = 0;
			}
		}
#undef KEY
	}
	buf_free(&key);
	buf_free(&canon);
}

static void
check_range(struct config *cfg)
{
	const struct value *start, *index, *end;
	uint64_t from = 0, to;
	int have_from = 0;

	start = &cfg->values[key_find("start")];
	index = &cfg->values[key_find("index")];
	end = &cfg->values[key_find("end")];
	if (start->set && strcmp(start->scalar, "tip") != 0) {
		have_from = parse_uint64(start->scalar, 0, INT64_MAX,
		    &from) == 0;
	} else if (!start->set && index->set &&
	    strcmp(index->scalar, "-1") != 0) {
		have_from = parse_uint64(index->scalar, 0, INT64_MAX,
		    &from) == 0;
	}
	if (start->set && index->set)
		log_info("both start (%s) and index (%s) are set; start is "
		    "used", start->where, index->where);
	if (have_from && end->set && strcmp(end->scalar, "tip") != 0 &&
	    parse_uint64(end->scalar, 0, INT64_MAX, &to) == 0 && to < from)
		config_problem(cfg, end->where, "end", "index %s comes "
		    "before the start %llu; make end at least the start",
		    end->scalar, (unsigned long long)from);
}

/*
 * Checks the values, the outputs and the policies.  A relative policy
 * file from the config file starts at the config file's directory.
 */
void
config_validate(struct config *cfg)
{
	char *copy, *slash;

	check_values(cfg);
	check_outputs(cfg);
	copy = strdup(cfg->path);
	if (copy != NULL && (slash = strrchr(copy, '/')) != NULL)
		*(slash == copy ? slash + 1 : slash) = '\0';
	else if (copy != NULL)
		strcpy(copy, ".");
	check_policies(cfg, copy);
	free(copy);
	check_range(cfg);
}
