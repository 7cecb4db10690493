/* muster: the command-line client for operators, drill coordinators, analysts and admins. */
#include "blind.h"
#include "cadimport.h"
#include "cfg.h"
#include "client.h"
#include "incident.h"
#include "import.h"
#include "init.h"
#include "log.h"
#include "plan.h"
#include "cadscenario.h"
#include "cap.h"
#include "drill.h"
#include "replaydiff.h"
#include "report.h"
#include "util.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

/* Global options, before the subcommand. */
static const char *opt_conf;			  /* -c: configuration file or directory */
static const char *opt_key = "keys/operator.key"; /* -k: our key file */
static int opt_timeout_ms = 10000;		  /* -t */
static volatile sig_atomic_t stopping;		  /* SIGINT/SIGTERM during watch */

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: muster [-c CONF] [-k KEYFILE] [-t TIMEOUT_MS] COMMAND ...\n"
	    "commands:\n"
	    "  init DIR [--force]           write a working configuration with keys\n"
	    "  check [CONF]                 validate a configuration and exit\n"
	    "  incident new --type T (--place P | --at LAT,LON) [--description D]\n"
	    "               [--casualties N] [--people-affected N] [--hazmat] [--reporter R]\n"
	    "               [--building KIND] [--tier T --reason R] [--exercise] [--json]\n"
	    "  incident show ID [--json]\n"
	    "  incident list [--all] [--json]\n"
	    "  incident update ID [--description D] [--casualties N] [--people-affected N]\n"
	    "               [--note N] [--json]\n"
	    "  incident close ID --reason R [--json]\n"
	    "  incident cap ID               the incident as a CAP 1.2 alert (status Exercise\n"
	    "                               for a drill's)\n"
	    "  incident unlink ID --reason R   a linked duplicate report becomes its own incident\n"
	    "  whistle --place STREET|COMMUNITY --matter M --departments A,B --deadline 30m\n"
	    "          --rank RANK --headcount N [--incident ID]   whistle and report (吹哨报到)\n"
	    "  whistle show ID [--json]     a whistle and each department's compliance\n"
	    "  divert ID --to DEPARTMENT --reason R   alert diversion to the owning department\n"
	    "  incident tier ID TIER --reason R [--json]   raise or lower (1, 2, 3 or I, II, III)\n"
	    "  watch [--json] [--count N]   print the live feed of committed events\n"
	    "  import roster-csv FILE [--table units|people] [--delimiter C] [-o OUT]\n"
	    "                               a roster CSV export as a file roster.conf includes\n"
	    "  import cad-csv FILE -o OUT.db [--layout sf|LAYOUT.conf]\n"
	    "  import cad-scenario FILE -o SCENARIO.conf [--layout L] [--window FROM..TO]\n"
	    "            [--scale N] [--config DIR]   a dispatch export as a drill scenario\n"
	    "                               a dispatch (CAD) export as an analysis database\n"
	    "  drill run SCENARIO [--virtual | --speed N | --live] [-o DIR] [--seed N]\n"
	    "            [--html FILE]      (--live: on the running daemon, as -k's key)\n"
	    "            [--keep]           a drill on a virtual clock with simulated agents\n"
	    "                               (or N times real time with muster-agent\n"
	    "                               processes), then its after-action report (exit 3:\n"
	    "                               an expectation was missed)\n"
	    "  drill arm SCENARIO --window FROM..TO   a double-blind drill: the daemon picks\n"
	    "                               the start inside the window and seals it (UTC times,\n"
	    "                               or +DURATION from now); coordinators only\n"
	    "  drill show ID [--json]       a double-blind drill (its start once revealed)\n"
	    "  drill abort ID --reason R    stop a double-blind drill; its open incidents close\n"
	    "  replay DB --config DIR [--grid] [-o WORKDIR]\n"
	    "                               play a recording's inputs again on DIR's\n"
	    "                               configuration; list the decisions that differ\n"
	    "                               (exit 4 when any do)\n"
	    "  report DB [--json|--csv|--html] [--window FROM..TO] [--by SLICE]\n"
	    "            [--include-exercise] [--circle SECONDS] [--zone "
	    "place|grid|community|street]\n"
	    "            [--status-thresholds 90,75,50]\n"
	    "                               response-circle figures of an analysis database;\n"
	    "                               SLICE: type tier priority street community grid\n"
	    "                               hour day kind department\n"
	    "  status [--json]              what the daemon holds (memory, open incidents,\n"
	    "                               orders, sessions, batches, database), the highest\n"
	    "                               each has been, and its limit\n"
	    "  snapshot NAME                a consistent copy of the daemon's database, written\n"
	    "                               into its snapshot_dir (for analysis)\n"
	    "  plans [TYPE] [--json]        the response plans (tiers, groups, rings) as loaded\n"
	    "  keys new PATH [--id ID --role ROLE [--department D]]\n"
	    "                               a new key pair and its clients.conf entry\n"
	    "CONF defaults to $MUSTER_CONF, else ./musterd.conf; KEYFILE is relative to it.\n");
	exit(2);
}

/* Prints one error line and exits 1. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fputs("muster: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Returns the configuration path to use. */
static const char *
conf_path(void)
{
	const char *env = getenv("MUSTER_CONF");

	if (opt_conf)
		return opt_conf;
	return env && env[0] ? env : "musterd.conf";
}

/* Parses a whole non-negative decimal number or dies naming WHAT. */
static long long
parse_count(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		die("%s: '%s' is not a whole number", what, s);
	return v;
}

/* Parses "LAT,LON" or dies. */
static void
parse_coords(const char *s, double *lat, double *lon)
{
	char *end;

	errno = 0;
	*lat = strtod(s, &end);
	if (errno || end == s || *end != ',')
		die("--at: expected LAT,LON, got '%s'", s);
	s = end + 1;
	*lon = strtod(s, &end);
	if (errno || end == s || *end != '\0')
		die("--at: expected LAT,LON, got '%s'", s);
}

/* Formats a wall-clock time in ms as local "YYYY-MM-DD HH:MM:SS". */
static const char *
fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* Formats the time from BASE to T as "+12.3s", or "-" when T is not set. */
static const char *
fmt_after(int64_t base, int64_t t, char *buf, size_t len)
{
	if (t <= 0 || base <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "+%.1fs", (double)(t - base) / 1000.0);
	return buf;
}

