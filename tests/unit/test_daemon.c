/* test_daemon: the daemon core in one process: dispatch, authorisation, per-request
 * savepoints, the commit-then-send flush (bus), incident and agent handlers, and reload.
 * Real CURVE sockets over ipc:// in a temporary directory, a real SQLite file. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"

#include "agents.h"
#include "cfg.h"
#include "daemon.h"
#include "init.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "wire.h"

#include <event2/event.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

int main(void);

/* Runs one test function that takes the fixture, and says so. */
#define RUN_FX(fn)                                                                                 \
	do {                                                                                       \
		int before_ = test_failures;                                                       \
		fn(&fx);                                                                           \
		printf("%s %s\n", test_failures == before_ ? "ok" : "FAIL", #fn);                  \
	} while (0)

static char dir[] = "/tmp/muster-test-daemon-XXXXXX";

/* One running daemon and a client socket per role used. */
struct fixture {
	struct event_base *base;
	struct daemon *d;
	void *ctx;
	void *op;   /* operator:duty on control */
	void *fire; /* agent:fire on agents */
	void *obs;  /* observer:wall on control */
	uint64_t seq;
};

/* nftw callback: removes one entry. */
static int
rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Returns a new configuration in DIR with ipc endpoints, or NULL. */
static struct config *
make_config(void)
{
	char *err = NULL, *path, *text;
	FILE *f;
	struct config *c;

	if (init_write(dir, 1, &err) != 0) {
		fprintf(stderr, "init_write: %s\n", err);
		free(err);
		return NULL;
	}
	path = xasprintf("%s/musterd.conf", dir);
	text = xasprintf("database = \"muster.db\";\n"
			 "control = \"ipc://%s/control\";\n"
			 "agents = \"ipc://%s/agents\";\n"
			 "feed = \"ipc://%s/feed\";\n"
			 "checkpoint_idle_ms = 60000;\n",
			 dir, dir, dir);
	f = fopen(path, "w");
	CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
	c = cfg_load(path, &err);
	if (c == NULL)
		fprintf(stderr, "cfg_load: %s\n", err ? err : "?");
	free(err);
	free(text);
	free(path);
	return c;
}

/* Returns a CURVE DEALER connected to ENDPOINT with the key in DIR/keys/NAME. */
static void *
client(struct fixture *fx, const char *endpoint, const char *name)
{
	char pub[41], sec[41], spub[41], err[256];
	char *kp = xasprintf("%s/keys/%s", dir, name), *sp = xasprintf("%s/keys/musterd.pub", dir);
	void *s = zmq_socket(fx->ctx, ZMQ_DEALER);
	int linger = 0;

	CHECK(cfg_read_key_file(kp, pub, sec, err, sizeof err) == 0);
	CHECK(cfg_read_key_file(sp, spub, NULL, err, sizeof err) == 0);
	CHECK(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, spub, 40) == 0);
	CHECK(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40) == 0);
	CHECK(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40) == 0);
	CHECK(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) == 0);
	CHECK(zmq_connect(s, endpoint) == 0);
	free(kp);
	free(sp);
	return s;
}

/* Sends E from S with a fresh seq and correlation id; returns the correlation id. */
static uint64_t
send_env(struct fixture *fx, void *s, Envelope *e)
{
	size_t len;
	uint8_t *buf;

	e->version = WIRE_VERSION;
	e->seq = ++fx->seq;
	e->correlation_id = 5000 + fx->seq;
	buf = wire_pack(e, &len);
	CHECK(zmq_send(s, buf, len, 0) == (int)len);
	free(buf);
	return e->correlation_id;
}

/* Runs the daemon's loop until S has a reply for CORR (returned, free with wire_free) or
 * five seconds pass (NULL). */
