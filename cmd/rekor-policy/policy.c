/*
 * Loading a policy before any entry is read: a private copy of the file,
 * its Rego version, its name and description, and a compile check with
 * capabilities that leave out the built-ins which reach the network or
 * the environment.  Every opa process runs with an empty environment in
 * the private directory, so OPA_* variables, the user's HOME and the
 * current directory cannot change what it does.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"
#include "policy.h"

#define POLICY_FILE_MAX	(4 * 1024 * 1024)

/*
 * Built-ins a policy may not call: http.send and net.lookup_ip_addr reach
 * the network, opa.runtime returns the environment (secrets), and
 * json.verify_schema and json.match_schema fetch the URLs and files that
 * a schema's "$ref" names.
 */
static const char *const denied_builtins[] = {
	"http.send", "net.lookup_ip_addr", "opa.runtime",
	"json.verify_schema", "json.match_schema", NULL
};

/*
 * The query module served next to each policy.  It evaluates
 * data.sidekick.alert once per element of the input array, with that
 * element as input, and wraps each value so that "undefined" stays
 * distinguishable.  "import rego.v1" makes it valid in both Rego modes.
 */
static const char wrapper_module[] =
    "package rekor_policy\n"
    "\n"
    "import rego.v1\n"
    "\n"
    "one(e) := {\"value\": v} if {\n"
    "\tv := data.sidekick.alert with input as e\n"
    "} else := {}\n"
    "\n"
    "results := [one(e) | some e in input]\n";

static int
write_file(const char *path, const char *data, size_t len)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

static int
read_file(const char *path, size_t max, struct buf *out)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > max) {
			errno = EFBIG;
			n = -1;
			break;
		}
		if (buf_append(out, chunk, (size_t)n) == -1) {
			n = -1;
			break;
		}
	}
	close(fd);
	return n == -1 ? -1 : 0;
}

/* Finds prog on PATH unless it contains a slash.  Caller frees. */
static char *
find_program(const char *prog)
{
	const char *path, *p, *end;
	struct buf cand = BUF_INIT;

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0 ? realpath(prog, NULL) : NULL;
	if ((path = getenv("PATH")) == NULL)
		return NULL;
	for (p = path; ; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		buf_reset(&cand);
		if (end == p)
			buf_append_str(&cand, ".");
		else
			buf_append(&cand, p, (size_t)(end - p));
		if (buf_printf(&cand, "/%s", prog) == 0 &&
		    access(cand.data, X_OK) == 0) {
			char *abs = realpath(cand.data, NULL);

			buf_free(&cand);
			return abs;
		}
		if (*end == '\0')
			break;
	}
	buf_free(&cand);
	return NULL;
}

/*
 * Runs opa with argv (argv[0] is ignored) in the private directory with
 * an empty environment, and collects standard output and standard error
 * together in out.  Stores the exit status (or 128 + signal) in status.
 * Returns 0, or -1 when opa could not be run (reported).
 */
