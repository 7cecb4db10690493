/* bus: owns the daemon's three sockets. All sends go through bus_send_now, and nothing is
 * sent except by bus_release, which the daemon calls only after a commit. */
#include "bus.h"
#include "log.h"
#include "util.h"
#include "wire.h"
#include "zev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* libzmq's draft option that makes a missing ZAP handler refuse instead of admit. Our
 * handler is bound before any socket, so this is a second lock; it is set when available. */
#define BUS_ZAP_ENFORCE_DOMAIN 93

struct outmsg {
	enum bus_socket which;
	uint8_t rid[BUS_RID_MAX];
	size_t rid_len;
	char *topic;
	uint8_t *buf;
	size_t len;
	uint64_t reply_corr; /* 0: not a reply */
	int keep;	     /* sent as it is whatever the commit does (see bus_keep_from) */
};

struct bus {
	void *ctx;		  /* borrowed */
	struct event_base *base;  /* borrowed */
	const struct config *cfg; /* borrowed; endpoints and keys as at start */
	void *sock[BUS_N];
	struct zev *zev[BUS_N];
	bus_msg_cb cb;
	void *arg;
	struct outmsg *q; /* queued, not yet sent */
	size_t n_q, cap_q;
	uint64_t undelivered;
	uint64_t queue_full;  /* of those: the peer's queue was at its high-water mark */
	uint64_t sent[BUS_N]; /* messages handed to each socket */
	int muted;	      /* replay: messages are dropped, not sent */
};

static const char *const bus_names[BUS_N] = {"control", "agents", "feed"};

/* Reads one message from a ROUTER socket and hands it on when well formed: exactly two
 * frames (routing id, body). Anything else is read to the end and dropped. */
static void
bus_read_cb(void *sock, void *arg)
{
	struct bus *b = arg;
	zmq_msg_t rid, body;
	int which, more = 0;
	size_t len = sizeof more;

	which = sock == b->sock[BUS_CONTROL] ? BUS_CONTROL : BUS_AGENTS;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
		if (errno != EAGAIN)
			log_warn("bus: %s: recv", bus_names[which]);
		goto done;
	}
	if (!zmq_msg_more(&rid))
		goto done;
	if (zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0) {
		log_warn("bus: %s: recv body", bus_names[which]);
		goto done;
	}
	if (zmq_msg_more(&body)) {
		/* Extra frames: not our protocol. Drain them and drop the lot. */
		zmq_msg_t extra;

		do {
			zmq_msg_init(&extra);
			if (zmq_msg_recv(&extra, sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&extra);
				break;
			}
			more = zmq_msg_more(&extra);
			zmq_msg_close(&extra);
		} while (more);
		static struct log_limit frames = {.what = "messages with extra frames"};

		log_warnx_limited(&frames, "bus: %s: message with more than one body frame dropped",
				  bus_names[which]);
		goto done;
	}
	{
		const char *uid = zmq_msg_gets(&body, "User-Id");
		struct bus_msg m = {
		    .which = which,
		    .rid = zmq_msg_data(&rid),
		    .rid_len = zmq_msg_size(&rid),
		    .user_id = uid ? uid : "",
		    .data = zmq_msg_data(&body),
		    .len = zmq_msg_size(&body),
		};

		if (m.rid_len <= BUS_RID_MAX)
			b->cb(&m, b->arg);
	}
done:
	(void)len;
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

/* Sets an integer socket option, logging a failure. */
static int
bus_setint(void *s, int opt, int v, const char *what)
{
	if (zmq_setsockopt(s, opt, &v, sizeof v) != 0) {
		log_warn("bus: setsockopt %s", what);
		return -1;
	}
	return 0;
}

/* Sets the limits and the dead-peer detection of server socket S from CFG; see bus.h. */
int
bus_tune(void *s, const struct config *cfg)
{
	int64_t maxmsg = cfg->max_frame;

	if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
	    bus_setint(s, ZMQ_SNDHWM, cfg->send_hwm, "SNDHWM") != 0 ||
	    bus_setint(s, ZMQ_RCVHWM, cfg->recv_hwm, "RCVHWM") != 0 ||
	    bus_setint(s, ZMQ_LINGER, 1000, "LINGER") != 0 ||
	    bus_setint(s, ZMQ_TCP_KEEPALIVE, 1, "TCP_KEEPALIVE") != 0 ||
	    bus_setint(s, ZMQ_TCP_KEEPALIVE_IDLE, BUS_KEEPALIVE_IDLE_S, "TCP_KEEPALIVE_IDLE") !=
		0 ||
	    bus_setint(s, ZMQ_TCP_KEEPALIVE_INTVL, BUS_KEEPALIVE_INTVL_S, "TCP_KEEPALIVE_INTVL") !=
		0 ||
	    bus_setint(s, ZMQ_TCP_KEEPALIVE_CNT, BUS_KEEPALIVE_CNT, "TCP_KEEPALIVE_CNT") != 0 ||
	    bus_setint(s, ZMQ_TCP_MAXRT, BUS_MAXRT_MS, "TCP_MAXRT") != 0)
		return -1;
	return 0;
}

