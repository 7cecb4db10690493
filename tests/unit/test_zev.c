/* test_zev: ZeroMQ sockets driven from a libevent loop: nothing lost, duplicated or
 * reordered under a small budget; other sockets get their turn; input that arrives during a
 * send, and input queued before the watcher existed, is still read. */
#include "test.h"
#include "testloop.h"

#include "zev.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int main(void);

#define N_MSGS 1000
#define BUDGET 4

/* State shared by a counting reader and the sender timer. */
struct counter {
	struct event_base *base;
	void *tx;		 /* the sending socket */
	struct zev *z;		 /* watcher of the receiving socket */
	int sent;		 /* messages sent so far */
	int received;		 /* messages read so far */
	int out_of_order;	 /* messages that were not the next expected number */
	int bad;		 /* messages that were not one single frame */
	int want;		 /* stop the loop when this many are read (-1: never) */
	int stop_clock;		 /* or when the shared counter reaches this (0: never) */
	int first_pos, last_pos; /* global arrival index of the first and last message */
	int *clock;		 /* shared global arrival counter */
};

/* Sends number I as a 4-byte message without blocking; returns 0 when sent. */
static int
send_num(void *sock, uint32_t i)
{
	return zmq_send(sock, &i, sizeof i, ZMQ_DONTWAIT) == (int)sizeof i ? 0 : -1;
}

/* Reads one message: checks it is a single 4-byte frame with the next number. */
static void
count_cb(void *sock, void *arg)
{
	struct counter *c = arg;
	uint32_t v = 0;
	int more = 0, rc;
	size_t len = sizeof more;

	rc = zmq_recv(sock, &v, sizeof v, ZMQ_DONTWAIT);
	if (rc < 0) {
		c->bad++;
		return;
	}
	if (rc != (int)sizeof v || zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) != 0 || more)
		c->bad++;
	if (v != (uint32_t)c->received)
		c->out_of_order++;
	if (c->received == 0)
		c->first_pos = *c->clock;
	c->last_pos = *c->clock;
	(*c->clock)++;
	c->received++;
	if (c->received == c->want || (c->stop_clock && *c->clock == c->stop_clock))
		event_base_loopexit(c->base, NULL);
}

/* Sends the next batch from inside the loop, and re-arms until all are sent. */
static void
sender_cb(evutil_socket_t fd, short what, void *arg)
{
	struct counter *c = arg;
	int i;

	for (i = 0; i < 37 && c->sent < N_MSGS; i++) {
		if (send_num(c->tx, (uint32_t)c->sent) != 0)
			break; /* high-water mark: try again on the next turn */
		c->sent++;
	}
}

