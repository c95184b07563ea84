/*
 * One long-lived "opa run --server" per policy, listening on a unix
 * socket in the private directory (mode 0600 inside a 0700 directory),
 * and the Data API requests sent to it.  Each policy has its own opa, so
 * two policies with the same package never merge.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define RESULTS_URL	"http://localhost/v1/data/rekor_policy/results"
#define OPA_LOG_TAIL	4096	/* bytes of opa's log shown when it fails */

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, data, size * n) == -1)
		return 0;
	return size * n;
}

static void
exec_opa(const struct policy *p, const struct opa_env *env, pid_t parent)
{
	static char *const empty_env[] = { NULL };
	struct buf wrapper = BUF_INIT, addr = BUF_INIT;
	const char *argv[20];
	int n = 0, fd;

	/* opa must not outlive us, and a terminal's ^C is ours to handle. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 || dup2(fd, 0) == -1)
		_exit(127);
	fd = open(p->opa_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1 ||
	    chdir(p->dir) == -1)
		_exit(127);
	if (buf_printf(&wrapper, "%s/query.rego", env->workdir) == -1 ||
	    buf_printf(&addr, "unix://%s", p->socket) == -1)
		_exit(127);
	argv[n++] = "opa";
	argv[n++] = "run";
	argv[n++] = "--server";
	/* The version check is the only request opa makes by itself. */
	argv[n++] = "--skip-version-check";
	argv[n++] = "--log-level";
	argv[n++] = "error";
	argv[n++] = "--addr";
	argv[n++] = addr.data;
	argv[n++] = "--unix-socket-perm";
	argv[n++] = "600";
	argv[n++] = "--shutdown-grace-period";
	argv[n++] = "1";
	if (p->v0)
		argv[n++] = "--v0-compatible";
	argv[n++] = p->copy;
	argv[n++] = wrapper.data;
	argv[n] = NULL;
	execve(env->opa, (char *const *)argv, empty_env);
	_exit(127);
}

/*
 * Starts opa for a policy that policy_load() accepted.  Returns 0, or -1
 * (reported).
 */
