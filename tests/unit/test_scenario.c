/* test_scenario: drill scenarios (clients/scenario.c, clients/model.c). A good file read field
 * by field; one bad file per class of mistake, each checked for its "file:line: message";
 * injects sorted by time with ties in file order; model inheritance and selection; the
 * duration syntax; a scenario on a configuration directory; and every scenario of the
 * library in scenarios/drills (its directory is argv[1]). */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"

#include "conf.h"
#include "init.h"
#include "model.h"
#include "scenario.h"
#include "util.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv);

static char tmpdir[] = "/tmp/test_scenario.XXXXXX";
static const char *library_dir; /* scenarios/drills, from the command line */

/* Removes one entry of a tree walk (depth first). */
static int
rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Writes TEXT to NAME in the scratch directory; returns the new path (caller frees). */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f == NULL)
		return path;
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
	return path;
}

/* Loads TEXT as a scenario expecting success; returns it, or NULL after reporting. */
static struct scenario *
load_good(const char *text)
{
	char *path = write_file("good.conf", text);
	struct strbuf sb = {0};
	struct scenario *s = NULL;

	if (scenario_load(path, &s, &sb) != 0)
		fprintf(stderr, "%s: unexpected errors:\n%s", path, sb.s ? sb.s : "(none)\n");
	CHECK(s != NULL);
	CHECK(sb.s == NULL);
	strbuf_finish(&sb);
	free(path);
	return s;
}

/* Loads TEXT as a scenario expecting failure, and checks that the errors hold "PATH" followed
 * by each fragment of the NULL-terminated list (so ":12: what" checks the line too), and
 * that there are exactly N_LINES problems. */
static void
expect_errors(const char *text, int n_lines, const char *const *fragments)
{
	char *path = write_file("bad.conf", text);
	struct strbuf sb = {0};
	struct scenario *s = (struct scenario *)1;
	const char *const *f;
	const char *p;
	int lines = 0;

	CHECK(scenario_load(path, &s, &sb) == -1);
	CHECK(s == NULL);
	CHECK(sb.s != NULL);
	for (f = fragments; sb.s != NULL && *f != NULL; f++) {
		char *want = xasprintf("%s%s", path, *f);

		if (strstr(sb.s, want) == NULL) {
			fprintf(stderr, "missing \"%s\" in:\n%s", want, sb.s);
			test_failures++;
		}
		free(want);
	}
	for (p = sb.s; p != NULL && *p; p++)
		lines += *p == '\n';
	if (lines != n_lines) {
		fprintf(stderr, "expected %d problems, got %d:\n%s", n_lines, lines,
			sb.s ? sb.s : "");
		test_failures++;
	}
	scenario_free(s);
	strbuf_finish(&sb);
	free(path);
}