/* Prints the joint action group: each member, its order's state and times, and its ring. */
static void
print_members(const Muster__Incident *inc)
{
	size_t i;
	const char *group = NULL;

	const Muster__Member **sorted;
	size_t k, j, n = 0;

	if (inc->n_members == 0)
		return;
	/* Group by group, groups in the order they first appear (the commander's first), each
	 * group's members by order id: refills and tier changes do not scatter a group. */
	sorted = xcalloc(inc->n_members, sizeof *sorted);
	for (k = 0; k < inc->n_members; k++) {
		for (j = 0; j < k && strcmp(inc->members[j]->group, inc->members[k]->group) != 0;
		     j++)
			;
		if (j < k)
			continue; /* this group was gathered already */
		for (j = k; j < inc->n_members; j++)
			if (strcmp(inc->members[j]->group, inc->members[k]->group) == 0)
				sorted[n++] = inc->members[j];
	}
	printf("  joint action group (times after the report):\n");
	printf("    %-18s %-22s %-20s %-10s %-8s %-8s %-8s %-8s %-8s %s\n", "group", "member",
	       "kind", "status", "sent", "receipt", "accept", "en route", "on scene", "ring");
	for (i = 0; i < n; i++) {
		const Muster__Member *m = sorted[i];
		char a[5][24], ring[48];
		int64_t base = inc->received_at_ms;
		const char *st = "?";
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		    &muster__order_status__descriptor, m->status);

		if (v)
			st = v->name + strlen("ORDER_");
		if (m->ring_deadline_ms == 0)
			snprintf(ring, sizeof ring, "-");
		else if (m->on_scene_at_ms)
			snprintf(ring, sizeof ring, "%s by %.1fs",
				 m->on_scene_at_ms <= m->ring_deadline_ms ? "met" : "MISSED",
				 (double)llabs(m->ring_deadline_ms - m->on_scene_at_ms) / 1000.0);
		else
			snprintf(ring, sizeof ring, "due %s",
				 fmt_after(base, m->ring_deadline_ms, a[4], sizeof a[4]));
		printf("    %-18s %-22s %-20s %-10s %-8s %-8s %-8s %-8s %-8s %s\n",
		       group && strcmp(group, m->group) == 0 ? "" : m->group, m->member_id, m->kind,
		       st, fmt_after(base, m->sent_at_ms, a[0], sizeof a[0]),
		       fmt_after(base, m->received_at_ms, a[1], sizeof a[1]),
		       fmt_after(base, m->accepted_at_ms, a[2], sizeof a[2]),
		       fmt_after(base, m->en_route_at_ms, a[3], sizeof a[3]),
		       fmt_after(base, m->on_scene_at_ms, a[4], sizeof a[4]), ring);
		group = m->group;
	}
	free(sorted);
}

/* Prints an incident for a person, or as one JSON line. */
static void
print_incident(const Muster__Incident *inc, int as_json)
{
	char t1[32], t2[32];
	const Muster__Location *l = inc->location;

	if (as_json) {
		json_t *o = incident_to_json(inc);
		char *s = json_dumps(o, MUSTER_JSON_FLAGS);

		if (s)
			puts(s);
		free(s);
		json_decref(o);
		return;
	}
	printf("incident #%" PRIu64 "  %s  [%s]%s\n", inc->id, inc->type,
	       incident_state_name(inc->state), inc->exercise ? "  EXERCISE" : "");
	if (inc->tier)
		printf("  tier:        %s, %s-led (%s)\n",
		       inc->tier == 1	? "I"
		       : inc->tier == 2 ? "II"
					: "III",
		       inc->level[0] ? inc->level : "?", inc->tier_reason);
	if (l) {
		printf("  place:       %s", l->place);
		if (l->coords)
			printf(" (%.6f, %.6f)", l->coords->lat, l->coords->lon);
		printf("\n  area:        street %s, community %s, grid %s%s%s\n",
		       l->street[0] ? l->street : "-", l->community[0] ? l->community : "-",
		       l->grid[0] ? l->grid : "-", l->key_place[0] ? ", key place " : "",
		       l->key_place);
	}
	if (inc->description[0])
		printf("  description: %s\n", inc->description);
	printf("  casualties:  %d   people affected: %d%s\n", inc->casualties, inc->people_affected,
	       inc->hazmat ? "   HAZMAT" : "");
	if (inc->reporter[0])
		printf("  reporter:    %s\n", inc->reporter);
	printf("  received:    %s by %s\n", fmt_time(inc->received_at_ms, t1, sizeof t1),
	       inc->opened_by);
	if (inc->state == MUSTER__INCIDENT_STATE__INCIDENT_CLOSED)
		printf("  closed:      %s: %s\n", fmt_time(inc->closed_at_ms, t2, sizeof t2),
		       inc->close_reason);
	print_members(inc);
}

/* Sends E on the control socket and returns the reply, or dies with the daemon's error. */
static Envelope *
call(Envelope *e)
{
	struct client_conf cc;
	char *err = NULL;
	void *ctx, *s;
	Envelope *r;

	if (client_conf_load(&cc, conf_path(), opt_key, &err) != 0)
		die("%s", err);
	ctx = zmq_ctx_new();
	if (ctx == NULL)
		die("cannot create a ZeroMQ context");
	s = client_socket(ctx, ZMQ_DEALER, cc.control, &cc, &err);
	if (s == NULL)
		die("%s", err);
	r = client_call(s, e, opt_timeout_ms, &err);
	zmq_close(s);
	zmq_ctx_term(ctx);
	client_conf_finish(&cc);
	if (r == NULL)
		die("%s", err);
	if (r->body_case == MUSTER__ENVELOPE__BODY_ERROR) {
		fprintf(stderr, "muster: refused (%s)%s%s: %s\n", wire_code_name(r->error->code),
			r->error->field[0] ? " field " : "", r->error->field, r->error->message);
		wire_free(r);
		exit(1);
	}
	return r;
}

/* muster init DIR [--force] */
static int
cmd_init(int argc, char **argv)
{
	int force = 0, i;
	const char *dir = NULL;
	char *err = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (dir == NULL && argv[i][0] != '-')
			dir = argv[i];
		else
			usage();
	}
	if (dir == NULL)
		usage();
	if (init_write(dir, force, &err) != 0)
		die("init: %s", err);
	printf("muster: wrote a working configuration to %s\n"
	       "  start the daemon:  musterd -d -c %s/musterd.conf\n"
	       "  start an agent:    muster-agent -c %s -k keys/agent-fire.key\n"
	       "  report:            muster -c %s incident new --type fire.ebike --place <place>\n",
	       dir, dir, dir, dir);
	return 0;
}

static const char *conf_path_file(void);

/* Returns the plan spec S as JSON. */
static json_t *
plan_spec_json(const struct config *c, const struct plan_spec *s)
{
	json_t *o = json_object(), *sk = json_array();
	size_t i;

	json_object_set_new(o, "what",
			    json_string(s->what == PLAN_UNIT	 ? "unit"
					: s->what == PLAN_PERSON ? "person"
								 : "expert"));
	json_object_set_new(o, "kind",
			    json_string(s->what == PLAN_UNIT	 ? s->kind
					: s->what == PLAN_PERSON ? s->role
					: s->local		 ? "local"
					: s->field		 ? s->field
								 : "*"));
	json_object_set_new(
	    o, "department",
	    json_string(s->department >= 0 ? c->roster->departments[s->department].id : "*"));
	json_object_set_new(o, "count", json_integer(s->count));
	for (i = 0; i < s->n_skills; i++)
		json_array_append_new(sk, json_string(s->skills[i]));
	json_object_set_new(o, "skills", sk);
	if (s->what == PLAN_UNIT) {
		const struct plan_class *cl = plan_class(c->plans, s->kind);

		json_object_set_new(o, "ring_s",
				    json_integer(s->ring_s ? s->ring_s
						 : cl	   ? cl->ring_s
							   : 0));
	}
	if (s->task)
		json_object_set_new(o, "task", json_string(s->task));
	return o;
}

