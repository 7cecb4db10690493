/* cfg: loads musterd.conf and every file it names, checks all of it, and reports every problem
 * found as "file:line: what is wrong", so that one run of `musterd -n` shows them all. */
#include "cfg.h"
#include "conf.h"
#include "log.h"
#include "plan.h"
#include "util.h"

#include <libconfig.h>
#include <sodium.h>
#include <zmq.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kinds of musterd.conf settings. */
enum cfg_type {
	CFG_T_ENDPOINT, /* a ZeroMQ endpoint, used as written */
	CFG_T_PATH,	/* a file name, resolved against musterd.conf's directory */
	CFG_T_INT,	/* an integer within [min, max] */
};

/* One musterd.conf setting; parsing, defaults, bounds and --help all come from this. */
struct cfg_option {
	const char *name;
	enum cfg_type type;
	long long min, max;  /* CFG_T_INT only */
	const char *def_str; /* default of a string setting */
	int def_int;	     /* default of an integer setting */
	size_t offset;	     /* of the char * or int member in struct config */
	const char *help;
};

#define CFG_STR(n, t, member, def, h)                                                              \
	{                                                                                          \
		n, t, 0, 0, def, 0, offsetof(struct config, member), h                             \
	}
#define CFG_INT(n, member, lo, hi, def, h)                                                         \
	{                                                                                          \
		n, CFG_T_INT, lo, hi, NULL, def, offsetof(struct config, member), h                \
	}

static const struct cfg_option cfg_options[] = {
    CFG_STR("database", CFG_T_PATH, database, "muster.db",
	    "SQLite database file; the daemon holds it exclusively"),
    CFG_STR("control", CFG_T_ENDPOINT, control_endpoint, "tcp://127.0.0.1:7701",
	    "endpoint of the control socket (ROUTER) for the muster client"),
    CFG_STR("agents", CFG_T_ENDPOINT, agents_endpoint, "tcp://127.0.0.1:7702",
	    "endpoint of the agents socket (ROUTER) for muster-agent"),
    CFG_STR("feed", CFG_T_ENDPOINT, feed_endpoint, "tcp://127.0.0.1:7703",
	    "endpoint of the event feed (PUB) for watchers and dashboards"),
    CFG_STR("key_file", CFG_T_PATH, key_file, "keys/musterd.key",
	    "the daemon's CURVE key pair (public and secret, Z85)"),
    CFG_STR("clients", CFG_T_PATH, clients_file, "clients.conf",
	    "enrolled client keys with their identities and roles"),
    CFG_STR("district", CFG_T_PATH, district_file, "district.conf",
	    "the district: streets, communities, grids, key places"),
    CFG_STR("roster", CFG_T_PATH, roster_file, "roster.conf",
	    "departments, units, people and experts"),
    CFG_STR("plans", CFG_T_PATH, plans_file, "plans.conf",
	    "tier rules and response plans; optional: a missing file means no plans"),
    CFG_STR("snapshot_dir", CFG_T_PATH, snapshot_dir, "snapshots",
	    "directory where `muster snapshot` writes its copies; created when needed"),
    CFG_INT("max_frame", max_frame, 256, 16777216, 65536,
	    "largest frame accepted, bytes; a larger one disconnects the peer"),
    CFG_INT("heartbeat_interval_ms", heartbeat_interval_ms, 100, 600000, 5000,
	    "how often agents send heartbeats, milliseconds"),
    CFG_INT("heartbeat_min_ms", heartbeat_min_ms, 0, 600000, 1000,
	    "an agent may send at most one heartbeat per this long, over time, after a burst "
	    "of 10; one beyond that is refused (RESOURCE_EXHAUSTED) and not applied. At most "
	    "heartbeat_interval_ms; 0: no limit; applies on SIGHUP"),
    CFG_INT("unit_stale_ms", unit_stale_ms, 1000, 3600000, 30000,
	    "a unit not heard from for this long is not available, milliseconds"),
    CFG_INT("checkpoint_idle_ms", checkpoint_idle_ms, 10, 600000, 1000,
	    "WAL checkpoint after this long without writes, milliseconds"),
    CFG_INT("io_budget", io_budget, 1, 100000, 256,
	    "messages read per socket per wake-up, so no socket starves the others"),
    CFG_INT("send_hwm", send_hwm, 1, 1000000, 10000,
	    "ZeroMQ send high-water mark per peer, messages"),
    CFG_INT("recv_hwm", recv_hwm, 1, 1000000, 1000,
	    "ZeroMQ receive high-water mark per peer, messages: what a peer may have waiting "
	    "to be read; beyond it the peer's TCP connection waits"),
    CFG_INT("wal_max_pages", wal_max_pages, 16, 1000000, 8192,
	    "the write-ahead log is checkpointed after a commit that leaves it this long, in "
	    "pages (4096 bytes), even without an idle moment; applies on SIGHUP"),
    CFG_INT("max_open_incidents", max_open_incidents, 0, 10000000, 20000,
	    "most incidents open (being mustered) at once; 0: no limit. Beyond it new incidents "
	    "are refused (RESOURCE_EXHAUSTED), drill incidents first; applies on SIGHUP"),
    CFG_INT("max_db_pages", max_db_pages, 0, 2147483647, 0,
	    "largest the database may grow, in pages (4096 bytes); 0: no limit. Once full, "
	    "changes are refused (UNAVAILABLE \"the database is full\") until space is freed "
	    "or the limit raised; applies on SIGHUP"),
};

#define CFG_N_OPTIONS (sizeof cfg_options / sizeof cfg_options[0])

/* Everything one cfg_load needs while it runs. */
struct cfg_ctx {
	struct conf conf;     /* errors go to ERRORS below; its file is the one being read */
	struct strbuf errors; /* one "file:line: what" line per problem */
	struct conf_index places;
	struct conf_index departments;
	struct conf_index units;
	struct conf_index clients;
	int have_district; /* each set when that file parsed, so references can be checked */
	int have_roster;
	int have_clients;
};

/* Returns a new string: the directory part of PATH, "." when it has none. */
static char *
cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xasprintf("%.*s", (int)(slash - path), path);
}

