/* test_cfg: the sample written by init, a small good configuration, and one bad configuration
 * per class of mistake, each checked for its exact "file:line: message". */
/* nftw() (conftest.h) is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"
#include "conftest.h"

#include "cfg.h"
#include "init.h"
#include "util.h"

#include <zmq.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void);

#define CONF "../data/conf/"

/* The good test configuration: values given, defaults applied, structures filled. */
static void
test_good(void)
{
	struct config *c = expect_load(CONF "good/musterd.conf");
	const struct client *cl;
	struct unit *u;

	if (c == NULL)
		return;
	/* Given in the file. */
	CHECK_STR(c->control_endpoint, "tcp://127.0.0.1:17701");
	CHECK(c->max_frame == 131072);
	/* Defaults, with paths resolved against the file's directory. */
	CHECK_STR(c->agents_endpoint, "tcp://127.0.0.1:7702");
	CHECK_STR(c->feed_endpoint, "tcp://127.0.0.1:7703");
	CHECK_STR(c->database, CONF "good/muster.db");
	CHECK_STR(c->key_file, CONF "good/keys/musterd.key");
	CHECK_STR(c->clients_file, CONF "good/clients.conf");
	CHECK_STR(c->district_file, CONF "good/district.conf");
	CHECK_STR(c->roster_file, CONF "good/roster.conf");
	CHECK_STR(c->plans_file, CONF "good/plans.conf");
	CHECK(c->heartbeat_interval_ms == 5000);
	CHECK(c->heartbeat_min_ms == 1000);
	CHECK(c->unit_stale_ms == 30000);
	CHECK(c->checkpoint_idle_ms == 1000);
	CHECK(c->io_budget == 256);
	CHECK(c->send_hwm == 10000);
	CHECK_STR(c->public_key, "qWhs+0nfGMT7x091%}[YBa9XbQcxCUY.BL*qZlSy");
	CHECK(strlen(c->secret_key) == 40);
	/* District. */
	CHECK(c->district->n_places == 7);
	CHECK_STR(c->district->places[0].id, "s1");
	CHECK(c->district->places[2].parent == 0);
	CHECK(c->district->places[3].n_neighbours == 2);
	CHECK(c->district->places[6].kind == PLACE_KEY && c->district->places[6].post24h);
	CHECK_STR(c->district->places[6].key_kind, "mall");
	CHECK(c->district->places[6].line == 22);
	/* Roster. */
	CHECK(c->roster->n_departments == 2);
	CHECK_STR(c->roster->departments[0].supervisor, "operator:duty");
	CHECK(c->roster->departments[1].supervisor == NULL);
	CHECK(c->roster->n_units == 3);
	u = roster_unit(c->roster, "ms-s1c1");
	CHECK(u != NULL && u->people == 6 && u->n_skills == 2 && u->line == 6);
	CHECK(u != NULL && u->department == roster_department(c->roster, "fire"));
	u = roster_unit(c->roster, "vg-s1c1");
	CHECK(u != NULL && u->people == 1 && u->home_lat == 30.086 && u->home_lon == 120.041);
	u = roster_unit(c->roster, "armed-mall");
	CHECK(u != NULL && u->home_lat == 30.03 && u->home_lon == 120.06);
	CHECK(c->roster->n_people == 2 && c->roster->people[1].unit == 0);
	CHECK(c->roster->people[0].unit == -1);
	CHECK(c->roster->n_experts == 2 && c->roster->experts[0].street == -1);
	CHECK(c->roster->experts[1].street == 0);
	/* Clients. */
	CHECK(c->n_clients == 4);
	cl = cfg_client_by_id(c, "agent:police");
	CHECK(cl != NULL && cl->role == ROLE_AGENT && cl->department == 1);
	CHECK(cl != NULL && cfg_client_by_key(c, cl->key) == cl);
	cl = cfg_client_by_id(c, "operator:duty");
	CHECK(cl != NULL && cl->role == ROLE_OPERATOR && cl->department == -1);
	CHECK(cfg_client_by_id(c, "operator:nobody") == NULL);
	CHECK_STR(cfg_role_name(ROLE_OBSERVER), "observer");
	cfg_free(c);
}

