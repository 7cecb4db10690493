/* blind: muster drill arm|show|abort. `arm` loads a scenario with scenario_load, turns its
 * incident injects (and its surges, expanded deterministically from the seed the way
 * `muster drill run` does) into one ArmDrill, and prints only the drill's id and window: the
 * daemon chooses the start and tells nobody until the drill has ended. */
#include "blind.h"
#include "client.h"
#include "report.h"
#include "sample.h"
#include "scenario.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libconfig.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

/* The daemon's limit on injects (BLIND_INJECTS_MAX in daemon/blind.h). */
#define BLINDC_INJECTS_MAX 1000
#define BLINDC_FRAME_DEFAULT 65536 /* max_frame's default (docs/configuration.md) */

/* Where the daemon is and who we are, from muster's global options. */
static const char *blindc_conf, *blindc_key;
static int blindc_timeout_ms;

/* One incident to arm: an incident inject, or one item of a surge. */
struct blindc_item {
	int64_t at_ms;
	const struct inject *in; /* where it comes from in the scenario */
	uint64_t item;		 /* the surge item (0 for an incident inject) */
	size_t order;		 /* position before sorting, for a stable sort */
	Muster__DrillInject di;
	Muster__SubmitIncident si;
	Muster__Location loc;
	char desc[96];
};

static void
blindc_usage(void)
{
	fprintf(stderr,
		"usage: muster [-c CONF] [-k KEYFILE] drill arm SCENARIO --window FROM..TO\n"
		"       muster [-c CONF] [-k KEYFILE] drill show ID [--json]\n"
		"       muster [-c CONF] [-k KEYFILE] drill abort ID --reason R\n"
		"FROM and TO: YYYY-MM-DD[Thh:mm[:ss]] (UTC), or +DURATION from now (+10m, +2h).\n"
		"Coordinators only (-k keys/coordinator.key).\n");
}

/* Prints "muster: ..." and returns 1. */
static int __attribute__((format(printf, 1, 2))) blindc_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("muster: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Formats wall time MS as "YYYY-MM-DDThh:mm:ss.mmmZ" into BUF. */
static const char *
blindc_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
	return buf;
}

/* Parses one side of --window (LEN bytes at S): +DURATION from NOW, or a UTC time as
 * `muster report --window` reads it. Returns 0 with *MS, or -1. */
static int
blindc_parse_side(const char *s, size_t len, int64_t now, int64_t *ms)
{
	struct report_opts o;
	char buf[64], *arg, *err = NULL;
	int64_t d;
	int rc;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '+') {
		if (scenario_parse_duration(buf + 1, &d) != 0)
			return -1;
		*ms = now + d;
		return 0;
	}
	memset(&o, 0, sizeof o);
	arg = xasprintf("%s..", buf);
	rc = report_parse_window(arg, &o, &err);
	free(arg);
	free(err);
	if (rc != 0 || !o.has_from)
		return -1;
	*ms = o.from_ms;
	return 0;
}

/* Returns the musterd.conf's max_frame, or its default when it cannot be read. */
static long long
blindc_max_frame(void)
{
	struct stat st;
	config_t cf;
	char *file;
	long long v = BLINDC_FRAME_DEFAULT;

	if (stat(blindc_conf, &st) == 0 && S_ISDIR(st.st_mode))
		file = xasprintf("%s/musterd.conf", blindc_conf);
	else
		file = xstrdup(blindc_conf);
	config_init(&cf);
	if (config_read_file(&cf, file) != CONFIG_TRUE ||
	    config_lookup_int64(&cf, "max_frame", &v) != CONFIG_TRUE)
		v = BLINDC_FRAME_DEFAULT;
	config_destroy(&cf);
	free(file);
	return v;
}

/* Sends E on the control socket and returns the reply (an ErrorReply too), or NULL after
 * printing why there is none. */
static Envelope *
blindc_call(Envelope *e)
{
	struct client_conf cc;
	char *err = NULL;
	void *ctx, *s;
	Envelope *r;

	if (client_conf_load(&cc, blindc_conf, blindc_key, &err) != 0) {
		blindc_fail("%s", err);
		free(err);
		return NULL;
	}
	ctx = zmq_ctx_new();
	if (ctx == NULL) {
		client_conf_finish(&cc);
		blindc_fail("cannot create a ZeroMQ context");
		return NULL;
	}
	s = client_socket(ctx, ZMQ_DEALER, cc.control, &cc, &err);
	r = s ? client_call(s, e, blindc_timeout_ms, &err) : NULL;
	if (s)
		zmq_close(s);
	zmq_ctx_term(ctx);
	client_conf_finish(&cc);
	if (r == NULL) {
		blindc_fail("%s", err ? err : "no reply");
		free(err);
	}
	return r;
}