/* muster plans [TYPE] [--json]: the response plans as the daemon reads them. */
static int
cmd_plans(int argc, char **argv)
{
	const char *type = NULL;
	char *errors = NULL;
	struct config *c;
	int as_json = 0, i;
	size_t p, g, s;
	json_t *all = json_array();

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (type == NULL && argv[i][0] != '-')
			type = argv[i];
		else
			usage();
	}
	c = cfg_load(conf_path_file(), &errors);
	if (c == NULL) {
		fputs(errors ? errors : "configuration invalid\n", stderr);
		free(errors);
		return 1;
	}
	for (p = 0; p < c->plans->n_plans; p++) {
		const struct plan *pl = &c->plans->plans[p];
		json_t *o, *tiers;
		int t;

		if (type && strcmp(type, pl->type) != 0)
			continue;
		o = json_object();
		tiers = json_object();
		json_object_set_new(o, "type", json_string(pl->type));
		json_object_set_new(o, "name", json_string(pl->name ? pl->name : ""));
		json_object_set_new(o, "owner", json_string(c->roster->departments[pl->owner].id));
		if (!as_json)
			printf("%s  (%s; owner %s)\n", pl->type, pl->name ? pl->name : "",
			       c->roster->departments[pl->owner].id);
		for (t = 0; t < 3; t++) {
			const struct plan_tier *pt = pl->tiers[t];
			json_t *to, *groups;
			char key[4];

			if (pt == NULL)
				continue;
			to = json_object();
			groups = json_array();
			json_object_set_new(to, "level", json_string(plan_level_name(pt->level)));
			json_object_set_new(to, "receipt_s", json_integer(pt->receipt_s));
			json_object_set_new(to, "accept_s", json_integer(pt->accept_s));
			if (!as_json)
				printf("  tier %s, %s-led, receipt %ds, accept %ds\n",
				       t == 0	? "I"
				       : t == 1 ? "II"
						: "III",
				       plan_level_name(pt->level), pt->receipt_s, pt->accept_s);
			for (g = 0; g < pt->n_groups; g++) {
				json_t *go = json_object(), *ms = json_array();

				json_object_set_new(go, "name", json_string(pt->groups[g].name));
				for (s = 0; s < pt->groups[g].n_specs; s++) {
					json_t *sj = plan_spec_json(c, &pt->groups[g].specs[s]);

					if (!as_json)
						printf(
						    "    %-20s %d x %s %s (%s)\n",
						    s == 0 ? pt->groups[g].name : "",
						    (int)json_integer_value(
							json_object_get(sj, "count")),
						    json_string_value(json_object_get(sj, "what")),
						    json_string_value(json_object_get(sj, "kind")),
						    json_string_value(
							json_object_get(sj, "department")));
					json_array_append_new(ms, sj);
				}
				json_object_set_new(go, "members", ms);
				json_array_append_new(groups, go);
			}
			json_object_set_new(to, "groups", groups);
			snprintf(key, sizeof key, "%d", t + 1);
			json_object_set_new(tiers, key, to);
		}
		json_object_set_new(o, "tiers", tiers);
		json_array_append_new(all, o);
	}
	if (as_json) {
		char *text = json_dumps(all, MUSTER_JSON_FLAGS);

		if (text)
			puts(text);
		free(text);
	}
	i = type && json_array_size(all) == 0;
	if (i)
		fprintf(stderr, "muster: no plan for type '%s'\n", type);
	json_decref(all);
	cfg_free(c);
	return i ? 1 : 0;
}

/* Returns the musterd.conf path for the global -c (a file, or a directory holding it). */
static const char *
conf_path_file(void)
{
	static char *full;
	const char *p = conf_path();
	size_t n = strlen(p);

	if (n >= 5 && strcmp(p + n - 5, ".conf") == 0)
		return p;
	free(full);
	full = xasprintf("%s/musterd.conf", p);
	return full;
}

static uint64_t parse_id(const char *s);

/* Parses a duration: seconds, or with an s/m/h suffix. */
static int32_t
parse_duration(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || v < 0)
		die("duration: '%s' is not like 90, 90s, 15m or 2h", s);
	if (*end == 'm')
		v *= 60, end++;
	else if (*end == 'h')
		v *= 3600, end++;
	else if (*end == 's')
		end++;
	if (*end != '\0' || v > 86400 * 7)
		die("duration: '%s' is not like 90, 90s, 15m or 2h", s);
	return (int32_t)v;
}

/* Prints a whistle and its compliance, for a person or as one JSON line. */
static void
print_whistle(const Muster__Whistle *w, int as_json)
{
	char t[32];
	size_t i;

	if (as_json) {
		json_t *o = json_object(), *ds = json_array();
		char *line;

		json_object_set_new(o, "id", json_integer((json_int_t)w->id));
		json_object_set_new(o, "place", json_string(w->place));
		json_object_set_new(o, "matter", json_string(w->matter));
		json_object_set_new(o, "blown_at_ms", json_integer(w->blown_at_ms));
		json_object_set_new(o, "deadline_ms", json_integer(w->deadline_ms));
		json_object_set_new(o, "leader_rank", json_string(w->leader_rank));
		json_object_set_new(o, "headcount", json_integer(w->headcount));
		json_object_set_new(o, "called_by", json_string(w->called_by));
		for (i = 0; i < w->n_departments; i++) {
			const Muster__WhistleDepartment *d = w->departments[i];
			json_t *x = json_object();

			json_object_set_new(x, "department", json_string(d->department));
			json_object_set_new(x, "status", json_string(d->status));
			json_object_set_new(x, "arrived_at_ms", json_integer(d->arrived_at_ms));
			json_object_set_new(x, "leader_rank", json_string(d->leader_rank));
			json_object_set_new(x, "headcount", json_integer(d->headcount));
			json_object_set_new(x, "rank_met", json_boolean(d->rank_met));
			json_object_set_new(x, "headcount_met", json_boolean(d->headcount_met));
			json_object_set_new(x, "late_ms", json_integer(d->late_ms));
			json_array_append_new(ds, x);
		}
		json_object_set_new(o, "departments", ds);
		line = json_dumps(o, MUSTER_JSON_FLAGS);
		if (line)
			puts(line);
		free(line);
		json_decref(o);
		return;
	}
	printf("whistle #%" PRIu64 " at %s: %s\n", w->id, w->place, w->matter);
	printf("  called by %s at %s; ", w->called_by, fmt_time(w->blown_at_ms, t, sizeof t));
	printf("report by %s with a %s or above and %d people\n",
	       fmt_time(w->deadline_ms, t, sizeof t), w->leader_rank, w->headcount);
	for (i = 0; i < w->n_departments; i++) {
		const Muster__WhistleDepartment *d = w->departments[i];

		printf("  %-12s %-8s", d->department, d->status);
		if (d->arrived_at_ms)
			printf(" %s, %d people%s%s%s", d->leader_rank, d->headcount,
			       d->rank_met ? "" : ", RANK NOT MET",
			       d->headcount_met ? "" : ", HEADCOUNT NOT MET",
			       d->late_ms ? ", late" : "");
		printf("\n");
	}
}

/* muster whistle --place P --matter M --departments A,B --deadline D --rank R --headcount N
 * [--incident ID] [--json], or muster whistle show ID [--json]. */