/* A missing plans file is fine; plans_file is then NULL. */
static void
test_no_plans(void)
{
	struct config *c = expect_load(CONF "noplans/musterd.conf");

	if (c == NULL)
		return;
	CHECK(c->plans_file == NULL);
	cfg_free(c);
}

/* Reloading keeps what agents told us about units that are still there. */
static void
test_carry_live(void)
{
	struct config *a = expect_load(CONF "good/musterd.conf");
	struct config *b = expect_load(CONF "good/musterd.conf");
	struct unit *u;

	if (a == NULL || b == NULL)
		goto out;
	u = roster_unit(a->roster, "vg-s1c1");
	u->lat = 30.05;
	u->status = UNIT_STATUS_BUSY;
	u->last_seen_ms = 1234;
	roster_carry_live(b->roster, a->roster);
	u = roster_unit(b->roster, "vg-s1c1");
	CHECK(u->lat == 30.05 && u->status == UNIT_STATUS_BUSY && u->last_seen_ms == 1234);
	u = roster_unit(b->roster, "ms-s1c1");
	CHECK(u->status == UNIT_STATUS_UNKNOWN && u->last_seen_ms == 0);
out:
	cfg_free(a);
	cfg_free(b);
}

/* The sample as `muster init` writes it loads, and init refuses to overwrite. */
static void
test_sample_init(void)
{
	char dir[] = "/tmp/muster-test-cfg-XXXXXX";
	char *err = NULL, *path = NULL;
	struct config *c;
	struct stat st;
	size_t i, guards = 0, micro = 0;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	path = xasprintf("%s/conf", dir);
	CHECK(init_write(path, 0, &err) == 0);
	if (err != NULL)
		fprintf(stderr, "init_write: %s\n", err);
	free(err);
	err = NULL;
	free(path);
	path = xasprintf("%s/conf/musterd.conf", dir);
	c = expect_load(path);
	if (c != NULL) {
		CHECK(c->district->n_places == 10 + 35 + 70 + 12);
		CHECK(c->roster->n_departments == 8);
		CHECK(c->roster->n_units >= 200);
		for (i = 0; i < c->roster->n_units; i++) {
			guards += strcmp(c->roster->units[i].kind, "volunteer_guard") == 0;
			micro += strcmp(c->roster->units[i].kind, "micro_fire_station") == 0;
		}
		CHECK(guards >= 35 * 2);
		CHECK(micro == 35);
		CHECK(c->n_clients == 8 + 3);
		CHECK(cfg_client_by_id(c, "coordinator:drill") != NULL);
		CHECK(c->plans_file != NULL);
		cfg_free(c);
	}
	free(path);
	path = xasprintf("%s/conf/keys/operator.key", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	free(path);
	path = xasprintf("%s/conf/keys/agent-fire.pub", dir);
	CHECK(access(path, R_OK) == 0);
	free(path);
	/* Again: refused, and says which file is in the way. */
	path = xasprintf("%s/conf", dir);
	CHECK(init_write(path, 0, &err) == -1);
	CHECK(err != NULL && strstr(err, "already exists") != NULL);
	free(err);
	err = NULL;
	/* Forced: new keys, still loads. */
	CHECK(init_write(path, 1, &err) == 0);
	free(err);
	free(path);
	rm_tree(dir);
}

/* A syntax error names the file and line. */
static void
test_bad_syntax(void)
{
	static const char *const f[] = {"bad-syntax/musterd.conf:7: syntax error", NULL};

	expect_errors(CONF "bad-syntax/musterd.conf", f);
}

/* An unknown setting is an error. */
static void
test_bad_unknown(void)
{
	static const char *const f[] = {"bad-unknown/musterd.conf:7: unknown setting 'colour'",
					NULL};

	expect_errors(CONF "bad-unknown/musterd.conf", f);
}

/* Wrong types, all reported at once. */
static void
test_bad_type(void)
{
	static const char *const f[] = {
	    "bad-type/musterd.conf:7: 'max_frame' must be an integer",
	    "bad-type/musterd.conf:8: 'control' must be a string",
	    "bad-type/musterd.conf:9: 'feed' is not a ZeroMQ endpoint",
	    NULL,
	};

	expect_errors(CONF "bad-type/musterd.conf", f);
}

/* Out-of-range values, all reported at once. */
static void
test_bad_range(void)
{
	static const char *const f[] = {
	    "bad-range/musterd.conf:7: 'max_frame' = 100 is out of range (256..16777216)",
	    "bad-range/musterd.conf:8: 'io_budget' = 0 is out of range (1..100000)",
	    "bad-range/musterd.conf:9: 'send_hwm' = 5000000 is out of range",
	    NULL,
	};

	expect_errors(CONF "bad-range/musterd.conf", f);
}

/* heartbeat_min_ms above heartbeat_interval_ms would refuse an agent keeping to its interval:
 * reported where it is set, or at the interval when the default is what conflicts. */
static void
test_bad_heartbeat(void)
{
	static const char *const f[] = {
	    "bad-heartbeat/musterd.conf:8: 'heartbeat_min_ms' = 3000 is above "
	    "'heartbeat_interval_ms' = 2000: set it at or below the interval",
	    NULL,
	};
	static const char *const g[] = {
	    "bad-heartbeat-default/musterd.conf:7: 'heartbeat_min_ms' = 1000 (the default) is "
	    "above 'heartbeat_interval_ms' = 500: set it at or below the interval",
	    NULL,
	};

	expect_errors(CONF "bad-heartbeat/musterd.conf", f);
	expect_errors(CONF "bad-heartbeat-default/musterd.conf", g);
}

/* A missing file names the file and the reason, without a line. */
static void
test_bad_missing(void)
{
	static const char *const f[] = {
	    "bad-missing/no-such-district.conf: cannot open: No such file or directory", NULL};
	static const char *const g[] = {"no-such-dir/musterd.conf: cannot open: ", NULL};

	expect_errors(CONF "bad-missing/musterd.conf", f);
	expect_errors(CONF "no-such-dir/musterd.conf", g);
}

/* Duplicate ids in every namespace. */
static void
test_bad_duplicates(void)
{
	static const char *const d[] = {
	    "bad-district/district.conf:9: duplicate place id 's1' (first on line 7)", NULL};
	static const char *const r[] = {
	    "bad-roster/roster.conf:4: duplicate department id 'fire' (first on line 2)",
	    "bad-roster/roster.conf:9: duplicate unit id 'ms-s1c1' (first on line 7)",
	    "bad-roster/roster.conf:20: duplicate person id 'p1' (first on line 19)",
	    "bad-roster/roster.conf:25: duplicate expert id 'x1' (first on line 24)",
	    NULL,
	};
	static const char *const c[] = {
	    "bad-clients/clients.conf:4: duplicate client id 'agent:fire' (first on line 2)",
	    "bad-clients/clients.conf:5: duplicate client key 'R.-hn9ms1h>qj=Z:mCPrICPQ+^x:@C/1["
	    "*luq%gs' (first on line 3)",
	    NULL,
	};

	expect_errors(CONF "bad-district/musterd.conf", d);
	expect_errors(CONF "bad-roster/musterd.conf", r);
	expect_errors(CONF "bad-clients/musterd.conf", c);
}

/* Coordinates off the Earth, and outside the district. */
static void
test_bad_coords(void)
{
	static const char *const d[] = {
	    "bad-district/district.conf:10: street 's3': latitude 95 is out of range (-90..90)",
	    "bad-district/district.conf:11: street 's4': (31.500000, 121.000000) is outside "
	    "the district bounds",
	    "bad-district/district.conf:12: street 's5': longitude 200 is out of range "
	    "(-180..180)",
	    NULL,
	};
	static const char *const r[] = {
	    "bad-roster/roster.conf:16: unit 'vg-y': (40.000000, 116.400000) is outside the "
	    "district bounds",
	    NULL,
	};

	expect_errors(CONF "bad-district/musterd.conf", d);
	expect_errors(CONF "bad-roster/musterd.conf", r);
}

/* References to places that do not exist, or are of the wrong kind. */
static void
test_bad_place_refs(void)
{
	static const char *const d[] = {
	    "bad-district/district.conf:18: community 's1-c2': unknown neighbour 's9-c9'",
	    "bad-district/district.conf:19: community 's2-c1': unknown street 's7'",
	    "bad-district/district.conf:22: grid 's1-c1-g1': 's1' is a street, not a community",
	    "bad-district/district.conf:19: unknown setting 'colour' in community 's2-c1'",
	    NULL,
	};
	static const char *const r[] = {
	    "bad-roster/roster.conf:14: unit 'vg-x': unknown place 'atlantis'",
	    "bad-roster/roster.conf:26: expert 'x2': unknown street 's9'",
	    "bad-roster/roster.conf:27: expert 'x3': 's1-c1' is a community, not a street",
	    "bad-roster/roster.conf:21: person 'p2': unknown unit 'no-such-unit'",
	    NULL,
	};

	expect_errors(CONF "bad-district/musterd.conf", d);
	expect_errors(CONF "bad-roster/musterd.conf", r);
}

/* Unknown departments, in the roster and in clients.conf. */
static void
test_bad_department(void)
{
	static const char *const r[] = {
	    "bad-roster/roster.conf:11: unit 'boat-1': unknown department 'navy'", NULL};
	static const char *const c[] = {
	    "bad-clients/clients.conf:9: client 'agent:navy': unknown department 'navy'", NULL};

	expect_errors(CONF "bad-roster/musterd.conf", r);
	expect_errors(CONF "bad-clients/musterd.conf", c);
}

/* Unknown roles and malformed keys in clients.conf. */
static void
test_bad_clients(void)
{
	static const char *const c[] = {
	    "bad-clients/clients.conf:6: client 'king:me': unknown role 'king'",
	    "bad-clients/clients.conf:7: client 'operator:short': must be 40 Z85 characters, "
	    "not 8",
	    "bad-clients/clients.conf:8: client 'operator:badz85': not a valid Z85 key",
	    "bad-clients/../good/roster.conf:2: department 'fire': supervisor 'operator:duty' is "
	    "not enrolled",
	    NULL,
	};

	expect_errors(CONF "bad-clients/musterd.conf", c);
}

/* Units whose agent is not enrolled as an agent of their department. */
static void
test_bad_agent(void)
{
	static const char *const c[] = {
	    "bad-agent/../good/roster.conf:6: unit 'ms-s1c1': agent 'agent:fire' is of "
	    "department 'police', not 'fire'",
	    "bad-agent/../good/roster.conf:9: unit 'vg-s1c1': agent 'agent:police' has role "
	    "observer, not agent",
	    NULL,
	};

	expect_errors(CONF "bad-agent/musterd.conf", c);
}

/* Key files: mismatched pair in a configuration, and read on their own. */
static void
test_bad_key(void)
{
	static const char *const k[] = {
	    "bad-key/mismatch.key:2: secret key does not match the public key", NULL};
	char pub[41], sec[41], err[256];

	expect_errors(CONF "bad-key/musterd.conf", k);
	CHECK(cfg_read_key_file(CONF "good/keys/musterd.key", pub, sec, err, sizeof err) == 0);
	CHECK_STR(pub, "qWhs+0nfGMT7x091%}[YBa9XbQcxCUY.BL*qZlSy");
	CHECK(cfg_read_key_file(CONF "good/keys/musterd.pub", pub, NULL, err, sizeof err) == 0);
	CHECK(cfg_read_key_file(CONF "good/keys/musterd.pub", pub, sec, err, sizeof err) == -1);
	CHECK(strstr(err, "musterd.pub: key file: missing 'secret'") != NULL);
	CHECK(cfg_read_key_file(CONF "bad-key/short.key", pub, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "short.key:1: public key: must be 40 Z85 characters") != NULL);
	CHECK(cfg_read_key_file(CONF "bad-key/badchar.key", pub, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "badchar.key:1: public key: not a valid Z85 key") != NULL);
	CHECK(cfg_read_key_file(CONF "bad-key/none.key", pub, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "none.key: cannot open: No such file") != NULL);
}

/* A plans file that is present must parse. */
static void
test_bad_plans(void)
{
	static const char *const p[] = {"bad-plans/plans.conf:2: syntax error", NULL};

	expect_errors(CONF "bad-plans/musterd.conf", p);
}

/* A roster with a unit without kind, a person without role and an expert without field,
 * checked against plans that ask for each: every problem is reported, and the plans' checks
 * step over what is missing (they dereferenced it: found by fuzz/fuzz_config). */
static void
test_bad_incomplete_roster(void)
{
	static const char *const r[] = {
	    "bad-incomplete/roster.conf:9: unit 'vg-s1c1': missing 'kind'",
	    "bad-incomplete/roster.conf:15: person 'p1': missing 'role'",
	    "bad-incomplete/roster.conf:20: expert 'x1': missing 'field'",
	    "good.conf:28: plan 'fire.ebike' tier 3 group 'response' member #2: no unit of kind "
	    "'volunteer_guard' of department 'police' in the roster",
	    "good.conf:24: plan 'fire.ebike' tier 3 group 'lead' member #1: no person with role "
	    "'commander' in the roster",
	    "good.conf:36: plan 'fire.ebike' tier 1 group 'technical_support' member #1: no expert "
	    "with field 'fire' of department 'fire' in the roster",
	    NULL,
	};

	expect_errors(CONF "bad-incomplete/musterd.conf", r);
}

/* Writing a key pair and reading it back; files are private. */
static void
test_key_roundtrip(void)
{
	char dir[] = "/tmp/muster-test-key-XXXXXX";
	char pub[41], sec[41], pub2[41], sec2[41], err[256];
	char *key = NULL, *pubf = NULL;
	struct stat st;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	key = xasprintf("%s/x.key", dir);
	pubf = xasprintf("%s/x.pub", dir);
	CHECK(zmq_curve_keypair(pub, sec) == 0);
	CHECK(cfg_write_key_pair(key, pubf, pub, sec) == 0);
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(cfg_read_key_file(key, pub2, sec2, err, sizeof err) == 0);
	CHECK_STR(pub2, pub);
	CHECK_STR(sec2, sec);
	CHECK(cfg_read_key_file(pubf, pub2, NULL, err, sizeof err) == 0);
	CHECK_STR(pub2, pub);
	free(key);
	free(pubf);
	rm_tree(dir);
}

/* The help text lists every setting with its default. */
static void
test_help(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		CHECK(0);
		return;
	}
	cfg_print_help(f);
	CHECK(fclose(f) == 0);
	CHECK(strstr(buf, "max_frame") != NULL && strstr(buf, "256..16777216") != NULL);
	CHECK(strstr(buf, "send_hwm") != NULL && strstr(buf, "keys/musterd.key") != NULL);
	free(buf);
}

/* Runs the cfg tests. */
int
main(void)
{
	RUN(test_good);
	RUN(test_no_plans);
	RUN(test_carry_live);
	RUN(test_sample_init);
	RUN(test_bad_syntax);
	RUN(test_bad_unknown);
	RUN(test_bad_type);
	RUN(test_bad_range);
	RUN(test_bad_heartbeat);
	RUN(test_bad_missing);
	RUN(test_bad_duplicates);
	RUN(test_bad_coords);
	RUN(test_bad_place_refs);
	RUN(test_bad_department);
	RUN(test_bad_clients);
	RUN(test_bad_agent);
	RUN(test_bad_key);
	RUN(test_bad_plans);
	RUN(test_bad_incomplete_roster);
	RUN(test_key_roundtrip);
	RUN(test_help);
	TEST_DONE();
}