static Envelope *
await(struct fixture *fx, void *s, uint64_t corr)
{
	int64_t deadline = util_wall_ms() + 5000;

	while (util_wall_ms() < deadline) {
		zmq_pollitem_t pi = {.socket = s, .events = ZMQ_POLLIN};

		event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (zmq_poll(&pi, 1, 5) == 1) {
			zmq_msg_t m;
			Envelope *e;
			int code;
			const char *why;

			zmq_msg_init(&m);
			CHECK(zmq_msg_recv(&m, s, 0) >= 0);
			e = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &code, &why);
			zmq_msg_close(&m);
			if (e && e->correlation_id == corr)
				return e;
			wire_free(e);
		}
	}
	return NULL;
}

/* Sends E from S and waits for its reply. */
static Envelope *
call(struct fixture *fx, void *s, Envelope *e)
{
	return await(fx, s, send_env(fx, s, e));
}

/* Builds a SubmitIncident envelope at PLACE into E (pointing at the given parts). */
static void
submission(Envelope *e, Muster__SubmitIncident *si, Muster__Location *loc, const char *place)
{
	muster__envelope__init(e);
	muster__submit_incident__init(si);
	muster__location__init(loc);
	loc->place = (char *)place;
	si->type = "fire.ebike";
	si->location = loc;
	e->body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e->submit_incident = si;
}

/* Returns how many incidents the store holds (open and closed). */
static size_t
count_incidents(struct fixture *fx)
{
	Muster__Incident **v;
	size_t n = 0;
	int more;

	CHECK(store_list_incidents(fx->d->store, 1, 0, 1000, &v, &n, &more) == 0);
	store_free_incidents(v, n);
	return n;
}

/* ---- a SQLite VFS that can be told to fail fsync, to make a commit fail for real ---- */

static sqlite3_vfs *shim_real; /* the default VFS we wrap */
static volatile int shim_fail; /* while set, xSync fails */
static int shim_failed;	       /* how many syncs were failed */

/* A file of the shim: the real file's state follows this header in the same allocation. */
struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static int
shim_close(sqlite3_file *f)
{
	return ((struct shim_file *)f)->real->pMethods->xClose(((struct shim_file *)f)->real);
}

/* Each method but xSync passes straight through to the real file. */
#define SHIM_REAL(f) (((struct shim_file *)(f))->real)
static int
shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return SHIM_REAL(f)->pMethods->xRead(SHIM_REAL(f), b, n, o);
}
static int
shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return SHIM_REAL(f)->pMethods->xWrite(SHIM_REAL(f), b, n, o);
}
static int
shim_truncate(sqlite3_file *f, sqlite3_int64 n)
{
	return SHIM_REAL(f)->pMethods->xTruncate(SHIM_REAL(f), n);
}
static int
shim_sync(sqlite3_file *f, int flags)
{
	if (shim_fail) {
		shim_failed++;
		return SQLITE_IOERR_FSYNC;
	}
	return SHIM_REAL(f)->pMethods->xSync(SHIM_REAL(f), flags);
}
static int
shim_size(sqlite3_file *f, sqlite3_int64 *n)
{
	return SHIM_REAL(f)->pMethods->xFileSize(SHIM_REAL(f), n);
}
static int
shim_lock(sqlite3_file *f, int l)
{
	return SHIM_REAL(f)->pMethods->xLock(SHIM_REAL(f), l);
}
static int
shim_unlock(sqlite3_file *f, int l)
{
	return SHIM_REAL(f)->pMethods->xUnlock(SHIM_REAL(f), l);
}
static int
shim_reserved(sqlite3_file *f, int *r)
{
	return SHIM_REAL(f)->pMethods->xCheckReservedLock(SHIM_REAL(f), r);
}
static int
shim_control(sqlite3_file *f, int op, void *a)
{
	return SHIM_REAL(f)->pMethods->xFileControl(SHIM_REAL(f), op, a);
}
static int
shim_sector(sqlite3_file *f)
{
	return SHIM_REAL(f)->pMethods->xSectorSize(SHIM_REAL(f));
}
static int
shim_device(sqlite3_file *f)
{
	return SHIM_REAL(f)->pMethods->xDeviceCharacteristics(SHIM_REAL(f));
}

