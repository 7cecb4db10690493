/* test_auth: the ZAP handler driven by the event loop in front of a real CURVE server on an
 * ipc:// socket: an enrolled key gets through labelled with its identity; an unknown key, a
 * client without CURVE and an enrolled key on another domain get nothing through. */
/* nftw() is an X/Open extension. */
#define _XOPEN_SOURCE 700

#include "test.h"
#include "testloop.h"

#include "auth.h"
#include "util.h"
#include "zev.h"

#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

int main(void);

/* How long to wait for something that should happen, and for something that should not. */
#define WAIT_MS 5000
#define QUIET_MS 300

/* What the policy admits, and what it was asked. */
struct policy {
	uint8_t key[32]; /* the one enrolled public key */
	int calls;
	char last_domain[32];
};

/* A CURVE ROUTER server with its monitor, both watched from the loop. */
struct server {
	struct event_base *base;
	void *sock, *mon;
	struct zev *z, *mon_z;
	char endpoint[256];
	int received;	   /* messages that reached the server */
	char payload[64];  /* of the last one */
	char user_id[64];  /* its User-Id property */
	int hs_ok;	   /* handshakes that succeeded */
	int hs_auth;	   /* handshakes refused by ZAP */
	int hs_proto;	   /* handshakes failed for protocol reasons (e.g. no CURVE) */
	int last_auth_val; /* the ZAP status code of the last refusal */
};

/* The temporary directory holding the ipc:// sockets. */
static char test_dir[] = "/tmp/muster-test-auth-XXXXXX";

/* Admits the enrolled key, on the "control" domain only, as "operator:test". */
static const char *
policy_cb(const char *domain, const uint8_t key[32], void *arg)
{
	struct policy *p = arg;

	p->calls++;
	snprintf(p->last_domain, sizeof p->last_domain, "%s", domain);
	if (strcmp(domain, "control") == 0 && memcmp(key, p->key, 32) == 0)
		return "operator:test";
	return NULL;
}

/* Reads one message from the server: [routing id, payload], keeping its User-Id. */
static void
server_cb(void *sock, void *arg)
{
	struct server *s = arg;
	zmq_msg_t id, body;
	const char *user;
	size_t n;

	zmq_msg_init(&id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&id) &&
	    zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) >= 0) {
		n = zmq_msg_size(&body) < sizeof s->payload - 1 ? zmq_msg_size(&body)
								: sizeof s->payload - 1;
		memcpy(s->payload, zmq_msg_data(&body), n);
		s->payload[n] = '\0';
		user = zmq_msg_gets(&body, "User-Id");
		snprintf(s->user_id, sizeof s->user_id, "%s", user ? user : "");
		s->received++;
		/* Anything further in this message is drained. */
		while (zmq_msg_more(&body) && zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) >= 0)
			;
	}
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	event_base_loopexit(s->base, NULL);
}

/* Reads one monitor event (two frames: event and value, then the endpoint). */
static void
monitor_cb(void *sock, void *arg)
{
	struct server *s = arg;
	zmq_msg_t ev, addr;
	uint16_t event = 0;
	uint32_t value = 0;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&ev, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&ev) == 6 &&
	    zmq_msg_more(&ev) && zmq_msg_recv(&addr, sock, ZMQ_DONTWAIT) >= 0) {
		memcpy(&event, zmq_msg_data(&ev), 2);
		memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, 4);
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			s->hs_ok++;
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			s->hs_auth++;
			s->last_auth_val = (int)value;
		}
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
		    event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
			s->hs_proto++;
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
	event_base_loopexit(s->base, NULL);
}

/* Runs BASE until *COUNTER exceeds START or MS milliseconds pass; returns 1 when it did. */
static int
wait_above(struct event_base *base, const int *counter, int start, int ms)
{
	int64_t deadline = util_mono_ns() + (int64_t)ms * 1000000;

	while (*counter <= start) {
		int64_t left = (deadline - util_mono_ns()) / 1000000;

		if (left <= 0)
			return 0;
		run_loop(base, (int)left);
	}
	return 1;
}

/* Starts a CURVE ROUTER server on DOMAIN at an ipc:// path NAME, watched from BASE. */
static void
server_start(struct server *s, void *ctx, struct event_base *base, const char *name,
	     const char *domain, const char *secret)
{
	int one = 1, zero = 0;
	char mon_ep[128];

	memset(s, 0, sizeof *s);
	s->base = base;
	snprintf(s->endpoint, sizeof s->endpoint, "ipc://%s/%s", test_dir, name);
	snprintf(mon_ep, sizeof mon_ep, "inproc://monitor-%s", name);
	s->sock = zmq_socket(ctx, ZMQ_ROUTER);
	CHECK(s->sock != NULL);
	CHECK(zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero) == 0);
	CHECK(zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &one, sizeof one) == 0);
	CHECK(zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, secret, 40) == 0);
	CHECK(zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) == 0);
	CHECK(zmq_socket_monitor(s->sock, mon_ep,
				 ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
				     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
				     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0);
	s->mon = zmq_socket(ctx, ZMQ_PAIR);
	CHECK(s->mon != NULL);
	CHECK(zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero) == 0);
	CHECK(zmq_connect(s->mon, mon_ep) == 0);
	CHECK(zmq_bind(s->sock, s->endpoint) == 0);
	s->z = zev_new(base, s->sock, 16, server_cb, s);
	s->mon_z = zev_new(base, s->mon, 16, monitor_cb, s);
	CHECK(s->z != NULL && s->mon_z != NULL);
}

/* Stops watching and closes the server and its monitor. */
static void
server_stop(struct server *s)
{
	zev_free(s->z);
	zev_free(s->mon_z);
	zmq_socket_monitor(s->sock, NULL, 0);
	zmq_close(s->mon);
	zmq_close(s->sock);
}