static int
cmd_whistle(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"place", required_argument, NULL, 'p'},
	    {"matter", required_argument, NULL, 'm'},
	    {"departments", required_argument, NULL, 'd'},
	    {"deadline", required_argument, NULL, 'D'},
	    {"rank", required_argument, NULL, 'r'},
	    {"headcount", required_argument, NULL, 'n'},
	    {"incident", required_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	Envelope e, *r;
	Muster__BlowWhistle bw;
	Muster__GetWhistle gw;
	char *depts = NULL, *save = NULL, *tok;
	char **list = NULL;
	size_t n = 0;
	int ch, as_json = 0;

	muster__envelope__init(&e);
	muster__blow_whistle__init(&bw);
	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			bw.place = optarg;
			break;
		case 'm':
			bw.matter = optarg;
			break;
		case 'd':
			depts = optarg;
			break;
		case 'D':
			bw.deadline_s = parse_duration(optarg);
			break;
		case 'r':
			bw.leader_rank = optarg;
			break;
		case 'n':
			bw.headcount = (int32_t)parse_count(optarg, "--headcount");
			break;
		case 'i':
			bw.incident_id = parse_id(optarg);
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 2 == argc && strcmp(argv[optind], "show") == 0) {
		muster__get_whistle__init(&gw);
		gw.id = parse_id(argv[optind + 1]);
		e.body_case = MUSTER__ENVELOPE__BODY_GET_WHISTLE;
		e.get_whistle = &gw;
	} else {
		if (optind != argc || depts == NULL || bw.place == NULL || bw.matter == NULL ||
		    bw.leader_rank == NULL || bw.deadline_s == 0 || bw.headcount == 0)
			die("whistle: --place, --matter, --departments, --deadline, --rank and "
			    "--headcount are required");
		for (tok = strtok_r(depts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			list = xrealloc(list, (n + 1) * sizeof *list);
			list[n++] = tok;
		}
		bw.departments = list;
		bw.n_departments = n;
		e.body_case = MUSTER__ENVELOPE__BODY_BLOW_WHISTLE;
		e.blow_whistle = &bw;
	}
	r = call(&e);
	free(list);
	if (r->body_case != MUSTER__ENVELOPE__BODY_WHISTLE_REPLY || !r->whistle_reply->whistle)
		die("unexpected reply %s", wire_body_name(r->body_case));
	print_whistle(r->whistle_reply->whistle, as_json);
	wire_free(r);
	return 0;
}

/* muster status [--json]: the daemon's gauges with their high-water marks and limits, and
 * its counters (docs/operations.md, "Resources"). */
static int
cmd_status(int argc, char **argv)
{
	Envelope e, *r;
	Muster__GetStatus gs;
	const Muster__StatusReply *sr;
	int as_json = 0;
	size_t i;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		as_json = 1;
	else if (argc != 1)
		usage();
	muster__envelope__init(&e);
	muster__get_status__init(&gs);
	e.body_case = MUSTER__ENVELOPE__BODY_GET_STATUS;
	e.get_status = &gs;
	r = call(&e);
	if (r->body_case != MUSTER__ENVELOPE__BODY_STATUS_REPLY)
		die("unexpected reply %s", wire_body_name(r->body_case));
	sr = r->status_reply;
	if (as_json) {
		json_t *o = json_pack(
		    "{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:{}}", "version", sr->version,
		    "started_at_ms", (json_int_t)sr->started_at_ms, "virtual_clock",
		    sr->virtual_clock, "batches", (json_int_t)sr->batches, "batch_failures",
		    (json_int_t)sr->batch_failures, "undelivered", (json_int_t)sr->undelivered,
		    "send_queue_full", (json_int_t)sr->send_queue_full, "refused_at_limit",
		    (json_int_t)sr->refused_at_limit, "heartbeats_refused",
		    (json_int_t)sr->heartbeats_refused, "gauges");

		if (o == NULL)
			die("out of memory");
		for (i = 0; i < sr->n_gauges; i++) {
			const Muster__Gauge *g = sr->gauges[i];
			json_t *v = json_pack("{s:I, s:I, s:I, s:s}", "value", (json_int_t)g->value,
					      "high_water", (json_int_t)g->high_water, "limit",
					      (json_int_t)g->limit, "unit", g->unit);

			if (v == NULL ||
			    json_object_set_new(json_object_get(o, "gauges"), g->name, v) != 0)
				die("out of memory");
		}
		if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
		    putchar('\n') == EOF)
			die("cannot write the status");
		json_decref(o);
	} else {
		char t[64];

		printf("musterd %s, started %s%s\n", sr->version,
		       fmt_time(sr->started_at_ms, t, sizeof t),
		       sr->virtual_clock ? " (drill clock)" : "");
		printf("%-16s %14s %14s %14s  %s\n", "gauge", "now", "high-water", "limit", "unit");
		for (i = 0; i < sr->n_gauges; i++) {
			const Muster__Gauge *g = sr->gauges[i];
			char lim[32];

			if (g->limit > 0)
				snprintf(lim, sizeof lim, "%" PRId64, g->limit);
			else
				snprintf(lim, sizeof lim, "-");
			printf("%-16s %14" PRId64 " %14" PRId64 " %14s  %s\n", g->name, g->value,
			       g->high_water, lim, g->unit);
		}
		printf("batches %" PRIu64 " (%" PRIu64 " failed), undelivered %" PRIu64 " (%" PRIu64
		       " to a full queue), incidents refused at the limit %" PRIu64
		       ", heartbeats refused as too frequent %" PRIu64 "\n",
		       sr->batches, sr->batch_failures, sr->undelivered, sr->send_queue_full,
		       sr->refused_at_limit, sr->heartbeats_refused);
	}
	wire_free(r);
	return 0;
}

/* muster snapshot NAME: a consistent copy of the running daemon's database, written into its
 * snapshot_dir, for muster report and other analysis. */
static int
cmd_snapshot(int argc, char **argv)
{
	Envelope e, *r;
	Muster__Snapshot sn;

	if (argc != 2)
		usage();
	muster__envelope__init(&e);
	muster__snapshot__init(&sn);
	sn.name = argv[1];
	e.body_case = MUSTER__ENVELOPE__BODY_SNAPSHOT;
	e.snapshot = &sn;
	r = call(&e);
	if (r->body_case != MUSTER__ENVELOPE__BODY_SNAPSHOT_REPLY)
		die("unexpected reply %s", wire_body_name(r->body_case));
	printf("%s: %" PRIu64 " timeline events, %" PRIu64 " bytes\n", r->snapshot_reply->path,
	       r->snapshot_reply->events, r->snapshot_reply->bytes);
	wire_free(r);
	return 0;
}

/* muster check [CONF] */
static int
cmd_check(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : conf_path();
	char *errors = NULL, *full = NULL;
	struct config *c;
	size_t n = strlen(path);

	if (argc > 2)
		usage();
	if (n < 5 || strcmp(path + n - 5, ".conf") != 0)
		full = xasprintf("%s/musterd.conf", path);
	c = cfg_load(full ? full : path, &errors);
	if (c == NULL) {
		fputs(errors ? errors : "configuration invalid\n", stderr);
		if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
			fputc('\n', stderr);
		free(errors);
		free(full);
		return 1;
	}
	printf("%s: configuration OK (%zu places, %zu departments, %zu units, %zu people, %zu "
	       "experts, %zu clients)\n",
	       full ? full : path, c->district->n_places, c->roster->n_departments,
	       c->roster->n_units, c->roster->n_people, c->roster->n_experts, c->n_clients);
	cfg_free(c);
	free(full);
	return 0;
}

/* muster import roster-csv FILE [--table units|people] [--delimiter C] [-o OUT]: writes
 * nothing unless the whole file is good (the output is built in memory first). */