/* Prints the daemon's refusal R and returns 1. */
static int
blindc_refused(const Envelope *r)
{
	fprintf(stderr, "muster: refused (%s)%s%s: %s\n", wire_code_name(r->error->code),
		r->error->field[0] ? " field " : "", r->error->field, r->error->message);
	return 1;
}

/* Prints drill M for a person, or as one JSON line. */
static void
blindc_print(const Muster__Drill *m, int as_json)
{
	char t1[40], t2[40];
	size_t i;

	if (as_json) {
		json_t *o = json_object(), *ids = json_array();
		char *s;

		json_object_set_new(o, "id", json_integer((json_int_t)m->id));
		json_object_set_new(o, "name", json_string(m->name));
		json_object_set_new(o, "state", json_string(m->state));
		json_object_set_new(o, "window_from_ms", json_integer(m->window_from_ms));
		json_object_set_new(o, "window_to_ms", json_integer(m->window_to_ms));
		json_object_set_new(o, "duration_ms", json_integer(m->duration_ms));
		json_object_set_new(o, "started_at_ms", json_integer(m->started_at_ms));
		json_object_set_new(o, "injects", json_integer(m->injects));
		json_object_set_new(o, "fired", json_integer(m->fired));
		json_object_set_new(o, "failed", json_integer(m->failed));
		json_object_set_new(o, "armed_by", json_string(m->armed_by));
		json_object_set_new(o, "armed_at_ms", json_integer(m->armed_at_ms));
		json_object_set_new(o, "ended_at_ms", json_integer(m->ended_at_ms));
		json_object_set_new(o, "abort_reason", json_string(m->abort_reason));
		for (i = 0; i < m->n_incident_ids; i++)
			json_array_append_new(ids, json_integer((json_int_t)m->incident_ids[i]));
		json_object_set_new(o, "incidents", ids);
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		if (s)
			puts(s);
		free(s);
		json_decref(o);
		return;
	}
	printf("drill #%" PRIu64 "  %s  [%s]  EXERCISE\n", m->id, m->name, m->state);
	printf("  window:    %s .. %s\n", blindc_time(m->window_from_ms, t1, sizeof t1),
	       blindc_time(m->window_to_ms, t2, sizeof t2));
	printf("  armed:     %s by %s\n", blindc_time(m->armed_at_ms, t1, sizeof t1), m->armed_by);
	printf("  injects:   %u, played %u, refused %u; lasts %.0f s\n", m->injects, m->fired,
	       m->failed, (double)m->duration_ms / 1000.0);
	if (m->started_at_ms)
		printf("  start:     %s (revealed)\n",
		       blindc_time(m->started_at_ms, t1, sizeof t1));
	else if (strcmp(m->state, "armed") == 0 || strcmp(m->state, "running") == 0)
		printf("  start:     sealed until the drill ends\n");
	else
		printf("  start:     never revealed (aborted before it)\n");
	if (m->ended_at_ms)
		printf("  ended:     %s%s%s\n", blindc_time(m->ended_at_ms, t1, sizeof t1),
		       m->abort_reason[0] ? ", aborted: " : "", m->abort_reason);
	if (m->n_incident_ids) {
		printf("  incidents:");
		for (i = 0; i < m->n_incident_ids; i++)
			printf(" #%" PRIu64, m->incident_ids[i]);
		printf("\n");
	}
}

/* Returns a number in [0, 1) fixed by SEED and A, B, C: BLAKE2b of them, the same draw as
 * `muster drill run` makes for a surge item's type (C = 1) and place (C = 2). */
static double
blindc_draw(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t in[4] = {seed, a, b, c}, out;

	if (crypto_generichash((unsigned char *)&out, sizeof out, (const unsigned char *)in,
			       sizeof in, NULL, 0) != 0)
		return 0;
	return (double)(out >> 11) / 9007199254740992.0;
}

/* Reads the community ids of the scenario's district (the embedded sample, or the district
 * file that CONFIG_DIR's musterd.conf names) into a new array *OUT of *N, in file order.
 * Returns 0, or -1 after printing why. */