/* Returns a DEALER connected to S, with CURVE keys when PUBLIC is not NULL. */
static void *
client_new(void *ctx, const struct server *s, const char *server_public, const char *public,
	   const char *secret)
{
	void *c = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;

	CHECK(c != NULL);
	CHECK(zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero) == 0);
	if (public != NULL) {
		CHECK(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_public, 40) == 0);
		CHECK(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, public, 40) == 0);
		CHECK(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, secret, 40) == 0);
	}
	CHECK(zmq_connect(c, s->endpoint) == 0);
	return c;
}

/* Removes one entry of a tree walk (depth first). */
static int
rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The enrolled key gets through as "operator:test"; the others get nothing through. */
static void
test_auth(void)
{
	void *ctx = zmq_ctx_new(), *ca, *cb, *cc, *cd;
	struct event_base *base = event_base_new();
	struct policy pol = {{0}, 0, ""};
	struct auth *a, *a2;
	struct server srv, feed;
	char srv_pub[41], srv_sec[41], op_pub[41], op_sec[41], bad_pub[41], bad_sec[41];
	uint64_t admitted = 0, refused = 0;
	int start;

	CHECK(zmq_curve_keypair(srv_pub, srv_sec) == 0);
	CHECK(zmq_curve_keypair(op_pub, op_sec) == 0);
	CHECK(zmq_curve_keypair(bad_pub, bad_sec) == 0);
	CHECK(zmq_z85_decode(pol.key, op_pub) != NULL);
	a = auth_new(ctx, base, policy_cb, &pol);
	CHECK(a != NULL);
	if (a == NULL)
		goto out_ctx;
	/* A second handler cannot bind the ZAP endpoint: refused, not shared. */
	a2 = auth_new(ctx, base, policy_cb, &pol);
	CHECK(a2 == NULL);
	auth_free(a2);
	auth_counts(a, &admitted, &refused);
	CHECK(admitted == 0 && refused == 0);
	server_start(&srv, ctx, base, "control.sock", "control", srv_sec);
	server_start(&feed, ctx, base, "feed.sock", "feed", srv_sec);

	/* (a) The enrolled key: the message arrives, labelled with the identity. */
	ca = client_new(ctx, &srv, srv_pub, op_pub, op_sec);
	CHECK(zmq_send(ca, "hello-a", 7, ZMQ_DONTWAIT) == 7);
	CHECK(wait_above(base, &srv.received, 0, WAIT_MS));
	CHECK(srv.received == 1);
	CHECK_STR(srv.payload, "hello-a");
	CHECK_STR(srv.user_id, "operator:test");
	CHECK_STR(pol.last_domain, "control");
	auth_counts(a, &admitted, &refused);
	CHECK(admitted == 1 && refused == 0);
	CHECK(srv.hs_ok >= 1 || wait_above(base, &srv.hs_ok, 0, WAIT_MS));

	/* (b) An unknown key: refused by ZAP with 400, nothing arrives. */
	start = srv.hs_auth;
	cb = client_new(ctx, &srv, srv_pub, bad_pub, bad_sec);
	CHECK(zmq_send(cb, "hello-b", 7, ZMQ_DONTWAIT) == 7);
	CHECK(wait_above(base, &srv.hs_auth, start, WAIT_MS));
	CHECK(srv.last_auth_val == 400);
	run_loop(base, QUIET_MS);
	CHECK(srv.received == 1);
	auth_counts(a, &admitted, &refused);
	CHECK(admitted == 1 && refused >= 1);

	/* (c) No CURVE at all: the handshake fails, nothing arrives, nobody is admitted. */
	start = srv.hs_proto;
	cc = client_new(ctx, &srv, NULL, NULL, NULL);
	CHECK(zmq_send(cc, "hello-c", 7, ZMQ_DONTWAIT) == 7);
	CHECK(wait_above(base, &srv.hs_proto, start, WAIT_MS));
	run_loop(base, QUIET_MS);
	CHECK(srv.received == 1);
	auth_counts(a, &admitted, &refused);
	CHECK(admitted == 1);

	/* (d) The enrolled key on another domain: the policy sees "feed" and refuses. */
	start = feed.hs_auth;
	cd = client_new(ctx, &feed, srv_pub, op_pub, op_sec);
	CHECK(zmq_send(cd, "hello-d", 7, ZMQ_DONTWAIT) == 7);
	CHECK(wait_above(base, &feed.hs_auth, start, WAIT_MS));
	CHECK_STR(pol.last_domain, "feed");
	run_loop(base, QUIET_MS);
	CHECK(feed.received == 0);
	CHECK(srv.received == 1);
	auth_counts(a, &admitted, &refused);
	CHECK(admitted == 1 && refused >= 2);

	/* The enrolled client still works after all that. */
	CHECK(zmq_send(ca, "again", 5, ZMQ_DONTWAIT) == 5);
	CHECK(wait_above(base, &srv.received, 1, WAIT_MS));
	CHECK_STR(srv.payload, "again");
	CHECK_STR(srv.user_id, "operator:test");

	zmq_close(ca);
	zmq_close(cb);
	zmq_close(cc);
	zmq_close(cd);
	server_stop(&srv);
	server_stop(&feed);
	auth_free(a);
out_ctx:
	CHECK(zmq_ctx_term(ctx) == 0);
	event_base_free(base);
}

/* Runs the auth test in a temporary directory, removed at the end. */
int
main(void)
{
	CHECK(mkdtemp(test_dir) != NULL);
	if (test_failures)
		TEST_DONE();
	RUN(test_auth);
	CHECK(nftw(test_dir, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) == 0);
	TEST_DONE();
}
