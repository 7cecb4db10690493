/* cap: an incident as an OASIS Common Alerting Protocol 1.2 message (`muster incident cap`),
 * for other centres' systems: a drill's incident has status Exercise, a real one Actual. */
#ifndef MUSTER_CAP_H
#define MUSTER_CAP_H

#include <stdio.h>

#include "wire.h"

/* Writes INC as a CAP 1.2 alert from SENDER to OUT (libxml2's writer). Returns 0 or -1. */
int cap_write(const Muster__Incident *inc, const char *sender, FILE *out);

#endif