static int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"table", required_argument, NULL, 't'},
	    {"delimiter", required_argument, NULL, 'd'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *table = "units", *outpath = NULL;
	char delim = ',', *text = NULL, *errors = NULL;
	size_t len = 0;
	FILE *mem;
	long n;
	int ch;

	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			table = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "tab") == 0 || strcmp(optarg, "\\t") == 0)
				delim = '\t';
			else if (strlen(optarg) == 1)
				delim = optarg[0];
			else
				die("--delimiter: one character, or 'tab'");
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "roster-csv") != 0)
		usage();
	mem = open_memstream(&text, &len);
	if (mem == NULL)
		die("import: %s", strerror(errno));
	n = import_roster_csv(argv[optind + 1], table, delim, mem, &errors);
	if (fclose(mem) != 0)
		die("import: %s", strerror(errno));
	if (n < 0) {
		fputs(errors, stderr);
		free(errors);
		free(text);
		return 1;
	}
	if (outpath == NULL) {
		fwrite(text, 1, len, stdout);
	} else {
		char *tmp = xasprintf("%s.tmp", outpath);
		FILE *f = fopen(tmp, "w");

		if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0 ||
		    rename(tmp, outpath) != 0)
			die("import: cannot write %s: %s", outpath, strerror(errno));
		free(tmp);
	}
	fprintf(stderr, "muster: imported %ld %s from %s%s%s\n", n, table, argv[optind + 1],
		outpath ? " into " : "", outpath ? outpath : "");
	free(text);
	return 0;
}

/* muster import cad-csv FILE -o OUT.db [--layout sf|LAYOUT.conf]: writes OUT.db only when the
 * whole file is good. */
static int
cmd_import_cad(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"layout", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *layout = NULL, *outpath = NULL;
	struct cadimport_stats st;
	char *errors = NULL;
	int ch;

	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			layout = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "cad-csv") != 0 || outpath == NULL)
		usage();
	if (cadimport_run(argv[optind + 1], layout, outpath, &st, &errors) != 0) {
		fputs(errors, stderr);
		free(errors);
		return 1;
	}
	fprintf(stderr, "muster: imported %ld calls, %ld responses (%ld rows) from %s into %s\n",
		st.calls, st.responses, st.rows, argv[optind + 1], outpath);
	return 0;
}

/* muster import cad-scenario FILE -o SCENARIO.conf [--layout L] [--window FROM..TO]
 * [--scale N] [--config DIR] [--seed N] */
static int
cmd_import_scenario(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"layout", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {"window", required_argument, NULL, 'w'},
	    {"scale", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'C'},
	    {"seed", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	struct cadscenario_opts o;
	struct cadscenario_stats st;
	struct report_opts w;
	char *err = NULL, *end;
	int ch;

	memset(&o, 0, sizeof o);
	memset(&w, 0, sizeof w);
	o.scale = 1;
	o.seed = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o.layout = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'w':
			if (report_parse_window(optarg, &w, &err) != 0) {
				fprintf(stderr, "muster: %s\n", err);
				free(err);
				return 2;
			}
			o.has_from = w.has_from;
			o.has_to = w.has_to;
			o.from_ms = w.from_ms;
			o.to_ms = w.to_ms;
			break;
		case 's':
			errno = 0;
			o.scale = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' || !(o.scale >= 1) ||
			    o.scale > 1e6)
				die("--scale: divide the offsets by 1 to 1000000");
			break;
		case 'C':
			o.config = optarg;
			break;
		case 'S':
			o.seed = (uint64_t)parse_count(optarg, "--seed");
			break;
		default:
			usage();
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "cad-scenario") != 0 || o.out == NULL)
		usage();
	o.csv = argv[optind + 1];
	if (cadscenario_run(&o, &st, &err) != 0) {
		fprintf(stderr, "muster: %s%s", err, err[strlen(err) - 1] == '\n' ? "" : "\n");
		free(err);
		return 1;
	}
	fprintf(stderr,
		"muster: %ld calls: %ld incidents written to %s over %.1f hours; %ld of a type "
		"with no plan left out\n",
		st.calls, st.written, o.out, (double)st.span_ms / 3600000.0, st.unmapped);
	return 0;
}

/* muster replay DB --config DIR [--grid] [-o WORKDIR]: exit 0 when the replay decides the
 * same, 4 when it differs. */
static int
cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'C'},
	    {"grid", no_argument, NULL, 'g'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	struct replay_opts o;
	struct replay_result res;
	char *err = NULL;
	int ch;

	memset(&o, 0, sizeof o);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			o.config = optarg;
			break;
		case 'g':
			o.grid = 1;
			break;
		case 'o':
			o.workdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || o.config == NULL)
		usage();
	o.db = argv[optind];
	if (replay_compare(&o, stdout, &res, &err) != 0) {
		fprintf(stderr, "muster: replay: %s\n", err);
		free(err);
		return 1;
	}
	if (fflush(stdout) != 0)
		die("replay: cannot write: %s", strerror(errno));
	return res.differences ? 4 : 0;
}

/* muster report DB [--json|--csv|--html] [--window FROM..TO] [--by SLICE]
 * [--include-exercise] [--circle SECONDS] [--zone place|grid|community|street]
 * [--status-thresholds G,Y,O] */
static int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"csv", no_argument, NULL, 'C'},
	    {"window", required_argument, NULL, 'w'},
	    {"by", required_argument, NULL, 'b'},
	    {"include-exercise", no_argument, NULL, 'x'},
	    {"circle", required_argument, NULL, 'r'},
	    {"html", no_argument, NULL, 'H'},
	    {"zone", required_argument, NULL, 'z'},
	    {"status-thresholds", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	struct report_opts o;
	char *err = NULL;
	long long circle;
	int ch;

	memset(&o, 0, sizeof o);
	o.circle_ms = 300000;
	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o.format = REPORT_JSON;
			break;
		case 'C':
			o.format = REPORT_CSV;
			break;
		case 'w':
			if (report_parse_window(optarg, &o, &err) != 0) {
				fprintf(stderr, "muster: %s\n", err);
				free(err);
				return 2;
			}
			break;
		case 'b':
			if (!report_slice_known(optarg))
				die("--by '%s': one of type, tier, priority, street, community, "
				    "grid, hour, day, kind, department",
				    optarg);
			o.by = optarg;
			break;
		case 'x':
			o.include_exercise = 1;
			break;
		case 'H':
			o.format = REPORT_HTML;
			break;
		case 'z':
			if (strcmp(optarg, "place") != 0 && strcmp(optarg, "grid") != 0 &&
			    strcmp(optarg, "community") != 0 && strcmp(optarg, "street") != 0)
				die("--zone '%s': one of place, grid, community, street", optarg);
			o.zone = optarg;
			break;
		case 't':
			if (report_parse_thresholds(optarg, &o, &err) != 0) {
				fprintf(stderr, "muster: %s\n", err);
				free(err);
				return 2;
			}
			break;
		case 'r':
			circle = parse_count(optarg, "--circle");
			if (circle < 1 || circle > 86400)
				die("--circle: 1 to 86400 seconds");
			o.circle_ms = circle * 1000;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	if (report_run(argv[optind], &o, stdout, &err) != 0) {
		fprintf(stderr, "muster: %s\n", err);
		free(err);
		return 1;
	}
	if (fflush(stdout) != 0)
		die("report: cannot write: %s", strerror(errno));
	return 0;
}

