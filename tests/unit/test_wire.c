/* test_wire: decoding of good and bad frames, error replies, names, and tolerance of
 * unknown fields. */
#include "test.h"

#include "util.h"
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(void);

/* Packs a valid envelope (seq 7, correlation 42, a drill) carrying SubmitIncident. */
static uint8_t *
pack_submit(size_t *len)
{
	Envelope e;
	Muster__SubmitIncident si;
	Muster__Location l;

	wire_init(&e, 7, 42, 1);
	muster__submit_incident__init(&si);
	muster__location__init(&l);
	l.place = "s01-c01";
	si.type = "fire.ebike";
	si.location = &l;
	si.description = "charging shed fire";
	si.casualties = 1;
	si.reporter = "grid-worker-7";
	e.body_case = MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT;
	e.submit_incident = &si;
	return wire_pack(&e, len);
}

/* Checks that E is the envelope pack_submit made. */
static void
expect_submit(const Envelope *e)
{
	CHECK(e->version == WIRE_VERSION);
	CHECK(e->seq == 7);
	CHECK(e->correlation_id == 42);
	CHECK(e->exercise == 1);
	CHECK(e->sent_at_ms > 1600000000000);
	CHECK(e->body_case == MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT);
	CHECK(e->submit_incident != NULL);
	if (e->submit_incident == NULL)
		return;
	CHECK_STR(e->submit_incident->type, "fire.ebike");
	CHECK_STR(e->submit_incident->description, "charging shed fire");
	CHECK_STR(e->submit_incident->reporter, "grid-worker-7");
	CHECK(e->submit_incident->casualties == 1);
	CHECK(e->submit_incident->location != NULL &&
	      strcmp(e->submit_incident->location->place, "s01-c01") == 0);
}

/* Decodes BUF expecting a refusal with WANT_CODE and a reason containing FRAGMENT. */
static void
expect_refused(const void *buf, size_t len, int want_code, const char *fragment)
{
	int code = -1;
	const char *why = NULL;
	Envelope *e = wire_decode(buf, len, &code, &why);

	CHECK(e == NULL);
	CHECK(code == want_code);
	CHECK(why != NULL && strstr(why, fragment) != NULL);
	wire_free(e);
}

/* Empty frames, garbage and truncated envelopes are refused as BAD_REQUEST. */
static void
test_bad_frames(void)
{
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	/* Field 1 with wire type 7, which does not exist. */
	static const uint8_t bad_type[] = {0x0f, 0x01};
	size_t len, i;
	uint8_t *buf;

	expect_refused("", 0, MUSTER__ERROR_CODE__BAD_REQUEST, "empty");
	expect_refused(garbage, sizeof garbage, MUSTER__ERROR_CODE__BAD_REQUEST, "protobuf");
	expect_refused(bad_type, sizeof bad_type, MUSTER__ERROR_CODE__BAD_REQUEST, "protobuf");
	/* Every proper prefix of a good envelope is refused: either cut inside a field or
	 * missing its body (the body is packed last). */
	buf = pack_submit(&len);
	CHECK(len > 20);
	for (i = 1; i < len; i++) {
		int code = -1;
		const char *why = NULL;
		Envelope *e = wire_decode(buf, i, &code, &why);

		CHECK(e == NULL);
		CHECK(code == MUSTER__ERROR_CODE__BAD_REQUEST);
		CHECK(why != NULL);
		wire_free(e);
	}
	/* Cut in the middle of the body's length-delimited bytes: not a protobuf. */
	expect_refused(buf, len - 3, MUSTER__ERROR_CODE__BAD_REQUEST, "protobuf");
	free(buf);
}

/* A good envelope decodes with every field. */
static void
test_valid(void)
{
	size_t len;
	uint8_t *buf = pack_submit(&len);
	int code = -1;
	const char *why = NULL;
	Envelope *e = wire_decode(buf, len, &code, &why);

	CHECK(e != NULL);
	if (e != NULL)
		expect_submit(e);
	wire_free(e);
	wire_free(NULL);
	free(buf);
}

/* Versions other than 1 are refused as UNSUPPORTED_VERSION; no body is BAD_REQUEST. */
static void
test_version_and_body(void)
{
	Envelope e;
	Muster__GetIncident gi;
	uint8_t *buf;
	size_t len;

	muster__get_incident__init(&gi);
	gi.id = 5;
	wire_init(&e, 1, 2, 0);
	e.version = 2;
	e.body_case = MUSTER__ENVELOPE__BODY_GET_INCIDENT;
	e.get_incident = &gi;
	buf = wire_pack(&e, &len);
	expect_refused(buf, len, MUSTER__ERROR_CODE__UNSUPPORTED_VERSION, "version");
	free(buf);
	/* Version 0 (absent on the wire) is not version 1 either. */
	e.version = 0;
	buf = wire_pack(&e, &len);
	expect_refused(buf, len, MUSTER__ERROR_CODE__UNSUPPORTED_VERSION, "version");
	free(buf);
	/* The same with version 1 is accepted. */
	e.version = 1;
	buf = wire_pack(&e, &len);
	{
		int code = -1;
		const char *why = NULL;
		Envelope *d = wire_decode(buf, len, &code, &why);

		CHECK(d != NULL && d->body_case == MUSTER__ENVELOPE__BODY_GET_INCIDENT &&
		      d->get_incident != NULL && d->get_incident->id == 5);
		wire_free(d);
	}
	free(buf);
	/* No body at all. */
	e.body_case = MUSTER__ENVELOPE__BODY__NOT_SET;
	e.get_incident = NULL;
	buf = wire_pack(&e, &len);
	CHECK(len > 0);
	expect_refused(buf, len, MUSTER__ERROR_CODE__BAD_REQUEST, "no body");
	free(buf);
}

