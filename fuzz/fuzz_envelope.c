/* fuzz_envelope: the bytes of one input are a frame off the wire. wire_decode gets them first
 * on its own; then a real daemon (the sample configuration, a real SQLite file, sockets bound
 * on ipc:// but muted, as for replay) gets them twice through daemon_feed, its own message
 * path: as a control message from the coordinator (who may send every control request) and
 * as an agent message from agent:fire. A tick and the flush (the commit, then the sends)
 * end the input, as a loop iteration of the live daemon would.
 *
 * The daemon starts from a baseline: every agent registered with its units and a heartbeat
 * for each, an e-bike fire mustered (incident 1, its orders 1..n), a whistle blown
 * (whistle 1) and a double-blind drill armed (drill 1), on a virtual clock at a fixed time;
 * so that ids in mutated inputs meet real records. It is rebuilt from nothing every
 * MUSTER_FUZZ_RESET inputs (default 256), so its state stays bounded.
 *
 * A failure may need what earlier inputs left. With MUSTER_FUZZ_HISTORY=FILE, every input
 * since the last rebuild is kept in FILE (each as a 4-byte little-endian length and the
 * bytes, the failing one last), and MUSTER_FUZZ_REPLAY=FILE feeds all of them but the last
 * after the first rebuild, before the input given: `MUSTER_FUZZ_REPLAY=history fuzz_envelope
 * crash-...` replays the failure (up to the drill's random start). `./run fuzz` keeps the
 * history in build-fuzz/fuzz-envelope.history. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "fuzz.h"

#include "bus.h"
#include "cfg.h"
#include "daemon.h"
#include "init.h"
#include "log.h"
#include "roster.h"
#include "util.h"
#include "wire.h"

#include <event2/event.h>
#include <fcntl.h>

#define CONTROL_ID "coordinator:drill"
#define AGENT_ID "agent:fire"
#define T0_MS INT64_C(1717243200000) /* 2024-06-01 12:00:00 UTC */

static struct event_base *base;
static struct daemon *d;
static char *conf_path; /* musterd.conf in the scratch directory */
static char *db_dir;	/* the database and the snapshots: removed at each rebuild */
static long reset_every = 256;
static long inputs;
static const char *history; /* MUSTER_FUZZ_HISTORY, or NULL */
static int history_fd = -1;
static uint8_t *replay; /* MUSTER_FUZZ_REPLAY's records, to feed after the first rebuild */
static size_t replay_len;
static uint64_t setup_seq;

/* Packs E with the next seq and feeds it on WHICH from IDENTITY. */
static void
feed_env(int which, const char *identity, Envelope *e)
{
	uint8_t *buf;
	size_t len;

	e->version = WIRE_VERSION;
	e->seq = ++setup_seq;
	e->correlation_id = setup_seq;
	e->sent_at_ms = util_wall_ms();
	buf = wire_pack(e, &len);
	daemon_feed(d, which, identity, buf, len);
	free(buf);
}

/* Registers every agent of the configuration with its units, then sends a heartbeat with
 * each unit available at home. */
static void
baseline_agents(void)
{
	const struct config *c = d->cfg;
	size_t i, j, n;

	for (i = 0; i < c->n_clients; i++) {
		const char *id = c->clients[i].id;
		char **ids = xcalloc(c->roster->n_units + 1, sizeof *ids);
		Muster__UnitState *st = xcalloc(c->roster->n_units + 1, sizeof *st);
		Muster__UnitState **stp = xcalloc(c->roster->n_units + 1, sizeof *stp);
		Muster__Coordinates *pos = xcalloc(c->roster->n_units + 1, sizeof *pos);
		Muster__Register reg;
		Muster__Heartbeat hb;
		Envelope e;

		if (c->clients[i].role != ROLE_AGENT)
			goto next;
		for (j = n = 0; j < c->roster->n_units; j++) {
			const struct unit *u = &c->roster->units[j];

			if (u->agent == NULL || strcmp(u->agent, id) != 0)
				continue;
			ids[n] = u->id;
			muster__unit_state__init(&st[n]);
			muster__coordinates__init(&pos[n]);
			pos[n].lat = u->home_lat;
			pos[n].lon = u->home_lon;
			st[n].unit_id = u->id;
			st[n].position = &pos[n];
			st[n].status = MUSTER__UNIT_STATUS__UNIT_AVAILABLE;
			stp[n] = &st[n];
			n++;
		}
		muster__envelope__init(&e);
		muster__register__init(&reg);
		reg.agent_version = "fuzz";
		reg.unit_ids = ids;
		reg.n_unit_ids = n;
		e.body_case = MUSTER__ENVELOPE__BODY_REGISTER;
		e.register_ = &reg;
		feed_env(BUS_AGENTS, id, &e);
		muster__envelope__init(&e);
		muster__heartbeat__init(&hb);
		hb.units = stp;
		hb.n_units = n;
		e.body_case = MUSTER__ENVELOPE__BODY_HEARTBEAT;
		e.heartbeat = &hb;
		feed_env(BUS_AGENTS, id, &e);
	next:
		free(ids);
		free(st);
		free(stp);
		free(pos);
	}
}