/* Returns a new string: P resolved against DIR unless it is absolute. */
static char *
cfg_resolve(const char *dir, const char *p)
{
	if (p[0] == '/' || strcmp(dir, ".") == 0)
		return xstrdup(p);
	return xasprintf("%s/%s", dir, p);
}

/* Checks that (LAT, LON) given in group G are on Earth and inside district D (when known). */
static int
cfg_check_coords(struct cfg_ctx *x, const config_setting_t *g, const char *what, double lat,
		 double lon, const struct district *d)
{
	if (!(lat >= -90.0 && lat <= 90.0)) {
		conf_error_at(&x->conf, conf_where(g, "lat"),
			      "%s: latitude %g is out of range (-90..90)", what, lat);
		return -1;
	}
	if (!(lon >= -180.0 && lon <= 180.0)) {
		conf_error_at(&x->conf, conf_where(g, "lon"),
			      "%s: longitude %g is out of range (-180..180)", what, lon);
		return -1;
	}
	if (d != NULL && !geo_in_district(d, lat, lon)) {
		conf_error_at(&x->conf, conf_where(g, "lat"),
			      "%s: (%.6f, %.6f) is outside the district bounds (lat %g..%g, lon "
			      "%g..%g)",
			      what, lat, lon, d->south, d->north, d->west, d->east);
		return -1;
	}
	return 0;
}

/* Checks that Z85 (from setting S) is a 40-character Z85 CURVE key; decodes it into KEY when
 * KEY is not NULL. */
static int
cfg_check_z85(struct cfg_ctx *x, const config_setting_t *s, const char *what, const char *z85,
	      uint8_t key[32])
{
	uint8_t buf[32];
	size_t len = strlen(z85);

	if (len != 40) {
		conf_error_at(&x->conf, s, "%s: must be 40 Z85 characters, not %zu", what, len);
		return -1;
	}
	if (zmq_z85_decode(buf, z85) == NULL) {
		conf_error_at(&x->conf, s, "%s: not a valid Z85 key", what);
		return -1;
	}
	if (key != NULL)
		memcpy(key, buf, sizeof buf);
	return 0;
}

/* Reads the settings of musterd.conf (parsed in CF) into C through cfg_options, then fills in
 * the defaults of those not given. */
static void
cfg_load_main(struct cfg_ctx *x, const config_t *cf, struct config *c)
{
	const config_setting_t *root = config_root_setting(cf);
	int seen[CFG_N_OPTIONS] = {0};
	int i, n = config_setting_length(root);
	size_t o;

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct cfg_option *opt = NULL;
		long long v;

		for (o = 0; o < CFG_N_OPTIONS; o++) {
			if (strcmp(cfg_options[o].name, name) == 0) {
				opt = &cfg_options[o];
				break;
			}
		}
		if (opt == NULL) {
			conf_error_at(&x->conf, s, "unknown setting '%s'", name);
			continue;
		}
		seen[o] = 1;
		if (opt->type == CFG_T_INT) {
			if (config_setting_type(s) != CONFIG_TYPE_INT &&
			    config_setting_type(s) != CONFIG_TYPE_INT64) {
				conf_error_at(&x->conf, s, "'%s' must be an integer", name);
				continue;
			}
			v = config_setting_get_int64(s);
			if (v < opt->min || v > opt->max) {
				conf_error_at(&x->conf, s,
					      "'%s' = %lld is out of range (%lld..%lld)", name, v,
					      opt->min, opt->max);
				continue;
			}
			*(int *)(void *)((char *)c + opt->offset) = (int)v;
			continue;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			conf_error_at(&x->conf, s, "'%s' must be a string", name);
			continue;
		}
		if (config_setting_get_string(s)[0] == '\0') {
			conf_error_at(&x->conf, s, "'%s' must not be empty", name);
			continue;
		}
		if (opt->type == CFG_T_ENDPOINT &&
		    strstr(config_setting_get_string(s), "://") == NULL) {
			conf_error_at(&x->conf, s,
				      "'%s' is not a ZeroMQ endpoint (transport://address)", name);
			continue;
		}
		if (opt->type == CFG_T_PATH)
			*(char **)(void *)((char *)c + opt->offset) =
			    cfg_resolve(c->dir, config_setting_get_string(s));
		else
			*(char **)(void *)((char *)c + opt->offset) =
			    xstrdup(config_setting_get_string(s));
	}
	for (o = 0; o < CFG_N_OPTIONS; o++) {
		const struct cfg_option *opt = &cfg_options[o];
		char **sp = (char **)(void *)((char *)c + opt->offset);

		if (opt->type == CFG_T_INT) {
			if (!seen[o])
				*(int *)(void *)((char *)c + opt->offset) = opt->def_int;
		} else if (*sp == NULL) {
			/* Also after a bad value, so that later checks have a file to look at. */
			*sp = opt->type == CFG_T_PATH ? cfg_resolve(c->dir, opt->def_str)
						      : xstrdup(opt->def_str);
		}
	}
	/* An agent keeping to heartbeat_interval_ms must never be refused by heartbeat_min_ms. */
	if (c->heartbeat_min_ms > c->heartbeat_interval_ms) {
		const config_setting_t *s = config_setting_get_member(root, "heartbeat_min_ms");

		conf_error_at(
		    &x->conf, s ? s : config_setting_get_member(root, "heartbeat_interval_ms"),
		    "'heartbeat_min_ms' = %d%s is above 'heartbeat_interval_ms' = %d: set "
		    "it at or below the interval",
		    c->heartbeat_min_ms, s ? "" : " (the default)", c->heartbeat_interval_ms);
	}
}