/* wire_error builds a decodable ErrorReply that answers the correlation id. */
static void
test_error_reply(void)
{
	size_t len;
	uint8_t *buf = wire_error(11, 9001, MUSTER__ERROR_CODE__NOT_FOUND, "id",
				  "incident 77 does not exist", &len);
	int code = -1;
	const char *why = NULL;
	Envelope *e = wire_decode(buf, len, &code, &why);

	CHECK(e != NULL);
	if (e != NULL) {
		CHECK(e->seq == 11);
		CHECK(e->correlation_id == 9001);
		CHECK(e->exercise == 0);
		CHECK(e->body_case == MUSTER__ENVELOPE__BODY_ERROR);
		CHECK(e->error != NULL);
		if (e->error != NULL) {
			CHECK(e->error->code == MUSTER__ERROR_CODE__NOT_FOUND);
			CHECK_STR(e->error->field, "id");
			CHECK_STR(e->error->message, "incident 77 does not exist");
		}
	}
	wire_free(e);
	free(buf);
	/* NULL field and message become empty strings. */
	buf = wire_error(12, 5, MUSTER__ERROR_CODE__FORBIDDEN, NULL, NULL, &len);
	e = wire_decode(buf, len, &code, &why);
	CHECK(e != NULL && e->error != NULL);
	if (e != NULL && e->error != NULL) {
		CHECK(e->correlation_id == 5);
		CHECK(e->error->code == MUSTER__ERROR_CODE__FORBIDDEN);
		CHECK_STR(e->error->field, "");
		CHECK_STR(e->error->message, "");
	}
	wire_free(e);
	free(buf);
}

/* Body and code names come from the .proto; anything else is unknown. */
static void
test_names(void)
{
	CHECK_STR(wire_body_name(MUSTER__ENVELOPE__BODY_SUBMIT_INCIDENT), "submit_incident");
	CHECK_STR(wire_body_name(MUSTER__ENVELOPE__BODY_REGISTER), "register");
	CHECK_STR(wire_body_name(MUSTER__ENVELOPE__BODY_ERROR), "error");
	CHECK_STR(wire_body_name(MUSTER__ENVELOPE__BODY_EVENT), "event");
	CHECK_STR(wire_body_name(MUSTER__ENVELOPE__BODY__NOT_SET), "unknown");
	/* Header fields are not bodies. */
	CHECK_STR(wire_body_name(1), "unknown");
	CHECK_STR(wire_body_name(5), "unknown");
	CHECK_STR(wire_body_name(10), "unknown");
	CHECK_STR(wire_body_name(29), "unknown");
	CHECK_STR(wire_body_name(5000), "unknown");
	CHECK_STR(wire_body_name(-1), "unknown");
	CHECK_STR(wire_code_name(MUSTER__ERROR_CODE__OK), "OK");
	CHECK_STR(wire_code_name(MUSTER__ERROR_CODE__BAD_REQUEST), "BAD_REQUEST");
	CHECK_STR(wire_code_name(MUSTER__ERROR_CODE__NOT_FOUND), "NOT_FOUND");
	CHECK_STR(wire_code_name(MUSTER__ERROR_CODE__NOT_YOURS), "NOT_YOURS");
	CHECK_STR(wire_code_name(MUSTER__ERROR_CODE__RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	CHECK_STR(wire_code_name(12), "UNKNOWN");
	CHECK_STR(wire_code_name(-3), "UNKNOWN");
}

/* Fields a newer peer adds (unknown numbers, any wire type) are skipped. */
static void
test_unknown_fields(void)
{
	/* Field 6 (reserved) varint 1; field 200 varint 300; field 1000 bytes "hello";
	 * field 120 fixed64; field 121 fixed32. */
	static const uint8_t extra[] = {0x30, 0x01, 0xc0, 0x0c, 0xac, 0x02, 0xc2, 0x3e, 0x05, 'h',
					'e',  'l',  'l',  'o',	0xc1, 0x07, 1,	  2,	3,    4,
					5,    6,    7,	  8,	0xcd, 0x07, 1,	  2,	3,    4};
	size_t len;
	uint8_t *buf = pack_submit(&len), *big = xmalloc(len + 2 * sizeof extra);
	int code = -1;
	const char *why = NULL;
	Envelope *e;

	/* After the known fields, and again before them. */
	memcpy(big, extra, sizeof extra);
	memcpy(big + sizeof extra, buf, len);
	memcpy(big + sizeof extra + len, extra, sizeof extra);
	e = wire_decode(big, len + 2 * sizeof extra, &code, &why);
	CHECK(e != NULL);
	if (e != NULL) {
		expect_submit(e);
		CHECK(e->base.n_unknown_fields == 10);
	}
	wire_free(e);
	/* An unknown field cut short is still an error. */
	e = wire_decode(big, sizeof extra + len + 12, &code, &why);
	CHECK(e == NULL);
	CHECK(code == MUSTER__ERROR_CODE__BAD_REQUEST);
	wire_free(e);
	free(big);
	free(buf);
}

/* Runs the wire tests. */
int
main(void)
{
	RUN(test_bad_frames);
	RUN(test_valid);
	RUN(test_version_and_body);
	RUN(test_error_reply);
	RUN(test_names);
	RUN(test_unknown_fields);
	TEST_DONE();
}