/* An e-bike fire (incident 1), a whistle (1) and an armed drill (1). */
static void
baseline_work(void)
{
	Envelope e;
	Muster__SubmitIncident si, di;
	Muster__Location loc, dloc;
	Muster__BlowWhistle bw;
	Muster__ArmDrill ad;
	Muster__DrillInject inj, *injp = &inj;
	char *depts[] = {"housing", "citymgmt"};

	muster__envelope__init(&e);
	muster__submit_incident__init(&si);
	muster__location__init(&loc);
	loc.place = "s01-c01";
	si.type = "fire.ebike";
	si.location = &loc;
	si.description = "charging shed fire";
	si.casualties = 1;
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	feed_env(BUS_CONTROL, "operator:duty", &e);

	muster__envelope__init(&e);
	muster__blow_whistle__init(&bw);
	bw.place = "s01";
	bw.matter = "illegal structure on the slope";
	bw.departments = depts;
	bw.n_departments = 2;
	bw.deadline_s = 1800;
	bw.leader_rank = "section chief";
	bw.headcount = 2;
	e.body_case = MUSTER__ENVELOPE__BODY_BLOW_WHISTLE;
	e.blow_whistle = &bw;
	feed_env(BUS_CONTROL, "operator:duty", &e);

	muster__envelope__init(&e);
	muster__arm_drill__init(&ad);
	muster__drill_inject__init(&inj);
	muster__submit_incident__init(&di);
	muster__location__init(&dloc);
	dloc.place = "s01-c02";
	di.type = "fire.ebike";
	di.location = &dloc;
	inj.at_ms = 60000;
	inj.incident = &di;
	ad.name = "fuzz drill";
	ad.window_from_ms = T0_MS + 3600000;
	ad.window_to_ms = T0_MS + 3 * 3600000;
	ad.duration_ms = 1800000;
	ad.injects = &injp;
	ad.n_injects = 1;
	e.body_case = MUSTER__ENVELOPE__BODY_ARM_DRILL;
	e.arm_drill = &ad;
	feed_env(BUS_CONTROL, CONTROL_ID, &e);
}

/* Frees the daemon (if any) and builds it again on a new database, to the baseline. */
static void
rebuild(void)
{
	struct config *c;
	char *err = NULL;

	if (d != NULL) {
		daemon_free(d);
		d = NULL;
	}
	fuzz_rm_tree(db_dir);
	if (mkdir(db_dir, 0700) != 0) {
		perror(db_dir);
		exit(1);
	}
	util_clock_virtual(T0_MS);
	c = cfg_load(conf_path, &err);
	if (c == NULL) {
		fprintf(stderr, "fuzz_envelope: %s\n", err ? err : "cannot load the configuration");
		exit(1);
	}
	d = daemon_new(base, c, &err);
	if (d == NULL) {
		fprintf(stderr, "fuzz_envelope: daemon_new: %s\n", err ? err : "?");
		exit(1);
	}
	bus_mute(d->bus);
	setup_seq = 0;
	baseline_agents();
	baseline_work();
	daemon_tick_now(d);
	daemon_flush_now(d);
}

/* atexit: the daemon goes before the scratch directory does (registered after it). */
static void
teardown(void)
{
	daemon_free(d);
	d = NULL;
	if (base != NULL)
		event_base_free(base);
	base = NULL;
	free(conf_path);
	free(db_dir);
	free(replay);
	if (history_fd >= 0)
		close(history_fd);
}

/* Returns 1 when M or a message in it holds unknown fields. libprotobuf-c keeps them and packs
 * them again, but not always as it read them: a tag 0 written in two bytes (80 00) is read as
 * an unknown field, packed in one (00), and then refused. That is the library's (1.4.1), so the
 * round trip below is checked only on envelopes without unknown fields. */
static int
has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	unsigned i;

	if (m->n_unknown_fields > 0)
		return 1;
	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const char *at = (const char *)m + f->offset;
		size_t j, n;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			ProtobufCMessage *const *v =
			    *(ProtobufCMessage *const *const *)(const void *)at;

			n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
			for (j = 0; j < n; j++)
				if (has_unknown(v[j]))
					return 1;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)((const char *)m + f->quantifier_offset) !=
			f->id)
			continue;
		if (*(ProtobufCMessage *const *)(const void *)at != NULL &&
		    has_unknown(*(ProtobufCMessage *const *)(const void *)at))
			return 1;
	}
	return 0;
}