static int
blindc_communities(const struct scenario *s, char ***out, size_t *n)
{
	const config_setting_t *l;
	config_t cf;
	char *path = NULL, *err = NULL;
	int ok, i, len;
	size_t k;

	*out = NULL;
	*n = 0;
	config_init(&cf);
	if (s->config_dir == NULL) {
		for (k = 0; k < n_sample_files; k++)
			if (strcmp(sample_files[k].name, "district.conf") == 0)
				break;
		ok = k < n_sample_files &&
		     config_read_string(&cf, (const char *)sample_files[k].data) == CONFIG_TRUE;
	} else {
		char *musterd = xasprintf("%s/musterd.conf", s->config_dir);

		path = client_conf_path(musterd, "district", &err);
		free(musterd);
		ok = path != NULL && config_read_file(&cf, path) == CONFIG_TRUE;
	}
	l = ok ? config_lookup(&cf, "communities") : NULL;
	len = l ? config_setting_length(l) : 0;
	for (i = 0; i < len; i++) {
		const char *id = NULL;

		if (config_setting_lookup_string(config_setting_get_elem(l, (unsigned)i), "id",
						 &id) == CONFIG_TRUE) {
			*out = xrealloc(*out, (*n + 1) * sizeof **out);
			(*out)[(*n)++] = xstrdup(id);
		}
	}
	config_destroy(&cf);
	if (*n == 0) {
		blindc_fail("%s: cannot read the communities of the scenario's district%s%s",
			    s->path, err ? ": " : "", err ? err : "");
		free(err);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

/* Orders items by time, then by their order in the expansion. */
static int
blindc_item_cmp(const void *a, const void *b)
{
	const struct blindc_item *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Fills item X from incident inject IN. */
static void
blindc_from_incident(struct blindc_item *x, const struct inject *in)
{
	const struct inject_incident *i = &in->u.incident;

	x->si.type = i->type;
	x->loc.place = i->place;
	x->si.description = i->description ? i->description : "";
	x->si.building = i->building ? i->building : "";
	x->si.casualties = i->casualties;
	x->si.people_affected = i->people_affected;
	x->si.hazmat = i->hazmat != 0;
	x->si.tier = (uint32_t)i->tier;
	x->si.tier_reason = i->tier_reason ? i->tier_reason : "";
}

/* Fills item X as item ITEM of surge IN, its type and place drawn from SEED. */
static void
blindc_from_surge(struct blindc_item *x, const struct inject *in, uint64_t item, uint64_t seed,
		  char **communities, size_t n_communities)
{
	const struct inject_surge *s = &in->u.surge;

	x->si.type = s->types[(size_t)(blindc_draw(seed, in->index, item, 1) * (double)s->n_types)];
	if (s->n_places)
		x->loc.place = s->places[(size_t)(blindc_draw(seed, in->index, item, 2) *
						  (double)s->n_places)];
	else
		x->loc.place = communities[(size_t)(blindc_draw(seed, in->index, item, 2) *
						    (double)n_communities)];
	snprintf(x->desc, sizeof x->desc, "surge item %" PRIu64 " of %d", item + 1, s->count);
	x->si.description = x->desc;
}

/* Prints the daemon's refusal R of an arm, naming the scenario line of the inject it is about
 * when it is about one. Returns 1. */
static int
blindc_arm_refused(const struct scenario *s, const Envelope *r, const struct blindc_item *items,
		   size_t n)
{
	const char *f = r->error->field, *msg = r->error->message, *colon;
	char *end;
	unsigned long k;

	if (strncmp(f, "injects[", 8) != 0)
		return blindc_refused(r);
	errno = 0;
	k = strtoul(f + 8, &end, 10);
	if (errno || *end != ']' || k >= n)
		return blindc_refused(r);
	/* The daemon counts the incidents it was sent; the scenario's line says more. */
	colon = strncmp(msg, "inject #", 8) == 0 ? strstr(msg, ": ") : NULL;
	if (colon)
		msg = colon + 2;
	fprintf(stderr, "%s:%u: inject #%zu (%s)", s->path, items[k].in->line,
		items[k].in->index + 1, scenario_inject_name(items[k].in->kind));
	if (items[k].in->kind == INJECT_SURGE)
		fprintf(stderr, ", item %" PRIu64 " (%s at %s)", items[k].item + 1,
			items[k].si.type, items[k].loc.place);
	fprintf(stderr, ": refused by musterd (%s%s%s): %s\n", wire_code_name(r->error->code),
		end[1] == '.' ? ", field " : "", end[1] == '.' ? end + 2 : "", msg);
	return 1;
}

/* muster drill arm SCENARIO --window FROM..TO */
static int
blindc_arm(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"window", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	const char *window = NULL, *dots;
	struct strbuf errors = {0};
	struct scenario *s = NULL;
	struct blindc_item *items = NULL;
	Muster__DrillInject **dis = NULL;
	Muster__ArmDrill ad;
	Envelope e, *r = NULL;
	char **communities = NULL, t1[40], t2[40];
	size_t n = 0, i, total = 0, n_communities = 0;
	int64_t now = util_wall_ms(), from, to;
	int ch, rc = 1;
	uint64_t k;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'w') {
			blindc_usage();
			return 2;
		}
		window = optarg;
	}
	if (optind + 1 != argc || window == NULL) {
		blindc_usage();
		return 2;
	}
	dots = strstr(window, "..");
	if (dots == NULL || blindc_parse_side(window, (size_t)(dots - window), now, &from) != 0 ||
	    blindc_parse_side(dots + 2, strlen(dots + 2), now, &to) != 0)
		return blindc_fail("--window '%s': give FROM..TO, each YYYY-MM-DD[Thh:mm[:ss]] "
				   "(UTC) or +DURATION from now (+10m, +2h)",
				   window);
	if (sodium_init() < 0)
		return blindc_fail("libsodium would not initialise");
	if (scenario_load(argv[optind], &s, &errors) != 0) {
		fputs(errors.s ? errors.s : "cannot load the scenario\n", stderr);
		strbuf_finish(&errors);
		return 1;
	}
	/* Only incidents can be armed: a live drill's operators update, raise, divert and close
	 * them, and its agents are real. Every other inject is named, with its line. */
	for (i = 0; i < s->n_injects; i++) {
		const struct inject *in = &s->injects[i];

		if (in->kind == INJECT_INCIDENT)
			total++;
		else if (in->kind == INJECT_SURGE)
			total += (size_t)in->u.surge.count;
		else
			strbuf_addf(
			    &errors,
			    "%s:%u: inject #%zu (%s): only incident and surge injects can be "
			    "armed for a double-blind drill (its operators and agents are "
			    "real)\n",
			    s->path, in->line, in->index + 1, scenario_inject_name(in->kind));
		if (in->kind == INJECT_SURGE && in->u.surge.n_places == 0 && communities == NULL &&
		    blindc_communities(s, &communities, &n_communities) != 0)
			goto out;
	}
	if (errors.s) {
		fputs(errors.s, stderr);
		goto out;
	}
	if (total > BLINDC_INJECTS_MAX) {
		blindc_fail("%s: %zu incidents; a double-blind drill arms at most %d", s->path,
			    total, BLINDC_INJECTS_MAX);
		goto out;
	}
	items = xcalloc(total, sizeof *items);
	dis = xcalloc(total, sizeof *dis);
	for (i = 0; i < s->n_injects; i++) {
		const struct inject *in = &s->injects[i];
		uint64_t count = in->kind == INJECT_SURGE ? (uint64_t)in->u.surge.count : 1;

		if (in->kind != INJECT_INCIDENT && in->kind != INJECT_SURGE)
			continue;
		for (k = 0; k < count; k++, n++) {
			struct blindc_item *x = &items[n];

			muster__drill_inject__init(&x->di);
			muster__submit_incident__init(&x->si);
			muster__location__init(&x->loc);
			x->in = in;
			x->item = k;
			x->order = n;
			x->si.reporter = "drill";
			if (in->kind == INJECT_INCIDENT) {
				x->at_ms = in->at_ms;
				blindc_from_incident(x, in);
			} else {
				/* Spread evenly over `over`, as `muster drill run` does. */
				x->at_ms = in->at_ms + in->u.surge.over_ms * (int64_t)k /
							   (int64_t)in->u.surge.count;
				blindc_from_surge(x, in, k, s->seed, communities, n_communities);
			}
		}
	}
	/* The daemon plays injects in the order given, which must be the order of time. */
	qsort(items, n, sizeof *items, blindc_item_cmp);
	for (i = 0; i < n; i++) {
		items[i].si.location = &items[i].loc;
		items[i].di.at_ms = items[i].at_ms;
		items[i].di.incident = &items[i].si;
		dis[i] = &items[i].di;
	}
	muster__envelope__init(&e);
	muster__arm_drill__init(&ad);
	ad.name = s->name;
	ad.window_from_ms = from;
	ad.window_to_ms = to;
	ad.duration_ms = s->duration_ms;
	ad.injects = dis;
	ad.n_injects = n;
	e.body_case = MUSTER__ENVELOPE__BODY_ARM_DRILL;
	e.arm_drill = &ad;
	e.exercise = 1;
	e.version = WIRE_VERSION;
	if ((long long)muster__envelope__get_packed_size(&e) + 64 > blindc_max_frame()) {
		blindc_fail("%s: the drill is %zu bytes, more than musterd accepts in one message "
			    "(max_frame %lld in musterd.conf): arm fewer incidents, or raise "
			    "max_frame",
			    s->path, muster__envelope__get_packed_size(&e), blindc_max_frame());
		goto out;
	}
	r = blindc_call(&e);
	if (r == NULL)
		goto out;
	if (r->body_case == MUSTER__ENVELOPE__BODY_ERROR) {
		blindc_arm_refused(s, r, items, n);
		goto out;
	}
	if (r->body_case != MUSTER__ENVELOPE__BODY_DRILL_REPLY || r->drill_reply->drill == NULL) {
		blindc_fail("unexpected reply %s", wire_body_name(r->body_case));
		goto out;
	}
	printf("drill #%" PRIu64 " armed: %zu incidents, window %s .. %s; the start is sealed "
	       "until the drill ends\n",
	       r->drill_reply->drill->id, n,
	       blindc_time(r->drill_reply->drill->window_from_ms, t1, sizeof t1),
	       blindc_time(r->drill_reply->drill->window_to_ms, t2, sizeof t2));
	rc = 0;
out:
	wire_free(r);
	for (i = 0; i < n_communities; i++)
		free(communities[i]);
	free(communities);
	free(items);
	free(dis);
	strbuf_finish(&errors);
	scenario_free(s);
	return rc;
}

/* Parses a drill id ("3" or "#3"). Returns 0 with *ID, or -1. */
static int
blindc_parse_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v;

	if (s[0] == '#')
		s++;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v == 0 || s[0] == '-')
		return -1;
	*id = (uint64_t)v;
	return 0;
}

