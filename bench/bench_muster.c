/* bench_muster: how long a tier II muster takes on a district-sized roster, from the incident
 * request leaving the operator to the last of its orders arriving on the agents' sockets,
 * printed beside the floor measured in the same run (a bare ZeroMQ CURVE round trip plus one
 * SQLite commit with synchronous=FULL); then a surge of incidents: throughput and the
 * request-to-reply latency.
 *
 * The daemon is the real musterd, as an operator runs it: its path comes from $MUSTERD (set
 * by meson), else it is looked for next to this program's build directory. It runs on a
 * configuration written into a temporary directory: `muster init`'s sample district, plans,
 * departments, people and experts, with the sample's units cloned (kind, department, skills,
 * agent) around their homes up to UNITS more units, so kinds keep the sample's proportions.
 * The operator and the eight department agents are CURVE DEALERs in this process, over ipc.
 *
 * Usage: bench_muster [UNITS [INCIDENTS [SURGE]]]. The surge stops submitting after
 * $BENCH_MUSTER_BUDGET_S seconds (default 60) and says so. Always exits 0 on a completed run
 * (benchmarks never fail the build); a wrong answer is reported as WRONG. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "bench.h"
#include "cfg.h"
#include "client.h"
#include "init.h"
#include "plan.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

int main(int argc, char **argv);

#define BENCH_MAX_AGENTS 16
#define BENCH_CHUNK 1000     /* units per heartbeat: ~50 KB, under the default max_frame */
#define BENCH_WARMUP 5	     /* tier II musters run before the measured ones */
#define BENCH_WINDOW 64	     /* surge requests in flight */
#define BENCH_RTT_WARMUP 200 /* floor round trips and commits before the measured ones */
#define BENCH_RTTS 2000
#define BENCH_COMMITS 200
#define BENCH_WAIT_MS 60000 /* longest wait for any one answer */
#define BENCH_SHOWN 5	    /* problems printed of each sort; the rest are counted */
/* Marks the correlation ids of agent messages that are not receipts (register, heartbeat). */
#define BENCH_NOT_RECEIPT (1ULL << 62)

/* What arrived on the agents' sockets for one incident. */
struct bench_inc {
	uint32_t orders; /* distinct orders */
	int64_t last_order_ns;
};

/* One control request, found by its correlation id (its index + 1). */
struct bench_req {
	int64_t sent_ns, reply_ns;
	int body;  /* reply body case; 0 while unanswered */
	int code;  /* ErrorReply code */
	char *why; /* ErrorReply message */
	uint64_t incident;
	int state, tier;
	size_t members, sent_members; /* GetIncident: members, and members whose order left */
};

/* One department's agent. */
struct bench_agent {
	const char *dept; /* borrowed from the sample roster */
	void *s;
	int registered; /* Registered replies seen */
	size_t n_units, available, rejected;
	char **unit_ids; /* from the first Registered */
	double *lat, *lon;
};

/* The whole run. */
struct bench {
	char dir[128];
	struct config *sample; /* the sample as init writes it: places, plans, templates */
	void *ctx;
	void *op;
	struct bench_agent agents[BENCH_MAX_AGENTS];
	size_t n_agents;
	uint64_t seq;
	struct bench_req *reqs;
	size_t n_reqs, cap_reqs, replies;
	struct bench_inc *incs; /* by incident id */
	size_t cap_incs;
	uint8_t *seen; /* by order id: its first copy arrived */
	size_t cap_seen;
	size_t acks_due, orders, resends, cancels, notices, agent_errors, late_receipts, strays;
	int64_t last_order_ns;
	pid_t daemon;
};

/* Parses a positive count argument; exits with a message when it is not one. */
static size_t
bench_parse_count(const char *arg)
{
	char *end = NULL;
	unsigned long v = strtoul(arg, &end, 10);

	if (end == arg || *end != '\0' || v == 0 || v > 10000000UL) {
		fprintf(stderr, "bench_muster: not a count: %s\n", arg);
		exit(2);
	}
	return (size_t)v;
}

/* nftw callback: removes one entry. */
static int
bench_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Writes TEXT to PATH. Returns 0, or -1 after saying why. */
static int
bench_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		if (f != NULL && fclose(f) != 0)
			fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns the whole file at PATH as a new string, or NULL after saying why. */
static char *
bench_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (f == NULL) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - n < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "bench_muster: %s: read error\n", path);
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* Writes S as a libconfig string (quotes and backslashes escaped) to F. */
static int
bench_put_string(FILE *f, const char *s)
{
	if (fputc('"', f) == EOF)
		return -1;
	for (; *s; s++) {
		if ((*s == '"' || *s == '\\') && fputc('\\', f) == EOF)
			return -1;
		if (fputc(*s, f) == EOF)
			return -1;
	}
	return fputc('"', f) == EOF ? -1 : 0;
}

/* Writes one generated unit, number I, cloned from template T of the sample, to F. */
static int
bench_put_unit(FILE *f, const struct config *c, const struct unit *t, size_t i, uint64_t *s)
{
	const struct district *d = c->district;
	/* Within about 600 m of the template's home (one standard deviation), inside the box. */
	double lat = t->home_lat + 0.0054 * bench_rng_normal(s);
	double lon = t->home_lon + 0.0062 * bench_rng_normal(s);
	size_t k;
	int ok = 1;

	lat = fmin(fmax(lat, d->south + 0.001), d->north - 0.001);
	lon = fmin(fmax(lon, d->west + 0.001), d->east - 0.001);
	ok &= fprintf(f, "\t{ id = \"%s-%06zu\"; name = ", t->id, i) > 0;
	ok &= bench_put_string(f, t->name) == 0;
	ok &= fprintf(f, "; department = \"%s\"; kind = \"%s\"; station = \"%s\"; agent = ",
		      c->roster->departments[t->department].id, t->kind,
		      d->places[t->station].id) > 0;
	ok &= bench_put_string(f, t->agent) == 0;
	ok &= fprintf(f, "; people = %d; lat = %.6f; lon = %.6f;", t->people, lat, lon) > 0;
	if (t->n_skills > 0) {
		ok &= fputs(" skills = [", f) >= 0;
		for (k = 0; k < t->n_skills; k++)
			ok &= fprintf(f, "%s \"%s\"", k ? "," : "", t->skills[k]) > 0;
		ok &= fputs(" ];", f) >= 0;
	}
	ok &= fputs(" },\n", f) >= 0;
	return ok ? 0 : -1;
}

/* Rewrites DIR/roster.conf (as init wrote it) with N more units cloned from the sample's,
 * inserted at the head of its units list. Returns 0, or -1 after saying why. */
static int
bench_write_roster(struct bench *b, size_t n)
{
	static const char marker[] = "\nunits = (\n";
	char *path = xasprintf("%s/roster.conf", b->dir);
	char *text = bench_read_file(path), *at;
	const struct roster *r = b->sample->roster;
	uint64_t s = 20240603;
	FILE *f = NULL;
	size_t i, head;
	int rc = -1;

	if (text == NULL)
		goto out;
	at = strstr(text, marker);
	if (at == NULL || r->n_units == 0) {
		fprintf(stderr, "bench_muster: %s: no units list to extend\n", path);
		goto out;
	}
	head = (size_t)(at - text) + sizeof marker - 1;
	f = fopen(path, "w");
	if (f == NULL || fwrite(text, 1, head, f) != head) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct unit *t = &r->units[bench_rng_next(&s) % r->n_units];

		if (bench_put_unit(f, b->sample, t, i, &s) != 0) {
			fprintf(stderr, "bench_muster: %s: write error\n", path);
			goto out;
		}
	}
	if (fputs(text + head, f) < 0) {
		fprintf(stderr, "bench_muster: %s: write error\n", path);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	free(text);
	free(path);
	return rc;
}