int
opa_capture(const struct opa_env *env, const char *const argv[], struct buf *out,
    int *status)
{
	static char *const empty_env[] = { NULL };
	char chunk[65536];
	ssize_t n;
	pid_t pid;
	int fds[2], st;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_error("cannot create pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_error("cannot start '%s': %s", env->opa, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull == -1 || dup2(devnull, 0) == -1 ||
		    dup2(fds[1], 1) == -1 || dup2(fds[1], 2) == -1 ||
		    chdir(env->workdir) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execve(env->opa, (char *const *)argv, empty_env);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/*
		 * Output past 4 x POLICY_FILE_MAX is read and dropped, so opa
		 * never blocks on a full pipe.
		 */
		if (out->len < POLICY_FILE_MAX * 4)
			buf_append(out, chunk, (size_t)n);
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) == -1) {
		if (errno != EINTR) {
			log_error("cannot wait for '%s': %s", env->opa,
			    strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(st))
		*status = WEXITSTATUS(st);
	else
		*status = 128 + WTERMSIG(st);
	if (*status == 127 && out->len == 0) {
		log_error("cannot run '%s'", env->opa);
		return -1;
	}
	return 0;
}

/* Parses opa's JSON output; a warning line may come before it. */
static cJSON *
parse_opa_json(const struct buf *out)
{
	const char *start;

	if (out->data == NULL)
		return NULL;
	if ((start = strchr(out->data, '{')) == NULL)
		return NULL;
	return cJSON_Parse(start);
}

/*
 * Writes one capabilities file: opa's own capabilities for the Rego mode,
 * minus denied_builtins, with "allow_net": [] (no host allowed).
 */
static int
write_capabilities(struct opa_env *env, int v0)
{
	const char *argv[] = { "opa", "capabilities", "--current", NULL, NULL };
	struct buf out = BUF_INIT, path = BUF_INIT;
	cJSON *caps = NULL, *builtins, *b, *next, *name;
	char *text = NULL;
	size_t i;
	int status, rc = -1;

	if (v0)
		argv[3] = "--v0-compatible";
	if (opa_capture(env, argv, &out, &status) == -1)
		goto out;
	if (status != 0 || (caps = parse_opa_json(&out)) == NULL ||
	    !cJSON_IsArray(builtins = cJSON_GetObjectItem(caps,
	    "builtins"))) {
		log_error("'%s capabilities --current' failed: is it opa "
		    "1.x?", env->opa);
		goto out;
	}
	for (b = builtins->child; b != NULL; b = next) {
		next = b->next;
		name = cJSON_GetObjectItem(b, "name");
		if (!cJSON_IsString(name))
			continue;
		for (i = 0; denied_builtins[i] != NULL; i++) {
			if (strcmp(name->valuestring, denied_builtins[i]) == 0) {
				cJSON_Delete(cJSON_DetachItemViaPointer(
				    builtins, b));
				break;
			}
		}
	}
	cJSON_DeleteItemFromObject(caps, "allow_net");
	if (cJSON_AddArrayToObject(caps, "allow_net") == NULL ||
	    (text = cJSON_PrintUnformatted(caps)) == NULL ||
	    buf_printf(&path, "%s/capabilities-v%d.json", env->workdir,
	    v0 ? 0 : 1) == -1) {
		log_error("out of memory");
		goto out;
	}
	if (write_file(path.data, text, strlen(text)) == -1) {
		log_error("cannot write '%s': %s", path.data, strerror(errno));
		goto out;
	}
	env->caps[v0 ? 0 : 1] = path.data;
	path.data = NULL;
	rc = 0;
out:
	cJSON_free(text);
	cJSON_Delete(caps);
	buf_free(&out);
	buf_free(&path);
	return rc;
}

/*
 * Finds opa, creates the private directory and writes the capabilities
 * files and the query module into it.  Returns 0, or -1 (reported).
 */
int
opa_env_init(struct opa_env *env, const char *opa)
{
	const char *tmp;
	struct buf dir = BUF_INIT, wrapper = BUF_INIT;
	int rc = -1;

	memset(env, 0, sizeof(*env));
	if ((env->opa = find_program(opa)) == NULL) {
		log_error("opa not found as '%s': install it ('make deps'), "
		    "add its folder ('go env GOPATH'/bin) to PATH, or give "
		    "its path with --opa", opa);
		return -1;
	}
	/* A unix socket path must fit in 108 bytes. */
	tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp != '/' || strlen(tmp) > 60)
		tmp = "/tmp";
	if (buf_printf(&dir, "%s/rekor-policy.XXXXXX", tmp) == -1 ||
	    mkdtemp(dir.data) == NULL) {
		log_error("cannot create a directory in '%s': %s", tmp,
		    strerror(errno));
		buf_free(&dir);
		return -1;
	}
	env->workdir = dir.data;
	if (buf_printf(&wrapper, "%s/query.rego", env->workdir) == -1 ||
	    write_file(wrapper.data, wrapper_module,
	    sizeof(wrapper_module) - 1) == -1) {
		log_error("cannot write '%s': %s", wrapper.data,
		    strerror(errno));
		goto out;
	}
	if (write_capabilities(env, 0) == -1 ||
	    write_capabilities(env, 1) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&wrapper);
	return rc;
}