int
server_start(struct policy *p, const struct opa_env *env)
{
	struct buf path = BUF_INIT;
	pid_t parent = getpid();
	size_t i;

	if (buf_printf(&path, "%s/opa.sock", p->dir) == -1 ||
	    (p->socket = strdup(path.data)) == NULL) {
		buf_free(&path);
		log_error("out of memory");
		return -1;
	}
	buf_reset(&path);
	if (buf_printf(&path, "%s/opa.log", p->dir) == -1 ||
	    (p->opa_log = strdup(path.data)) == NULL) {
		buf_free(&path);
		log_error("out of memory");
		return -1;
	}
	buf_free(&path);
	if ((p->headers = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		log_error("out of memory");
		return -1;
	}
	for (i = 0; i < POLICY_CONNECTIONS; i++) {
		if ((p->curl[i] = curl_easy_init()) == NULL) {
			log_error("cannot initialise libcurl");
			return -1;
		}
		curl_easy_setopt(p->curl[i], CURLOPT_UNIX_SOCKET_PATH,
		    p->socket);
		curl_easy_setopt(p->curl[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(p->curl[i], CURLOPT_NOPROXY, "*");
		curl_easy_setopt(p->curl[i], CURLOPT_HTTPHEADER, p->headers);
		curl_easy_setopt(p->curl[i], CURLOPT_WRITEFUNCTION, collect);
	}
	if ((p->pid = fork()) == -1) {
		log_error("cannot start '%s': %s", env->opa, strerror(errno));
		p->pid = 0;
		return -1;
	}
	if (p->pid == 0)
		exec_opa(p, env, parent);
	log_debug("policy '%s': opa started as process %ld on '%s'",
	    p->name, (long)p->pid, p->socket);
	return 0;
}

/*
 * Returns 0 while opa runs, or -1 after reporting how it ended and the
 * end of its log.
 */
int
server_check_alive(struct policy *p)
{
	int st;
	pid_t r;

	if (p->pid <= 0)
		return -1;
	r = waitpid(p->pid, &st, WNOHANG);
	if (r == 0)
		return 0;
	if (r == -1) {
		log_error("policy '%s': cannot wait for opa: %s", p->name,
		    strerror(errno));
		return -1;
	}
	p->pid = 0;
	if (WIFEXITED(st))
		log_error("policy '%s': opa exited with status %d", p->name,
		    WEXITSTATUS(st));
	else
		log_error("policy '%s': opa was killed by signal %d", p->name,
		    WTERMSIG(st));
	server_report_log(p);
	return -1;
}

/* Shows the last lines opa wrote, each as "opa: message". */
void
server_report_log(const struct policy *p)
{
	char tail[OPA_LOG_TAIL + 1], *line, *save = NULL;
	cJSON *doc;
	const cJSON *msg, *err;
	ssize_t n;
	off_t size;
	int fd;

	if (p->opa_log == NULL ||
	    (fd = open(p->opa_log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > OPA_LOG_TAIL)
		lseek(fd, size - OPA_LOG_TAIL, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, tail, OPA_LOG_TAIL);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	for (line = strtok_r(tail, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		doc = cJSON_Parse(line);
		msg = cJSON_GetObjectItem(doc, "msg");
		err = cJSON_GetObjectItem(doc, "err");
		if (cJSON_IsString(msg) && cJSON_IsString(err))
			log_error("opa: %s: %s", msg->valuestring,
			    err->valuestring);
		else if (cJSON_IsString(msg))
			log_error("opa: %s", msg->valuestring);
		else
			log_error("opa: %s", line);
		cJSON_Delete(doc);
	}
}

/*
 * Waits until opa responds 200 to GET /health, for at most timeout_ms.
 * Returns 0, or -1 (reported) when opa exited or did not respond in time.
 */
int
server_wait_ready(struct policy *p, uint64_t timeout_ms)
{
	struct buf body = BUF_INIT;
	uint64_t deadline = now_ms() + timeout_ms;
	long status = 0;
	int rc = -1;

	curl_easy_setopt(p->curl[0], CURLOPT_URL, "http://localhost/health");
	curl_easy_setopt(p->curl[0], CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(p->curl[0], CURLOPT_WRITEDATA, &body);
	for (;;) {
		if (server_check_alive(p) == -1)
			break;
		buf_reset(&body);
		if (curl_easy_perform(p->curl[0]) == CURLE_OK &&
		    curl_easy_getinfo(p->curl[0], CURLINFO_RESPONSE_CODE,
		    &status) == CURLE_OK && status == 200) {
			rc = 0;
			break;
		}
		if (now_ms() >= deadline) {
			log_error("policy '%s': opa did not respond on '%s' "
			    "within %llu ms", p->name, p->socket,
			    (unsigned long long)timeout_ms);
			server_report_log(p);
			break;
		}
		sleep_ms(20);
	}
	buf_free(&body);
	return rc;
}

static void
prepare_post(CURL *curl, const char *req, size_t len, int strict,
    struct buf *resp)
{
	buf_reset(resp);
	/* XXX: no time limit: a policy that runs very long stalls here. */
	curl_easy_setopt(curl, CURLOPT_URL, strict ?
	    RESULTS_URL "?strict-builtin-errors=true" : RESULTS_URL);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
}

static void
report_no_response(struct policy *p, CURLcode cc)
{
	int i;

	/*
	 * A killed opa closes its socket before it can be reaped, so give it
	 * up to 200 ms to show up as dead: the cause is more useful than the
	 * transport error.
	 */
	for (i = 0; i < 20; i++) {
		if (server_check_alive(p) == -1)
			return;
		sleep_ms(10);
	}
	log_error("policy '%s': no response from opa on '%s': %s",
	    p->name, p->socket, curl_easy_strerror(cc));
}

/*
 * POSTs a Data API request ({"input": [...]}) for the results of the
 * query module.  With strict, the first failing built-in is an error.
 * Stores the HTTP status and the response body.  Returns 0 when opa
 * responded, or -1 (reported) when it did not because it died or hangs.
 */
int
server_post(struct policy *p, const char *req, size_t len, int strict,
    struct buf *resp, long *status)
{
	CURLcode cc;

	prepare_post(p->curl[0], req, len, strict, resp);
	cc = curl_easy_perform(p->curl[0]);
	if (cc == CURLE_OK && curl_easy_getinfo(p->curl[0],
	    CURLINFO_RESPONSE_CODE, status) == CURLE_OK && *status != 0)
		return 0;
	report_no_response(p, cc);
	return -1;
}

/*
 * Sends the requests at once, each strict and on its own connection, and
 * waits for all of them.  Returns 0 when opa responded to every request,
 * or -1 (reported) when one did not.
 */
int
server_post_many(struct opa_request *reqs, size_t n)
{
	CURLM *multi;
	CURLMsg *msg;
	size_t i;
	int running = 0, left, rc = 0;

	/* One request needs no multi handle, which costs a few syscalls. */
	if (n == 1) {
		reqs[0].failed = server_post(reqs[0].policy, reqs[0].body,
		    reqs[0].len, 1, &reqs[0].resp, &reqs[0].status) == -1;
		return reqs[0].failed ? -1 : 0;
	}
	if ((multi = curl_multi_init()) == NULL) {
		log_error("cannot initialise libcurl");
		return -1;
	}
	for (i = 0; i < n; i++) {
		reqs[i].status = 0;
		reqs[i].failed = 1;
		prepare_post(reqs[i].curl, reqs[i].body, reqs[i].len, 1,
		    &reqs[i].resp);
		curl_easy_setopt(reqs[i].curl, CURLOPT_PRIVATE, &reqs[i]);
		curl_multi_add_handle(multi, reqs[i].curl);
	}
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running > 0 && curl_multi_poll(multi, NULL, 0, 1000,
		    NULL) != CURLM_OK)
			break;
	} while (running > 0);
	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		struct opa_request *r = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
		if (r == NULL)
			continue;
		if (msg->data.result == CURLE_OK && curl_easy_getinfo(r->curl,
		    CURLINFO_RESPONSE_CODE, &r->status) == CURLE_OK &&
		    r->status != 0)
			r->failed = 0;
		else
			report_no_response(r->policy, msg->data.result);
	}
	for (i = 0; i < n; i++) {
		curl_multi_remove_handle(multi, reqs[i].curl);
		if (reqs[i].failed)
			rc = -1;
	}
	curl_multi_cleanup(multi);
	return rc;
}

/* Stops opa: SIGTERM, then SIGKILL after 5 seconds. */
void
server_stop(struct policy *p)
{
	uint64_t deadline;
	size_t i;
	int st;

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		deadline = now_ms() + 5000;
		while (waitpid(p->pid, &st, WNOHANG) == 0) {
			if (now_ms() >= deadline) {
				log_warn("policy '%s': opa did not stop on "
				    "SIGTERM; killing it", p->name);
				kill(p->pid, SIGKILL);
				waitpid(p->pid, &st, 0);
				break;
			}
			sleep_ms(10);
		}
		p->pid = 0;
	}
	for (i = 0; i < POLICY_CONNECTIONS; i++) {
		curl_easy_cleanup(p->curl[i]);
		p->curl[i] = NULL;
	}
	curl_slist_free_all(p->headers);
	p->headers = NULL;
}