/* Writes the configuration into b->dir: init's sample, then musterd.conf on ipc endpoints
 * and a roster of N more units. Returns 0, or -1 after saying why. */
static int
bench_configure(struct bench *b, size_t n)
{
	char *err = NULL, *path, *text;
	int rc;

	if (init_write(b->dir, 1, &err) != 0) {
		fprintf(stderr, "bench_muster: init: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	path = xasprintf("%s/musterd.conf", b->dir);
	b->sample = cfg_load(path, &err);
	if (b->sample == NULL) {
		fprintf(stderr, "bench_muster: the sample does not load:\n%s\n", err ? err : "?");
		free(err);
		free(path);
		return -1;
	}
	/* Defaults but for the endpoints (ipc, no port clashes) and staleness: the agents here
	 * send one round of heartbeats, and units must stay available for the whole run. */
	text = xasprintf("# bench_muster: the defaults but for these.\n"
			 "database = \"muster.db\";\n"
			 "control = \"ipc://%s/control\";\n"
			 "agents = \"ipc://%s/agents\";\n"
			 "feed = \"ipc://%s/feed\";\n"
			 "unit_stale_ms = 3600000;\n",
			 b->dir, b->dir, b->dir);
	rc = bench_write_file(path, text);
	free(text);
	free(path);
	if (rc != 0)
		return -1;
	return bench_write_roster(b, n);
}

/* Returns the path of musterd: $MUSTERD, else ../daemon/musterd from this program's
 * directory. Caller frees. */
static char *
bench_musterd_path(void)
{
	const char *env = getenv("MUSTERD");
	char self[4096], *slash;
	ssize_t n;

	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return xstrdup("musterd");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	return xasprintf("%s/../daemon/musterd", self);
}

/* Prints the last lines of the daemon's log, after a failure. */
static void
bench_log_tail(const struct bench *b)
{
	char *path = xasprintf("%s/musterd.log", b->dir);
	char *text = bench_read_file(path);
	size_t n;
	const char *p;
	int lines = 0;

	if (text != NULL) {
		n = strlen(text);
		p = text + n;
		while (p > text && lines <= 15)
			if (*--p == '\n')
				lines++;
		fprintf(stderr, "--- the end of %s ---\n%s\n", path, p);
	}
	free(text);
	free(path);
}

/* Starts musterd on b->dir and waits for its READY. Returns 0, or -1 after saying why. */
static int
bench_start_daemon(struct bench *b, const char *musterd)
{
	char *conf = xasprintf("%s/musterd.conf", b->dir),
	     *logp = xasprintf("%s/musterd.log", b->dir);
	char fdarg[16], buf[16];
	int fds[2], logfd, rc = -1;
	struct pollfd pfd;
	ssize_t got;

	if (pipe(fds) != 0) {
		fprintf(stderr, "bench_muster: pipe: %s\n", strerror(errno));
		goto out;
	}
	logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (logfd < 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", logp, strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		goto out;
	}
	snprintf(fdarg, sizeof fdarg, "%d", fds[1]);
	b->daemon = fork();
	if (b->daemon == 0) {
		if (close(fds[0]) != 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execl(musterd, "musterd", "-d", "-c", conf, "-R", fdarg, (char *)NULL);
		_exit(127);
	}
	if (close(fds[1]) != 0 || close(logfd) != 0 || b->daemon < 0) {
		fprintf(stderr, "bench_muster: cannot start %s: %s\n", musterd, strerror(errno));
		(void)close(fds[0]);
		b->daemon = b->daemon < 0 ? 0 : b->daemon;
		goto out;
	}
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10 * BENCH_WAIT_MS) != 1 || (got = read(fds[0], buf, sizeof buf)) < 6 ||
	    memcmp(buf, "READY\n", 6) != 0) {
		fprintf(stderr, "bench_muster: %s did not become ready\n", musterd);
		bench_log_tail(b);
	} else {
		rc = 0;
	}
	if (close(fds[0]) != 0)
		fprintf(stderr, "bench_muster: close: %s\n", strerror(errno));
out:
	free(conf);
	free(logp);
	return rc;
}

/* Stops the daemon (SIGTERM, then SIGKILL after a minute); returns its exit status or -1. */
static int
bench_stop_daemon(struct bench *b)
{
	int st = 0, i;

	if (b->daemon <= 0)
		return -1;
	if (kill(b->daemon, SIGTERM) != 0)
		fprintf(stderr, "bench_muster: kill: %s\n", strerror(errno));
	for (i = 0; i < 12000; i++) {
		pid_t p = waitpid(b->daemon, &st, WNOHANG);

		if (p == b->daemon) {
			b->daemon = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (p < 0 && errno != EINTR)
			break;
		if (i == 11999 && kill(b->daemon, SIGKILL) == 0 && waitpid(b->daemon, &st, 0) > 0)
			break;
		if (usleep(10000) != 0 && errno != EINTR)
			break;
	}
	b->daemon = 0;
	return -1;
}

/* Reads the CPU seconds used so far by process PID (user + system), or -1. */
static double
bench_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime = 0, stime = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	if (fclose(f) != 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After the command: state and ten more fields, then utime and stime (fields 14, 15). */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Returns the peak resident size of PID in MiB (VmHWM), or -1. */
static double
bench_peak_rss_mib(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (fclose(f) != 0)
		return -1;
	return kb < 0 ? -1 : (double)kb / 1024.0;
}

/* Returns a new CURVE DEALER connected to ENDPOINT with the key pair in C, with no
 * high-water marks (this process drains its sockets), or NULL after saying why. */
static void *
bench_socket(void *ctx, const char *endpoint, const char *server_public, const char *public_key,
	     const char *secret_key)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;

	if (s == NULL) {
		fprintf(stderr, "bench_muster: socket: %s\n", zmq_strerror(errno));
		return NULL;
	}
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_public, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, public_key, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_key, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) != 0 ||
	    zmq_connect(s, endpoint) != 0) {
		fprintf(stderr, "bench_muster: %s: %s\n", endpoint, zmq_strerror(errno));
		(void)zmq_close(s);
		return NULL;
	}
	return s;
}

/* Connects a DEALER to the daemon's ENDPOINT ("control" or "agents") with KEY_FILE. */
static void *
bench_client(struct bench *b, const char *which, const char *key_file)
{
	struct client_conf c;
	char *err = NULL;
	void *s;

	if (client_conf_load(&c, b->dir, key_file, &err) != 0) {
		fprintf(stderr, "bench_muster: %s\n", err ? err : "?");
		free(err);
		return NULL;
	}
	s = bench_socket(b->ctx, strcmp(which, "control") == 0 ? c.control : c.agents,
			 c.server_public, c.public_key, c.secret_key);
	client_conf_finish(&c);
	return s;
}