/* muster drill run SCENARIO [--virtual | --speed N] [-o DIR] [--seed N] [--html FILE] [--keep] */
static int
cmd_drill(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"virtual", no_argument, NULL, 'V'},
	    {"output", required_argument, NULL, 'o'},
	    {"seed", required_argument, NULL, 's'},
	    {"html", required_argument, NULL, 'H'},
	    {"keep", no_argument, NULL, 'k'},
	    {"progress", no_argument, NULL, 'p'},
	    {"speed", required_argument, NULL, 'S'},
	    {"live", no_argument, NULL, 'L'},
	    {NULL, 0, NULL, 0},
	};
	struct drill_opts o;
	struct drill_result res;
	char *err = NULL;
	int ch;

	/* Double-blind drills (clients/blind.c). */
	if (argc >= 2 && (strcmp(argv[1], "arm") == 0 || strcmp(argv[1], "abort") == 0 ||
			  strcmp(argv[1], "show") == 0))
		return blind_main(argc - 1, argv + 1, conf_path(), opt_key, opt_timeout_ms);
	if (argc < 2 || strcmp(argv[1], "run") != 0)
		usage();
	argc--;
	argv++;
	memset(&o, 0, sizeof o);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'V':
			o.speed = 0; /* the default */
			break;
		case 'L':
			o.live = 1;
			o.conf = conf_path();
			o.key = opt_key;
			break;
		case 'S': {
			char *end;

			errno = 0;
			o.speed = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' || !(o.speed >= 1) ||
			    o.speed > 1000)
				die("--speed: 1 to 1000 (times real time)");
			break;
		}
		case 'o':
			o.workdir = optarg;
			break;
		case 's':
			o.has_seed = 1;
			o.seed = (uint64_t)parse_count(optarg, "--seed");
			break;
		case 'H':
			o.html = optarg;
			break;
		case 'k':
			o.keep = 1;
			break;
		case 'p':
			o.show_progress = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	if (drill_run(argv[optind], &o, stdout, &res, &err) != 0) {
		fprintf(stderr, "muster: drill: %s%s", err,
			err[strlen(err) - 1] == '\n' ? "" : "\n");
		free(err);
		return 1;
	}
	if (fflush(stdout) != 0)
		die("drill: cannot write: %s", strerror(errno));
	return res.met == res.expectations ? 0 : 3;
}

/* muster keys new PATH [--id ID --role ROLE [--department D]]: a new CURVE key pair in
 * PATH.key (mode 0600) and PATH.pub, and the clients.conf entry that enrols it. */
static int
cmd_keys(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"role", required_argument, NULL, 'r'},
	    {"department", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const char *id = NULL, *role = NULL, *dept = NULL;
	char pub[41], sec[41], *kpath, *ppath;
	struct stat st;
	int ch;

	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			id = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'd':
			dept = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "new") != 0)
		usage();
	kpath = xasprintf("%s.key", argv[optind + 1]);
	ppath = xasprintf("%s.pub", argv[optind + 1]);
	if (stat(kpath, &st) == 0 || stat(ppath, &st) == 0)
		die("keys: %s or %s exists; refusing to overwrite a key", kpath, ppath);
	if (zmq_curve_keypair(pub, sec) != 0)
		die("keys: cannot generate a key pair: %s", zmq_strerror(errno));
	if (cfg_write_key_pair(kpath, ppath, pub, sec) != 0)
		die("keys: cannot write %s: %s", kpath, strerror(errno));
	memset(sec, 0, sizeof sec);
	printf("wrote %s (secret, mode 0600) and %s\n", kpath, ppath);
	printf("enrol it in clients.conf, then send musterd SIGHUP:\n");
	printf("\t{ id = \"%s\"; role = \"%s\";%s%s%s key = \"%s\"; },\n",
	       id ? id : "operator:NAME", role ? role : "operator", dept ? " department = \"" : "",
	       dept ? dept : "", dept ? "\";" : "", pub);
	free(kpath);
	free(ppath);
	return 0;
}

/* Parses a tier: 1, 2, 3 or I, II, III. */
static uint32_t
parse_tier(const char *s)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "I") == 0)
		return 1;
	if (strcmp(s, "2") == 0 || strcmp(s, "II") == 0)
		return 2;
	if (strcmp(s, "3") == 0 || strcmp(s, "III") == 0)
		return 3;
	die("tier: '%s' is not 1, 2, 3 (I, II, III)", s);
}

/* muster incident new ... */
static int
cmd_incident_new(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"type", required_argument, NULL, 't'},
	    {"place", required_argument, NULL, 'p'},
	    {"at", required_argument, NULL, 'a'},
	    {"description", required_argument, NULL, 'd'},
	    {"casualties", required_argument, NULL, 'c'},
	    {"people-affected", required_argument, NULL, 'P'},
	    {"hazmat", no_argument, NULL, 'h'},
	    {"reporter", required_argument, NULL, 'r'},
	    {"exercise", no_argument, NULL, 'x'},
	    {"json", no_argument, NULL, 'j'},
	    {"building", required_argument, NULL, 'b'},
	    {"tier", required_argument, NULL, 'T'},
	    {"reason", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	Envelope e, *r;
	Muster__SubmitIncident si;
	Muster__Location loc;
	Muster__Coordinates co;
	int ch, as_json = 0, have_coords = 0;
	long long v;

	muster__envelope__init(&e);
	muster__submit_incident__init(&si);
	muster__location__init(&loc);
	muster__coordinates__init(&co);
	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			si.type = optarg;
			break;
		case 'p':
			loc.place = optarg;
			break;
		case 'a':
			parse_coords(optarg, &co.lat, &co.lon);
			have_coords = 1;
			break;
		case 'd':
			si.description = optarg;
			break;
		case 'c':
			v = parse_count(optarg, "--casualties");
			if (v < INT32_MIN || v > INT32_MAX)
				die("--casualties: out of range");
			si.casualties = (int32_t)v;
			break;
		case 'P':
			v = parse_count(optarg, "--people-affected");
			if (v < INT32_MIN || v > INT32_MAX)
				die("--people-affected: out of range");
			si.people_affected = (int32_t)v;
			break;
		case 'h':
			si.hazmat = 1;
			break;
		case 'r':
			si.reporter = optarg;
			break;
		case 'x':
			e.exercise = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'b':
			si.building = optarg;
			break;
		case 'T':
			si.tier = parse_tier(optarg);
			break;
		case 'R':
			si.tier_reason = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || si.type == NULL)
		die("incident new: --type is required (and --place or --at)");
	if (have_coords)
		loc.coords = &co;
	si.location = &loc;
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	r = call(&e);
	if (r->body_case != MUSTER__ENVELOPE__BODY_INCIDENT_REPLY || !r->incident_reply->incident)
		die("unexpected reply %s", wire_body_name(r->body_case));
	print_incident(r->incident_reply->incident, as_json);
	wire_free(r);
	return 0;
}

/* Parses an incident id argument or dies. */
static uint64_t
parse_id(const char *s)
{
	long long v = parse_count(s[0] == '#' ? s + 1 : s, "incident id");

	if (v <= 0)
		die("incident id must be positive");
	return (uint64_t)v;
}

