/* test_bus: the daemon's server sockets, as bus_tune sets them, survive a peer that floods
 * past recv_hwm and then resets its connection while the daemon is not reading (a busy
 * loop, a slow disk, shutdown). With ZeroMQ heartbeats on, libzmq 4.3.4 aborts the whole
 * process there: the connection is marked failed while its input is stopped, and the next
 * heartbeat timer asserts on it. The test waits out more than the heartbeat interval the
 * daemon used to set (5 s); an abort ends it with SIGABRT, which is a failure. */
#include "test.h"

#include "bus.h"
#include "cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int main(void);

#define WAIT_S 7 /* longer than the 5 s heartbeat interval of before */

static double
now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
setint(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof v);
}

static void
test_reset_while_input_stopped(void)
{
	struct config cfg;
	void *ctx = zmq_ctx_new(), *peer_ctx = zmq_ctx_new(), *router, *dealer;
	char endpoint[256], rid[256], buf[1000];
	size_t len = sizeof endpoint;
	int rid_len, i, queued = 0, flooded = 0;
	double t0;

	memset(&cfg, 0, sizeof cfg);
	cfg.max_frame = 65536;
	cfg.send_hwm = 10000;
	cfg.recv_hwm = 1; /* the peer's input stops at once */
	memset(buf, 'x', sizeof buf);
	CHECK(ctx != NULL && peer_ctx != NULL);
	router = zmq_socket(ctx, ZMQ_ROUTER);
	CHECK(router != NULL);
	CHECK(bus_tune(router, &cfg) == 0);
	CHECK(zmq_bind(router, "tcp://127.0.0.1:*") == 0);
	CHECK(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);

	/* A peer that reads nothing: what the daemon sends it stays unread in its kernel
	 * buffer, so that its close is a reset. */
	dealer = zmq_socket(peer_ctx, ZMQ_DEALER);
	CHECK(dealer != NULL);
	CHECK(setint(dealer, ZMQ_LINGER, 0) == 0 && setint(dealer, ZMQ_RCVHWM, 1) == 0 &&
	      setint(dealer, ZMQ_RCVBUF, 1024) == 0);
	CHECK(zmq_connect(dealer, endpoint) == 0);
	CHECK(zmq_send(dealer, "hello", 5, 0) == 5);
	rid_len = zmq_recv(router, rid, sizeof rid, 0);
	CHECK(rid_len > 0 && zmq_recv(router, buf, sizeof buf, 0) == 5);
	memset(buf, 'x', sizeof buf);
	for (i = 0; i < 2000; i++) {
		if (zmq_send(router, rid, (size_t)rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		    zmq_send(router, buf, sizeof buf, ZMQ_DONTWAIT) < 0)
			break;
		queued++;
	}
	/* It floods the daemon, which reads nothing now. */
	t0 = now_s();
	while (now_s() < t0 + 1.0) {
		if (zmq_send(dealer, buf, sizeof buf, ZMQ_DONTWAIT) == (int)sizeof buf)
			flooded++;
		else if (errno == EAGAIN)
			(void)usleep(1000);
	}
	CHECK(queued > 0 && flooded > 1);
	CHECK(zmq_close(dealer) == 0);
	CHECK(zmq_ctx_term(peer_ctx) == 0);
	printf("test_bus: %d messages to the peer, %d from it; reset; waiting %d s\n", queued,
	       flooded, WAIT_S);
	(void)fflush(stdout);
	(void)sleep(WAIT_S);

	/* Still here: read what the peer left, which ends its connection cleanly. */
	for (i = 0; i < flooded + 2; i++)
		if (zmq_recv(router, buf, sizeof buf, ZMQ_DONTWAIT) < 0)
			break;
	CHECK(i > 0);
	CHECK(zmq_close(router) == 0);
	CHECK(zmq_ctx_term(ctx) == 0);
}

int
main(void)
{
	RUN(test_reset_while_input_stopped);
	TEST_DONE();
}