/* Packs E with a fresh seq and correlation id CORR and sends it on S. Returns 0 or -1. */
static int
bench_send(struct bench *b, void *s, Envelope *e, uint64_t corr)
{
	size_t len;
	uint8_t *buf;
	int rc;

	e->version = WIRE_VERSION;
	e->seq = ++b->seq;
	e->correlation_id = corr;
	e->sent_at_ms = util_wall_ms();
	buf = wire_pack(e, &len);
	rc = zmq_send(s, buf, len, 0) == (int)len ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "bench_muster: send: %s\n", zmq_strerror(errno));
	free(buf);
	return rc;
}

/* Returns the index of a new control request slot. */
static size_t
bench_new_req(struct bench *b)
{
	if (b->n_reqs == b->cap_reqs) {
		b->cap_reqs = b->cap_reqs ? 2 * b->cap_reqs : 1024;
		b->reqs = xrealloc(b->reqs, b->cap_reqs * sizeof *b->reqs);
	}
	memset(&b->reqs[b->n_reqs], 0, sizeof *b->reqs);
	return b->n_reqs++;
}

/* Sends E on the control socket as a new request; returns its index, or -1. */
static long
bench_request(struct bench *b, Envelope *e)
{
	size_t i = bench_new_req(b);

	b->reqs[i].sent_ns = util_mono_ns();
	if (bench_send(b, b->op, e, (uint64_t)i + 1) != 0)
		return -1;
	return (long)i;
}

/* Submits an incident of TYPE at PLACE (or at LAT, LON when PLACE is NULL) with the tier
 * given by the operator; returns the request index, or -1. */
static long
bench_submit(struct bench *b, const char *type, const char *place, double lat, double lon, int tier,
	     const char *why)
{
	Envelope e;
	Muster__SubmitIncident si;
	Muster__Location loc;
	Muster__Coordinates co;

	muster__envelope__init(&e);
	muster__submit_incident__init(&si);
	muster__location__init(&loc);
	muster__coordinates__init(&co);
	if (place != NULL) {
		loc.place = (char *)place;
	} else {
		co.lat = lat;
		co.lon = lon;
		loc.coords = &co;
	}
	si.type = (char *)type;
	si.location = &loc;
	si.description = "bench_muster";
	si.reporter = "bench";
	si.tier = (uint32_t)tier;
	si.tier_reason = (char *)why;
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	return bench_request(b, &e);
}

/* Asks for incident ID with its members; returns the request index, or -1. */
static long
bench_get(struct bench *b, uint64_t id)
{
	Envelope e;
	Muster__GetIncident g;

	muster__envelope__init(&e);
	muster__get_incident__init(&g);
	g.id = id;
	e.body_case = MUSTER__ENVELOPE__BODY_GET_INCIDENT;
	e.get_incident = &g;
	return bench_request(b, &e);
}

/* Closes incident ID; returns the request index, or -1. */
static long
bench_close(struct bench *b, uint64_t id)
{
	Envelope e;
	Muster__CloseIncident c;

	muster__envelope__init(&e);
	muster__close_incident__init(&c);
	c.id = id;
	c.reason = "bench_muster: measured";
	e.body_case = MUSTER__ENVELOPE__BODY_CLOSE_INCIDENT;
	e.close_incident = &c;
	return bench_request(b, &e);
}

/* Records a control reply E. */
static void
bench_on_control(struct bench *b, Envelope *e, int64_t now)
{
	struct bench_req *r;
	size_t i;

	if (e->correlation_id == 0 || e->correlation_id > b->n_reqs) {
		if (b->strays++ < BENCH_SHOWN)
			fprintf(stderr, "bench_muster: a control reply nobody asked for (%s)\n",
				wire_body_name((int)e->body_case));
		return;
	}
	r = &b->reqs[e->correlation_id - 1];
	if (r->body != 0)
		return;
	r->reply_ns = now;
	r->body = (int)e->body_case;
	b->replies++;
	if (e->body_case == MUSTER__ENVELOPE__BODY_ERROR) {
		r->code = e->error->code;
		r->why = xasprintf("%s: %s%s%s", wire_code_name(e->error->code),
				   e->error->message ? e->error->message : "",
				   e->error->field && e->error->field[0] ? " field " : "",
				   e->error->field ? e->error->field : "");
	} else if (e->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_REPLY &&
		   e->incident_reply->incident != NULL) {
		const Muster__Incident *inc = e->incident_reply->incident;

		r->incident = inc->id;
		r->state = inc->state;
		r->tier = (int)inc->tier;
		r->members = inc->n_members;
		for (i = 0; i < inc->n_members; i++)
			r->sent_members += inc->members[i]->sent_at_ms != 0;
	}
}

/* Returns the record of incident ID, growing the table as needed. */
static struct bench_inc *
bench_inc(struct bench *b, uint64_t id)
{
	if (id >= b->cap_incs) {
		size_t cap = b->cap_incs ? b->cap_incs : 1024;

		while (cap <= id)
			cap *= 2;
		b->incs = xrealloc(b->incs, cap * sizeof *b->incs);
		memset(b->incs + b->cap_incs, 0, (cap - b->cap_incs) * sizeof *b->incs);
		b->cap_incs = cap;
	}
	return &b->incs[id];
}

/* Returns 1 the first time order ID is seen, 0 afterwards. */
static int
bench_first_sight(struct bench *b, uint64_t id)
{
	if (id >= b->cap_seen) {
		size_t cap = b->cap_seen ? b->cap_seen : 4096;

		while (cap <= id)
			cap *= 2;
		b->seen = xrealloc(b->seen, cap);
		memset(b->seen + b->cap_seen, 0, cap - b->cap_seen);
		b->cap_seen = cap;
	}
	if (b->seen[id])
		return 0;
	b->seen[id] = 1;
	return 1;
}

/* Keeps the units of a Registered reply for agent A. */
static void
bench_on_registered(struct bench_agent *a, const Muster__Registered *rd)
{
	size_t i;

	a->registered++;
	a->rejected = rd->n_rejected;
	a->available = 0;
	for (i = 0; i < rd->n_units; i++)
		a->available += rd->units[i]->status == MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
	if (a->unit_ids != NULL)
		return;
	a->n_units = rd->n_units;
	a->unit_ids = xcalloc(rd->n_units + 1, sizeof *a->unit_ids);
	a->lat = xcalloc(rd->n_units + 1, sizeof *a->lat);
	a->lon = xcalloc(rd->n_units + 1, sizeof *a->lon);
	for (i = 0; i < rd->n_units; i++) {
		a->unit_ids[i] = xstrdup(rd->units[i]->unit_id);
		if (rd->units[i]->position) {
			a->lat[i] = rd->units[i]->position->lat;
			a->lon[i] = rd->units[i]->position->lon;
		}
	}
}

/* Handles one message E that arrived for agent A: orders are counted and accepted at once
 * (accepting implies the receipt), as a unit that turns out does; an order left unaccepted
 * would be reassigned after the plan's accept_s, which is the daemon working, not load. */
