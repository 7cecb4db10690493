/* auth: the ZeroMQ Authentication Protocol (ZAP, RFC 27) over inproc. Each request is six
 * or more frames (version, request id, domain, address, routing id, mechanism, credentials)
 * and gets six frames back (version, request id, status code, status text, user id,
 * metadata). Replies are sent here rather than through bus because ZAP is a private
 * conversation with libzmq's own I/O threads, not part of the muster protocol. */
#include "auth.h"
#include "log.h"
#include "util.h"
#include "zev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define AUTH_ENDPOINT "inproc://zeromq.zap.01"
#define AUTH_MAX_FRAMES 8

struct auth {
	void *sock; /* REP bound at AUTH_ENDPOINT */
	struct zev *zev;
	auth_policy_cb policy;
	void *arg;
	uint64_t admitted, refused;
};

/* Sends one reply frame; MORE says whether others follow. */
static int
auth_send(void *s, const void *data, size_t len, int more)
{
	return zmq_send(s, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* The log limit for refusals on socket DOMAIN. */
static struct log_limit *
auth_limit(const char *domain)
{
	static struct log_limit control = {.what = "refused keys on control"},
				agents = {.what = "refused keys on agents"},
				feed = {.what = "refused keys on feed"},
				other = {.what = "refused keys"};

	if (strcmp(domain, "control") == 0)
		return &control;
	if (strcmp(domain, "agents") == 0)
		return &agents;
	if (strcmp(domain, "feed") == 0)
		return &feed;
	return &other;
}

/* Answers one ZAP request. */
static void
auth_read_cb(void *sock, void *arg)
{
	struct auth *a = arg;
	zmq_msg_t f[AUTH_MAX_FRAMES];
	int n = 0, more = 1, i;
	const char *status = "400", *text = "not enrolled", *user = "";
	char domain[64] = "", mech[16] = "";

	while (more) {
		zmq_msg_t scratch, *m = n < AUTH_MAX_FRAMES ? &f[n] : &scratch;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (n == 0)
				return; /* spurious wake-up */
			log_warn("auth: recv");
			break;
		}
		more = zmq_msg_more(m);
		if (m == &scratch)
			zmq_msg_close(m);
		else
			n++;
	}
	if (n < 2) {
		/* Without a request id we cannot even refuse; libzmq will time the peer out. */
		for (i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
		log_warnx("auth: malformed ZAP request ignored");
		a->refused++;
		return;
	}
	if (n >= 6) {
		size_t dl = zmq_msg_size(&f[2]), ml = zmq_msg_size(&f[5]);

		if (dl < sizeof domain) {
			memcpy(domain, zmq_msg_data(&f[2]), dl);
			domain[dl] = '\0';
		}
		if (ml < sizeof mech) {
			memcpy(mech, zmq_msg_data(&f[5]), ml);
			mech[ml] = '\0';
		}
	}
	if (n != 7 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
		text = "malformed ZAP request";
	} else if (strcmp(mech, "CURVE") != 0) {
		text = "CURVE is required";
	} else if (zmq_msg_size(&f[6]) != 32) {
		text = "bad CURVE key";
	} else {
		const char *id = a->policy(domain, zmq_msg_data(&f[6]), a->arg);

		if (id != NULL) {
			status = "200";
			text = "OK";
			user = id;
		}
	}
	if (strcmp(status, "200") == 0) {
		a->admitted++;
		log_info("auth: %s admitted on %s", user, domain);
	} else {
		char z85[41] = "";

		a->refused++;
		if (n == 7 && zmq_msg_size(&f[6]) == 32 &&
		    zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32) == NULL)
			z85[0] = '\0';
		/* A refused client's library connects again every 100 ms: limited, one limit
		 * per socket so that one socket's refusals never hide another's. */
		log_warnx_limited(auth_limit(domain), "auth: refused %s key %s on %s: %s",
				  mech[0] ? mech : "?", z85[0] ? z85 : "-",
				  domain[0] ? domain : "?", text);
	}
	if (auth_send(sock, "1.0", 3, 1) != 0 ||
	    auth_send(sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 1) != 0 ||
	    auth_send(sock, status, 3, 1) != 0 || auth_send(sock, text, strlen(text), 1) != 0 ||
	    auth_send(sock, user, strlen(user), 1) != 0 || auth_send(sock, "", 0, 0) != 0)
		log_warn("auth: send reply");
	for (i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	zev_recheck(a->zev);
}

struct auth *
auth_new(void *ctx, struct event_base *base, auth_policy_cb policy, void *arg)
{
	struct auth *a = xcalloc(1, sizeof *a);
	int linger = 0;

	a->policy = policy;
	a->arg = arg;
	a->sock = zmq_socket(ctx, ZMQ_REP);
	if (a->sock == NULL) {
		log_warn("auth: socket");
		goto fail;
	}
	if (zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
	    zmq_bind(a->sock, AUTH_ENDPOINT) != 0) {
		log_warn("auth: cannot bind %s", AUTH_ENDPOINT);
		goto fail;
	}
	a->zev = zev_new(base, a->sock, 64, auth_read_cb, a);
	if (a->zev == NULL)
		goto fail;
	return a;
fail:
	auth_free(a);
	return NULL;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	zev_free(a->zev);
	if (a->sock && zmq_close(a->sock) != 0)
		log_warn("auth: close");
	free(a);
}

void
auth_counts(const struct auth *a, uint64_t *admitted, uint64_t *refused)
{
	*admitted = a->admitted;
	*refused = a->refused;
}