/* A scenario with every field, read back as written. */
static void
test_good(void)
{
	static const char text[] =
	    "name = \"Good\";\n"						   /* 1 */
	    "description = \"every field\";\n"					   /* 2 */
	    "seed = 4242;\n"							   /* 3 */
	    "start = \"2025-06-01T21:30:00\";\n"				   /* 4 */
	    "duration = \"1h30m\";\n"						   /* 5 */
	    "config = \"sample\";\n"						   /* 6 */
	    "models = (\n"							   /* 7 */
	    "  { kind = \"volunteer_guard\"; decline = 0.5; },\n"		   /* 8 */
	    "  { kind = \"*\"; speed_kmh = 20.0; receipt_s = [1, 3]; },\n"	   /* 9 */
	    "  { kind = \"patrol\"; department = \"traffic\"; no_show = 0.5; },\n" /* 10 */
	    "  { kind = \"*\"; department = \"fire\"; clear_s = 5; }\n"		   /* 11 */
	    ");\n"								   /* 12 */
	    "injects = (\n"							   /* 13 */
	    "  { at = \"05:00\"; update = { ref = \"fire1\"; casualties = 2; note = \"n\"; }; },\n"
	    "  { at = \"00:00\"; incident = { id = \"fire1\"; type = \"fire.ebike\";\n" /* 15 */
	    "      place = \"s03-c01\"; description = \"shed\"; casualties = 1;\n"
	    "      people_affected = 40; hazmat = true; building = \"urban_village\";\n"
	    "      tier = 1; tier_reason = \"drill\"; }; },\n"
	    "  { at = \"1:00:00\"; tier = { ref = \"fire1\"; tier = 2; reason = \"r\"; }; },\n"
	    "  { at = \"05:00\"; divert = { ref = \"fire1\"; to = \"police\"; reason = \"d\"; }; "
	    "},\n"
	    "  { at = \"10m\"; agent_offline = { department = \"fire\"; for = \"2m\"; }; },\n"
	    "  { at = \"11:00\"; road_blocked = { street = \"s03\"; for = \"10m\"; delay = \"3m\"; "
	    "}; },\n"
	    "  { at = \"12:00\"; road_blocked = { for = \"1m\"; delay = \"30s\"; }; },\n"
	    "  { at = \"13:00\"; whistle = { place = \"s03-c01\"; matter = \"m\";\n"
	    "      departments = [\"housing\", \"citymgmt\"]; deadline = \"30m\";\n"
	    "      rank = \"section chief\"; headcount = 2; ref = \"fire1\"; }; },\n"
	    "  { at = \"20:00\"; surge = { count = 50; over = \"10m\"; types = [\"flood\"];\n"
	    "      places = [\"s01\", \"Gongchen Street\"]; }; },\n"
	    "  { at = \"1:30:00\"; close = { ref = \"fire1\"; reason = \"out\"; }; }\n"
	    ");\n"
	    "expect = (\n"
	    "  { what = \"group_complete\"; within = \"30s\"; },\n"
	    "  { what = \"ring_met\"; kind = \"volunteer_guard\"; share = 90.0; },\n"
	    "  { what = \"circle\"; within = \"5m\"; share = 80; },\n"
	    "  { what = \"whistle_on_time\"; },\n"
	    "  { what = \"no_shortfall\"; },\n"
	    "  { what = \"max_misses\"; count = 3; }\n"
	    ");\n";
	struct scenario *s = load_good(text);
	const struct inject *in;
	const struct model *m;
	size_t i;

	if (s == NULL)
		return;
	CHECK_STR(s->name, "Good");
	CHECK_STR(s->description, "every field");
	CHECK(s->seed == 4242);
	CHECK(s->start_ms == 1748813400000LL); /* 2025-06-01 21:30:00 UTC */
	CHECK(s->duration_ms == 5400000);
	CHECK(s->config_dir == NULL);
	/* Injects by time; the two at 05:00 in file order (update before divert). */
	CHECK(s->n_injects == 10);
	if (s->n_injects != 10)
		goto out;
	{
		static const enum inject_kind order[] = {
		    INJECT_INCIDENT,	 INJECT_UPDATE,	      INJECT_DIVERT,  INJECT_AGENT_OFFLINE,
		    INJECT_ROAD_BLOCKED, INJECT_ROAD_BLOCKED, INJECT_WHISTLE, INJECT_SURGE,
		    INJECT_TIER,	 INJECT_CLOSE,
		};
		for (i = 0; i < 10; i++)
			CHECK(s->injects[i].kind == order[i]);
	}
	for (i = 1; i < s->n_injects; i++)
		CHECK(s->injects[i - 1].at_ms <= s->injects[i].at_ms);
	in = &s->injects[0];
	CHECK(in->at_ms == 0 && in->line == 15 && in->index == 1 && in->incident == -1);
	CHECK_STR(in->u.incident.id, "fire1");
	CHECK_STR(in->u.incident.type, "fire.ebike");
	CHECK_STR(in->u.incident.place, "s03-c01");
	CHECK_STR(in->u.incident.description, "shed");
	CHECK_STR(in->u.incident.building, "urban_village");
	CHECK(in->u.incident.casualties == 1 && in->u.incident.people_affected == 40);
	CHECK(in->u.incident.hazmat == 1 && in->u.incident.tier == 1);
	CHECK_STR(in->u.incident.tier_reason, "drill");
	in = &s->injects[1];
	CHECK(in->at_ms == 300000 && in->line == 14 && in->index == 0 && in->incident == 0);
	CHECK_STR(in->ref, "fire1");
	CHECK(in->u.update.casualties == 2 && in->u.update.people_affected == -1);
	CHECK(in->u.update.description == NULL);
	CHECK_STR(in->u.update.note, "n");
	in = &s->injects[2];
	CHECK(in->at_ms == 300000 && in->index == 3 && in->incident == 0);
	CHECK_STR(in->u.to, "police");
	CHECK_STR(in->reason, "d");
	in = &s->injects[3];
	CHECK_STR(in->u.offline.department, "fire");
	CHECK(in->at_ms == 600000 && in->u.offline.for_ms == 120000);
	in = &s->injects[4];
	CHECK_STR(in->u.road.street, "s03");
	CHECK(in->u.road.community == NULL);
	CHECK(in->u.road.for_ms == 600000 && in->u.road.delay_ms == 180000);
	in = &s->injects[5];
	CHECK(in->u.road.street == NULL && in->u.road.community == NULL);
	CHECK(in->u.road.for_ms == 60000 && in->u.road.delay_ms == 30000);
	in = &s->injects[6];
	CHECK_STR(in->u.whistle.place, "s03-c01");
	CHECK_STR(in->u.whistle.matter, "m");
	CHECK(in->u.whistle.n_departments == 2);
	if (in->u.whistle.n_departments == 2) {
		CHECK_STR(in->u.whistle.departments[0], "housing");
		CHECK_STR(in->u.whistle.departments[1], "citymgmt");
	}
	CHECK(in->u.whistle.deadline_ms == 1800000 && in->u.whistle.headcount == 2);
	CHECK_STR(in->u.whistle.rank, "section chief");
	CHECK(in->incident == 0);
	in = &s->injects[7];
	CHECK(in->u.surge.count == 50 && in->u.surge.over_ms == 600000);
	CHECK(in->u.surge.n_types == 1 && in->u.surge.n_places == 2);
	if (in->u.surge.n_places == 2)
		CHECK_STR(in->u.surge.places[1], "Gongchen Street");
	in = &s->injects[8];
	CHECK(in->at_ms == 3600000 && in->u.tier == 2);
	CHECK_STR(in->reason, "r");
	in = &s->injects[9];
	CHECK(in->at_ms == 5400000 && in->kind == INJECT_CLOSE);
	CHECK_STR(in->reason, "out");
	/* Models: "*" first, whatever its place in the file; the others inherit from it. */
	CHECK(s->n_models == 4);
	if (s->n_models == 4) {
		CHECK_STR(s->models[0].kind, "*");
		CHECK(s->models[0].line == 9 && s->models[0].speed_kmh == 20.0);
		CHECK(s->models[0].receipt_min == 1 && s->models[0].receipt_max == 3);
		CHECK(s->models[0].decline == 0.05 && s->models[0].turnout_max == 120);
	}
	m = scenario_model(s, "police", "volunteer_guard");
	CHECK(m != NULL && m->line == 8 && m->decline == 0.5 && m->speed_kmh == 20.0 &&
	      m->receipt_max == 3);
	/* department + kind > kind > department > "*" */
	m = scenario_model(s, "traffic", "patrol");
	CHECK(m != NULL && m->line == 10 && m->no_show == 0.5);
	m = scenario_model(s, "police", "patrol");
	CHECK(m != NULL && m->line == 9);
	m = scenario_model(s, "fire", "volunteer_guard");
	CHECK(m != NULL && m->line == 8);
	m = scenario_model(s, "fire", "micro_fire_station");
	CHECK(m != NULL && m->line == 11 && m->clear_s == 5 && m->speed_kmh == 20.0);
	m = scenario_model(s, NULL, "micro_fire_station");
	CHECK(m != NULL && m->line == 9);
	m = scenario_model(s, "fire", NULL);
	CHECK(m != NULL && m->line == 11);
	/* Expectations, in file order, with their text. */
	CHECK(s->n_expects == 6);
	if (s->n_expects == 6) {
		CHECK(s->expects[0].what == EXPECT_GROUP_COMPLETE);
		CHECK(s->expects[0].within_ms == 30000);
		CHECK(s->expects[1].what == EXPECT_RING_MET && s->expects[1].share == 90.0);
		CHECK_STR(s->expects[1].kind, "volunteer_guard");
		CHECK_STR(s->expects[1].text,
			  "{ what = \"ring_met\"; kind = \"volunteer_guard\"; share = 90.0; }");
		CHECK(s->expects[2].what == EXPECT_CIRCLE && s->expects[2].share == 80.0);
		CHECK(s->expects[2].within_ms == 300000);
		CHECK(s->expects[3].what == EXPECT_WHISTLE_ON_TIME);
		CHECK(s->expects[4].what == EXPECT_NO_SHORTFALL);
		CHECK(s->expects[5].what == EXPECT_MAX_MISSES && s->expects[5].count == 3);
		CHECK(s->expects[5].line == s->expects[4].line + 1);
		CHECK_STR(scenario_expect_name(s->expects[2].what), "circle");
	}
	CHECK_STR(scenario_inject_name(INJECT_ROAD_BLOCKED), "road_blocked");
out:
	scenario_free(s);
}