/* Hands one input to the daemon as one loop iteration: control, agents, a tick, the flush. */
static void
feed_input(const uint8_t *data, size_t size)
{
	daemon_feed(d, BUS_CONTROL, CONTROL_ID, data, size);
	daemon_feed(d, BUS_AGENTS, AGENT_ID, data, size);
	daemon_tick_now(d);
	daemon_flush_now(d);
}

/* Appends one record (length, bytes) to the history; at a rebuild, empties it first. */
static void
history_add(const uint8_t *data, size_t size, int rebuilt)
{
	uint8_t n[4] = {(uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16),
			(uint8_t)(size >> 24)};

	if (history == NULL)
		return;
	if (rebuilt || history_fd < 0) {
		if (history_fd >= 0)
			close(history_fd);
		history_fd = open(history, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (history_fd < 0) {
			perror(history);
			exit(1);
		}
	}
	if (write(history_fd, n, 4) != 4 || write(history_fd, data, size) != (ssize_t)size) {
		perror(history);
		exit(1);
	}
}

/* Feeds every record of REPLAY but the last: what came before the failing input. */
static void
replay_feed(void)
{
	size_t at = 0, next;

	while (at + 4 <= replay_len) {
		size_t n = (size_t)replay[at] | (size_t)replay[at + 1] << 8 |
			   (size_t)replay[at + 2] << 16 | (size_t)replay[at + 3] << 24;

		next = at + 4 + n;
		if (n > replay_len - at - 4 || next + 4 > replay_len)
			break; /* the last record (or a cut one) */
		feed_input(replay + at + 4, n);
		at = next;
	}
	free(replay);
	replay = NULL;
}

/* Reads the history file PATH into REPLAY. */
static void
replay_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, n;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	do {
		if (replay_len == cap)
			replay = xrealloc(replay, cap = cap ? 2 * cap : 65536);
		n = fread(replay + replay_len, 1, cap - replay_len, f);
		replay_len += n;
	} while (n > 0);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch("envelope"), *v = getenv("MUSTER_FUZZ_RESET");
	char *err = NULL, *text;

	(void)argc;
	(void)argv;
	log_init("fuzz_envelope", 1, getenv("MUSTER_FUZZ_VERBOSE") != NULL);
	if (v != NULL && atol(v) > 0)
		reset_every = atol(v);
	history = getenv("MUSTER_FUZZ_HISTORY");
	if ((v = getenv("MUSTER_FUZZ_REPLAY")) != NULL)
		replay_read(v);
	if (init_write(dir, 1, &err) != 0) {
		fprintf(stderr, "fuzz_envelope: init_write: %s\n", err);
		exit(1);
	}
	conf_path = xasprintf("%s/musterd.conf", dir);
	db_dir = xasprintf("%s/db", dir);
	text = xasprintf("database = \"db/muster.db\";\n"
			 "snapshot_dir = \"db/snapshots\";\n"
			 "control = \"ipc://%s/control\";\n"
			 "agents = \"ipc://%s/agents\";\n"
			 "feed = \"ipc://%s/feed\";\n"
			 "checkpoint_idle_ms = 60000;\n",
			 dir, dir, dir);
	fuzz_write(conf_path, text, strlen(text));
	free(text);
	base = event_base_new();
	if (base == NULL || event_base_priority_init(base, DAEMON_PRIORITIES) != 0) {
		fprintf(stderr, "fuzz_envelope: no event base\n");
		exit(1);
	}
	atexit(teardown);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int code = 0;
	const char *why = NULL;
	Envelope *e;

	/* The decoder alone: it either returns an envelope or says why not; what it returns packs,
	 * decodes again, and packs to the same bytes (strings end at a NUL: protobuf-c's are C
	 * strings, so the first pack may differ from the input, the second never). */
	e = wire_decode(data, size, &code, &why);
	if (e == NULL && (why == NULL || code == 0))
		abort();
	if (e != NULL && !has_unknown(&e->base)) {
		size_t len1, len2;
		uint8_t *p1 = wire_pack(e, &len1), *p2;
		Envelope *again = wire_decode(p1, len1, &code, &why);

		if (again == NULL || wire_body_name(again->body_case) == NULL)
			abort();
		p2 = wire_pack(again, &len2);
		if (len1 != len2 || memcmp(p1, p2, len1) != 0)
			abort();
		free(p1);
		free(p2);
		wire_free(again);
	}
	wire_free(e);

	if (inputs++ % reset_every == 0) {
		rebuild();
		history_add(data, size, 1);
		if (replay != NULL)
			replay_feed();
	} else {
		history_add(data, size, 0);
	}
	feed_input(data, size);
	return 0;
}