static void
bench_on_agent(struct bench *b, struct bench_agent *a, Envelope *e, int64_t now)
{
	switch (e->body_case) {
	case MUSTER__ENVELOPE__BODY_ORDER: {
		Envelope r;
		Muster__StatusReport rc;

		if (bench_first_sight(b, e->order->order_id)) {
			struct bench_inc *inc = bench_inc(b, e->order->incident_id);

			inc->orders++;
			inc->last_order_ns = now;
			b->last_order_ns = now;
			b->orders++;
		} else {
			b->resends++;
		}
		muster__envelope__init(&r);
		muster__status_report__init(&rc);
		rc.order_id = e->order->order_id;
		rc.status = MUSTER__ORDER_STATUS__ORDER_ACCEPTED;
		r.body_case = MUSTER__ENVELOPE__BODY_STATUS;
		r.status = &rc;
		if (bench_send(b, a->s, &r, b->seq + 1) == 0)
			b->acks_due++;
		break;
	}
	case MUSTER__ENVELOPE__BODY_REPORT_ACK:
		if (b->acks_due > 0)
			b->acks_due--;
		if (e->report_ack->code != MUSTER__ERROR_CODE__OK &&
		    e->report_ack->code != MUSTER__ERROR_CODE__DUPLICATE)
			b->agent_errors++;
		break;
	case MUSTER__ENVELOPE__BODY_ERROR:
		/* Answers a receipt (correlation id = its seq) or a heartbeat. A receipt for an
		 * order the daemon already took back (no receipt in time) is refused: late, not
		 * wrong. */
		if (e->error->code == MUSTER__ERROR_CODE__INVALID_STATE &&
		    !(e->correlation_id & BENCH_NOT_RECEIPT))
			b->late_receipts++;
		else if (b->agent_errors++ < BENCH_SHOWN)
			fprintf(stderr, "bench_muster: WRONG: agent:%s got %s: %s\n", a->dept,
				wire_code_name(e->error->code),
				e->error->message ? e->error->message : "");
		if (!(e->correlation_id & BENCH_NOT_RECEIPT) && b->acks_due > 0)
			b->acks_due--;
		break;
	case MUSTER__ENVELOPE__BODY_REGISTERED:
		bench_on_registered(a, e->registered);
		break;
	case MUSTER__ENVELOPE__BODY_CANCEL:
		b->cancels++;
		break;
	case MUSTER__ENVELOPE__BODY_NOTICE:
		b->notices++;
		break;
	default:
		break;
	}
}

/* Reads and handles what is waiting on S (at most a batch). Returns messages handled. */
static size_t
bench_drain(struct bench *b, void *s, struct bench_agent *a)
{
	size_t n = 0;

	while (n < 512) {
		zmq_msg_t m;
		Envelope *e;
		int code;
		const char *why;
		int64_t now;

		if (zmq_msg_init(&m) != 0)
			break;
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fprintf(stderr, "bench_muster: recv: %s\n", zmq_strerror(errno));
			(void)zmq_msg_close(&m);
			break;
		}
		now = util_mono_ns();
		e = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &code, &why);
		(void)zmq_msg_close(&m);
		n++;
		if (e == NULL) {
			fprintf(stderr, "bench_muster: WRONG: undecodable message: %s\n", why);
			continue;
		}
		if (a == NULL)
			bench_on_control(b, e, now);
		else
			bench_on_agent(b, a, e, now);
		wire_free(e);
	}
	return n;
}

/* Waits up to TIMEOUT_MS for any socket, then handles what arrived. Returns messages
 * handled, or -1 when polling fails. */
static long
bench_pump(struct bench *b, int timeout_ms)
{
	zmq_pollitem_t pi[1 + BENCH_MAX_AGENTS];
	size_t i, n = 0;
	int rc;

	memset(pi, 0, sizeof pi);
	pi[0].socket = b->op;
	pi[0].events = ZMQ_POLLIN;
	for (i = 0; i < b->n_agents; i++) {
		pi[i + 1].socket = b->agents[i].s;
		pi[i + 1].events = ZMQ_POLLIN;
	}
	rc = zmq_poll(pi, (int)b->n_agents + 1, timeout_ms);
	if (rc < 0) {
		if (errno == EINTR)
			return 0;
		fprintf(stderr, "bench_muster: poll: %s\n", zmq_strerror(errno));
		return -1;
	}
	if (pi[0].revents & ZMQ_POLLIN)
		n += bench_drain(b, b->op, NULL);
	for (i = 0; i < b->n_agents; i++)
		if (pi[i + 1].revents & ZMQ_POLLIN)
			n += bench_drain(b, b->agents[i].s, &b->agents[i]);
	return (long)n;
}

/* Pumps until request I is answered. Returns 0, or -1 on a time-out (said). */
static int
bench_await(struct bench *b, long i)
{
	int64_t deadline = util_mono_ns() + (int64_t)BENCH_WAIT_MS * 1000000;

	if (i < 0)
		return -1;
	while (b->reqs[i].body == 0) {
		if (util_mono_ns() > deadline || bench_pump(b, 100) < 0) {
			fprintf(stderr, "bench_muster: WRONG: no answer to request %ld\n", i + 1);
			return -1;
		}
	}
	return 0;
}

/* Connects, registers the agents of every department and reports every unit available in
 * heartbeats of BENCH_CHUNK units; then registers again to read back each unit's status.
 * Returns 0, or -1 after saying why. */
static int
bench_muster_agents(struct bench *b, double *hb_s)
{
	const struct roster *r = b->sample->roster;
	int64_t deadline, t0;
	size_t i, j, k, n;
	int round;

	for (i = 0; i < r->n_departments && i < BENCH_MAX_AGENTS; i++) {
		struct bench_agent *a = &b->agents[i];
		char *key = xasprintf("keys/agent-%s.key", r->departments[i].id);

		a->dept = r->departments[i].id;
		a->s = bench_client(b, "agents", key);
		free(key);
		if (a->s == NULL)
			return -1;
		b->n_agents++;
	}
	t0 = 0;
	for (round = 1; round <= 2; round++) {
		for (i = 0; i < b->n_agents; i++) {
			Envelope e;
			Muster__Register reg;

			muster__envelope__init(&e);
			muster__register__init(&reg);
			reg.agent_version = "bench_muster";
			e.body_case = MUSTER__ENVELOPE__BODY_REGISTER;
			e.register_ = &reg;
			if (bench_send(b, b->agents[i].s, &e, (b->seq + 1) | BENCH_NOT_RECEIPT) !=
			    0)
				return -1;
		}
		deadline = util_mono_ns() + 10 * (int64_t)BENCH_WAIT_MS * 1000000;
		for (i = 0; i < b->n_agents;) {
			if (b->agents[i].registered >= round) {
				i++;
				continue;
			}
			if (util_mono_ns() > deadline || bench_pump(b, 100) < 0) {
				fprintf(stderr, "bench_muster: agent:%s was not registered\n",
					b->agents[i].dept);
				return -1;
			}
		}
		if (round == 2)
			break;
		t0 = util_mono_ns();
		for (i = 0; i < b->n_agents; i++) {
			struct bench_agent *a = &b->agents[i];

			for (j = 0; j < a->n_units; j += BENCH_CHUNK) {
				Muster__UnitState us[BENCH_CHUNK], *usp[BENCH_CHUNK];
				Muster__Coordinates co[BENCH_CHUNK];
				Muster__Heartbeat hb;
				Envelope e;

				n = a->n_units - j < BENCH_CHUNK ? a->n_units - j : BENCH_CHUNK;
				for (k = 0; k < n; k++) {
					muster__unit_state__init(&us[k]);
					muster__coordinates__init(&co[k]);
					co[k].lat = a->lat[j + k];
					co[k].lon = a->lon[j + k];
					us[k].unit_id = a->unit_ids[j + k];
					us[k].position = &co[k];
					us[k].status = MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
					usp[k] = &us[k];
				}
				muster__envelope__init(&e);
				muster__heartbeat__init(&hb);
				hb.units = usp;
				hb.n_units = n;
				e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
				e.heartbeat = &hb;
				if (bench_send(b, a->s, &e, (b->seq + 1) | BENCH_NOT_RECEIPT) != 0)
					return -1;
			}
		}
	}
	/* The second Registered of each agent follows its heartbeats on the same socket. */
	*hb_s = bench_s(t0, util_mono_ns());
	return 0;
}