/* Reads the key file PATH into PUB and, when SEC is not NULL, SEC; reports every problem. */
static int
cfg_load_key(struct cfg_ctx *x, const char *path, char pub[41], char sec[41])
{
	static const char *const keys[] = {"public", "secret", NULL};
	const config_setting_t *root;
	const char *p = NULL, *s = NULL;
	int before = x->conf.n_errors;
	char derived[41];
	config_t cf;

	config_init(&cf);
	x->conf.file = path;
	if (conf_parse_file(&x->conf, &cf, path) < 0)
		goto out;
	root = config_root_setting(&cf);
	conf_check_members(&x->conf, root, keys, NULL);
	if (conf_string(&x->conf, root, "public", 1, "key file", &p) == 1 &&
	    cfg_check_z85(x, config_setting_get_member(root, "public"), "public key", p, NULL) == 0)
		memcpy(pub, p, 41);
	if (sec == NULL)
		goto out;
	if (conf_string(&x->conf, root, "secret", 1, "key file", &s) != 1 ||
	    cfg_check_z85(x, config_setting_get_member(root, "secret"), "secret key", s, NULL) < 0)
		goto out;
	if (x->conf.n_errors != before)
		goto out;
	if (zmq_curve_public(derived, s) != 0) {
		conf_error(&x->conf, path, 0, "cannot derive the public key: %s",
			   zmq_strerror(errno));
		goto out;
	}
	if (strcmp(derived, p) != 0) {
		conf_error_at(&x->conf, config_setting_get_member(root, "secret"),
			      "secret key does not match the public key");
		goto out;
	}
	memcpy(sec, s, 41);
	sodium_memzero(derived, sizeof derived);
out:
	config_destroy(&cf);
	return x->conf.n_errors == before ? 0 : -1;
}

/* The place lists of the district file, in the order they go into district.places. */
struct cfg_place_list {
	const char *list;	/* top-level list name */
	const char *what;	/* one element, for messages */
	enum place_kind kind;	/* kind of its places */
	const char *parent_key; /* member naming the parent place, or NULL */
	enum place_kind parent_kind;
	const char *const *keys; /* members allowed */
};

static const char *const cfg_street_keys[] = {"id", "name", "lat", "lon", NULL};
static const char *const cfg_community_keys[] = {"id",	"name",	      "street", "lat",
						 "lon", "neighbours", NULL};
static const char *const cfg_grid_keys[] = {"id", "name", "community", "lat", "lon", NULL};
static const char *const cfg_key_place_keys[] = {"id",	"name", "community", "kind",
						 "lat", "lon",	"post24h",   NULL};

static const struct cfg_place_list cfg_place_lists[] = {
    {"streets", "street", PLACE_STREET, NULL, PLACE_STREET, cfg_street_keys},
    {"communities", "community", PLACE_COMMUNITY, "street", PLACE_STREET, cfg_community_keys},
    {"grids", "grid", PLACE_GRID, "community", PLACE_COMMUNITY, cfg_grid_keys},
    {"key_places", "key place", PLACE_KEY, "community", PLACE_COMMUNITY, cfg_key_place_keys},
};

#define CFG_N_PLACE_LISTS (sizeof cfg_place_lists / sizeof cfg_place_lists[0])

/* Returns the word for a place kind, for messages. */
static const char *
cfg_kind_name(enum place_kind k)
{
	switch (k) {
	case PLACE_STREET:
		return "street";
	case PLACE_COMMUNITY:
		return "community";
	case PLACE_GRID:
		return "grid";
	case PLACE_KEY:
		return "key place";
	}
	return "place";
}

/* Reads the district header (id, name, bounds) of ROOT into D; unusable bounds become the
 * whole Earth so that one mistake does not turn every place into an error. */
static void
cfg_load_district_header(struct cfg_ctx *x, const config_setting_t *root, struct district *d)
{
	static const char *const keys[] = {"id", "name", "bounds", NULL};
	static const char *const bkeys[] = {"south", "west", "north", "east", NULL};
	const config_setting_t *h = config_setting_get_member(root, "district");
	const config_setting_t *b;
	const char *s;
	int ok = 1;

	d->south = -90;
	d->north = 90;
	d->west = -180;
	d->east = 180;
	if (h == NULL || !config_setting_is_group(h)) {
		conf_error_at(&x->conf, h, "missing group 'district = { id; name; bounds; }'");
		return;
	}
	conf_check_members(&x->conf, h, keys, "district");
	if (conf_string(&x->conf, h, "id", 1, "district", &s) == 1)
		d->id = xstrdup(s);
	if (conf_string(&x->conf, h, "name", 1, "district", &s) == 1)
		d->name = xstrdup(s);
	b = config_setting_get_member(h, "bounds");
	if (b == NULL || !config_setting_is_group(b)) {
		conf_error_at(&x->conf, b ? b : h,
			      "district: missing group 'bounds = { south; west; "
			      "north; east; }'");
		return;
	}
	conf_check_members(&x->conf, b, bkeys, "bounds");
	ok &= conf_number(&x->conf, b, "south", 1, "bounds", &d->south) == 1;
	ok &= conf_number(&x->conf, b, "west", 1, "bounds", &d->west) == 1;
	ok &= conf_number(&x->conf, b, "north", 1, "bounds", &d->north) == 1;
	ok &= conf_number(&x->conf, b, "east", 1, "bounds", &d->east) == 1;
	if (ok && !(d->south >= -90 && d->north <= 90 && d->west >= -180 && d->east <= 180 &&
		    d->south < d->north && d->west < d->east)) {
		conf_error_at(&x->conf, b,
			      "bounds: need -90 <= south < north <= 90 and -180 <= west < "
			      "east <= 180");
		ok = 0;
	}
	if (!ok) {
		d->south = -90;
		d->north = 90;
		d->west = -180;
		d->east = 180;
	}
}

/* Resolves the neighbours of community P (group G) against the place index. */
static void
cfg_load_neighbours(struct cfg_ctx *x, struct district *d, struct place *p,
		    const config_setting_t *g, const char *what)
{
	const config_setting_t *s;
	int bad, i, n;

	s = conf_strings(&x->conf, g, "neighbours", what, &bad);
	if (s == NULL || config_setting_length(s) == 0)
		return;
	n = config_setting_length(s);
	p->neighbours = xcalloc((size_t)n, sizeof *p->neighbours);
	for (i = 0; i < n; i++) {
		const char *ref = config_setting_get_string_elem(s, (unsigned)i);
		int j = conf_index_find(&x->places, ref);

		if (j < 0) {
			conf_error_at(&x->conf, s, "%s: unknown neighbour '%s'", what, ref);
		} else if (d->places[j].kind != PLACE_COMMUNITY) {
			conf_error_at(&x->conf, s, "%s: neighbour '%s' is a %s, not a community",
				      what, ref, cfg_kind_name(d->places[j].kind));
		} else if (&d->places[j] == p) {
			conf_error_at(&x->conf, s, "%s: a community is not its own neighbour",
				      what);
		} else {
			p->neighbours[p->n_neighbours++] = j;
		}
	}
}