/* Removes the private directory and everything policy_load put in it. */
void
opa_env_free(struct opa_env *env)
{
	struct buf path = BUF_INIT;

	if (env->workdir != NULL) {
		buf_printf(&path, "%s/query.rego", env->workdir);
		unlink(path.data);
		if (env->caps[0] != NULL)
			unlink(env->caps[0]);
		if (env->caps[1] != NULL)
			unlink(env->caps[1]);
		if (rmdir(env->workdir) == -1)
			log_warn("cannot remove '%s': %s", env->workdir,
			    strerror(errno));
	}
	buf_free(&path);
	free(env->caps[0]);
	free(env->caps[1]);
	free(env->workdir);
	free(env->opa);
	memset(env, 0, sizeof(*env));
}

static int
is_denied_builtin_error(const char *msg)
{
	size_t i;

	if (strncmp(msg, "undefined function ", 19) != 0)
		return 0;
	for (i = 0; denied_builtins[i] != NULL; i++)
		if (strcmp(msg + 19, denied_builtins[i]) == 0)
			return 1;
	return 0;
}

/*
 * Prints opa's {"errors": [...]} as FILE:ROW:COL: code: message lines,
 * with the private copy's path replaced by the user's.  The lines follow
 * the compiler convention, without the program name, so that editors can
 * jump to them.  Returns the number of errors printed.
 */
static int
print_opa_errors(const struct policy *p, const cJSON *doc)
{
	const cJSON *errors, *e, *loc, *file, *row, *col, *code, *msg;
	const char *m, *c;
	int n = 0;

	errors = cJSON_GetObjectItem(doc, "errors");
	cJSON_ArrayForEach(e, errors) {
		msg = cJSON_GetObjectItem(e, "message");
		code = cJSON_GetObjectItem(e, "code");
		loc = cJSON_GetObjectItem(e, "location");
		file = cJSON_GetObjectItem(loc, "file");
		row = cJSON_GetObjectItem(loc, "row");
		col = cJSON_GetObjectItem(loc, "col");
		m = cJSON_IsString(msg) ? msg->valuestring : "unknown error";
		c = cJSON_IsString(code) ? code->valuestring : "rego_error";
		if (cJSON_IsString(file) && cJSON_IsNumber(row) &&
		    cJSON_IsNumber(col) &&
		    strcmp(file->valuestring, p->copy) == 0)
			fprintf(stderr, "%s:%d:%d: %s: %s%s\n", p->file,
			    row->valueint, col->valueint, c, m,
			    is_denied_builtin_error(m) ? " (rekor-policy "
			    "leaves out built-ins that reach the network or "
			    "the environment)" : "");
		else
			fprintf(stderr, "%s: %s: %s\n", p->file, c, m);
		n++;
	}
	/* The wrapper writes inline bodies to temporary files: name them. */
	if (n > 0 && p->name_from_option)
		log_error("policy '%s' in '%s' did not compile", p->name,
		    p->file);
	return n;
}

/* Returns the position of the first error as row * 2^20 + col. */
static long
first_error_position(const cJSON *doc)
{
	const cJSON *e, *loc, *row, *col;

	e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "errors"), 0);
	loc = cJSON_GetObjectItem(e, "location");
	row = cJSON_GetObjectItem(loc, "row");
	col = cJSON_GetObjectItem(loc, "col");
	if (!cJSON_IsNumber(row) || !cJSON_IsNumber(col))
		return 0;
	return (long)row->valueint * (1L << 20) + col->valueint;
}