/* Version 1 methods: no shared memory, which WAL does not use in exclusive locking mode. */
static const sqlite3_io_methods shim_methods = {
    .iVersion = 1,
    .xClose = shim_close,
    .xRead = shim_read,
    .xWrite = shim_write,
    .xTruncate = shim_truncate,
    .xSync = shim_sync,
    .xFileSize = shim_size,
    .xLock = shim_lock,
    .xUnlock = shim_unlock,
    .xCheckReservedLock = shim_reserved,
    .xFileControl = shim_control,
    .xSectorSize = shim_sector,
    .xDeviceCharacteristics = shim_device,
};

/* Opens the real file behind a shim file. */
static int
shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	sf->real = (sqlite3_file *)(sf + 1);
	rc = shim_real->xOpen(shim_real, name, sf->real, flags, out);
	sf->base.pMethods = rc == SQLITE_OK ? &shim_methods : NULL;
	return rc;
}

static sqlite3_vfs shim_vfs;

/* Registers the shim as the default VFS, wrapping the current default. */
static void
shim_install(void)
{
	shim_real = sqlite3_vfs_find(NULL);
	shim_vfs = *shim_real;
	shim_vfs.zName = "failsync";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + shim_real->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pAppData = NULL;
	CHECK(sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK);
}

/* Nothing leaves before the commit. With fsync failing, the operator gets UNAVAILABLE, never
 * the success reply that a send-before-commit daemon would already have sent, and nothing
 * is recorded; once the disk works again the next report commits and the chain is whole. */
static void
test_commit_before_send(struct fixture *fx)
{
	Envelope e, *r;
	Muster__SubmitIncident si;
	Muster__Location loc;
	size_t before = count_incidents(fx);
	uint64_t rows_before, rows_after;
	char *err = NULL;

	CHECK(store_verify_chain(fx->d->store, &rows_before, &err) == 0);
	submission(&e, &si, &loc, "s01-c01");
	shim_fail = 1;
	r = call(fx, fx->op, &e);
	shim_fail = 0;
	CHECK(shim_failed > 0);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r->error->code == MUSTER__ERROR_CODE__UNAVAILABLE);
	wire_free(r);
	CHECK(count_incidents(fx) == before);
	CHECK(fx->d->batch_failures == 1);
	CHECK(store_verify_chain(fx->d->store, &rows_after, &err) == 0);
	CHECK(rows_after == rows_before);

	r = call(fx, fx->op, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_REPLY);
	if (r && r->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_REPLY) {
		CHECK_STR(r->incident_reply->incident->location->community, "s01-c01");
		CHECK_STR(r->incident_reply->incident->location->street, "s01");
		CHECK_STR(r->incident_reply->incident->opened_by, "operator:duty");
	}
	wire_free(r);
	CHECK(count_incidents(fx) == before + 1);
	CHECK(store_verify_chain(fx->d->store, &rows_after, &err) == 0);
	CHECK(rows_after > rows_before);
	free(err);
}

/* Two requests in one batch, one good and one bad: the good one is committed, the bad one
 * leaves no trace, and each gets its own answer. */