/* The smallest scenario: defaults for what is left out. */
static void
test_minimal(void)
{
	struct scenario *s = load_good("name = \"m\"; seed = 0; start = \"2025-01-01T00:00:00Z\";\n"
				       "duration = \"10m\";\n"
				       "injects = ( { at = \"0s\"; incident = { id = \"a\";\n"
				       "  type = \"flood\"; place = \"Civic Square\"; }; } );\n");
	const struct model *m;

	if (s == NULL)
		return;
	CHECK(s->description == NULL && s->config_dir == NULL && s->n_expects == 0);
	CHECK(s->start_ms == 1735689600000LL);
	CHECK(s->n_models == 1);
	m = scenario_model(s, "police", "patrol");
	CHECK(m != NULL && m->turnout_min == 30 && m->turnout_max == 120 && m->speed_kmh == 30.0);
	CHECK(m != NULL && m->decline == 0.05 && m->no_show == 0.02 && m->clear_s == 600);
	CHECK(m != NULL && m->receipt_min == 0 && m->receipt_max == 0);
	CHECK(s->n_injects == 1 && s->injects[0].u.incident.casualties == 0 &&
	      s->injects[0].u.incident.tier == 0 && s->injects[0].u.incident.hazmat == 0);
	scenario_free(s);
}