/* Reads the district file PATH. Returns a new district (possibly with problems reported, so
 * that the roster can still be checked against it), or NULL when it could not be parsed. */
static struct district *
cfg_load_district(struct cfg_ctx *x, const char *path)
{
	static const char *const keys[] = {"district", "streets",    "communities",
					   "grids",    "key_places", NULL};
	const config_setting_t *root, *lists[CFG_N_PLACE_LISTS];
	const config_setting_t **groups = NULL;
	const char **parents = NULL;
	struct conf_index names = {0};
	struct district *d = NULL;
	size_t total = 0, l, i;
	config_t cf;
	char what[256];

	config_init(&cf);
	x->conf.file = path;
	if (conf_parse_file(&x->conf, &cf, path) < 0)
		goto out;
	root = config_root_setting(&cf);
	conf_check_members(&x->conf, root, keys, NULL);
	d = xcalloc(1, sizeof *d);
	cfg_load_district_header(x, root, d);
	for (l = 0; l < CFG_N_PLACE_LISTS; l++) {
		lists[l] = conf_list(&x->conf, root, cfg_place_lists[l].list, 0, NULL);
		if (lists[l] != NULL)
			total += (size_t)config_setting_length(lists[l]);
	}
	if (lists[0] == NULL || config_setting_length(lists[0]) == 0)
		conf_error(&x->conf, path, 0, "no streets: the district needs 'streets = ( ... )'");
	d->places = xcalloc(total, sizeof *d->places);
	groups = xcalloc(total, sizeof *groups);
	parents = xcalloc(total, sizeof *parents);
	for (l = 0; l < CFG_N_PLACE_LISTS; l++) {
		const struct cfg_place_list *pl = &cfg_place_lists[l];
		int n = lists[l] ? config_setting_length(lists[l]) : 0, k;

		for (k = 0; k < n; k++) {
			const config_setting_t *g =
			    conf_list_group(&x->conf, lists[l], k, pl->what);
			struct place *p;
			const char *id, *s;
			double lat = NAN, lon = NAN;
			int ok;

			if (g == NULL)
				continue;
			snprintf(what, sizeof what, "%s #%d", pl->what, k + 1);
			if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
				conf_check_members(&x->conf, g, pl->keys, what);
				continue;
			}
			snprintf(what, sizeof what, "%s '%s'", pl->what, id);
			conf_check_members(&x->conf, g, pl->keys, what);
			p = &d->places[d->n_places];
			p->id = xstrdup(id);
			p->kind = pl->kind;
			p->parent = -1;
			p->line = (int)config_setting_source_line(g);
			p->name =
			    xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : id);
			ok = conf_number(&x->conf, g, "lat", 1, what, &lat) == 1;
			ok &= conf_number(&x->conf, g, "lon", 1, what, &lon) == 1;
			if (ok)
				(void)cfg_check_coords(x, g, what, lat, lon, d);
			p->lat = lat;
			p->lon = lon;
			if (pl->parent_key != NULL)
				(void)conf_string(&x->conf, g, pl->parent_key, 1, what,
						  &parents[d->n_places]);
			if (pl->kind == PLACE_KEY) {
				if (conf_string(&x->conf, g, "kind", 1, what, &s) == 1)
					p->key_kind = xstrdup(s);
				(void)conf_bool(&x->conf, g, "post24h", what, &p->post24h);
			}
			groups[d->n_places] = g;
			conf_index_add(&x->places, p->id, (int)d->n_places, (unsigned)p->line);
			conf_index_add(&names, p->name, (int)d->n_places, (unsigned)p->line);
			d->n_places++;
		}
	}
	conf_index_sort(&x->conf, &x->places, path, "place id");
	conf_index_sort(&x->conf, &names, path, "place name");
	/* Second pass: parents and neighbours may name any place, wherever it is written. */
	for (i = 0; i < d->n_places; i++) {
		struct place *p = &d->places[i];
		const struct cfg_place_list *pl = &cfg_place_lists[p->kind - 1];
		int j;

		snprintf(what, sizeof what, "%s '%s'", pl->what, p->id);
		if (parents[i] != NULL) {
			j = conf_index_find(&x->places, parents[i]);
			if (j < 0)
				conf_error_at(&x->conf, conf_where(groups[i], pl->parent_key),
					      "%s: unknown %s '%s'", what, pl->parent_key,
					      parents[i]);
			else if (d->places[j].kind != pl->parent_kind)
				conf_error_at(&x->conf, conf_where(groups[i], pl->parent_key),
					      "%s: '%s' is a %s, not a %s", what, parents[i],
					      cfg_kind_name(d->places[j].kind),
					      cfg_kind_name(pl->parent_kind));
			else
				p->parent = j;
		}
		if (p->kind == PLACE_COMMUNITY)
			cfg_load_neighbours(x, d, p, groups[i], what);
	}
	x->have_district = 1;
out:
	conf_index_free(&names);
	free(groups);
	free(parents);
	config_destroy(&cf);
	return d;
}

/* Looks up department member of G; returns its index, or -1 (reported when the roster's
 * departments are known). */
static int
cfg_ref_department(struct cfg_ctx *x, const config_setting_t *g, const char *what)
{
	const char *s;
	int j;

	if (conf_string(&x->conf, g, "department", 1, what, &s) != 1)
		return -1;
	j = conf_index_find(&x->departments, s);
	if (j < 0)
		conf_error_at(&x->conf, conf_where(g, "department"), "%s: unknown department '%s'",
			      what, s);
	return j;
}

/* Looks up place member NAME of G (of KIND, or any kind when KIND is 0) in district D;
 * returns its index or -1 (reported). */