static int
run_parse(const struct opa_env *env, const struct policy *p, int v0,
    cJSON **doc)
{
	const char *argv[] = { "opa", "parse", "--format", "json",
	    "--json-include", "locations,-comments", p->copy, NULL, NULL };
	struct buf out = BUF_INIT;
	int status;

	if (v0) {
		argv[6] = "--v0-compatible";
		argv[7] = p->copy;
	}
	if (opa_capture(env, argv, &out, &status) == -1) {
		buf_free(&out);
		return -1;
	}
	*doc = parse_opa_json(&out);
	buf_free(&out);
	if (*doc == NULL) {
		log_error("'%s parse' printed no JSON for '%s'", env->opa,
		    p->file);
		return -1;
	}
	return status == 0 ? 0 : 1;
}

/*
 * Parses the copy as Rego v1, then as v0.  When neither parses, the
 * errors of the mode that read further are printed, because they are the
 * ones about the user's actual mistake.  Returns the parsed module, or
 * NULL (reported).
 */
static cJSON *
parse_policy(const struct opa_env *env, struct policy *p)
{
	cJSON *v1 = NULL, *v0 = NULL;
	int r1, r0;

	if ((r1 = run_parse(env, p, 0, &v1)) == 0)
		return v1;
	if (r1 == -1)
		return NULL;
	if ((r0 = run_parse(env, p, 1, &v0)) == 0) {
		cJSON_Delete(v1);
		p->v0 = 1;
		if (p->name_from_option)
			log_warn("policy '%s' in '%s' was read as Rego v0 "
			    "(OPA 0.x syntax); 'opa fmt --v0-v1' rewrites it "
			    "for Rego v1", p->name, p->file);
		else
			log_warn("policy '%s' was read as Rego v0 (OPA 0.x "
			    "syntax); 'opa fmt --v0-v1' rewrites it for Rego "
			    "v1", p->file);
		return v0;
	}
	if (r0 == 1 && first_error_position(v0) > first_error_position(v1))
		print_opa_errors(p, v0);
	else
		print_opa_errors(p, v1);
	cJSON_Delete(v0);
	cJSON_Delete(v1);
	return NULL;
}