#define HEAD "name = \"bad\"; seed = 1; start = \"2025-06-01T14:00:00\"; duration = \"30m\";\n"
#define FIRE                                                                                       \
	"  { at = \"00:10\"; incident = { id = \"fire1\"; type = \"fire.ebike\"; place = "         \
	"\"s01-c01\"; }; }"

/* One bad file per class of mistake. */
static void
test_errors(void)
{
	/* A ref to an incident no inject defines, and one injected only later. */
	expect_errors(
	    HEAD "injects = (\n" FIRE ",\n"
		 "  { at = \"01:00\"; close = { ref = \"fire9\"; reason = \"x\"; }; },\n"
		 "  { at = \"00:05\"; tier = { ref = \"fire1\"; tier = 1; reason = \"x\"; }; "
		 "}\n);\n",
	    2,
	    (const char *[]){":4: inject #2 (close): unknown incident 'fire9' (no incident "
			     "inject has that id)",
			     ":5: inject #3 (tier): incident 'fire1' is only injected later "
			     "(at 00:10, line 3)",
			     NULL});
	/* A ref to a closed incident (a whistle about it is allowed). */
	expect_errors(
	    HEAD "injects = (\n" FIRE ",\n"
		 "  { at = \"02:00\"; close = { ref = \"fire1\"; reason = \"x\"; }; },\n"
		 "  { at = \"03:00\"; whistle = { place = \"s01\"; matter = \"m\"; "
		 "departments = [\"fire\"]; deadline = \"1m\"; rank = \"staff\"; "
		 "headcount = 1; ref = \"fire1\"; }; },\n"
		 "  { at = \"04:00\"; close = { ref = \"fire1\"; reason = \"y\"; }; }\n);\n",
	    1,
	    (const char *[]){":6: inject #4 (close): incident 'fire1' is already closed (at "
			     "02:00, line 4)",
			     NULL});
	/* Bad durations and times. */
	expect_errors(
	    "name = \"bad\"; seed = 1; start = \"2025-02-30T14:00:00\";\n"
	    "duration = \"30 minutes\";\n"
	    "injects = ( { at = \"5:7\"; agent_offline = { department = \"fire\"; for = "
	    "120; }; } );\n",
	    4,
	    (const char *[]){":1: scenario: 'start' = \"2025-02-30T14:00:00\" is not a time",
			     ":2: scenario: 'duration' = \"30 minutes\" is not a duration",
			     ":3: inject #1: 'at' = \"5:7\" is not a duration",
			     ":3: inject #1 (agent_offline): 'for' must be a duration in "
			     "quotes",
			     NULL});
	/* Unknown settings, at the top, in an inject, in its body and in a model. */
	expect_errors(HEAD "colour = \"red\";\n"
			   "models = ( { kind = \"*\"; sped_kmh = 3.0; } );\n"
			   "injects = ( { at = \"0s\"; when = 1; incident = { id = \"a\"; type = "
			   "\"flood\"; place = \"s01\"; size = 3; }; } );\n",
		      4,
		      (const char *[]){":2: unknown setting 'colour'",
				       ":3: unknown setting 'sped_kmh' in a model",
				       ":4: unknown setting 'when' in inject #1",
				       ":4: unknown setting 'size' in inject #1 (incident)", NULL});
	/* Missing fields: top level, an incident's, and tier_reason with a tier. */
	expect_errors("seed = 1; start = \"2025-06-01T14:00:00\"; duration = \"30m\";\n"
		      "injects = ( { at = \"0s\"; incident = { id = \"a\"; place = \"s01\";\n"
		      "  tier = 2; }; },\n"
		      "  { incident = { id = \"b\"; type = \"flood\"; place = \"s02\"; }; } );\n",
		      4,
		      (const char *[]){": scenario: missing 'name'",
				       ":2: inject #1 (incident): missing 'type'",
				       ":2: inject #1 (incident): missing 'tier_reason'",
				       ":4: inject #2: missing 'at'", NULL});
	/* Two kinds in one inject, and none. */
	expect_errors(
	    HEAD "injects = ( { at = \"0s\";\n"
		 "  incident = { id = \"a\"; type = \"flood\"; place = \"s01\"; };\n"
		 "  close = { ref = \"a\"; reason = \"x\"; }; },\n"
		 "  { at = \"1m\"; } );\n",
	    2,
	    (const char *[]){":4: inject #1: has both 'incident' and 'close' (one kind per "
			     "inject)",
			     ":5: inject #2: needs one of incident, update", NULL});
	/* An inject after the end, and a surge that ends after it. */
	expect_errors(
	    HEAD "injects = (\n" FIRE ",\n"
		 "  { at = \"31:00\"; close = { ref = \"fire1\"; reason = \"x\"; }; },\n"
		 "  { at = \"25:00\"; surge = { count = 10; over = \"10m\"; types = "
		 "[\"flood\"]; }; }\n);\n",
	    2,
	    (const char *[]){":4: inject #2 (close): at 31:00 is after the end of the drill "
			     "(duration 30:00)",
			     ":5: inject #3 (surge): ends at 35:00, after the end of the "
			     "drill",
			     NULL});
	/* Bad expectations. */
	expect_errors(
	    HEAD "injects = (\n" FIRE "\n);\n"
		 "expect = (\n"
		 "  { what = \"everything_fine\"; },\n"
		 "  { what = \"circle\"; share = 120.0; within = \"5m\"; },\n"
		 "  { what = \"ring_met\"; kind = \"dragon\"; },\n"
		 "  { what = \"group_complete\"; },\n"
		 "  { what = \"no_shortfall\"; count = 2; },\n"
		 "  { within = \"1m\"; }\n);\n",
	    6,
	    (const char *[]){":6: expectation #1: unknown 'what' = \"everything_fine\"",
			     ":7: expectation #2 (circle): 'share' = 120 is out of range "
			     "(0..100)",
			     ":8: expectation #3 (ring_met): no responder class 'dragon'",
			     ":9: expectation #4 (group_complete): missing 'within'",
			     ":10: unknown setting 'count' in expectation #5 (no_shortfall)",
			     ":11: expectation #6: missing 'what'", NULL});
	/* Negative values and unknown names in the sample district. */
	expect_errors(
	    HEAD "models = ( { kind = \"submarine\"; department = \"navy\"; } );\n"
		 "injects = (\n"
		 "  { at = \"0s\"; incident = { id = \"a\"; type = \"fire.space\"; place = "
		 "\"s99\"; casualties = -1; }; },\n"
		 "  { at = \"0s\"; whistle = { place = \"kp-dock\"; matter = \"m\"; "
		 "departments = [\"fire\", \"navy\", \"fire\"]; deadline = \"5s\"; rank = "
		 "\"king\"; headcount = 0; }; },\n"
		 "  { at = \"0s\"; road_blocked = { street = \"s01-c01\"; for = \"1m\"; "
		 "delay = \"0s\"; }; }\n);\n",
	    13,
	    (const char *[]){":2: model submarine: no unit kind 'submarine' in the roster",
			     ":2: model submarine: unknown department 'navy'",
			     ":4: inject #1 (incident): 'casualties' = -1 is out of range",
			     ":4: inject #1 (incident): unknown incident type 'fire.space'",
			     ":4: inject #1 (incident): unknown place 's99'",
			     ":5: inject #2 (whistle): unknown department 'navy'",
			     ":5: inject #2 (whistle): department 'fire' named twice",
			     ":5: inject #2 (whistle): the deadline must be 10 s to 24 h",
			     ":5: inject #2 (whistle): unknown rank 'king'",
			     ":5: inject #2 (whistle): 'headcount' = 0 is out of range",
			     ":5: inject #2 (whistle): the whistle is blown by a street or a "
			     "community; 'kp-dock' is neither",
			     ":6: inject #3 (road_blocked): 's01-c01' is not a street",
			     ":6: inject #3 (road_blocked): 'delay' must be longer than 0", NULL});
	/* Duplicate incident ids, a bad model, a syntax error. */
	expect_errors(HEAD "models = ( { kind = \"patrol\"; decline = 2.0; },\n"
			   "  { kind = \"patrol\"; } );\n"
			   "injects = (\n" FIRE ",\n" FIRE "\n);\n",
		      3,
		      (const char *[]){":2: decline and no_show are probabilities (0 to 1)",
				       ":3: model patrol is given twice",
				       ":6: duplicate incident id 'fire1' (first on line 5)",
				       NULL});
	expect_errors(HEAD "injects = ( { at = ; } );\n", 1,
		      (const char *[]){":2: syntax error", NULL});
}

