/*
 * Prints the pipeline as shell assignments for rekor-sidekick to eval.
 * Every value is single-quoted, with each ' written as '\'', so no value
 * can run a command.  Argument lists are strings of such quoted words,
 * quoted once more, for `eval "set -- $list"`.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

static void
sh_quote(struct buf *out, const char *s)
{
	buf_append_str(out, "'");
	for (; *s != '\0'; s++)
		if (*s == '\'')
			buf_append_str(out, "'\\''");
		else
			buf_append(out, s, 1);
	buf_append_str(out, "'");
}

/* Appends one word to an argument list. */
static void
arg_add(struct buf *args, const char *word)
{
	if (args->len > 0)
		buf_append_str(args, " ");
	sh_quote(args, word);
}

static void
arg_add2(struct buf *args, const char *opt, const char *value)
{
	arg_add(args, opt);
	arg_add(args, value);
}

static void
assign(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s=", name);
	sh_quote(out, value != NULL ? value : "");
	buf_append_str(out, "\n");
}

/* "sourceID" -> "--source-id", "http.url" -> "--http-url". */
static void
option_name(const char *key, struct buf *out)
{
	const char *p;
	char c;

	buf_append_str(out, "--");
	for (p = key; *p != '\0'; p++) {
		if (*p == '.') {
			buf_append_str(out, "-");
			continue;
		}
		if (isupper((unsigned char)*p) && p > key &&
		    islower((unsigned char)p[-1]))
			buf_append_str(out, "-");
		c = (char)tolower((unsigned char)*p);
		buf_append(out, &c, 1);
	}
}

static const char *
value_of(const struct config *cfg, const char *path)
{
	int k = key_find(path);

	return k >= 0 && cfg->values[k].set ? cfg->values[k].scalar : NULL;
}

static int
enabled(const struct config *cfg, const char *name)
{
	char path[64];
	const char *v;

	snprintf(path, sizeof(path), "outputs.%s.enabled", name);
	v = value_of(cfg, path);
	return v != NULL && strcmp(v, "true") == 0;
}

/* The state directory: stateDir, else as systemd and XDG suggest. */
static int
state_dir(const struct config *cfg, struct buf *out)
{
	const char *v, *colon;

	if ((v = value_of(cfg, "stateDir")) != NULL) {
		buf_append_str(out, v);
	} else if ((v = getenv("STATE_DIRECTORY")) != NULL && *v == '/') {
		/* systemd lists one directory per StateDirectory= entry. */
		colon = strchr(v, ':');
		buf_append(out, v, colon != NULL ? (size_t)(colon - v) :
		    strlen(v));
	} else if ((v = getenv("XDG_STATE_HOME")) != NULL && *v == '/') {
		buf_printf(out, "%s/rekor-sidekick", v);
	} else if ((v = getenv("HOME")) != NULL && *v == '/') {
		buf_printf(out, "%s/.local/state/rekor-sidekick", v);
	} else {
		log_error("stateDir: not set, and neither STATE_DIRECTORY, "
		    "XDG_STATE_HOME nor HOME is an absolute path; set "
		    "stateDir in the config");
		return -1;
	}
	return 0;
}

static void
emit_tail(const struct config *cfg, const char *dir, struct buf *out)
{
	struct buf args = BUF_INIT, path = BUF_INIT;
	const char *v, *start, *index;
	uint64_t end;
	char to[32];
	size_t i;

	if ((v = value_of(cfg, "server")) != NULL)
		arg_add2(&args, "--server", v);
	start = value_of(cfg, "start");
	index = value_of(cfg, "index");
	if (start != NULL && strcmp(start, "tip") != 0)
		arg_add2(&args, "--from", start);
	else if (start == NULL && index != NULL && strcmp(index, "-1") != 0)
		arg_add2(&args, "--from", index);
	/*
	 * end is the last index to read, rekor-tail --to the first one not
	 * read; "tip" is the tip when rekor-tail starts for both.
	 */
	if ((v = value_of(cfg, "end")) != NULL && strcmp(v, "tip") == 0) {
		arg_add2(&args, "--to", "tip");
	} else if (v != NULL && parse_uint64(v, 0, INT64_MAX - 1, &end) == 0) {
		snprintf(to, sizeof(to), "%llu", (unsigned long long)end + 1);
		arg_add2(&args, "--to", to);
	}
	/* docs/config-keys.md sets 10s, rekor-tail's own default is 5s. */
	v = value_of(cfg, "interval");
	arg_add2(&args, "--interval", v != NULL ? v : "10s");
	if ((v = value_of(cfg, "timeout")) != NULL)
		arg_add2(&args, "--timeout", v);
	for (i = 0; config_outputs[i] != NULL; i++) {
		if (!enabled(cfg, config_outputs[i]))
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/out-%s.state", dir, config_outputs[i]);
		arg_add2(&args, "--ack-state", path.data);
	}
	assign(out, "tail_args", args.data);
	buf_free(&args);
	buf_free(&path);
}

static void
emit_policies(const struct config *cfg, struct buf *out)
{
	const struct policy *p;
	char name[64], count[32];
	size_t i;

	snprintf(count, sizeof(count), "%zu", cfg->npolicies);
	assign(out, "policy_count", count);
	for (i = 0; i < cfg->npolicies; i++) {
		p = &cfg->policies[i];
		snprintf(name, sizeof(name), "policy_%zu_name", i);
		assign(out, name, p->field[PF_NAME].scalar);
		snprintf(name, sizeof(name), "policy_%zu_description", i);
		assign(out, name, p->field[PF_DESCRIPTION].scalar);
		snprintf(name, sizeof(name), "policy_%zu_input", i);
		assign(out, name, p->field[PF_INPUT].set ?
		    p->field[PF_INPUT].scalar : "body");
		snprintf(name, sizeof(name), "policy_%zu_file", i);
		assign(out, name, p->field[PF_FILE].scalar);
		snprintf(name, sizeof(name), "policy_%zu_body", i);
		assign(out, name, p->field[PF_BODY].scalar);
	}
}

