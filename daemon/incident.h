/* incident: the operators' requests on incidents (submit, update, close, get, list) and the
 * JSON form of an incident used by timeline events and the clients. */
#ifndef MUSTER_INCIDENT_H
#define MUSTER_INCIDENT_H

#include <jansson.h>

#include "muster.pb-c.h"

struct request;

int incident_submit(struct request *r);
int incident_update(struct request *r);
int incident_close(struct request *r);
int incident_get(struct request *r);
int incident_list(struct request *r);
int incident_set_tier(struct request *r);
int incident_unlink(struct request *r);
int incident_divert(struct request *r);

/* How muster writes JSON: compact, keys sorted (the timeline's bodies are hashed as text,
 * so the same event must always give the same bytes), and reals to 12 significant digits
 * (coordinates to well under a millimetre, without binary noise like 30.332000000000001). */
#define MUSTER_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12))

/* Returns a new JSON object describing INC; caller releases with json_decref. */
json_t *incident_to_json(const Muster__Incident *inc);
/* Returns "open", "closed" or "unknown". */
const char *incident_state_name(int state);

#endif
