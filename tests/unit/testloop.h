/* testloop: running a libevent loop for a bounded time, shared by the unit tests that drive
 * real sockets through the loop (include after test.h). */
#ifndef MUSTER_TESTLOOP_H
#define MUSTER_TESTLOOP_H

#include <event2/event.h>

/* Ends the loop of the event base ARG. */
static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

/* Runs BASE until it stops itself or MS milliseconds pass. */
static void
run_loop(struct event_base *base, int ms)
{
	struct event *t = evtimer_new(base, timeout_cb, base);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK(evtimer_add(t, &tv) == 0);
	CHECK(event_base_dispatch(base) >= 0);
	event_free(t);
}

#endif