static void
test_savepoint_isolation(struct fixture *fx)
{
	Envelope good, bad, *r1, *r2;
	Muster__SubmitIncident si1, si2;
	Muster__Location l1, l2;
	uint64_t c1, c2, rows_before, rows_after, rows_alone;
	size_t before = count_incidents(fx);
	char *err = NULL;

	CHECK(store_verify_chain(fx->d->store, &rows_before, &err) == 0);
	submission(&good, &si1, &l1, "s02-c01");
	submission(&bad, &si2, &l2, "atlantis");
	c1 = send_env(fx, fx->op, &good);
	c2 = send_env(fx, fx->op, &bad);
	r1 = await(fx, fx->op, c1);
	r2 = await(fx, fx->op, c2);
	CHECK(r1 && r1->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_REPLY);
	CHECK(r2 && r2->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r2->error->code == MUSTER__ERROR_CODE__INVALID_ARGUMENT);
	if (r2 && r2->body_case == MUSTER__ENVELOPE__BODY_ERROR)
		CHECK_STR(r2->error->field, "location.place");
	CHECK(count_incidents(fx) == before + 1);
	CHECK(store_verify_chain(fx->d->store, &rows_after, &err) == 0);
	/* The bad request added nothing: the batch added what one good submission alone adds. */
	/* Elsewhere, so that it is not linked to the first as a duplicate report. */
	l1.place = "s09-c01";
	r1 = (wire_free(r1), call(fx, fx->op, &good));
	CHECK(r1 && r1->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_REPLY);
	CHECK(store_verify_chain(fx->d->store, &rows_alone, &err) == 0);
	CHECK(rows_alone - rows_after == rows_after - rows_before);
	free(err);
	wire_free(r1);
	wire_free(r2);
}

/* The role table: an observer reads but may not write; an agent key may not use control. */
static void
test_roles(struct fixture *fx)
{
	Envelope e, *r;
	Muster__SubmitIncident si;
	Muster__Location loc;
	Muster__ListIncidents li;

	submission(&e, &si, &loc, "s01-c01");
	r = call(fx, fx->obs, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r->error->code == MUSTER__ERROR_CODE__FORBIDDEN);
	wire_free(r);
	muster__envelope__init(&e);
	muster__list_incidents__init(&li);
	e.body_case = MUSTER__ENVELOPE__BODY_LIST_INCIDENTS;
	e.list_incidents = &li;
	r = call(fx, fx->obs, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_LIST);
	wire_free(r);
}

/* Returns the number of roster units that agent:fire speaks for. */
static size_t
fire_units(struct fixture *fx)
{
	size_t i, n = 0;

	for (i = 0; i < fx->d->cfg->roster->n_units; i++)
		n += strcmp(fx->d->cfg->roster->units[i].agent, "agent:fire") == 0;
	return n;
}

/* Registration, heartbeats, and a heartbeat that is refused whole: the own unit listed
 * before the foreign one must not change either (never half-applied). */