/* Durations and offsets. */
static void
test_durations(void)
{
	static const struct {
		const char *text;
		int64_t ms; /* -1: invalid */
	} cases[] = {
	    {"90s", 90000},	{"5m", 300000},	      {"2h", 7200000},	 {"1h30m", 5400000},
	    {"2m30s", 150000},	{"1h0m5s", 3605000},  {"05:00", 300000}, {"5:00", 300000},
	    {"90:00", 5400000}, {"1:30:00", 5400000}, {"00:00", 0},	 {"0s", 0},
	    {"", -1},		{"90", -1},	      {"5m1h", -1},	 {"1m1m", -1},
	    {"5:7", -1},	{"5:60", -1},	      {"1:60:00", -1},	 {"1:2:3:4", -1},
	    {"-5m", -1},	{"5 m", -1},	      {"1.5h", -1},	 {"8784h", 31622400000LL},
	    {"8784h1s", -1},	{"1234567890s", -1},  {"1d", -1},	 {":30", -1},
	    {"5:", -1},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		int64_t ms = -1;
		int rc = scenario_parse_duration(cases[i].text, &ms);

		if (cases[i].ms < 0 ? rc != -1 : (rc != 0 || ms != cases[i].ms)) {
			fprintf(stderr, "duration \"%s\": rc %d, %lld ms\n", cases[i].text, rc,
				(long long)ms);
			test_failures++;
		}
	}
	CHECK(scenario_parse_duration(NULL, &(int64_t){0}) == -1);
	CHECK_STR(scenario_format_offset(0, buf, sizeof buf), "00:00");
	CHECK_STR(scenario_format_offset(65000, buf, sizeof buf), "01:05");
	CHECK_STR(scenario_format_offset(3599999, buf, sizeof buf), "59:59");
	CHECK_STR(scenario_format_offset(3661000, buf, sizeof buf), "1:01:01");
}

