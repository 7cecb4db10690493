/* wire: the envelope on the wire: decoding with version and body checks, encoding, and
 * reply builders. (The size limit is the sockets' ZMQ_MAXMSGSIZE, set in bus.) */
#ifndef MUSTER_WIRE_H
#define MUSTER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "muster.pb-c.h"

#define WIRE_VERSION 1

typedef Muster__Envelope Envelope;

/* Decodes BUF into a new envelope (free with wire_free). On failure returns NULL and sets
 * *CODE to an error code and *WHY to a static human message. A version other than
 * WIRE_VERSION is refused with MUSTER__ERROR_CODE__UNSUPPORTED_VERSION. */
Envelope *wire_decode(const void *buf, size_t len, int *code, const char **why);
/* Frees an envelope returned by wire_decode; accepts NULL. */
void wire_free(Envelope *e);
/* Initialises E as an empty version-1 envelope with these header fields. */
void wire_init(Envelope *e, uint64_t seq, uint64_t correlation_id, int exercise);
/* Packs E into a new buffer of *LEN bytes; caller frees. */
uint8_t *wire_pack(const Envelope *e, size_t *len);
/* Returns a new packed ErrorReply envelope answering CORRELATION_ID; caller frees. */
uint8_t *wire_error(uint64_t seq, uint64_t correlation_id, int code, const char *field,
		    const char *message, size_t *len);
/* Returns the name of an envelope body case ("submit_incident", ...), or "unknown". */
const char *wire_body_name(int body_case);
/* Returns the symbolic name of an error code ("NOT_FOUND", ...). */
const char *wire_code_name(int code);

#endif