/*
 * One output: its program, its argv (state files first, then one option
 * per key) and the names of its secrets, whose values go to EXPORTS.
 */
static void
emit_output(const struct config *cfg, const char *dir, const char *oname,
    size_t n, struct buf *out, struct buf *exports, struct buf *all_secrets)
{
	struct buf args = BUF_INIT, opt = BUF_INIT, env = BUF_INIT,
	    secrets = BUF_INIT, tmp = BUF_INIT;
	const struct key_def *k;
	const struct value *v;
	const char *key;
	char name[64];
	size_t i, j;

	buf_printf(&tmp, "%s/out-%s.state", dir, oname);
	arg_add2(&args, "--state", tmp.data);
	buf_reset(&tmp);
	buf_printf(&tmp, "%s/out-%s.deadletter", dir, oname);
	arg_add2(&args, "--dead-letter", tmp.data);
	/*
	 * A durable spool lets an output acknowledge a mark once the alerts
	 * before it are on disk, and resend them after a crash.  stdout
	 * delivers as it reads and has no spool.
	 */
	if (strcmp(oname, "stdout") != 0) {
		buf_reset(&tmp);
		buf_printf(&tmp, "%s/out-%s.spool", dir, oname);
		arg_add2(&args, "--spool", tmp.data);
	}
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		v = &cfg->values[i];
		if (!key_is_output(k->path, oname) || !v->set)
			continue;
		key = k->path + strlen("outputs.") + strlen(oname) + 1;
		if (strcmp(key, "enabled") == 0)
			continue;
		buf_reset(&opt);
		option_name(key, &opt);
		if (k->type == KT_SECRET) {
			buf_reset(&env);
			key_env_name(k->path, &env);
			buf_printf(exports, "export %s=", env.data);
			sh_quote(exports, v->scalar);
			buf_append_str(exports, "\n");
			buf_printf(&secrets, "%s%s", secrets.len > 0 ? " " :
			    "", env.data);
			buf_printf(all_secrets, " %s", env.data);
		} else if (k->type == KT_BOOL) {
			if (strcmp(v->scalar, "true") == 0)
				arg_add(&args, opt.data);
		} else if (k->type == KT_LIST) {
			for (j = 0; j < v->nlist; j++)
				arg_add2(&args, opt.data, v->list[j]);
		} else {
			arg_add2(&args, opt.data, v->scalar);
		}
	}
	snprintf(name, sizeof(name), "output_%zu_name", n);
	assign(out, name, oname);
	buf_reset(&tmp);
	buf_printf(&tmp, "rekor-out-%s", oname);
	snprintf(name, sizeof(name), "output_%zu_program", n);
	assign(out, name, tmp.data);
	snprintf(name, sizeof(name), "output_%zu_args", n);
	assign(out, name, args.data);
	snprintf(name, sizeof(name), "output_%zu_secrets", n);
	assign(out, name, secrets.data);
	buf_free(&args);
	buf_free(&opt);
	buf_free(&env);
	buf_free(&secrets);
	buf_free(&tmp);
}

/*
 * Writes the assignments to stdout.  Returns 0, or -1 when the state
 * directory cannot be chosen or stdout fails.
 */
int
emit_shell(const struct config *cfg)
{
	struct buf out = BUF_INIT, exports = BUF_INIT, dir = BUF_INIT,
	    clear = BUF_INIT, all_secrets = BUF_INIT;
	char count[32];
	const char *v;
	size_t i, n = 0;
	int rc = -1;

	if (state_dir(cfg, &dir) == -1)
		goto out;
	assign(&out, "config_file", cfg->path);
	assign(&out, "state_dir", dir.data);
	v = value_of(cfg, "logging.level");
	assign(&out, "log_level", v);
	emit_tail(cfg, dir.data, &out);
	emit_policies(cfg, &out);
	for (i = 0; config_outputs[i] != NULL; i++)
		if (enabled(cfg, config_outputs[i]))
			emit_output(cfg, dir.data, config_outputs[i], n++, &out,
			    &exports, &all_secrets);
	snprintf(count, sizeof(count), "%zu", n);
	assign(&out, "output_count", count);

	/*
	 * Every REKOR_SIDEKICK_* variable: the wrapper removes them from
	 * each stage's environment except the secrets of that output.
	 */
	for (i = 0; i < cfg->nenv; i++)
		buf_printf(&clear, "%s%s", clear.len > 0 ? " " : "",
		    cfg->env_names[i]);
	if (all_secrets.len > 0)
		buf_append_str(&clear, all_secrets.data);
	assign(&out, "clear_vars", clear.data);
	if (exports.len > 0)
		buf_append(&out, exports.data, exports.len);
	if (out.data == NULL) {
		log_error("out of memory");
		goto out;
	}
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) == EOF) {
		log_error("write error on standard output");
		goto out;
	}
	rc = 0;
out:
	buf_wipe(&out);
	buf_wipe(&exports);
	buf_free(&dir);
	buf_free(&clear);
	buf_free(&all_secrets);
	return rc;
}