/* Model lists as muster-agent reads them (no flags), and model_find on its own. */
static void
test_models(void)
{
	struct strbuf sb = {0};
	struct model *v = NULL;
	const struct model *m;
	size_t n = 0;
	char *path;

	/* The agent's format: unknown settings ignored, "*" anywhere, two "*" applied in turn,
	 * department and receipt_s not read. */
	path = write_file("models.conf",
			  "models = ( { kind = \"patrol\"; turnout_s = [1, 2]; colour = 1; },\n"
			  "  { kind = \"*\"; speed_kmh = 10; },\n"
			  "  { kind = \"*\"; decline = 0.5; receipt_s = [5, 6]; } );\n");
	CHECK(model_load_file(path, &v, &n, &sb) == 0);
	CHECK(sb.s == NULL && n == 2);
	m = model_find(v, n, NULL, "patrol");
	CHECK(m != NULL && m->turnout_min == 1 && m->turnout_max == 2 && m->speed_kmh == 10 &&
	      m->decline == 0.5 && m->receipt_max == 0);
	m = model_find(v, n, "police", "ambulance");
	CHECK(m != NULL && m == &v[0] && m->speed_kmh == 10 && m->decline == 0.5);
	model_free(v, n);
	free(path);
	/* The agent's messages, every problem listed. */
	path = write_file("models.conf", "models = ( { kind = \"*\"; decline = 2.0; },\n"
					 "  { kind = \"a\"; turnout_s = [5, 1]; },\n"
					 "  { kind = \"b\"; speed_kmh = \"fast\"; },\n"
					 "  { kind = \"a\"; }, { speed_kmh = 1; } );\n");
	CHECK(model_load_file(path, &v, &n, &sb) == -1);
	CHECK(v == NULL && n == 0);
	CHECK(sb.s != NULL && strstr(sb.s, "models.conf:1: decline and no_show are probabilities"));
	CHECK(sb.s != NULL && strstr(sb.s, "models.conf:2: turnout_s needs 0 <= min <= max"));
	CHECK(sb.s != NULL &&
	      strstr(sb.s, "models.conf:3: speed_kmh, decline, no_show and clear_s are numbers"));
	CHECK(sb.s != NULL && strstr(sb.s, "models.conf:4: model a is given twice"));
	CHECK(sb.s != NULL && strstr(sb.s, "models.conf:4: each model is a group with a kind"));
	strbuf_finish(&sb);
	free(path);
	path = write_file("models.conf", "model = ();\n");
	CHECK(model_load_file(path, &v, &n, &sb) == -1);
	CHECK(sb.s != NULL && strstr(sb.s, "models.conf: needs models = "));
	strbuf_finish(&sb);
	free(path);
	CHECK(model_find(NULL, 0, "x", "y") == NULL);
}