/* The echo side of the floor: a CURVE ROUTER sending every message back to its sender, until
 * an empty one. */
struct bench_echo {
	void *ctx, *s;
	int rc;
};

/* Thread body of the echo server. */
static void *
bench_echo_main(void *arg)
{
	struct bench_echo *x = arg;

	x->rc = -1;
	for (;;) {
		zmq_msg_t id, body;
		int empty;

		if (zmq_msg_init(&id) != 0 || zmq_msg_init(&body) != 0)
			return NULL;
		if (zmq_msg_recv(&id, x->s, 0) < 0 || zmq_msg_recv(&body, x->s, 0) < 0) {
			(void)zmq_msg_close(&id);
			(void)zmq_msg_close(&body);
			return NULL;
		}
		empty = zmq_msg_size(&body) == 0;
		if (zmq_msg_send(&id, x->s, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, x->s, 0) < 0) {
			(void)zmq_msg_close(&id);
			(void)zmq_msg_close(&body);
			return NULL;
		}
		if (empty)
			break;
	}
	x->rc = 0;
	return NULL;
}

/* Measures N bare round trips DEALER -> ROUTER -> DEALER over ipc with CURVE, each carrying a
 * packed SubmitIncident, into T (ns). The ROUTER runs in a thread with its own context (its
 * own I/O thread). Returns 0, or -1 after saying why. */
static int
bench_floor_zmq(struct bench *b, int64_t *t, size_t n)
{
	struct bench_echo x = {0};
	char spub[41], ssec[41], cpub[41], csec[41], err[256];
	char *sk = xasprintf("%s/keys/musterd.key", b->dir),
	     *ck = xasprintf("%s/keys/operator.key", b->dir);
	char *ep = xasprintf("ipc://%s/floor", b->dir);
	int one = 1, zero = 0, timeout = BENCH_WAIT_MS, rc = -1;
	void *cs = NULL;
	pthread_t th;
	size_t i, len;
	uint8_t *buf = NULL, back[4096];
	Envelope e;
	Muster__SubmitIncident si;
	Muster__Location loc;

	if (cfg_read_key_file(sk, spub, ssec, err, sizeof err) != 0 ||
	    cfg_read_key_file(ck, cpub, csec, err, sizeof err) != 0) {
		fprintf(stderr, "bench_muster: %s\n", err);
		goto out;
	}
	x.ctx = zmq_ctx_new();
	x.s = x.ctx ? zmq_socket(x.ctx, ZMQ_ROUTER) : NULL;
	if (x.s == NULL || zmq_setsockopt(x.s, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
	    zmq_setsockopt(x.s, ZMQ_CURVE_SECRETKEY, ssec, 40) != 0 ||
	    zmq_setsockopt(x.s, ZMQ_LINGER, &zero, sizeof zero) != 0 || zmq_bind(x.s, ep) != 0) {
		fprintf(stderr, "bench_muster: floor server: %s\n", zmq_strerror(errno));
		goto out;
	}
	cs = bench_socket(b->ctx, ep, spub, cpub, csec);
	if (cs == NULL || zmq_setsockopt(cs, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0)
		goto out;
	if (pthread_create(&th, NULL, bench_echo_main, &x) != 0) {
		fprintf(stderr, "bench_muster: pthread_create failed\n");
		goto out;
	}
	muster__envelope__init(&e);
	muster__submit_incident__init(&si);
	muster__location__init(&loc);
	loc.place = "s01-c01";
	si.type = "fire.ebike";
	si.location = &loc;
	si.description = "bench_muster";
	si.reporter = "bench";
	si.tier = 2;
	si.tier_reason = "bench_muster: tier II muster";
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	e.version = WIRE_VERSION;
	e.seq = 1;
	e.correlation_id = 1;
	buf = wire_pack(&e, &len);
	rc = 0;
	for (i = 0; i < BENCH_RTT_WARMUP + n; i++) {
		int64_t t0 = util_mono_ns();

		if (zmq_send(cs, buf, len, 0) != (int)len ||
		    zmq_recv(cs, back, sizeof back, 0) != (int)len) {
			fprintf(stderr, "bench_muster: floor round trip: %s\n",
				zmq_strerror(errno));
			rc = -1;
			break;
		}
		if (i >= BENCH_RTT_WARMUP)
			t[i - BENCH_RTT_WARMUP] = util_mono_ns() - t0;
	}
	/* The empty message stops the echo thread (its echo is read back first). */
	if (zmq_send(cs, "", 0, 0) != 0 || zmq_recv(cs, back, sizeof back, 0) != 0) {
		rc = -1;
		/* Wakes the echo thread out of its receive, should it still be waiting. */
		if (zmq_ctx_shutdown(x.ctx) != 0)
			fprintf(stderr, "bench_muster: zmq_ctx_shutdown: %s\n",
				zmq_strerror(errno));
	}
	if (pthread_join(th, NULL) != 0 || x.rc != 0)
		rc = -1;
out:
	free(buf);
	if (cs != NULL && zmq_close(cs) != 0)
		rc = -1;
	if (x.s != NULL && zmq_close(x.s) != 0)
		rc = -1;
	if (x.ctx != NULL && zmq_ctx_term(x.ctx) != 0)
		rc = -1;
	free(sk);
	free(ck);
	free(ep);
	return rc;
}

/* Measures N commits of one small insert each into T (ns), in a fresh SQLite file beside the
 * daemon's, with the daemon's settings: exclusive locking, WAL, synchronous=FULL. Returns 0,
 * or -1 after saying why. */
static int
bench_floor_sqlite(struct bench *b, int64_t *t, size_t n)
{
	char *path = xasprintf("%s/floor.db", b->dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
			 "CREATE TABLE floor (id INTEGER PRIMARY KEY, wall INTEGER, body TEXT);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO floor (wall, body) VALUES (?, ?)", -1, &st, NULL) !=
		SQLITE_OK) {
		fprintf(stderr, "bench_muster: %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	for (i = 0; i < 10 + n; i++) {
		int64_t t0 = util_mono_ns();

		if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 1, util_wall_ms()) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, "{\"kind\":\"incident.opened\",\"bench\":true}", -1,
				      SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "bench_muster: %s: %s\n", path, sqlite3_errmsg(db));
			goto out;
		}
		if (i >= 10)
			t[i - 10] = util_mono_ns() - t0;
	}
	rc = 0;
out:
	if (st != NULL && sqlite3_finalize(st) != SQLITE_OK)
		rc = -1;
	if (db != NULL && sqlite3_close(db) != SQLITE_OK)
		rc = -1;
	free(path);
	return rc;
}

/* Returns how many members the plan of TYPE names at TIER (1..3), or 0. */
static size_t
bench_planned(const struct plans *ps, const char *type, int tier)
{
	const struct plan *p = plan_find(ps, type);
	const struct plan_tier *pt = p && tier >= 1 && tier <= 3 ? p->tiers[tier - 1] : NULL;
	size_t g, s, n = 0;

	for (g = 0; pt != NULL && g < pt->n_groups; g++)
		for (s = 0; s < pt->groups[g].n_specs; s++)
			n += (size_t)pt->groups[g].specs[s].count;
	return n;
}