/* Creates, secures and binds socket WHICH. */
static int
bus_open(struct bus *b, int which, char **err)
{
	static const int types[BUS_N] = {ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_PUB};
	const char *endpoints[BUS_N] = {b->cfg->control_endpoint, b->cfg->agents_endpoint,
					b->cfg->feed_endpoint};
	const char *name = bus_names[which];
	void *s;
	int enforce = 1;

	s = zmq_socket(b->ctx, types[which]);
	if (s == NULL) {
		*err = xasprintf("%s socket: %s", name, zmq_strerror(errno));
		return -1;
	}
	b->sock[which] = s;
	if (bus_setint(s, ZMQ_CURVE_SERVER, 1, "CURVE_SERVER") != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, b->cfg->secret_key, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, name, strlen(name)) != 0 ||
	    bus_tune(s, b->cfg) != 0) {
		*err = xasprintf("%s socket options: %s", name, zmq_strerror(errno));
		return -1;
	}
	/* Not fatal where libzmq was built without draft options: our handler is bound. */
	if (zmq_setsockopt(s, BUS_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce) != 0)
		log_debug("bus: %s: ZAP_ENFORCE_DOMAIN not available", name);
	if (types[which] == ZMQ_ROUTER &&
	    bus_setint(s, ZMQ_ROUTER_MANDATORY, 1, "ROUTER_MANDATORY") != 0) {
		*err = xasprintf("%s socket options: %s", name, zmq_strerror(errno));
		return -1;
	}
	if (zmq_bind(s, endpoints[which]) != 0) {
		*err = xasprintf("%s: cannot bind %s: %s", name, endpoints[which],
				 zmq_strerror(errno));
		return -1;
	}
	if (types[which] == ZMQ_ROUTER) {
		b->zev[which] = zev_new(b->base, s, b->cfg->io_budget, bus_read_cb, b);
		if (b->zev[which] == NULL) {
			*err = xasprintf("%s: cannot watch socket", name);
			return -1;
		}
	}
	log_info("bus: %s listening on %s (CURVE)", name, endpoints[which]);
	return 0;
}

struct bus *
bus_new(void *ctx, struct event_base *base, const struct config *cfg, bus_msg_cb cb, void *arg,
	char **err)
{
	struct bus *b = xcalloc(1, sizeof *b);
	int i;

	b->ctx = ctx;
	b->base = base;
	b->cfg = cfg;
	b->cb = cb;
	b->arg = arg;
	for (i = 0; i < BUS_N; i++) {
		if (bus_open(b, i, err) != 0) {
			bus_free(b);
			return NULL;
		}
	}
	return b;
}

/* Frees the contents of one queued message. */
static void
bus_outmsg_clear(struct outmsg *o)
{
	free(o->topic);
	free(o->buf);
	o->topic = NULL;
	o->buf = NULL;
}

void
bus_free(struct bus *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_q; i++)
		bus_outmsg_clear(&b->q[i]);
	free(b->q);
	for (i = 0; i < BUS_N; i++) {
		zev_free(b->zev[i]);
		if (b->sock[i] && zmq_close(b->sock[i]) != 0)
			log_warn("bus: close %s", bus_names[i]);
	}
	free(b);
}

void
bus_queue(struct bus *b, enum bus_socket which, const uint8_t *rid, size_t rid_len,
	  const char *topic, uint8_t *buf, size_t len, uint64_t reply_corr)
{
	struct outmsg *o;

	if (b->n_q == b->cap_q) {
		b->cap_q = b->cap_q ? b->cap_q * 2 : 64;
		b->q = xrealloc(b->q, b->cap_q * sizeof *b->q);
	}
	o = &b->q[b->n_q++];
	memset(o, 0, sizeof *o);
	o->which = which;
	if (rid_len > BUS_RID_MAX)
		rid_len = BUS_RID_MAX;
	if (rid_len)
		memcpy(o->rid, rid, rid_len);
	o->rid_len = rid_len;
	o->topic = xstrdup(topic);
	o->buf = buf;
	o->len = len;
	o->reply_corr = reply_corr;
}