/* A scenario on a configuration directory beside it (written by muster init), checked
 * against that directory's files. */
static void
test_config_dir(void)
{
	char *dir = xasprintf("%s/g", tmpdir), *err = NULL, *want;
	struct strbuf sb = {0};
	struct scenario *s = NULL;
	char *path;

	CHECK(init_write(dir, 0, &err) == 0);
	free(err);
	path = write_file("ondir.conf",
			  HEAD "config = \"g\";\n"
			       "injects = ( { at = \"0s\"; incident = { id = \"a\"; type = "
			       "\"flood\"; place = \"s99\"; }; } );\n");
	CHECK(scenario_load(path, &s, &sb) == -1);
	want = xasprintf("%s:3: inject #1 (incident): unknown place 's99'", path);
	CHECK(sb.s != NULL && strstr(sb.s, want) != NULL);
	free(want);
	strbuf_finish(&sb);
	free(path);
	path = write_file("ondir.conf",
			  HEAD "config = \"g\";\n"
			       "injects = ( { at = \"0s\"; incident = { id = \"a\"; type = "
			       "\"flood\"; place = \"s09\"; }; } );\n");
	CHECK(scenario_load(path, &s, &sb) == 0);
	CHECK(sb.s == NULL);
	CHECK(s != NULL && s->config_dir != NULL && strcmp(s->config_dir, dir) == 0);
	scenario_free(s);
	s = NULL;
	free(path);
	path = write_file("ondir.conf", HEAD "config = \"nowhere\";\n"
					     "injects = ( { at = \"0s\"; whistle = { place = "
					     "\"s01\"; matter = \"m\"; departments = [\"x\"]; "
					     "deadline = \"1m\"; rank = \"staff\"; headcount = "
					     "1; }; } );\n");
	CHECK(scenario_load(path, &s, &sb) == -1);
	want = xasprintf("%s:2: scenario: config 'nowhere': cannot open %s/nowhere/musterd.conf",
			 path, tmpdir);
	CHECK(sb.s != NULL && strstr(sb.s, want) != NULL);
	if (sb.s == NULL || strstr(sb.s, want) == NULL)
		fprintf(stderr, "%s", sb.s ? sb.s : "");
	free(want);
	strbuf_finish(&sb);
	free(path);
	free(dir);
}

