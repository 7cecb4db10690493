/* muster: assembles an incident's joint action group from its response plan and the roster,
 * nearest available first; refills places that fall vacant; re-assembles when the tier
 * changes; reports a shortfall when a plan cannot be filled; releases everyone on close. */
#ifndef MUSTER_MUSTER_H
#define MUSTER_MUSTER_H

#include <stdint.h>

#include "muster.pb-c.h"

struct daemon;
struct order;
struct muster;

/* Returns a new, empty set of musters; caller frees with muster_free. */
struct muster *muster_new(void);
/* Frees M; accepts NULL. */
void muster_free(struct muster *m);
/* Returns how many incidents are being mustered, and in *EXERCISE (when not NULL) how many of
 * them are drill incidents. */
size_t muster_open_count(const struct muster *m, size_t *exercise);
/* Rebuilds the open incidents and their active orders from the store (at start). */
int muster_load(struct daemon *d);
/* Assembles the group of the new incident INC (already stored, tier set). */
int muster_start(struct daemon *d, const Muster__Incident *inc, const char *actor);
/* Fills every vacant place of incident ID's plan (after a decline or a reassignment). */
int muster_fill(struct daemon *d, uint64_t id, const char *actor);
/* The tier of incident ID changed to TIER: releases members the new plan has no place for,
 * and fills the places it adds. */
int muster_retier(struct daemon *d, uint64_t id, int tier, const char *actor);
/* Incident ID closed: cancels every active order and forgets the incident. */
int muster_stop(struct daemon *d, uint64_t id, const char *actor);
/* Counts order O (a unit's) as holding its unit (DELTA +1) or no longer (-1). */
void muster_hold(struct daemon *d, const struct order *o, int delta);
/* Queues order O to its agent (first send or re-send); stays pending while the agent has no
 * session. */
int muster_send_order(struct daemon *d, struct order *o);
/* Tells the supervisor of O's department about KIND ("no_receipt", ...) with TEXT. */
int muster_notify(struct daemon *d, const struct order *o, const char *kind, const char *text);
/* Tells the supervisor of DEPARTMENT (a timeline event, and a Notice to its agent when
 * connected) about KIND with TEXT; ORDER_ID and MEMBER may be 0 and NULL. */
int muster_notify_department(struct daemon *d, const char *department, uint64_t incident_id,
			     int exercise, const char *kind, uint64_t order_id, const char *member,
			     const char *text);
/* The roster was replaced by a reload: rebuild the spatial index. */
void muster_roster_changed(struct daemon *d);
/* Unit index UNIT moved (a heartbeat position). */
void muster_unit_moved(struct daemon *d, int unit);
/* Fills R's members for incident ID (for get replies); frees with muster_free_members. */
int muster_members(struct daemon *d, uint64_t id, Muster__Member ***out, size_t *n);
void muster_free_members(Muster__Member **v, size_t n);

#endif