/* Returns 1 when the socket has nothing left to read. */
static int
drained(void *sock)
{
	uint32_t v;

	return zmq_recv(sock, &v, sizeof v, ZMQ_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Binds a PULL at ENDPOINT and connects a PUSH to it, both in CTX. */
static void
pull_pair(void *ctx, const char *endpoint, void **rx, void **tx)
{
	int hwm = 100000;

	*rx = zmq_socket(ctx, ZMQ_PULL);
	*tx = zmq_socket(ctx, ZMQ_PUSH);
	CHECK(*rx != NULL && *tx != NULL);
	CHECK(zmq_setsockopt(*rx, ZMQ_RCVHWM, &hwm, sizeof hwm) == 0);
	CHECK(zmq_setsockopt(*tx, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
	CHECK(zmq_bind(*rx, endpoint) == 0);
	CHECK(zmq_connect(*tx, endpoint) == 0);
}

/* 1000 messages, some sent before the loop runs and the rest from inside it, all arrive
 * exactly once and in order with a budget of 4. */
static void
test_count(void)
{
	void *ctx = zmq_ctx_new(), *rx, *tx;
	struct event_base *base = event_base_new();
	struct event *sender;
	struct counter c = {0};
	int clock = 0, i;

	pull_pair(ctx, "inproc://zev-count", &rx, &tx);
	c.base = base;
	c.tx = tx;
	c.want = N_MSGS;
	c.clock = &clock;
	c.z = zev_new(base, rx, BUDGET, count_cb, &c);
	CHECK(c.z != NULL);
	/* A first part before the loop runs. */
	for (i = 0; i < 300; i++)
		if (send_num(tx, (uint32_t)c.sent) == 0)
			c.sent++;
	CHECK(c.sent == 300);
	/* The rest in batches from a timer while the loop reads. */
	sender = event_new(base, -1, EV_PERSIST, sender_cb, &c);
	{
		struct timeval tv = {0, 1000};

		event_add(sender, &tv);
	}
	run_loop(base, 10000);
	event_free(sender);
	CHECK(c.sent == N_MSGS);
	CHECK(c.received == N_MSGS);
	CHECK(c.out_of_order == 0);
	CHECK(c.bad == 0);
	CHECK(drained(rx));
	zev_free(c.z);
	zmq_close(tx);
	zmq_close(rx);
	zmq_ctx_term(ctx);
	event_base_free(base);
}

/* Two sockets with 500 queued messages each and a budget of 4: each is served before the
 * other is finished. */
static void
test_fairness(void)
{
	void *ctx = zmq_ctx_new(), *rx[2], *tx[2];
	struct event_base *base = event_base_new();
	struct counter c[2];
	int clock = 0, i, k;

	memset(c, 0, sizeof c);
	pull_pair(ctx, "inproc://zev-fair-0", &rx[0], &tx[0]);
	pull_pair(ctx, "inproc://zev-fair-1", &rx[1], &tx[1]);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < 500; i++)
			CHECK(send_num(tx[k], (uint32_t)i) == 0);
		c[k].base = base;
		c[k].clock = &clock;
	}
	/* Stop only when both are done: the first to finish must not stop the loop. */
	c[0].want = c[1].want = -1;
	c[0].stop_clock = c[1].stop_clock = 1000;
	for (k = 0; k < 2; k++) {
		c[k].z = zev_new(base, rx[k], BUDGET, count_cb, &c[k]);
		CHECK(c[k].z != NULL);
	}
	run_loop(base, 10000);
	CHECK(clock == 1000);
	for (k = 0; k < 2; k++) {
		CHECK(c[k].received == 500);
		CHECK(c[k].out_of_order == 0);
		CHECK(c[k].bad == 0);
		CHECK(drained(rx[k]));
	}
	/* Interleaved: neither drained its 500 before the other started. */
	CHECK(c[0].first_pos < c[1].last_pos);
	CHECK(c[1].first_pos < c[0].last_pos);
	CHECK(c[1].first_pos <= 2 * BUDGET);
	for (k = 0; k < 2; k++) {
		zev_free(c[k].z);
		zmq_close(tx[k]);
		zmq_close(rx[k]);
	}
	zmq_ctx_term(ctx);
	event_base_free(base);
}

/* The echo server and client of test_echo. */
struct echo {
	struct event_base *base;
	void *dealer;
	struct zev *server_z, *client_z;
	struct event *pump; /* sends the client's requests, outside any read callback */
	int rounds;	    /* replies the client has read */
	int want;	    /* stop after this many */
	int sent;	    /* requests the client has sent */
	int window;	    /* requests in flight at most */
	int bad;	    /* malformed or out-of-order messages */
	int recheck;	    /* call zev_recheck after sends (the rule) */
};

/* ROUTER: reads [id, payload] and sends it straight back, then rechecks. */
static void
echo_server_cb(void *sock, void *arg)
{
	struct echo *e = arg;
	zmq_msg_t id, body;

	zmq_msg_init(&id);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&id) ||
	    zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0) {
		e->bad++;
	} else if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		   zmq_msg_send(&body, sock, ZMQ_DONTWAIT) < 0) {
		e->bad++;
	}
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	if (e->recheck)
		zev_recheck(e->server_z);
}