/* Pumps until every receipt is acknowledged and CANCELS cancels arrived, or 10 s pass.
 * Returns 0, or -1 when it did not settle. */
static int
bench_settle(struct bench *b, size_t cancels)
{
	int64_t deadline = util_mono_ns() + 10000000000LL;

	while (b->acks_due > 0 || b->cancels < cancels) {
		if (util_mono_ns() > deadline || bench_pump(b, 50) < 0)
			return -1;
	}
	return 0;
}

/* Runs WARM + N tier II musters one after another, each at a random community with the next
 * plan type, each closed before the next; fills LAT_REPLY and LAT_ORDERS (ns, N each) and
 * ORDERS (per muster). Returns how many were measured. */
static size_t
bench_latency(struct bench *b, size_t n, int64_t *lat_reply, int64_t *lat_orders, int64_t *orders,
	      size_t *wrong, size_t *unfilled)
{
	const struct district *d = b->sample->district;
	const struct plans *ps = b->sample->plans;
	const struct place **comm = xcalloc(d->n_places + 1, sizeof *comm);
	const char **types = xcalloc(ps->n_plans + 1, sizeof *types);
	size_t n_comm = 0, n_types = 0, i, k, got = 0;
	uint64_t s = 77;

	for (i = 0; i < d->n_places; i++)
		if (d->places[i].kind == PLACE_COMMUNITY)
			comm[n_comm++] = &d->places[i];
	for (i = 0; i < ps->n_plans; i++)
		if (ps->plans[i].tiers[1] != NULL)
			types[n_types++] = ps->plans[i].type;
	for (k = 0; n_comm > 0 && n_types > 0 && k < BENCH_WARMUP + n; k++) {
		const char *type = types[k % n_types];
		const struct place *c = comm[bench_rng_next(&s) % n_comm];
		long r1 = bench_submit(b, type, c->id, 0, 0, 2, "bench_muster: tier II muster");
		long r2, r3;
		size_t want, cancels;
		uint64_t id;
		int64_t deadline;

		if (bench_await(b, r1) != 0)
			break;
		if (b->reqs[r1].body != MUSTER__ENVELOPE__BODY_INCIDENT_REPLY ||
		    b->reqs[r1].state != MUSTER__INCIDENT_STATE__INCIDENT_OPEN ||
		    b->reqs[r1].tier != 2) {
			if ((*wrong)++ < BENCH_SHOWN)
				printf("WRONG: %s at %s: %s (state %d, tier %d)\n", type, c->id,
				       b->reqs[r1].why ? b->reqs[r1].why
						       : "not an open tier II incident",
				       b->reqs[r1].state, b->reqs[r1].tier);
			continue;
		}
		id = b->reqs[r1].incident;
		r2 = bench_get(b, id);
		if (bench_await(b, r2) != 0)
			break;
		want = b->reqs[r2].sent_members;
		if (b->reqs[r2].members < bench_planned(ps, type, 2))
			*unfilled += bench_planned(ps, type, 2) - b->reqs[r2].members;
		deadline = util_mono_ns() + (int64_t)BENCH_WAIT_MS * 1000000;
		while (bench_inc(b, id)->orders < want && util_mono_ns() < deadline)
			if (bench_pump(b, 100) < 0)
				break;
		if (want == 0 || bench_inc(b, id)->orders != want || want != b->reqs[r2].members) {
			if ((*wrong)++ < BENCH_SHOWN)
				printf(
				    "WRONG: incident %llu (%s): %zu members, %zu orders sent, %u "
				    "arrived\n",
				    (unsigned long long)id, type, b->reqs[r2].members, want,
				    bench_inc(b, id)->orders);
		} else if (k >= BENCH_WARMUP) {
			lat_reply[got] = b->reqs[r1].reply_ns - b->reqs[r1].sent_ns;
			lat_orders[got] = bench_inc(b, id)->last_order_ns - b->reqs[r1].sent_ns;
			orders[got] = (int64_t)want;
			got++;
		}
		/* Release the units, and let the cancels and receipts' acks pass before the next.
		 */
		cancels = b->cancels + bench_inc(b, id)->orders;
		r3 = bench_close(b, id);
		if (bench_await(b, r3) != 0)
			break;
		if (b->reqs[r3].body != MUSTER__ENVELOPE__BODY_INCIDENT_REPLY &&
		    (*wrong)++ < BENCH_SHOWN)
			printf("WRONG: closing incident %llu: %s\n", (unsigned long long)id,
			       b->reqs[r3].why ? b->reqs[r3].why : "?");
		if (bench_settle(b, cancels) != 0 && (*wrong)++ < BENCH_SHOWN)
			printf(
			    "WRONG: incident %llu: %zu receipts unanswered, %zu of %zu cancels\n",
			    (unsigned long long)id, b->acks_due, b->cancels, cancels);
	}
	free((void *)comm);
	free((void *)types);
	return got;
}

/* What the surge measured. */
struct bench_surge {
	size_t n_types, sent, open, linked, errors, other, unfilled_incidents, unfilled;
	int over_budget; /* stopped submitting when the time budget ran out */
	double seconds, orders_s;
	size_t orders;
	int64_t *lat; /* request to reply, ns, per answered request */
	size_t n_lat;
};

/* Submits N tier III incidents (operator override) with up to BENCH_WINDOW in flight, each
 * type on its own lattice of points about 400 m apart so the duplicate-report linker keeps
 * them apart; then waits for their orders to settle. */