/* muster incident show|list|update|close ... */
static int
cmd_incident_other(const char *verb, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"all", no_argument, NULL, 'a'},
	    {"reason", required_argument, NULL, 'r'},
	    {"description", required_argument, NULL, 'd'},
	    {"casualties", required_argument, NULL, 'c'},
	    {"people-affected", required_argument, NULL, 'P'},
	    {"note", required_argument, NULL, 'n'},
	    {"to", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	Envelope e, *r;
	Muster__GetIncident gi;
	Muster__ListIncidents li;
	Muster__CloseIncident ci;
	Muster__UpdateIncident ui;
	Muster__SetTier st;
	Muster__UnlinkIncident ul;
	Muster__DivertIncident dv;
	const char *to = NULL;
	int ch, as_json = 0, all = 0;
	const char *reason = NULL;
	size_t i;

	muster__envelope__init(&e);
	muster__update_incident__init(&ui);
	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'd':
			ui.description = optarg;
			break;
		case 'c':
			ui.has_casualties = 1;
			ui.casualties = (int32_t)parse_count(optarg, "--casualties");
			break;
		case 'P':
			ui.has_people_affected = 1;
			ui.people_affected = (int32_t)parse_count(optarg, "--people-affected");
			break;
		case 'n':
			ui.note = optarg;
			break;
		case 'o':
			to = optarg;
			break;
		default:
			usage();
		}
	}
	if (strcmp(verb, "list") == 0) {
		uint64_t after = 0;
		int more;

		if (optind != argc)
			usage();
		do {
			muster__envelope__init(&e);
			muster__list_incidents__init(&li);
			li.include_closed = all;
			li.after_id = after;
			e.body_case = MUSTER__ENVELOPE__BODY_LIST_INCIDENTS;
			e.list_incidents = &li;
			r = call(&e);
			if (r->body_case != MUSTER__ENVELOPE__BODY_INCIDENT_LIST)
				die("unexpected reply %s", wire_body_name(r->body_case));
			for (i = 0; i < r->incident_list->n_incidents; i++) {
				const Muster__Incident *inc = r->incident_list->incidents[i];
				char t[32];

				if (as_json)
					print_incident(inc, 1);
				else
					printf("#%-6" PRIu64 " %-7s %-20s %-24s %s  %s\n", inc->id,
					       incident_state_name(inc->state), inc->type,
					       inc->location ? inc->location->place : "",
					       fmt_time(inc->received_at_ms, t, sizeof t),
					       inc->exercise ? "EXERCISE" : "");
				after = inc->id;
			}
			more = r->incident_list->more;
			wire_free(r);
		} while (more);
		return 0;
	}
	if (optind + 1 != argc && !(strcmp(verb, "tier") == 0 && optind + 2 == argc))
		usage();
	if (strcmp(verb, "show") == 0 || strcmp(verb, "cap") == 0) {
		muster__get_incident__init(&gi);
		gi.id = parse_id(argv[optind]);
		e.body_case = MUSTER__ENVELOPE__BODY_GET_INCIDENT;
		e.get_incident = &gi;
	} else if (strcmp(verb, "close") == 0) {
		if (reason == NULL)
			die("incident close: --reason is required");
		muster__close_incident__init(&ci);
		ci.id = parse_id(argv[optind]);
		ci.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_CLOSE_INCIDENT;
		e.close_incident = &ci;
	} else if (strcmp(verb, "unlink") == 0) {
		if (reason == NULL)
			die("incident unlink: --reason is required");
		muster__unlink_incident__init(&ul);
		ul.id = parse_id(argv[optind]);
		ul.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_UNLINK_INCIDENT;
		e.unlink_incident = &ul;
	} else if (strcmp(verb, "divert") == 0) {
		if (reason == NULL || to == NULL)
			die("divert: --to DEPARTMENT and --reason are required");
		muster__divert_incident__init(&dv);
		dv.id = parse_id(argv[optind]);
		dv.to = (char *)to;
		dv.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_DIVERT_INCIDENT;
		e.divert_incident = &dv;
	} else if (strcmp(verb, "tier") == 0) {
		if (optind + 2 != argc)
			usage();
		if (reason == NULL)
			die("incident tier: --reason is required");
		muster__set_tier__init(&st);
		st.id = parse_id(argv[optind]);
		st.tier = parse_tier(argv[optind + 1]);
		st.reason = (char *)reason;
		e.body_case = MUSTER__ENVELOPE__BODY_SET_TIER;
		e.set_tier = &st;
	} else if (strcmp(verb, "update") == 0) {
		ui.id = parse_id(argv[optind]);
		e.body_case = MUSTER__ENVELOPE__BODY_UPDATE_INCIDENT;
		e.update_incident = &ui;
	} else {
		usage();
	}
	r = call(&e);
	if (r->body_case != MUSTER__ENVELOPE__BODY_INCIDENT_REPLY || !r->incident_reply->incident)
		die("unexpected reply %s", wire_body_name(r->body_case));
	if (strcmp(verb, "cap") == 0) {
		if (cap_write(r->incident_reply->incident, "muster", stdout) != 0 ||
		    fflush(stdout) != 0)
			die("incident cap: cannot write the alert");
	} else {
		if (strcmp(verb, "cap") == 0) {
			if (cap_write(r->incident_reply->incident, "muster", stdout) != 0 ||
			    fflush(stdout) != 0)
				die("incident cap: cannot write the alert");
		} else {
			print_incident(r->incident_reply->incident, as_json);
		}
	}
	wire_free(r);
	return 0;
}

/* Returns the string member KEY of O, or "". */
static const char *
jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* Prints one feed event: a JSON line, or one line for a person. */
static void
print_event(const Muster__Event *ev, int as_json)
{
	json_error_t jerr;
	json_t *body = json_loads(ev->body_json, 0, &jerr);
	char t[32];

	if (body == NULL)
		body = json_string(ev->body_json);
	if (as_json) {
		json_t *o = json_object();
		char *line;

		json_object_set_new(o, "seq", json_integer((json_int_t)ev->seq));
		json_object_set_new(o, "wall_ms", json_integer(ev->wall_ms));
		json_object_set_new(o, "actor", json_string(ev->actor));
		json_object_set_new(o, "kind", json_string(ev->kind));
		json_object_set_new(o, "incident_id", json_integer((json_int_t)ev->incident_id));
		json_object_set_new(o, "exercise", json_boolean(ev->exercise));
		json_object_set_new(o, "body", body);
		line = json_dumps(o, MUSTER_JSON_FLAGS);
		if (line)
			puts(line);
		free(line);
		json_decref(o);
		fflush(stdout);
		return;
	}
	printf("%s #%-6" PRIu64 " %-17s %-18s ", fmt_time(ev->wall_ms, t, sizeof t), ev->seq,
	       ev->kind, ev->actor);
	if (strcmp(ev->kind, "incident.opened") == 0) {
		json_t *loc = json_object_get(body, "location");

		printf("#%" PRIu64 " %s at %s (street %s, community %s), casualties %lld: %s",
		       ev->incident_id, jstr(body, "type"), jstr(loc, "place"), jstr(loc, "street"),
		       jstr(loc, "community"),
		       (long long)json_integer_value(json_object_get(body, "casualties")),
		       jstr(body, "description"));
	} else if (strcmp(ev->kind, "incident.closed") == 0) {
		printf("#%" PRIu64 " closed: %s", ev->incident_id, jstr(body, "reason"));
	} else if (strcmp(ev->kind, "agent.registered") == 0) {
		printf("%zu units on duty, %zu refused",
		       json_array_size(json_object_get(body, "units")),
		       json_array_size(json_object_get(body, "rejected")));
	} else if (strcmp(ev->kind, "unit.status") == 0) {
		printf("%s: %s -> %s", jstr(body, "unit"), jstr(body, "from"), jstr(body, "to"));
	} else if (strcmp(ev->kind, "order.created") == 0) {
		printf("#%" PRIu64 " order #%lld: %s %s (%s) for %s, eta %.0fs", ev->incident_id,
		       (long long)json_integer_value(json_object_get(body, "order")),
		       jstr(body, "what"), jstr(body, "member"), jstr(body, "kind"),
		       jstr(body, "group"), json_number_value(json_object_get(body, "eta_s")));
	} else if (strncmp(ev->kind, "order.", 6) == 0) {
		printf("#%" PRIu64 " order #%lld %s: %s%s%s", ev->incident_id,
		       (long long)json_integer_value(json_object_get(body, "order")),
		       jstr(body, "member"), ev->kind + 6,
		       json_is_false(json_object_get(body, "ring_met")) ? " (ring MISSED)" : "",
		       json_is_true(json_object_get(body, "ring_met")) ? " (ring met)" : "");
	} else if (strcmp(ev->kind, "muster.assembled") == 0) {
		printf("#%" PRIu64 " tier %lld, %s-led: %lld ordered, %lld missing",
		       ev->incident_id,
		       (long long)json_integer_value(json_object_get(body, "tier")),
		       jstr(body, "level"),
		       (long long)json_integer_value(json_object_get(body, "ordered")),
		       (long long)json_integer_value(json_object_get(body, "missing")));
	} else if (strcmp(ev->kind, "muster.shortfall") == 0) {
		printf("#%" PRIu64 " SHORTFALL: %zu places cannot be filled", ev->incident_id,
		       json_array_size(json_object_get(body, "missing")));
	} else if (strcmp(ev->kind, "ring.missed") == 0) {
		printf("#%" PRIu64 " RING MISSED: %s (%s) %.0fs late", ev->incident_id,
		       jstr(body, "member"), jstr(body, "kind"),
		       (double)json_integer_value(json_object_get(body, "late_ms")) / 1000.0);
	} else if (strcmp(ev->kind, "supervisor.notice") == 0) {
		printf("to %s (%s): %s", jstr(body, "to"), jstr(body, "kind"), jstr(body, "text"));
	} else if (strcmp(ev->kind, "whistle.reported") == 0) {
		printf("whistle #%lld: %s %s",
		       (long long)json_integer_value(json_object_get(body, "whistle")),
		       jstr(body, "department"), jstr(body, "status"));
	} else if (strcmp(ev->kind, "whistle.compliance") == 0) {
		printf("whistle #%lld: %lld on time, %lld late, %lld absent",
		       (long long)json_integer_value(json_object_get(body, "whistle")),
		       (long long)json_integer_value(json_object_get(body, "on_time")),
		       (long long)json_integer_value(json_object_get(body, "late")),
		       (long long)json_integer_value(json_object_get(body, "absent")));
	} else {
		printf("%s", ev->body_json);
	}
	printf("%s\n", ev->exercise ? "  [EXERCISE]" : "");
	fflush(stdout);
	json_decref(body);
}

