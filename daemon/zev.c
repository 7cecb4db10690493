/* zev: ZMQ_FD is edge-triggered and says only "something changed"; ZMQ_EVENTS says what.
 * So on every wake-up we drain until ZMQ_EVENTS shows no input (or the budget is spent, in
 * which case a zero-timeout timer resumes), and after every send we look again. */
#include "zev.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <zmq.h>

struct zev {
	void *sock; /* borrowed ZeroMQ socket */
	int budget; /* messages per wake-up */
	zev_read_cb cb;
	void *arg;
	struct event *fd_ev;  /* ZMQ_FD readable */
	struct event *resume; /* zero-timeout resume after a spent budget or a send */
};

/* Returns 1 when the socket has a message to read, 0 when not, -1 on error. */
static int
zev_has_input(struct zev *z)
{
	int events = 0;
	size_t len = sizeof events;

	if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &events, &len) != 0) {
		if (errno != ETERM && errno != EINTR)
			log_warn("zev: ZMQ_EVENTS");
		return -1;
	}
	return (events & ZMQ_POLLIN) != 0;
}

/* Reads up to the budget, then schedules a resume when input remains. */
static void
zev_drain(struct zev *z)
{
	int n = 0, more;

	while ((more = zev_has_input(z)) == 1 && n < z->budget) {
		z->cb(z->sock, z->arg);
		n++;
	}
	if (more == 1) {
		struct timeval now = {0, 0};

		if (event_add(z->resume, &now) != 0)
			log_warnx("zev: cannot schedule resume");
	}
}

/* ZMQ_FD became readable: the socket's state changed. */
static void
zev_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	zev_drain(arg);
}

/* The resume timer fired. */
static void
zev_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	zev_drain(arg);
}

struct zev *
zev_new(struct event_base *base, void *sock, int budget, zev_read_cb cb, void *arg)
{
	struct zev *z = xcalloc(1, sizeof *z);
	int fd;
	size_t len = sizeof fd;

	z->sock = sock;
	z->budget = budget > 0 ? budget : 1;
	z->cb = cb;
	z->arg = arg;
	if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0) {
		log_warn("zev: ZMQ_FD");
		free(z);
		return NULL;
	}
	z->fd_ev = event_new(base, fd, EV_READ | EV_PERSIST, zev_fd_cb, z);
	z->resume = evtimer_new(base, zev_resume_cb, z);
	if (z->fd_ev == NULL || z->resume == NULL || event_add(z->fd_ev, NULL) != 0) {
		log_warnx("zev: cannot create events");
		zev_free(z);
		return NULL;
	}
	/* Input may already be waiting, and its edge is gone. */
	zev_recheck(z);
	return z;
}

void
zev_free(struct zev *z)
{
	if (z == NULL)
		return;
	if (z->fd_ev)
		event_free(z->fd_ev);
	if (z->resume)
		event_free(z->resume);
	free(z);
}

void
zev_recheck(struct zev *z)
{
	struct timeval now = {0, 0};

	if (zev_has_input(z) == 1 && event_add(z->resume, &now) != 0)
		log_warnx("zev: cannot schedule recheck");
}