static void
bench_surge(struct bench *b, size_t n, double budget_s, struct bench_surge *out)
{
	const struct district *d = b->sample->district;
	const struct plans *ps = b->sample->plans;
	const char **types = xcalloc(ps->n_plans + 1, sizeof *types);
	size_t n_types = 0, i, first = b->n_reqs, replies0 = b->replies, orders0 = b->orders;
	double step_lat = 0.0036, step_lon = 0.0042; /* about 400 m each way */
	size_t rows = (size_t)((d->north - d->south - 0.004) / step_lat) + 1;
	size_t cols = (size_t)((d->east - d->west - 0.004) / step_lon) + 1;
	int64_t t0, t_last = 0, progress;
	int failed = 0;

	memset(out, 0, sizeof *out);
	for (i = 0; i < ps->n_plans; i++)
		if (ps->plans[i].tiers[2] != NULL)
			types[n_types++] = ps->plans[i].type;
	out->n_types = n_types;
	out->lat = xcalloc(n + 1, sizeof *out->lat);
	t0 = progress = util_mono_ns();
	while (n_types > 0 && !failed) {
		size_t done = b->replies - replies0;
		long got;

		if (out->sent < n && bench_s(t0, util_mono_ns()) > budget_s) {
			out->over_budget = 1;
			n = out->sent;
		}
		while (out->sent < n && out->sent - done < BENCH_WINDOW) {
			/* The j-th incident of a type goes to lattice point j * 7919 mod the
			 * points: spread over the district, never the same point twice per type. */
			size_t j = out->sent / n_types, pt = (j * 7919) % (rows * cols);
			double lat = d->south + 0.002 + step_lat * (double)(pt / cols);
			double lon = d->west + 0.002 + step_lon * (double)(pt % cols);

			if (bench_submit(b, types[out->sent % n_types], NULL, lat, lon, 3,
					 "bench_muster: surge") < 0) {
				failed = 1;
				break;
			}
			out->sent++;
		}
		got = bench_pump(b, 100);
		if (got < 0)
			break;
		/* A whole window can be one batch: its replies leave together after its commit,
		 * so allow two minutes without a reply before giving up on the rest. */
		if (b->replies - replies0 > done)
			progress = util_mono_ns();
		else if (util_mono_ns() - progress > 2 * (int64_t)BENCH_WAIT_MS * 1000000) {
			printf("NOT COMPLETED: no reply for %d s; %zu of %zu answered\n",
			       2 * BENCH_WAIT_MS / 1000, done, out->sent);
			out->over_budget = 1;
			break;
		}
		if (out->sent >= n && b->replies - replies0 >= out->sent)
			break;
	}
	for (i = first; i < b->n_reqs; i++) {
		const struct bench_req *q = &b->reqs[i];

		if (q->body == 0)
			continue;
		if (q->reply_ns > t_last)
			t_last = q->reply_ns;
		out->lat[out->n_lat++] = q->reply_ns - q->sent_ns;
		if (q->body == MUSTER__ENVELOPE__BODY_ERROR) {
			if (out->errors++ < BENCH_SHOWN)
				printf("WRONG: surge request %zu: %s\n", i + 1 - first,
				       q->why ? q->why : "?");
		} else if (q->state == MUSTER__INCIDENT_STATE__INCIDENT_LINKED) {
			out->linked++;
		} else if (q->state == MUSTER__INCIDENT_STATE__INCIDENT_OPEN && q->tier == 3) {
			out->open++;
		} else {
			out->other++;
		}
	}
	out->seconds = bench_s(t0, t_last);
	/* Orders keep arriving after the last reply while the agents catch up: wait until a
	 * second passes without one and every receipt is acknowledged. */
	progress = util_mono_ns();
	while (util_mono_ns() - progress < 1000000000LL || b->acks_due > 0) {
		size_t before = b->orders;

		if (bench_pump(b, 100) < 0 || util_mono_ns() - t_last > 30000000000LL)
			break;
		if (b->orders > before)
			progress = util_mono_ns();
	}
	out->orders = b->orders - orders0;
	out->orders_s = out->orders ? bench_s(t0, b->last_order_ns) : 0;
	for (i = first; i < b->n_reqs; i++) {
		const struct bench_req *q = &b->reqs[i];
		size_t want, have;

		if (q->body != MUSTER__ENVELOPE__BODY_INCIDENT_REPLY ||
		    q->state != MUSTER__INCIDENT_STATE__INCIDENT_OPEN)
			continue;
		want = bench_planned(ps, types[(i - first) % n_types], 3);
		have = bench_inc(b, q->incident)->orders;
		if (have < want) {
			out->unfilled_incidents++;
			out->unfilled += want - have;
		}
	}
	free((void *)types);
}

/* Prints a row of a timing table from the N timings in V (sorted in place), in ms. */
static void
bench_row(const char *what, int64_t *v, size_t n)
{
	double p50 = bench_percentile_us(v, n, 50), p99 = bench_percentile_us(v, n, 99);
	double max = n ? (double)v[n - 1] / 1e3 : 0;

	printf("  %-46s %9.3f %9.3f %9.3f\n", what, p50 / 1e3, p99 / 1e3, max / 1e3);
}

/* Names the file system type of PATH, with what it means for fsync. */
static const char *
bench_fs(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return "unknown file system";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:
		return "ext4";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x01021994UL:
		return "tmpfs (fsync costs nothing here: not a disk's figures)";
	case 0x794C7630UL:
		return "overlayfs";
	default:
		return "other file system";
	}
}

/* Frees what the run holds (the daemon is stopped by then). */
static void
bench_finish(struct bench *b)
{
	size_t i, j;

	for (i = 0; i < b->n_agents; i++) {
		struct bench_agent *a = &b->agents[i];

		if (a->s != NULL && zmq_close(a->s) != 0)
			fprintf(stderr, "bench_muster: zmq_close: %s\n", zmq_strerror(errno));
		for (j = 0; j < a->n_units; j++)
			free(a->unit_ids[j]);
		free(a->unit_ids);
		free(a->lat);
		free(a->lon);
	}
	if (b->op != NULL && zmq_close(b->op) != 0)
		fprintf(stderr, "bench_muster: zmq_close: %s\n", zmq_strerror(errno));
	if (b->ctx != NULL && zmq_ctx_term(b->ctx) != 0)
		fprintf(stderr, "bench_muster: zmq_ctx_term: %s\n", zmq_strerror(errno));
	for (i = 0; i < b->n_reqs; i++)
		free(b->reqs[i].why);
	free(b->reqs);
	free(b->incs);
	free(b->seen);
	cfg_free(b->sample);
}