static const char *
string_item(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
set_string(char **dst, const char *src)
{
	char *copy;

	if ((copy = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

/*
 * Takes title and description from a list of METADATA annotations, for
 * the fields that are still unset.
 */
static void
take_annotations(struct policy *p, const cJSON *annotations,
    int package_scope, int *have_name, int *have_desc)
{
	const cJSON *a;
	const char *scope, *title, *desc;

	cJSON_ArrayForEach(a, annotations) {
		scope = string_item(a, "scope");
		if (package_scope && (scope == NULL ||
		    (strcmp(scope, "package") != 0 &&
		    strcmp(scope, "subpackages") != 0)))
			continue;
		title = string_item(a, "title");
		desc = string_item(a, "description");
		if (!*have_name && title != NULL && *title != '\0' &&
		    set_string(&p->name, title) == 0)
			*have_name = 1;
		if (!*have_desc && desc != NULL &&
		    set_string(&p->description, desc) == 0)
			*have_desc = 1;
	}
}

static int
rule_is_alert(const cJSON *rule)
{
	const cJSON *head, *ref, *first;
	const char *name;

	head = cJSON_GetObjectItem(rule, "head");
	name = string_item(head, "name");
	if (name != NULL)
		return strcmp(name, "alert") == 0;
	ref = cJSON_GetObjectItem(head, "ref");
	first = cJSON_GetArrayItem(ref, 0);
	name = string_item(first, "value");
	return name != NULL && strcmp(name, "alert") == 0;
}

static void
print_at(const struct policy *p, const cJSON *node, const char *msg)
{
	const cJSON *loc = cJSON_GetObjectItem(node, "location");
	const cJSON *row = cJSON_GetObjectItem(loc, "row");
	const cJSON *col = cJSON_GetObjectItem(loc, "col");

	if (cJSON_IsNumber(row) && cJSON_IsNumber(col))
		fprintf(stderr, "%s:%d:%d: %s\n", p->file, row->valueint,
		    col->valueint, msg);
	else
		fprintf(stderr, "%s: %s\n", p->file, msg);
}

/*
 * Checks the parsed module: package sidekick, and an "alert" rule that
 * is not a function.  Takes the name and description from the METADATA
 * annotations of the package, then of the alert rules, for the fields
 * that no option set.  Returns 0, or -1 (reported).
 */
static int
inspect_module(struct policy *p, const cJSON *mod)
{
	const cJSON *pkg, *path, *rule, *head, *seg1;
	int have_name = p->name_from_option;
	int have_desc = p->description_from_option;
	int alerts = 0, rc = 0;

	pkg = cJSON_GetObjectItem(mod, "package");
	path = cJSON_GetObjectItem(pkg, "path");
	seg1 = cJSON_GetArrayItem(path, 1);
	if (cJSON_GetArraySize(path) != 2 || string_item(seg1, "value") ==
	    NULL || strcmp(string_item(seg1, "value"), "sidekick") != 0) {
		print_at(p, pkg, "rekor_policy_error: the package must be "
		    "'package sidekick'");
		rc = -1;
	}
	take_annotations(p, cJSON_GetObjectItem(mod, "annotations"), 1,
	    &have_name, &have_desc);
	cJSON_ArrayForEach(rule, cJSON_GetObjectItem(mod, "rules")) {
		if (!rule_is_alert(rule))
			continue;
		alerts++;
		head = cJSON_GetObjectItem(rule, "head");
		if (cJSON_GetObjectItem(head, "args") != NULL) {
			print_at(p, rule, "rekor_policy_error: 'alert' must "
			    "be a rule, not a function");
			rc = -1;
		}
		take_annotations(p, cJSON_GetObjectItem(rule, "annotations"),
		    0, &have_name, &have_desc);
	}
	if (alerts == 0 && rc == 0) {
		print_at(p, pkg, "rekor_policy_error: no 'alert' rule: the "
		    "policy can never match");
		rc = -1;
	}
	return rc;
}

/* Compiles the copy and the query module with the capabilities file. */
static int
check_policy(const struct opa_env *env, struct policy *p)
{
	const char *argv[10];
	struct buf out = BUF_INIT, wrapper = BUF_INIT;
	cJSON *doc = NULL;
	int status, n = 0, rc = -1;

	if (buf_printf(&wrapper, "%s/query.rego", env->workdir) == -1)
		goto out;
	argv[n++] = "opa";
	argv[n++] = "check";
	argv[n++] = "--format";
	argv[n++] = "json";
	argv[n++] = "--capabilities";
	argv[n++] = env->caps[p->v0 ? 0 : 1];
	if (p->v0)
		argv[n++] = "--v0-compatible";
	argv[n++] = p->copy;
	argv[n++] = wrapper.data;
	argv[n] = NULL;
	if (opa_capture(env, argv, &out, &status) == -1)
		goto out;
	if (status == 0) {
		rc = 0;
		goto out;
	}
	if ((doc = parse_opa_json(&out)) == NULL ||
	    print_opa_errors(p, doc) == 0)
		log_error("'%s check' failed on '%s' with status %d", env->opa,
		    p->file, status);
out:
	cJSON_Delete(doc);
	buf_free(&out);
	buf_free(&wrapper);
	return rc;
}

/* Sets the name to the file name without its directory and ".rego". */
static int
name_from_file(struct policy *p)
{
	const char *base = strrchr(p->file, '/');
	size_t len;

	base = base != NULL ? base + 1 : p->file;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".rego") == 0)
		len -= 5;
	free(p->name);
	if ((p->name = strndup(base, len)) == NULL)
		return -1;
	return 0;
}

/*
 * Copies the policy into the private directory, finds its Rego version,
 * name and description, and compiles it.  Returns 0, or -1 after the
 * errors were printed.
 */
int
policy_load(struct policy *p, const struct opa_env *env, size_t index)
{
	struct buf path = BUF_INIT, src = BUF_INIT;
	cJSON *mod = NULL;
	int rc = -1;

	if (buf_printf(&path, "%s/%zu", env->workdir, index) == -1 ||
	    mkdir(path.data, 0700) == -1 || (p->dir = strdup(path.data)) ==
	    NULL) {
		log_error("cannot create '%s': %s", path.data,
		    strerror(errno));
		goto out;
	}
	buf_reset(&path);
	if (buf_printf(&path, "%s/policy.rego", p->dir) == -1 ||
	    (p->copy = strdup(path.data)) == NULL)
		goto nomem;
	if (read_file(p->file, POLICY_FILE_MAX, &src) == -1) {
		log_error("cannot read policy '%s': %s", p->file,
		    errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
		goto out;
	}
	if (write_file(p->copy, src.data != NULL ? src.data : "",
	    src.len) == -1) {
		log_error("cannot write '%s': %s", p->copy, strerror(errno));
		goto out;
	}
	if ((mod = parse_policy(env, p)) == NULL)
		goto out;
	if (inspect_module(p, mod) == -1)
		goto out;
	if (p->name == NULL && name_from_file(p) == -1)
		goto nomem;
	if (p->description == NULL && set_string(&p->description, "") == -1)
		goto nomem;
	if (check_policy(env, p) == -1)
		goto out;
	rc = 0;
	goto out;
nomem:
	log_error("out of memory");
out:
	cJSON_Delete(mod);
	buf_free(&path);
	buf_free(&src);
	return rc;
}

/*
 * Rejects two policies with the same name, whose alerts would get the
 * same alertID and be taken downstream for one.  Then builds each
 * policy's alert suffix.  Returns 0, or -1 (reported).
 */
int
policy_names_check(struct policy *ps, size_t n)
{
	cJSON *obj;
	char *text;
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(ps[i].name, ps[j].name) == 0) {
				log_error("policies '%s' and '%s' are both "
				    "named '%s': give one another name with "
				    "-n", ps[j].file, ps[i].file, ps[i].name);
				return -1;
			}
	for (i = 0; i < n; i++) {
		if ((obj = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(obj, "name", ps[i].name) == NULL ||
		    cJSON_AddStringToObject(obj, "description",
		    ps[i].description) == NULL ||
		    (text = cJSON_PrintUnformatted(obj)) == NULL) {
			cJSON_Delete(obj);
			log_error("out of memory");
			return -1;
		}
		cJSON_Delete(obj);
		if (asprintf(&ps[i].alert_suffix, ",\"policy\":%s,"
		    "\"alertID\":\"", text) == -1) {
			ps[i].alert_suffix = NULL;
			cJSON_free(text);
			log_error("out of memory");
			return -1;
		}
		cJSON_free(text);
	}
	return 0;
}

/* Frees the policy and removes its files from the private directory. */
void
policy_free(struct policy *p)
{
	if (p->copy != NULL)
		unlink(p->copy);
	if (p->opa_log != NULL)
		unlink(p->opa_log);
	if (p->socket != NULL)
		unlink(p->socket);
	if (p->dir != NULL)
		rmdir(p->dir);
	free(p->name);
	free(p->description);
	free(p->dir);
	free(p->copy);
	free(p->socket);
	free(p->opa_log);
	free(p->alert_suffix);
	p->name = p->description = p->dir = p->copy = NULL;
	p->socket = p->opa_log = p->alert_suffix = NULL;
}