/* DEALER: reads one reply, checks it, and asks the pump for the next request. */
static void
echo_client_cb(void *sock, void *arg)
{
	struct echo *e = arg;
	uint32_t v = 0;

	if (zmq_recv(sock, &v, sizeof v, ZMQ_DONTWAIT) != (int)sizeof v || v != (uint32_t)e->rounds)
		e->bad++;
	e->rounds++;
	if (e->rounds == e->want)
		event_base_loopexit(e->base, NULL);
	else
		event_active(e->pump, EV_WRITE, 0);
}

/* Fills the window with requests from the DEALER, as a daemon sends from a timer or from
 * another socket's callback; each send may swallow the edge of a reply that just came. */
static void
echo_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct echo *e = arg;

	while (e->sent < e->want && e->sent - e->rounds < e->window) {
		if (send_num(e->dealer, (uint32_t)e->sent) != 0) {
			e->bad++;
			break;
		}
		e->sent++;
	}
	if (e->recheck)
		zev_recheck(e->client_z);
}

/* A ROUTER/DEALER echo where requests are sent outside the read callback: input that
 * arrives while the socket sends (and so consumes the edge on ZMQ_FD) must still be read. */
static void
test_echo(void)
{
	void *ctx = zmq_ctx_new(), *router, *dealer;
	struct event_base *base = event_base_new();
	struct echo e = {0};

	router = zmq_socket(ctx, ZMQ_ROUTER);
	dealer = zmq_socket(ctx, ZMQ_DEALER);
	CHECK(zmq_bind(router, "inproc://zev-echo") == 0);
	CHECK(zmq_connect(dealer, "inproc://zev-echo") == 0);
	e.base = base;
	e.dealer = dealer;
	e.want = 20000;
	e.window = 8;
	e.recheck = 1;
	e.server_z = zev_new(base, router, BUDGET, echo_server_cb, &e);
	e.client_z = zev_new(base, dealer, BUDGET, echo_client_cb, &e);
	e.pump = event_new(base, -1, 0, echo_pump_cb, &e);
	CHECK(e.server_z != NULL && e.client_z != NULL && e.pump != NULL);
	event_active(e.pump, EV_WRITE, 0);
	run_loop(base, 10000);
	CHECK(e.rounds == e.want);
	CHECK(e.sent == e.want);
	CHECK(e.bad == 0);
	event_free(e.pump);
	zev_free(e.server_z);
	zev_free(e.client_z);
	zmq_close(dealer);
	zmq_close(router);
	zmq_ctx_term(ctx);
	event_base_free(base);
}

/* Messages queued (and their edge consumed) before zev_new are read all the same. */
static void
test_queued_before(void)
{
	void *ctx = zmq_ctx_new(), *rx, *tx;
	struct event_base *base = event_base_new();
	struct counter c = {0};
	int clock = 0, i, events = 0, fd = -1;
	size_t len = sizeof events;
	struct pollfd pfd;

	pull_pair(ctx, "inproc://zev-before", &rx, &tx);
	for (i = 0; i < 10; i++)
		CHECK(send_num(tx, (uint32_t)i) == 0);
	/* Reading ZMQ_EVENTS processes the pending commands and resets the signal on ZMQ_FD:
	 * from here on, the fd stays quiet although input is waiting. */
	CHECK(zmq_getsockopt(rx, ZMQ_EVENTS, &events, &len) == 0);
	CHECK(events & ZMQ_POLLIN);
	len = sizeof fd;
	CHECK(zmq_getsockopt(rx, ZMQ_FD, &fd, &len) == 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 0) == 0);
	c.base = base;
	c.want = 10;
	c.clock = &clock;
	c.z = zev_new(base, rx, BUDGET, count_cb, &c);
	CHECK(c.z != NULL);
	run_loop(base, 5000);
	CHECK(c.received == 10);
	CHECK(c.out_of_order == 0);
	CHECK(c.bad == 0);
	CHECK(drained(rx));
	zev_free(c.z);
	zmq_close(tx);
	zmq_close(rx);
	zmq_ctx_term(ctx);
	event_base_free(base);
}

/* Runs the zev tests. */
int
main(void)
{
	RUN(test_count);
	RUN(test_fairness);
	RUN(test_echo);
	RUN(test_queued_before);
	TEST_DONE();
}
