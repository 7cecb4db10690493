/* model: the behaviour models of simulated units, shared by `muster-agent --simulate` (a
 * --model file) and drill scenarios (their `models` list): how a unit of a kind receipts,
 * declines, turns out, travels and clears. The format is docs/agent.md's; scenarios add
 * `department` and `receipt_s` (docs/drills.md). */
#ifndef MUSTER_MODEL_H
#define MUSTER_MODEL_H

#include <libconfig.h>

#include <stddef.h>

struct conf;
struct strbuf;

/* One behaviour model. */
struct model {
	char *kind;			 /* unit kind, or "*" */
	char *department;		 /* department id; NULL: any department */
	double turnout_min, turnout_max; /* seconds from accepting to leaving */
	double speed_kmh;		 /* travel speed (the road is 1.3 x the straight line) */
	double decline, no_show;	 /* probabilities */
	double clear_s;			 /* hold on scene before cleared; 0: never */
	double receipt_min, receipt_max; /* seconds from the order to its receipt (scenarios) */
	unsigned line;			 /* where it was read; 0: built in */
};

/* model_read_list flags. */
enum {
	/* A drill scenario's list: `department` and `receipt_s` are read, unknown settings
	 * and a second "*" are errors. Without it the list is read as muster-agent always
	 * has: unknown settings are ignored and several "*" entries apply in turn. */
	MODEL_SCENARIO = 1,
};

/* Fills *OUT (*N = 1) with the built-in models: one "*" entry, turnout 30-120 s, 30 km/h,
 * decline 5 %, no-show 2 %, cleared after 600 s, receipt at once. Free with model_free. */
void model_defaults(struct model **out, size_t *n);

/* Reads the models of list L (elements { kind = "..."; ... }) into a new vector *OUT of *N:
 * the "*" entry (no department) first, built-in values where it gives none, then every
 * other entry in file order, each starting from that "*" and changing what it gives.
 * Problems go to X as "file:line: what" (the entry's line). Returns 0, or -1 after
 * reporting at least one problem (*OUT then NULL). */
int model_read_list(struct conf *x, const config_setting_t *l, int flags, struct model **out,
		    size_t *n);

/* Reads the model file PATH (`models = ( ... );`, muster-agent --model) as model_read_list
 * without flags. Returns 0, or -1 with every problem added to ERRORS as "file:line: what\n". */
int model_load_file(const char *path, struct model **out, size_t *n, struct strbuf *errors);

/* Returns the model for a unit of DEPARTMENT (may be NULL) and KIND (NULL: "*"): the entry
 * for both, else for the kind (any department), else for the department (kind "*"), else
 * "*". NULL only when V has no "*" entry. */
const struct model *model_find(const struct model *v, size_t n, const char *department,
			       const char *kind);

/* Frees the N models of V and V; accepts NULL. */
void model_free(struct model *v, size_t n);

#endif