static void
test_agents(struct fixture *fx)
{
	Envelope e, *r;
	Muster__Register reg;
	Muster__Heartbeat hb;
	Muster__UnitState a, b, *list[2];
	struct unit *own = NULL, *foreign = NULL;
	size_t i;

	muster__envelope__init(&e);
	muster__heartbeat__init(&hb);
	e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	r = call(fx, fx->fire, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r->error->code == MUSTER__ERROR_CODE__NOT_FOUND);
	if (r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR)
		CHECK_STR(r->error->field, "register");
	wire_free(r);

	muster__envelope__init(&e);
	muster__register__init(&reg);
	e.body_case = MUSTER__ENVELOPE__BODY_REGISTER;
	e.register_ = &reg;
	r = call(fx, fx->fire, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_REGISTERED);
	if (r && r->body_case == MUSTER__ENVELOPE__BODY_REGISTERED)
		CHECK(r->registered->n_accepted == fire_units(fx) && fire_units(fx) > 0);
	wire_free(r);
	CHECK(agents_count(fx->d->agents) == 1);

	for (i = 0; i < fx->d->cfg->roster->n_units; i++) {
		struct unit *u = &fx->d->cfg->roster->units[i];

		if (!own && strcmp(u->agent, "agent:fire") == 0)
			own = u;
		if (!foreign && strcmp(u->agent, "agent:police") == 0)
			foreign = u;
	}
	CHECK(own && foreign);
	if (!own || !foreign)
		return;
	muster__unit_state__init(&a);
	muster__unit_state__init(&b);
	a.unit_id = own->id;
	a.status = MUSTER__UNIT_STATUS__UNIT_BUSY;
	b.unit_id = foreign->id;
	b.status = MUSTER__UNIT_STATUS__UNIT_BUSY;
	list[0] = &a;
	list[1] = &b;
	muster__envelope__init(&e);
	muster__heartbeat__init(&hb);
	hb.units = list;
	hb.n_units = 2;
	e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	r = call(fx, fx->fire, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r->error->code == MUSTER__ERROR_CODE__NOT_YOURS);
	wire_free(r);
	CHECK(own->status != UNIT_STATUS_BUSY);

	/* The same heartbeat without the foreign unit applies, and is on the timeline. */
	hb.n_units = 1;
	send_env(fx, fx->fire, &e);
	{
		int64_t deadline = util_wall_ms() + 5000;

		while (own->status != UNIT_STATUS_BUSY && util_wall_ms() < deadline)
			event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	CHECK(own->status == UNIT_STATUS_BUSY);
}

/* A reload that drops the operator's key: its next request is refused, others go on. */
static void
test_reload_revokes(struct fixture *fx)
{
	char *err = NULL, *path = xasprintf("%s/clients.conf", dir), *text, *p, *q;
	FILE *f;
	long n;
	struct config *nc;
	Envelope e, *r;
	Muster__ListIncidents li;

	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	rewind(f);
	text = xcalloc((size_t)n + 1, 1);
	CHECK(fread(text, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	/* Cut the operator's entry: from its "{ id =" to the "; }" that ends it. */
	p = strstr(text, "{ id = \"operator:duty\"");
	q = p ? strstr(p, "; }") : NULL;
	CHECK(p && q);
	if (p && q) {
		q += 3;
		if (*q == ',')
			q++;
		memmove(p, q, strlen(q) + 1);
	}
	f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
	free(text);
	nc = cfg_load(fx->d->cfg->path, &err);
	if (nc == NULL)
		fprintf(stderr, "reload: %s\n", err ? err : "?");
	CHECK(nc != NULL);
	free(err);
	free(path);
	if (nc == NULL)
		return;
	daemon_reload(fx->d, nc);
	muster__envelope__init(&e);
	muster__list_incidents__init(&li);
	e.body_case = MUSTER__ENVELOPE__BODY_LIST_INCIDENTS;
	e.list_incidents = &li;
	r = call(fx, fx->op, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_ERROR &&
	      r->error->code == MUSTER__ERROR_CODE__FORBIDDEN);
	wire_free(r);
	r = call(fx, fx->obs, &e);
	CHECK(r && r->body_case == MUSTER__ENVELOPE__BODY_INCIDENT_LIST);
	wire_free(r);
}

int
main(void)
{
	struct fixture fx;
	struct config *c;
	char *err = NULL;

	log_init("test_daemon", 1, 0);
	memset(&fx, 0, sizeof fx);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	shim_install();
	c = make_config();
	CHECK(c != NULL);
	if (c == NULL)
		return 1;
	fx.base = event_base_new();
	CHECK(fx.base && event_base_priority_init(fx.base, DAEMON_PRIORITIES) == 0);
	fx.d = daemon_new(fx.base, c, &err);
	if (fx.d == NULL)
		fprintf(stderr, "daemon_new: %s\n", err ? err : "?");
	CHECK(fx.d != NULL);
	free(err);
	if (fx.d == NULL)
		return 1;
	fx.ctx = zmq_ctx_new();
	fx.op = client(&fx, fx.d->cfg->control_endpoint, "operator.key");
	fx.obs = client(&fx, fx.d->cfg->control_endpoint, "observer.key");
	fx.fire = client(&fx, fx.d->cfg->agents_endpoint, "agent-fire.key");
	RUN_FX(test_commit_before_send);
	RUN_FX(test_savepoint_isolation);
	RUN_FX(test_roles);
	RUN_FX(test_agents);
	RUN_FX(test_reload_revokes);
	zmq_close(fx.op);
	zmq_close(fx.obs);
	zmq_close(fx.fire);
	zmq_ctx_term(fx.ctx);
	daemon_free(fx.d);
	event_base_free(fx.base);
	CHECK(nftw(dir, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	TEST_DONE();
}