void
bus_queue_error(struct bus *b, enum bus_socket which, const uint8_t *rid, size_t rid_len,
		uint8_t *buf, size_t len)
{
	bus_queue(b, which, rid, rid_len, NULL, buf, len, 0);
	b->q[b->n_q - 1].keep = 1;
}

void
bus_keep_from(struct bus *b, size_t mark)
{
	for (; mark < b->n_q; mark++)
		b->q[mark].keep = 1;
}

size_t
bus_mark(const struct bus *b)
{
	return b->n_q;
}

void
bus_discard_from(struct bus *b, size_t mark)
{
	while (b->n_q > mark)
		bus_outmsg_clear(&b->q[--b->n_q]);
}

int
bus_pending(const struct bus *b)
{
	return b->n_q > 0;
}

uint64_t
bus_undelivered(const struct bus *b)
{
	return b->undelivered;
}

uint64_t
bus_queue_full(const struct bus *b)
{
	return b->queue_full;
}

size_t
bus_queued(const struct bus *b)
{
	return b->n_q;
}

/* The one place where the daemon sends. Never blocks: a full queue or an unknown peer is
 * counted and logged, never waited for. */
static void
bus_send_now(struct bus *b, struct outmsg *o)
{
	void *s = b->sock[o->which];
	int rc;

	if (s == NULL || b->muted)
		return;
	if (o->which == BUS_FEED)
		rc = zmq_send(s, o->topic ? o->topic : "", o->topic ? strlen(o->topic) : 0,
			      ZMQ_SNDMORE | ZMQ_DONTWAIT);
	else
		rc = zmq_send(s, o->rid, o->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (rc >= 0)
		rc = zmq_send(s, o->buf, o->len, ZMQ_DONTWAIT);
	if (rc >= 0)
		b->sent[o->which]++;
	if (rc < 0) {
		b->undelivered++;
		if (errno == EHOSTUNREACH)
			log_warnx("bus: %s: peer is gone; message of %zu bytes not delivered",
				  bus_names[o->which], o->len);
		else if (errno == EAGAIN)
			/* Counted, and told as a resource event (daemon_resources), not logged
			 * per message: a peer that stopped reading would flood the log. */
			b->queue_full++;
		else
			log_warn("bus: %s: send", bus_names[o->which]);
	}
	if (b->zev[o->which])
		zev_recheck(b->zev[o->which]);
}

void
bus_release(struct bus *b)
{
	size_t i;

	for (i = 0; i < b->n_q; i++) {
		bus_send_now(b, &b->q[i]);
		bus_outmsg_clear(&b->q[i]);
	}
	b->n_q = 0;
}

size_t
bus_fail_batch(struct bus *b, uint64_t (*next_seq)(void *), void *arg, const char *why)
{
	size_t i, k = 0, n = 0;

	for (i = 0; i < b->n_q; i++) {
		struct outmsg *o = &b->q[i];

		if (o->keep) {
			b->q[k++] = *o;
			continue;
		}
		if (o->reply_corr == 0 || o->which == BUS_FEED) {
			bus_outmsg_clear(o);
			continue;
		}
		free(o->buf);
		o->buf = wire_error(next_seq(arg), o->reply_corr, MUSTER__ERROR_CODE__UNAVAILABLE,
				    NULL, why, &o->len);
		b->q[k++] = *o;
		n++;
	}
	b->n_q = k;
	bus_release(b);
	return n;
}

void
bus_set_config(struct bus *b, const struct config *cfg)
{
	b->cfg = cfg;
}

int
bus_rebind_feed(struct bus *b)
{
	char *err = NULL;

	int tries;

	if (b->sock[BUS_FEED]) {
		if (zmq_unbind(b->sock[BUS_FEED], b->cfg->feed_endpoint) != 0)
			log_warn("bus: unbind feed");
		if (zmq_close(b->sock[BUS_FEED]) != 0)
			log_warn("bus: close feed");
	}
	b->sock[BUS_FEED] = NULL;
	/* The listener closes in libzmq's I/O thread; the port may be busy for a moment. */
	for (tries = 0; tries < 100; tries++) {
		if (bus_open(b, BUS_FEED, &err) == 0)
			return 0;
		if (b->sock[BUS_FEED]) {
			zmq_close(b->sock[BUS_FEED]);
			b->sock[BUS_FEED] = NULL;
		}
		free(err);
		err = NULL;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	log_warnx("bus: cannot re-bind the feed socket; the feed is down until restart");
	return -1;
}

uint64_t
bus_count(const struct bus *b, enum bus_socket which)
{
	uint64_t n = b->sent[which];
	size_t i;

	for (i = 0; i < b->n_q; i++)
		n += b->q[i].which == which;
	return n;
}

void
bus_mute(struct bus *b)
{
	b->muted = 1;
}