/* Stops watch at the next wake-up. */
static void
on_signal(int sig)
{
	stopping = 1;
}

/* muster watch [--json] [--count N] */
static int
cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"count", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct client_conf cc;
	char *err = NULL;
	void *ctx, *s, *mon;
	int ch, as_json = 0;
	long long count = -1, seen = 0;
	struct sigaction sa;

	optind = 0; /* GNU getopt: re-initialise fully after the global scan */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'n':
			count = parse_count(optarg, "--count");
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		die("sigaction: %s", strerror(errno));
	if (client_conf_load(&cc, conf_path(), opt_key, &err) != 0)
		die("%s", err);
	ctx = zmq_ctx_new();
	if (ctx == NULL)
		die("cannot create a ZeroMQ context");
	s = client_socket_unconnected(ctx, ZMQ_SUB, &cc, &err);
	if (s == NULL)
		die("%s", err);
	if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0 ||
	    zmq_socket_monitor(s, "inproc://watch-monitor",
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
				   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
				   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
		die("watch: %s", zmq_strerror(errno));
	mon = zmq_socket(ctx, ZMQ_PAIR);
	if (mon == NULL || zmq_connect(mon, "inproc://watch-monitor") != 0)
		die("watch: monitor: %s", zmq_strerror(errno));
	/* Connected only now that the monitor listens: the first handshake is not missed. */
	if (client_socket_connect(s, cc.feed, &err) != 0)
		die("%s", err);
	while (!stopping && (count < 0 || seen < count)) {
		zmq_pollitem_t pi[2] = {{.socket = s, .events = ZMQ_POLLIN},
					{.socket = mon, .events = ZMQ_POLLIN}};
		int n = zmq_poll(pi, 2, 500);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", zmq_strerror(errno));
		}
		if (pi[1].revents & ZMQ_POLLIN) {
			zmq_msg_t ev, addr;
			uint16_t id = 0;

			zmq_msg_init(&ev);
			zmq_msg_init(&addr);
			if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2 &&
			    zmq_msg_recv(&addr, mon, 0) >= 0)
				memcpy(&id, zmq_msg_data(&ev), sizeof id);
			zmq_msg_close(&ev);
			zmq_msg_close(&addr);
			/* Progress for people (and tests) on stderr; events alone on stdout. */
			if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				fprintf(stderr, "muster: watching %s\n", cc.feed);
			else if (id == ZMQ_EVENT_DISCONNECTED)
				fprintf(stderr, "muster: feed disconnected, reconnecting\n");
			else if (id)
				fprintf(stderr, "muster: feed refused this key (authentication)\n");
		}
		if (pi[0].revents & ZMQ_POLLIN) {
			Envelope *e = client_recv(s, 0, &err);

			if (e == NULL) {
				if (err) {
					fprintf(stderr, "muster: %s\n", err);
					free(err);
					err = NULL;
				}
				continue;
			}
			if (e->body_case == MUSTER__ENVELOPE__BODY_EVENT) {
				print_event(e->event, as_json);
				seen++;
			}
			wire_free(e);
		}
	}
	zmq_socket_monitor(s, NULL, 0);
	zmq_close(mon);
	zmq_close(s);
	zmq_ctx_term(ctx);
	client_conf_finish(&cc);
	return 0;
}

int
main(int argc, char **argv)
{
	int ch;

	log_init("muster", 1, 0);
	/* Global options stop at the first non-option (the command). */
	while ((ch = getopt(argc, argv, "+c:k:t:h")) != -1) {
		switch (ch) {
		case 'c':
			opt_conf = optarg;
			break;
		case 'k':
			opt_key = optarg;
			break;
		case 't':
			opt_timeout_ms = (int)parse_count(optarg, "-t");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "init") == 0)
		return cmd_init(argc, argv);
	if (strcmp(argv[0], "check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(argv[0], "plans") == 0)
		return cmd_plans(argc, argv);
	if (strcmp(argv[0], "import") == 0 && argc >= 2 && strcmp(argv[1], "cad-csv") == 0)
		return cmd_import_cad(argc, argv);
	if (strcmp(argv[0], "import") == 0 && argc >= 2 && strcmp(argv[1], "cad-scenario") == 0)
		return cmd_import_scenario(argc, argv);
	if (strcmp(argv[0], "import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(argv[0], "report") == 0)
		return cmd_report(argc, argv);
	if (strcmp(argv[0], "drill") == 0)
		return cmd_drill(argc, argv);
	if (strcmp(argv[0], "replay") == 0)
		return cmd_replay(argc, argv);
	if (strcmp(argv[0], "keys") == 0)
		return cmd_keys(argc, argv);
	if (strcmp(argv[0], "watch") == 0)
		return cmd_watch(argc, argv);
	if (strcmp(argv[0], "snapshot") == 0)
		return cmd_snapshot(argc, argv);
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(argc, argv);
	if (strcmp(argv[0], "whistle") == 0)
		return cmd_whistle(argc, argv);
	if (strcmp(argv[0], "divert") == 0)
		return cmd_incident_other("divert", argc, argv);
	if (strcmp(argv[0], "incident") == 0 && argc >= 2) {
		if (strcmp(argv[1], "new") == 0)
			return cmd_incident_new(argc - 1, argv + 1);
		return cmd_incident_other(argv[1], argc - 1, argv + 1);
	}
	usage();
}