static int
cfg_ref_place(struct cfg_ctx *x, const config_setting_t *g, const char *name, int required,
	      const struct district *d, int kind, const char *what)
{
	const char *s;
	int j;

	if (conf_string(&x->conf, g, name, required, what, &s) != 1)
		return -1;
	if (d == NULL || !x->have_district)
		return -1;
	j = conf_index_find(&x->places, s);
	if (j < 0) {
		conf_error_at(&x->conf, conf_where(g, name), "%s: unknown %s '%s'", what,
			      kind ? cfg_kind_name((enum place_kind)kind) : "place", s);
		return -1;
	}
	if (kind && d->places[j].kind != (enum place_kind)kind) {
		conf_error_at(&x->conf, conf_where(g, name), "%s: '%s' is a %s, not a %s", what, s,
			      cfg_kind_name(d->places[j].kind),
			      cfg_kind_name((enum place_kind)kind));
		return -1;
	}
	return j;
}

/* Reads the departments list of the roster. */
static void
cfg_load_departments(struct cfg_ctx *x, const config_setting_t *list, struct roster *r)
{
	static const char *const keys[] = {"id", "name", "supervisor", NULL};
	int i, n = list ? config_setting_length(list) : 0;
	char what[256];

	r->departments = xcalloc((size_t)n, sizeof *r->departments);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, list, i, "department");
		struct department *dep;
		const char *id, *s;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "department #%d", i + 1);
		if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "department '%s'", id);
		conf_check_members(&x->conf, g, keys, what);
		dep = &r->departments[r->n_departments];
		dep->id = xstrdup(id);
		dep->line = (int)config_setting_source_line(g);
		dep->name = xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : id);
		if (conf_string(&x->conf, g, "supervisor", 0, what, &s) == 1)
			dep->supervisor = xstrdup(s);
		conf_index_add(&x->departments, dep->id, (int)r->n_departments,
			       (unsigned)dep->line);
		r->n_departments++;
	}
	if (r->n_departments == 0)
		conf_error_at(&x->conf, list,
			      "no departments: the roster needs 'departments = ( ... )'");
}

/* Reads a unit's optional shift = [from, to]: the local hours it is on duty (may wrap
 * midnight); without one the unit is on duty around the clock. */
static void
cfg_load_shift(struct cfg_ctx *x, const config_setting_t *g, const char *what, struct unit *u)
{
	const config_setting_t *s = config_setting_get_member(g, "shift");
	int v[2], i;

	u->shift_from = u->shift_to = -1;
	if (s == NULL)
		return;
	if (!config_setting_is_array(s) || config_setting_length(s) != 2) {
		conf_error_at(&x->conf, s, "%s: 'shift' must be [from, to] (local hours)", what);
		return;
	}
	for (i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_INT ||
		    (v[i] = config_setting_get_int(e)) < 0 || v[i] > 23) {
			conf_error_at(&x->conf, s, "%s: 'shift' hours must be whole numbers 0..23",
				      what);
			return;
		}
	}
	if (v[0] == v[1]) {
		conf_error_at(&x->conf, s,
			      "%s: 'shift' [%d, %d] is empty (leave it out for "
			      "around the clock)",
			      what, v[0], v[1]);
		return;
	}
	u->shift_from = v[0];
	u->shift_to = v[1];
}

/* Reads the units list of the roster; stations are places of district D. */
static void
cfg_load_units(struct cfg_ctx *x, const config_setting_t *list, struct roster *r,
	       const struct district *d)
{
	static const char *const keys[] = {"id",      "name",  "department", "kind",
					   "station", "agent", "people",     "skills",
					   "lat",     "lon",   "shift",	     NULL};
	int i, n = list ? config_setting_length(list) : 0;
	char what[256];

	r->units = xcalloc((size_t)n, sizeof *r->units);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, list, i, "unit");
		struct unit *u;
		const char *id, *s;
		int has_lat, has_lon;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "unit #%d", i + 1);
		if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "unit '%s'", id);
		conf_check_members(&x->conf, g, keys, what);
		u = &r->units[r->n_units];
		u->id = xstrdup(id);
		u->line = (int)config_setting_source_line(g);
		u->name = xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : id);
		u->department = cfg_ref_department(x, g, what);
		if (conf_string(&x->conf, g, "kind", 1, what, &s) == 1)
			u->kind = xstrdup(s);
		u->station = cfg_ref_place(x, g, "station", 1, d, 0, what);
		if (conf_string(&x->conf, g, "agent", 1, what, &s) == 1)
			u->agent = xstrdup(s);
		u->people = 1;
		(void)conf_int(&x->conf, g, "people", 0, what, 0, 100000, &u->people);
		(void)conf_copy_strings(&x->conf, g, "skills", what, &u->skills, &u->n_skills);
		if (u->station >= 0) {
			u->home_lat = d->places[u->station].lat;
			u->home_lon = d->places[u->station].lon;
		}
		has_lat = conf_number(&x->conf, g, "lat", 0, what, &u->home_lat);
		has_lon = conf_number(&x->conf, g, "lon", 0, what, &u->home_lon);
		if (has_lat != has_lon && has_lat >= 0 && has_lon >= 0)
			conf_error_at(&x->conf, g, "%s: give both 'lat' and 'lon', or neither",
				      what);
		else if (has_lat == 1 && has_lon == 1)
			(void)cfg_check_coords(x, g, what, u->home_lat, u->home_lon,
					       x->have_district ? d : NULL);
		u->lat = u->home_lat;
		u->lon = u->home_lon;
		u->status = UNIT_STATUS_UNKNOWN;
		cfg_load_shift(x, g, what, u);
		conf_index_add(&x->units, u->id, (int)r->n_units, (unsigned)u->line);
		r->n_units++;
	}
}