/* Every scenario of the library loads without a problem, and the named ones are there. */
static void
test_library(void)
{
	const char *dir = library_dir;
	static const char *const named[] = {
	    "ebike-fire.conf",
	    "construction-collapse-night.conf",
	    "mall-knife-attack.conf",
	    "slope-road-collapse.conf",
	    "crowd-disorder-diversion.conf",
	    "flood.conf",
	    "whistle-community.conf",
	    "surge-500.conf",
	    "missed-expectations.conf",
	};
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t i, found = 0, loaded = 0;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char *path;
		struct strbuf sb = {0};
		struct scenario *s = NULL;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (scenario_load(path, &s, &sb) != 0) {
			fprintf(stderr, "%s", sb.s ? sb.s : "(no message)\n");
			test_failures++;
		} else {
			loaded++;
			CHECK(s->n_injects > 0 && s->n_expects > 0 && s->config_dir == NULL);
		}
		for (i = 0; i < sizeof named / sizeof *named; i++)
			found += strcmp(e->d_name, named[i]) == 0;
		scenario_free(s);
		strbuf_finish(&sb);
		free(path);
	}
	CHECK(closedir(d) == 0);
	CHECK(found == sizeof named / sizeof *named);
	CHECK(loaded >= found);
	printf("library: %zu scenarios loaded\n", loaded);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_scenario SCENARIOS_DIR\n");
		return 2;
	}
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_good);
	RUN(test_minimal);
	RUN(test_errors);
	RUN(test_durations);
	RUN(test_models);
	RUN(test_config_dir);
	library_dir = argv[1];
	RUN(test_library);
	CHECK(nftw(tmpdir, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	TEST_DONE();
}
