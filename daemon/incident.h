/* incident: the operators' requests on incidents (submit, update, close, get, list) and the
 * JSON form of an incident used by timeline events and the clients. */
#ifndef MUSTER_INCIDENT_H
#define MUSTER_INCIDENT_H

#include <jansson.h>

#include "muster.pb-c.h"

struct daemon;
struct request;

int incident_submit(struct request *r);
int incident_update(struct request *r);
int incident_close(struct request *r);
int incident_get(struct request *r);
int incident_list(struct request *r);
int incident_set_tier(struct request *r);
int incident_unlink(struct request *r);
int incident_divert(struct request *r);

/* Checks report S as incident_submit would (type and plan, tier, texts, counts, place or
 * coordinates), changing nothing. Returns 0, or an error code with R's error set. */
int incident_check(struct request *r, const Muster__SubmitIncident *s);
/* Opens an incident from report S by ACTOR, an exercise one when EXERCISE, without a reply
 * (double-blind drills): checked, stored, its event emitted and its group mustered (or the
 * report linked) in the caller's unit of work. Only R's daemon is used, and R's error on a
 * refusal. Returns 0 with *ID, or an error code (UNAVAILABLE: storage failed). */
int incident_open(struct request *r, const Muster__SubmitIncident *s, int exercise,
		  const char *actor, uint64_t *id);
/* Closes incident ID by ACTOR with REASON when it is open (its group released) in the
 * caller's unit of work. Returns 0, 1 when it was not open (nothing done), -1 on a storage
 * failure. */
int incident_close_as(struct daemon *d, uint64_t id, const char *actor, const char *reason);

/* How muster writes JSON: compact, keys sorted (the timeline's bodies are hashed as text,
 * so the same event must always give the same bytes), and reals to 12 significant digits
 * (coordinates to well under a millimetre, without binary noise like 30.332000000000001). */
#define MUSTER_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12))

/* Returns a new JSON object describing INC; caller releases with json_decref. */
json_t *incident_to_json(const Muster__Incident *inc);
/* Returns "open", "closed" or "unknown". */
const char *incident_state_name(int state);

#endif