/* Reads the people list of the roster. */
static void
cfg_load_people(struct cfg_ctx *x, const config_setting_t *list, struct roster *r)
{
	static const char *const keys[] = {"id",   "name", "department", "role",
					   "rank", "unit", "skills",	 NULL};
	int i, n = list ? config_setting_length(list) : 0;
	char what[256];

	r->people = xcalloc((size_t)n, sizeof *r->people);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, list, i, "person");
		struct person *p;
		const char *id, *s;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "person #%d", i + 1);
		if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "person '%s'", id);
		conf_check_members(&x->conf, g, keys, what);
		p = &r->people[r->n_people];
		p->id = xstrdup(id);
		p->line = (int)config_setting_source_line(g);
		p->name = xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : id);
		p->department = cfg_ref_department(x, g, what);
		if (conf_string(&x->conf, g, "role", 1, what, &s) == 1)
			p->role = xstrdup(s);
		if (conf_string(&x->conf, g, "rank", 0, what, &s) == 1)
			p->rank = xstrdup(s);
		p->unit = -1;
		if (conf_string(&x->conf, g, "unit", 0, what, &s) == 1) {
			p->unit = conf_index_find(&x->units, s);
			if (p->unit < 0)
				conf_error_at(&x->conf, conf_where(g, "unit"),
					      "%s: unknown unit '%s'", what, s);
		}
		(void)conf_copy_strings(&x->conf, g, "skills", what, &p->skills, &p->n_skills);
		r->n_people++;
	}
}

/* Reads the experts list of the roster; local experts name a street of district D. */
static void
cfg_load_experts(struct cfg_ctx *x, const config_setting_t *list, struct roster *r,
		 const struct district *d)
{
	static const char *const keys[] = {"id",     "name",  "department", "field",
					   "street", "agent", NULL};
	int i, n = list ? config_setting_length(list) : 0;
	char what[256];

	r->experts = xcalloc((size_t)n, sizeof *r->experts);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, list, i, "expert");
		struct expert *e;
		const char *id, *s;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "expert #%d", i + 1);
		if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "expert '%s'", id);
		conf_check_members(&x->conf, g, keys, what);
		e = &r->experts[r->n_experts];
		e->id = xstrdup(id);
		e->line = (int)config_setting_source_line(g);
		e->name = xstrdup(conf_string(&x->conf, g, "name", 1, what, &s) == 1 ? s : id);
		e->department = cfg_ref_department(x, g, what);
		if (conf_string(&x->conf, g, "field", 1, what, &s) == 1)
			e->field = xstrdup(s);
		e->street = cfg_ref_place(x, g, "street", 0, d, PLACE_STREET, what);
		if (conf_string(&x->conf, g, "agent", 0, what, &s) == 1)
			e->agent = xstrdup(s);
		r->n_experts++;
	}
}

/* Reads the roster file PATH against district D (may be NULL). Returns a new roster, or NULL
 * when the file could not be parsed. */
static struct roster *
cfg_load_roster(struct cfg_ctx *x, const char *path, const struct district *d)
{
	static const char *const keys[] = {"departments", "units", "people", "experts", NULL};
	const config_setting_t *root;
	struct conf_index people = {0}, experts = {0};
	struct roster *r = NULL;
	size_t i;
	config_t cf;

	config_init(&cf);
	x->conf.file = path;
	if (conf_parse_file(&x->conf, &cf, path) < 0)
		goto out;
	root = config_root_setting(&cf);
	conf_check_members(&x->conf, root, keys, NULL);
	r = xcalloc(1, sizeof *r);
	cfg_load_departments(x, conf_list(&x->conf, root, "departments", 0, NULL), r);
	conf_index_sort(&x->conf, &x->departments, path, "department id");
	cfg_load_units(x, conf_list(&x->conf, root, "units", 0, NULL), r, d);
	conf_index_sort(&x->conf, &x->units, path, "unit id");
	cfg_load_people(x, conf_list(&x->conf, root, "people", 0, NULL), r);
	cfg_load_experts(x, conf_list(&x->conf, root, "experts", 0, NULL), r, d);
	for (i = 0; i < r->n_people; i++)
		conf_index_add(&people, r->people[i].id, (int)i, (unsigned)r->people[i].line);
	conf_index_sort(&x->conf, &people, path, "person id");
	for (i = 0; i < r->n_experts; i++)
		conf_index_add(&experts, r->experts[i].id, (int)i, (unsigned)r->experts[i].line);
	conf_index_sort(&x->conf, &experts, path, "expert id");
	x->have_roster = 1;
out:
	conf_index_free(&people);
	conf_index_free(&experts);
	config_destroy(&cf);
	return r;
}

/* Names of the roles, indexed by bit position. */
static const struct {
	const char *name;
	enum role role;
} cfg_roles[] = {
    {"agent", ROLE_AGENT},
    {"operator", ROLE_OPERATOR},
    {"coordinator", ROLE_COORDINATOR},
    {"observer", ROLE_OBSERVER},
};

/* Reads clients.conf (PATH) into C's clients; agents' departments come from the roster. */
static void
cfg_load_clients(struct cfg_ctx *x, const char *path, struct config *c)
{
	static const char *const fkeys[] = {"clients", NULL};
	static const char *const keys[] = {"id", "role", "department", "key", NULL};
	const config_setting_t *root, *list;
	struct conf_index keyix = {0};
	char what[256];
	config_t cf;
	int i, n;

	config_init(&cf);
	x->conf.file = path;
	if (conf_parse_file(&x->conf, &cf, path) < 0)
		goto out;
	root = config_root_setting(&cf);
	conf_check_members(&x->conf, root, fkeys, NULL);
	list = conf_list(&x->conf, root, "clients", 0, NULL);
	if (list == NULL && config_setting_get_member(root, "clients") == NULL)
		conf_error(&x->conf, path, 0, "no clients: the file needs 'clients = ( ... )'");
	n = list ? config_setting_length(list) : 0;
	c->clients = xcalloc((size_t)n, sizeof *c->clients);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = conf_list_group(&x->conf, list, i, "client");
		struct client *cl;
		const char *id, *s;
		size_t r;

		if (g == NULL)
			continue;
		snprintf(what, sizeof what, "client #%d", i + 1);
		if (conf_string(&x->conf, g, "id", 1, what, &id) != 1) {
			conf_check_members(&x->conf, g, keys, what);
			continue;
		}
		snprintf(what, sizeof what, "client '%s'", id);
		conf_check_members(&x->conf, g, keys, what);
		cl = &c->clients[c->n_clients];
		cl->id = xstrdup(id);
		cl->line = (int)config_setting_source_line(g);
		cl->department = -1;
		if (conf_string(&x->conf, g, "role", 1, what, &s) == 1) {
			for (r = 0; r < sizeof cfg_roles / sizeof cfg_roles[0]; r++) {
				if (strcmp(cfg_roles[r].name, s) == 0)
					cl->role = cfg_roles[r].role;
			}
			if (cl->role == 0)
				conf_error_at(&x->conf, conf_where(g, "role"),
					      "%s: unknown role '%s' (agent, operator, coordinator "
					      "or observer)",
					      what, s);
		}
		if (cl->role == ROLE_AGENT) {
			if (x->have_roster)
				cl->department = cfg_ref_department(x, g, what);
			else
				(void)conf_string(&x->conf, g, "department", 1, what, &s);
		} else if (cl->role != 0 && config_setting_get_member(g, "department") != NULL) {
			conf_error_at(&x->conf, conf_where(g, "department"),
				      "%s: only agents belong to a department", what);
		}
		if (conf_string(&x->conf, g, "key", 1, what, &s) == 1 &&
		    cfg_check_z85(x, conf_where(g, "key"), what, s, cl->key) == 0) {
			memcpy(cl->key_z85, s, 41);
			conf_index_add(&keyix, cl->key_z85, (int)c->n_clients,
				       config_setting_source_line(conf_where(g, "key")));
		}
		conf_index_add(&x->clients, cl->id, (int)c->n_clients, (unsigned)cl->line);
		c->n_clients++;
	}
	conf_index_sort(&x->conf, &x->clients, path, "client id");
	conf_index_sort(&x->conf, &keyix, path, "client key");
	x->have_clients = 1;