int
main(int argc, char **argv)
{
	size_t n_units = 100000, n_inc = 200, n_surge = 10000, i, got, wrong = 0, unfilled = 0;
	size_t total_units = 0, available = 0, rejected = 0;
	struct bench b;
	struct bench_surge sg;
	const char *tmp = getenv("TMPDIR"), *budget = getenv("BENCH_MUSTER_BUDGET_S"), *verdict;
	char *musterd = NULL;
	int64_t t0, *rtt = NULL, *commits = NULL, *lat_reply = NULL, *lat_orders = NULL;
	int64_t *orders = NULL;
	double cfg_s = 0, ready_s = 0, hb_s = 0, zmq_us, sql_us, floor_us, p50_us, cpu0, cpu1;
	double orders_med, budget_s = 60;
	int status;

	memset(&b, 0, sizeof b);
	memset(&sg, 0, sizeof sg);
	if (argc > 4) {
		fprintf(stderr, "usage: bench_muster [UNITS [INCIDENTS [SURGE]]]\n");
		return 2;
	}
	if (argc > 1)
		n_units = bench_parse_count(argv[1]);
	if (argc > 2)
		n_inc = bench_parse_count(argv[2]);
	if (argc > 3)
		n_surge = bench_parse_count(argv[3]);
	if (budget != NULL)
		budget_s = (double)bench_parse_count(budget);
	/* Line by line, so that progress shows under `meson test -v`. */
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		return 1;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(b.dir, sizeof b.dir, "%s/bench-muster-XXXXXX", tmp);
	if (mkdtemp(b.dir) == NULL) {
		fprintf(stderr, "bench_muster: mkdtemp %s: %s\n", b.dir, strerror(errno));
		return 1;
	}
	musterd = bench_musterd_path();

	t0 = util_mono_ns();
	if (bench_configure(&b, n_units) != 0)
		goto out;
	cfg_s = bench_s(t0, util_mono_ns());
	t0 = util_mono_ns();
	/* Before any ZeroMQ context exists: fork only a process with no threads of ours. */
	if (bench_start_daemon(&b, musterd) != 0)
		goto out;
	ready_s = bench_s(t0, util_mono_ns());
	printf("bench_muster: %zu units written in %.1f s, musterd ready in %.1f s; registering "
	       "and heartbeating every unit...\n",
	       n_units + b.sample->roster->n_units, cfg_s, ready_s);
	b.ctx = zmq_ctx_new();
	if (b.ctx == NULL || (b.op = bench_client(&b, "control", "keys/operator.key")) == NULL ||
	    bench_muster_agents(&b, &hb_s) != 0)
		goto out;
	for (i = 0; i < b.n_agents; i++) {
		total_units += b.agents[i].n_units;
		available += b.agents[i].available;
		rejected += b.agents[i].rejected;
	}

	printf("muster: %zu units (the sample's %zu and %zu clones), %zu places, %zu "
	       "departments, %zu people, %zu experts, %zu plan types\n",
	       total_units, b.sample->roster->n_units, n_units, b.sample->district->n_places,
	       b.sample->roster->n_departments, b.sample->roster->n_people,
	       b.sample->roster->n_experts, b.sample->plans->n_plans);
	printf("musterd %s (pid %ld), ipc endpoints, database on %s\n", musterd, (long)b.daemon,
	       bench_fs(b.dir));
	printf("setup: configuration written in %.1f s; musterd ready in %.1f s; %zu agents "
	       "registered; heartbeats of %zu units (%d per heartbeat) applied in %.1f s\n",
	       cfg_s, ready_s, b.n_agents, total_units, BENCH_CHUNK, hb_s);
	if (available != total_units || rejected != 0 || total_units == 0)
		printf("WRONG: %zu of %zu units available after the heartbeats, %zu refused\n",
		       available, total_units, rejected);
	else
		printf("units available (read back from the daemon): all %zu\n", available);

	/* The floor, in the same run, on the same machine, next to the running daemon. */
	rtt = xcalloc(BENCH_RTTS, sizeof *rtt);
	commits = xcalloc(BENCH_COMMITS, sizeof *commits);
	if (bench_floor_zmq(&b, rtt, BENCH_RTTS) != 0 ||
	    bench_floor_sqlite(&b, commits, BENCH_COMMITS) != 0)
		goto out;
	zmq_us = bench_percentile_us(rtt, BENCH_RTTS, 50);
	sql_us = bench_percentile_us(commits, BENCH_COMMITS, 50);
	floor_us = zmq_us + sql_us;

	lat_reply = xcalloc(n_inc, sizeof *lat_reply);
	lat_orders = xcalloc(n_inc, sizeof *lat_orders);
	orders = xcalloc(n_inc, sizeof *orders);
	cpu0 = bench_cpu_s(b.daemon);
	t0 = util_mono_ns();
	got = bench_latency(&b, n_inc, lat_reply, lat_orders, orders, &wrong, &unfilled);
	cpu1 = bench_cpu_s(b.daemon);
	orders_med = bench_percentile_us(orders, got, 50) * 1e3;

	printf("\nfloor (same run, medians; p99 and max beside)       median ms    p99 ms    max "
	       "ms\n");
	bench_row("ZeroMQ CURVE round trip over ipc", rtt, BENCH_RTTS);
	bench_row("SQLite commit (WAL, synchronous=FULL)", commits, BENCH_COMMITS);
	printf("  %-46s %9.3f\n", "floor = round trip + commit", floor_us / 1e3);

	printf("\ntier II musters: %zu measured (%d warm-up before), %zu orders each (median),\n"
	       "one at a time, each closed before the next   median ms    p99 ms    max ms\n",
	       got, BENCH_WARMUP, (size_t)orders_med);
	bench_row("request -> reply", lat_reply, got);
	bench_row("request -> last order on the agents' sockets", lat_orders, got);
	p50_us = bench_percentile_us(lat_orders, got, 50);
	verdict = got == 0 ? "no muster measured" : p50_us <= 2 * floor_us ? "met" : "NOT met";
	printf("ratio p50 / floor: %.2f (aim: within 2x: %s); p99 / floor: %.2f\n",
	       floor_us > 0 ? p50_us / floor_us : 0.0, verdict,
	       floor_us > 0 ? bench_percentile_us(lat_orders, got, 99) / floor_us : 0.0);
	if (cpu0 >= 0 && cpu1 >= 0 && got > 0)
		printf("musterd CPU per muster (submit, get and close, all of the phase): %.2f ms "
		       "over %.1f s\n",
		       (cpu1 - cpu0) * 1e3 / (double)(got + BENCH_WARMUP),
		       bench_s(t0, util_mono_ns()));
	if (wrong > 0)
		printf("\n*** WRONG: %zu tier II musters went wrong (see above) ***\n", wrong);
	if (unfilled > 0)
		printf("WRONG: %zu places of tier II plans were not filled, with units to spare\n",
		       unfilled);

	cpu0 = bench_cpu_s(b.daemon);
	bench_surge(&b, n_surge, budget_s, &sg);
	cpu1 = bench_cpu_s(b.daemon);
	printf("\nsurge: %zu tier III incidents (operator override), %d in flight, %zu types "
	       "each on a 400 m lattice\n",
	       sg.sent, BENCH_WINDOW, sg.n_types);
	printf("  answered in %.2f s: %.0f incidents/s; %zu opened, %zu linked as duplicates, %zu "
	       "errors, %zu other\n",
	       sg.seconds, sg.seconds > 0 ? (double)sg.n_lat / sg.seconds : 0.0, sg.open, sg.linked,
	       sg.errors, sg.other);
	printf("  %-46s %9s %9s %9s\n", "", "median ms", "p99 ms", "max ms");
	bench_row("request -> reply", sg.lat, sg.n_lat);
	printf("  orders: %zu delivered, the last %.2f s after the first request (%.0f orders/s); "
	       "%zu incidents short of %zu places (units ran out nearby)\n",
	       sg.orders, sg.orders_s, sg.orders_s > 0 ? (double)sg.orders / sg.orders_s : 0.0,
	       sg.unfilled_incidents, sg.unfilled);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf("  musterd CPU during the surge: %.1f s; re-sent orders seen: %zu; notices: "
		       "%zu\n",
		       cpu1 - cpu0, b.resends, b.notices);
	if (sg.over_budget)
		printf("\n*** NOT COMPLETED: the surge ran out of its %.0f s budget "
		       "(BENCH_MUSTER_BUDGET_S): %zu of %zu incidents sent, %zu answered ***\n",
		       budget_s, sg.sent, n_surge, sg.n_lat);
	if (b.late_receipts > 0)
		printf("  receipts refused as too late (the order was already taken back): %zu\n",
		       b.late_receipts);
	if (sg.errors > 0 || sg.other > 0 || (!sg.over_budget && sg.n_lat < n_surge))
		printf(
		    "\n*** WRONG: surge: %zu errors, %zu unexpected replies, %zu of %zu answered "
		    "***\n",
		    sg.errors, sg.other, sg.n_lat, n_surge);
	if (b.agent_errors > 0 || b.strays > 0)
		printf("\n*** WRONG: %zu errors on the agents' sockets, %zu stray replies ***\n",
		       b.agent_errors, b.strays);
	printf("\nmusterd peak RSS %.0f MiB\n", bench_peak_rss_mib(b.daemon));
out:
	fflush(stdout);
	free(sg.lat);
	free(rtt);
	free(commits);
	free(lat_reply);
	free(lat_orders);
	free(orders);
	if (b.daemon > 0) {
		status = bench_stop_daemon(&b);
		if (status != 0) {
			printf("WRONG: musterd exited with status %d\n", status);
			bench_log_tail(&b);
		}
	}
	bench_finish(&b);
	if (getenv("BENCH_MUSTER_KEEP") != NULL)
		printf("kept %s\n", b.dir);
	else if (nftw(b.dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_muster: cannot remove %s\n", b.dir);
	free(musterd);
	return 0;
}
