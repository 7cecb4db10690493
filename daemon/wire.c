/* wire: every frame in and out of muster passes through here. */
#include "wire.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

Envelope *
wire_decode(const void *buf, size_t len, int *code, const char **why)
{
	Envelope *e;

	if (len == 0) {
		*code = MUSTER__ERROR_CODE__BAD_REQUEST;
		*why = "empty frame";
		return NULL;
	}
	e = muster__envelope__unpack(NULL, len, buf);
	if (e == NULL) {
		*code = MUSTER__ERROR_CODE__BAD_REQUEST;
		*why = "frame is not a valid protobuf Envelope";
		return NULL;
	}
	if (e->version != WIRE_VERSION) {
		muster__envelope__free_unpacked(e, NULL);
		*code = MUSTER__ERROR_CODE__UNSUPPORTED_VERSION;
		*why = "unsupported protocol version (this daemon speaks version 1)";
		return NULL;
	}
	if (e->body_case == MUSTER__ENVELOPE__BODY__NOT_SET) {
		muster__envelope__free_unpacked(e, NULL);
		*code = MUSTER__ERROR_CODE__BAD_REQUEST;
		*why = "envelope has no body";
		return NULL;
	}
	return e;
}

void
wire_free(Envelope *e)
{
	if (e != NULL)
		muster__envelope__free_unpacked(e, NULL);
}

void
wire_init(Envelope *e, uint64_t seq, uint64_t correlation_id, int exercise)
{
	muster__envelope__init(e);
	e->version = WIRE_VERSION;
	e->seq = seq;
	e->correlation_id = correlation_id;
	e->sent_at_ms = util_wall_ms();
	e->exercise = exercise != 0;
}

uint8_t *
wire_pack(const Envelope *e, size_t *len)
{
	size_t n = muster__envelope__get_packed_size(e);
	uint8_t *buf = xmalloc(n);

	*len = muster__envelope__pack(e, buf);
	return buf;
}

uint8_t *
wire_error(uint64_t seq, uint64_t correlation_id, int code, const char *field, const char *message,
	   size_t *len)
{
	Envelope e;
	Muster__ErrorReply er;

	wire_init(&e, seq, correlation_id, 0);
	muster__error_reply__init(&er);
	er.code = (Muster__ErrorCode)code;
	er.field = (char *)(field ? field : "");
	er.message = (char *)(message ? message : "");
	e.body_case = MUSTER__ENVELOPE__BODY_ERROR;
	e.error = &er;
	return wire_pack(&e, len);
}

const char *
wire_body_name(int body_case)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
	    &muster__envelope__descriptor, (unsigned)body_case);

	return f && body_case >= 16 ? f->name : "unknown";
}

const char *
wire_code_name(int code)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&muster__error_code__descriptor, code);

	return v ? v->name : "UNKNOWN";
}