out:
	conf_index_free(&keyix);
	config_destroy(&cf);
}

/* Checks that IDENTITY, named as ROLE by OWNER at LINE of the roster, is an enrolled client;
 * returns it or NULL (reported). */
static const struct client *
cfg_check_enrolled(struct cfg_ctx *x, const struct config *c, const char *identity,
		   const char *owner, const char *role, int line)
{
	int j = conf_index_find(&x->clients, identity);

	if (j < 0) {
		conf_error(&x->conf, c->roster_file, (unsigned)line,
			   "%s: %s '%s' is not enrolled in %s", owner, role, identity,
			   c->clients_file);
		return NULL;
	}
	return &c->clients[j];
}

/* Checks the identities the roster names (unit agents, supervisors, expert relays) against
 * clients.conf: each must be enrolled, and a unit's agent must be of the unit's department. */
static void
cfg_check_identities(struct cfg_ctx *x, const struct config *c)
{
	const struct roster *r = c->roster;
	char what[256];
	size_t i;

	if (r == NULL || !x->have_roster || !x->have_clients)
		return;
	for (i = 0; i < r->n_units; i++) {
		const struct unit *u = &r->units[i];
		const struct client *cl;

		if (u->agent == NULL)
			continue;
		snprintf(what, sizeof what, "unit '%s'", u->id);
		cl = cfg_check_enrolled(x, c, u->agent, what, "agent", u->line);
		if (cl == NULL)
			continue;
		if (cl->role != ROLE_AGENT)
			conf_error(&x->conf, c->roster_file, (unsigned)u->line,
				   "unit '%s': agent '%s' has role %s, not agent", u->id, u->agent,
				   cfg_role_name(cl->role));
		else if (u->department >= 0 && cl->department >= 0 &&
			 cl->department != u->department)
			conf_error(&x->conf, c->roster_file, (unsigned)u->line,
				   "unit '%s': agent '%s' is of department '%s', not '%s'", u->id,
				   u->agent, r->departments[cl->department].id,
				   r->departments[u->department].id);
	}
	for (i = 0; i < r->n_departments; i++) {
		if (r->departments[i].supervisor == NULL)
			continue;
		snprintf(what, sizeof what, "department '%s'", r->departments[i].id);
		(void)cfg_check_enrolled(x, c, r->departments[i].supervisor, what, "supervisor",
					 r->departments[i].line);
	}
	for (i = 0; i < r->n_experts; i++) {
		if (r->experts[i].agent == NULL)
			continue;
		snprintf(what, sizeof what, "expert '%s'", r->experts[i].id);
		(void)cfg_check_enrolled(x, c, r->experts[i].agent, what, "agent",
					 r->experts[i].line);
	}
}

/* Loads the optional plans file into C->plans, checked against the roster, with its problems
 * among the others. Absent is fine: plans_file becomes NULL and the plans are empty (every
 * incident type unknown); C->plans is never left NULL. */
static void
cfg_load_plans(struct cfg_ctx *x, struct config *c)
{
	struct stat st;

	if (stat(c->plans_file, &st) != 0 && errno == ENOENT) {
		log_debug("cfg: %s does not exist; no plans", c->plans_file);
		free(c->plans_file);
		c->plans_file = NULL;
		c->plans = plan_new();
		return;
	}
	x->conf.file = c->plans_file;
	c->plans = plan_load(c->plans_file, x->have_roster ? c->roster : NULL, &x->errors);
	if (c->plans == NULL) {
		/* plan_load has written its own lines; count them as failing the load. */
		x->conf.n_errors++;
		c->plans = plan_new();
	}
}

/* Returns a new string of the errors collected in X, without the last newline. */
static char *
cfg_errors_take(struct cfg_ctx *x)
{
	char *s;

	if (x->errors.s == NULL)
		return xstrdup("unknown error");
	if (x->errors.len > 0 && x->errors.s[x->errors.len - 1] == '\n')
		x->errors.s[--x->errors.len] = '\0';
	s = x->errors.s;
	x->errors.s = NULL;
	strbuf_finish(&x->errors);
	return s;
}

/* Zeroes X and points its error collection at its own strbuf. */
static void
cfg_ctx_init(struct cfg_ctx *x)
{
	memset(x, 0, sizeof *x);
	x->conf.errors = &x->errors;
}

/* Frees the indexes and messages of X. */
static void
cfg_ctx_finish(struct cfg_ctx *x)
{
	conf_index_free(&x->places);
	conf_index_free(&x->departments);
	conf_index_free(&x->units);
	conf_index_free(&x->clients);
	strbuf_finish(&x->errors);
}