/* muster drill show ID [--json], muster drill abort ID --reason R */
static int
blindc_show_abort(int argc, char **argv, int abort)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"reason", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	const char *reason = NULL;
	Muster__GetDrill gd;
	Muster__AbortDrill ab;
	Envelope e, *r;
	uint64_t id;
	int ch, as_json = 0, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j') {
			as_json = 1;
		} else if (ch == 'r') {
			reason = optarg;
		} else {
			blindc_usage();
			return 2;
		}
	}
	if (optind + 1 != argc || (abort && reason == NULL) || (!abort && reason != NULL)) {
		blindc_usage();
		return 2;
	}
	if (blindc_parse_id(argv[optind], &id) != 0)
		return blindc_fail("drill id: '%s' is not a positive whole number", argv[optind]);
	muster__envelope__init(&e);
	if (abort) {
		muster__abort_drill__init(&ab);
		ab.id = id;
		ab.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_ABORT_DRILL;
		e.abort_drill = &ab;
	} else {
		muster__get_drill__init(&gd);
		gd.id = id;
		e.body_case = MUSTER__ENVELOPE__BODY_GET_DRILL;
		e.get_drill = &gd;
	}
	e.exercise = 1;
	r = blindc_call(&e);
	if (r == NULL)
		return 1;
	if (r->body_case == MUSTER__ENVELOPE__BODY_ERROR)
		blindc_refused(r);
	else if (r->body_case != MUSTER__ENVELOPE__BODY_DRILL_REPLY || !r->drill_reply->drill)
		blindc_fail("unexpected reply %s", wire_body_name(r->body_case));
	else {
		blindc_print(r->drill_reply->drill, as_json);
		rc = 0;
	}
	wire_free(r);
	return rc;
}

int
blind_main(int argc, char **argv, const char *conf, const char *key, int timeout_ms)
{
	blindc_conf = conf;
	blindc_key = key;
	blindc_timeout_ms = timeout_ms;
	if (argc >= 1 && strcmp(argv[0], "arm") == 0)
		return blindc_arm(argc, argv);
	if (argc >= 1 && strcmp(argv[0], "show") == 0)
		return blindc_show_abort(argc, argv, 0);
	if (argc >= 1 && strcmp(argv[0], "abort") == 0)
		return blindc_show_abort(argc, argv, 1);
	blindc_usage();
	return 2;
}