/* Loads the whole configuration as one unit; see cfg.h. */
struct config *
cfg_load(const char *path, char **errors)
{
	struct cfg_ctx x;
	struct config *c;
	config_t cf;
	int parsed;

	cfg_ctx_init(&x);
	if (errors != NULL)
		*errors = NULL;
	c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->dir = cfg_dirname(path);
	x.conf.file = path;
	config_init(&cf);
	parsed = conf_parse_file(&x.conf, &cf, path) == 0;
	if (parsed)
		cfg_load_main(&x, &cf, c);
	config_destroy(&cf);
	/* Without a readable musterd.conf the other files' names are unknown. */
	if (!parsed)
		goto fail;
	(void)cfg_load_key(&x, c->key_file, c->public_key, c->secret_key);
	c->district = cfg_load_district(&x, c->district_file);
	c->roster = cfg_load_roster(&x, c->roster_file, c->district);
	cfg_load_clients(&x, c->clients_file, c);
	cfg_check_identities(&x, c);
	cfg_load_plans(&x, c);
	if (x.conf.n_errors > 0)
		goto fail;
	cfg_ctx_finish(&x);
	return c;
fail:
	if (errors != NULL)
		*errors = cfg_errors_take(&x);
	cfg_ctx_finish(&x);
	cfg_free(c);
	return NULL;
}

/* Frees a config and everything it owns, wiping the secret key. */
void
cfg_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->dir);
	free(c->database);
	free(c->control_endpoint);
	free(c->agents_endpoint);
	free(c->feed_endpoint);
	free(c->key_file);
	free(c->clients_file);
	free(c->district_file);
	free(c->roster_file);
	free(c->plans_file);
	free(c->snapshot_dir);
	sodium_memzero(c->secret_key, sizeof c->secret_key);
	geo_free(c->district);
	roster_free(c->roster);
	plan_free(c->plans);
	for (i = 0; i < c->n_clients; i++)
		free(c->clients[i].id);
	free(c->clients);
	free(c);
}

/* Prints the settings table as help text. */
void
cfg_print_help(FILE *out)
{
	size_t o;

	fprintf(out, "musterd.conf settings (libconfig syntax: name = value;):\n");
	for (o = 0; o < CFG_N_OPTIONS; o++) {
		const struct cfg_option *opt = &cfg_options[o];

		switch (opt->type) {
		case CFG_T_INT:
			fprintf(out, "  %-22s integer %lld..%lld, default %d\n", opt->name,
				opt->min, opt->max, opt->def_int);
			break;
		case CFG_T_PATH:
			fprintf(out, "  %-22s path, default \"%s\"\n", opt->name, opt->def_str);
			break;
		case CFG_T_ENDPOINT:
			fprintf(out, "  %-22s endpoint, default \"%s\"\n", opt->name, opt->def_str);
			break;
		}
		fprintf(out, "  %-22s   %s\n", "", opt->help);
	}
	fprintf(out, "Relative paths resolve against the directory of musterd.conf.\n");
}

/* Looks up a string setting's default in the table, for clients that read musterd.conf. */
const char *
cfg_default_string(const char *name)
{
	size_t o;

	if (name == NULL)
		return NULL;
	for (o = 0; o < CFG_N_OPTIONS; o++) {
		if (cfg_options[o].type != CFG_T_INT && strcmp(cfg_options[o].name, name) == 0)
			return cfg_options[o].def_str;
	}
	return NULL;
}

/* Finds a client by its CURVE public key (a scan: clients are few). */
const struct client *
cfg_client_by_key(const struct config *c, const uint8_t key[32])
{
	size_t i;

	if (c == NULL || key == NULL)
		return NULL;
	for (i = 0; i < c->n_clients; i++) {
		if (memcmp(c->clients[i].key, key, 32) == 0)
			return &c->clients[i];
	}
	return NULL;
}

/* Finds a client by identity. */
const struct client *
cfg_client_by_id(const struct config *c, const char *id)
{
	size_t i;

	if (c == NULL || id == NULL)
		return NULL;
	for (i = 0; i < c->n_clients; i++) {
		if (strcmp(c->clients[i].id, id) == 0)
			return &c->clients[i];
	}
	return NULL;
}

/* Names a role for messages and clients.conf. */
const char *
cfg_role_name(enum role r)
{
	size_t i;

	for (i = 0; i < sizeof cfg_roles / sizeof cfg_roles[0]; i++) {
		if (cfg_roles[i].role == r)
			return cfg_roles[i].name;
	}
	return "unknown";
}

/* Reads a key file on its own, for clients and `muster check`; see cfg.h. */
int
cfg_read_key_file(const char *path, char public_key[41], char secret_key[41], char *err,
		  size_t errlen)
{
	struct cfg_ctx x;
	int rc;

	cfg_ctx_init(&x);
	rc = cfg_load_key(&x, path, public_key, secret_key);
	if (rc < 0 && err != NULL && errlen > 0) {
		char *msg = cfg_errors_take(&x);

		snprintf(err, errlen, "%s", msg);
		free(msg);
	}
	cfg_ctx_finish(&x);
	return rc;
}

/* Writes TEXT to PATH with MODE (also when the file existed), flushed to disk. Returns 0, or
 * -1 with errno set. */
static int
cfg_write_secret_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), off = 0;
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	return close(fd);
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

/* Writes a key pair file and, optionally, its public half; see cfg.h. */
int
cfg_write_key_pair(const char *path, const char *pub_path, const char public_key[41],
		   const char secret_key[41])
{
	char *text;
	int rc;

	text = xasprintf("# CURVE key pair (Z85). Keep this file secret: mode 0600.\n"
			 "public = \"%s\";\n"
			 "secret = \"%s\";\n",
			 public_key, secret_key);
	rc = cfg_write_secret_file(path, text, 0600);
	sodium_memzero(text, strlen(text));
	free(text);
	if (rc < 0 || pub_path == NULL)
		return rc;
	text = xasprintf("# CURVE public key (Z85); give it to whoever must trust this key.\n"
			 "public = \"%s\";\n",
			 public_key);
	rc = cfg_write_secret_file(pub_path, text, 0600);
	free(text);
	return rc;
}
