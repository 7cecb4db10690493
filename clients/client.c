/* client: the client side of the protocol, shared by muster and muster-agent. */
#include "client.h"
#include "cfg.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static uint64_t client_seq;

/* Returns a new path: P when absolute, else DIR/P. */
static char *
client_path(const char *dir, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
}

/* Returns a new copy of setting NAME from CF, or of its documented default. */
static char *
client_setting(config_t *cf, const char *name)
{
	const char *v = NULL;

	if (config_lookup_string(cf, name, &v) == CONFIG_TRUE)
		return xstrdup(v);
	v = cfg_default_string(name);
	return xstrdup(v ? v : "");
}

/* Sets *FILE to the musterd.conf that CONF names (the file, or the one in the directory)
 * and *DIR to its directory; both new, caller frees. */
static void
client_conf_locate(const char *conf, char **file, char **dir)
{
	struct stat st;
	char *slash;

	if (stat(conf, &st) == 0 && S_ISDIR(st.st_mode))
		*file = xasprintf("%s/musterd.conf", conf);
	else
		*file = xstrdup(conf);
	*dir = xstrdup(*file);
	slash = strrchr(*dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(*dir, ".");
}

int
client_conf_load(struct client_conf *c, const char *conf, const char *key_file, char **err)
{
	char *file, *dir, *daemon_key = NULL, *pub = NULL, *mine = NULL;
	char buf[512];
	config_t cf;
	int rc = -1;

	memset(c, 0, sizeof *c);
	client_conf_locate(conf, &file, &dir);
	config_init(&cf);
	if (config_read_file(&cf, file) != CONFIG_TRUE) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			*err =
			    xasprintf("%s: cannot open: %s (use -c DIR, or run `muster init DIR`)",
				      file, strerror(errno));
		else
			*err = xasprintf("%s:%d: %s",
					 config_error_file(&cf) ? config_error_file(&cf) : file,
					 config_error_line(&cf), config_error_text(&cf));
		goto out;
	}
	c->control = client_setting(&cf, "control");
	c->agents = client_setting(&cf, "agents");
	c->feed = client_setting(&cf, "feed");
	daemon_key = client_setting(&cf, "key_file");
	{
		char *full = client_path(dir, daemon_key);
		size_t n = strlen(full);

		if (n > 4 && strcmp(full + n - 4, ".key") == 0)
			pub = xasprintf("%.*s.pub", (int)(n - 4), full);
		else
			pub = xasprintf("%s.pub", full);
		free(full);
	}
	if (cfg_read_key_file(pub, c->server_public, NULL, buf, sizeof buf) != 0) {
		*err = xstrdup(buf);
		goto out;
	}
	mine = client_path(dir, key_file);
	if (cfg_read_key_file(mine, c->public_key, c->secret_key, buf, sizeof buf) != 0) {
		*err = xstrdup(buf);
		goto out;
	}
	rc = 0;
out:
	config_destroy(&cf);
	free(file);
	free(dir);
	free(daemon_key);
	free(pub);
	free(mine);
	if (rc != 0)
		client_conf_finish(c);
	return rc;
}

void
client_conf_finish(struct client_conf *c)
{
	free(c->control);
	free(c->agents);
	free(c->feed);
	c->control = c->agents = c->feed = NULL;
	memset(c->secret_key, 0, sizeof c->secret_key);
}

void *
client_socket(void *ctx, int type, const char *endpoint, const struct client_conf *c, char **err)
{
	void *s = client_socket_unconnected(ctx, type, c, err);

	if (s != NULL && client_socket_connect(s, endpoint, err) != 0)
		return NULL;
	return s;
}

int
client_socket_connect(void *s, const char *endpoint, char **err)
{
	if (zmq_connect(s, endpoint) != 0) {
		*err = xasprintf("cannot connect to %s: %s", endpoint, zmq_strerror(errno));
		zmq_close(s);
		return -1;
	}
	return 0;
}

void *
client_socket_unconnected(void *ctx, int type, const struct client_conf *c, char **err)
{
	void *s = zmq_socket(ctx, type);
	int linger = 500, ivl = 100, ivl_max = 5000;

	if (s == NULL) {
		*err = xasprintf("socket: %s", zmq_strerror(errno));
		return NULL;
	}
	/* Reconnects back off from 100 ms to 5 s (libzmq doubles the interval each time). */
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server_public, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->public_key, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->secret_key, 40) != 0 ||
	    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
	    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
	    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0) {
		*err = xasprintf("socket options: %s", zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

int
client_send(void *s, Envelope *e)
{
	size_t len;
	uint8_t *buf;
	int rc;

	e->version = WIRE_VERSION;
	e->seq = ++client_seq;
	e->sent_at_ms = util_wall_ms();
	buf = wire_pack(e, &len);
	rc = zmq_send(s, buf, len, 0) < 0 ? -1 : 0;
	free(buf);
	return rc;
}

Envelope *
client_recv(void *s, int timeout_ms, char **err)
{
	zmq_pollitem_t pi = {.socket = s, .events = ZMQ_POLLIN};
	zmq_msg_t m;
	Envelope *e;
	int code;
	const char *why;
	int n = zmq_poll(&pi, 1, timeout_ms);

	*err = NULL;
	if (n < 0) {
		*err = xasprintf("poll: %s", zmq_strerror(errno));
		return NULL;
	}
	if (n == 0)
		return NULL;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, 0) < 0) {
		*err = xasprintf("recv: %s", zmq_strerror(errno));
		zmq_msg_close(&m);
		return NULL;
	}
	/* A PUB frame starts with its topic; the envelope is the last frame. */
	while (zmq_msg_more(&m)) {
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0) {
			*err = xasprintf("recv: %s", zmq_strerror(errno));
			zmq_msg_close(&m);
			return NULL;
		}
	}
	e = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &code, &why);
	zmq_msg_close(&m);
	if (e == NULL)
		*err = xasprintf("undecodable message from the daemon: %s", why);
	return e;
}

Envelope *
client_call(void *s, Envelope *e, int timeout_ms, char **err)
{
	int64_t deadline = util_wall_ms() + timeout_ms;
	uint64_t corr;

	corr = ((uint64_t)util_mono_ns() << 8) ^ (uint64_t)util_wall_ms();
	if (corr == 0)
		corr = 1;
	e->correlation_id = corr;
	if (client_send(s, e) != 0) {
		*err = xasprintf("send: %s", zmq_strerror(errno));
		return NULL;
	}
	for (;;) {
		int64_t left = deadline - util_wall_ms();
		Envelope *r;

		if (left <= 0)
			break;
		r = client_recv(s, (int)left, err);
		if (r == NULL) {
			if (*err)
				return NULL;
			break;
		}
		if (r->correlation_id == corr)
			return r;
		wire_free(r); /* a late reply to an earlier call */
	}
	*err = xasprintf("no answer from the daemon within %d ms (is musterd running, and is "
			 "this key enrolled?)",
			 timeout_ms);
	return NULL;
}

void
client_seq_start(uint64_t after)
{
	if (client_seq < after)
		client_seq = after;
}

uint64_t
client_next_seq(void)
{
	return ++client_seq;
}

int
client_send_seq(void *s, Envelope *e)
{
	size_t len;
	uint8_t *buf;
	int rc;

	e->version = WIRE_VERSION;
	e->sent_at_ms = util_wall_ms();
	buf = wire_pack(e, &len);
	rc = zmq_send(s, buf, len, 0) < 0 ? -1 : 0;
	free(buf);
	return rc;
}

char *
client_conf_path(const char *conf, const char *name, char **err)
{
	char *file, *dir, *v, *path = NULL;
	config_t cf;

	client_conf_locate(conf, &file, &dir);
	config_init(&cf);
	if (config_read_file(&cf, file) != CONFIG_TRUE) {
		*err =
		    xasprintf("%s:%d: %s", config_error_file(&cf) ? config_error_file(&cf) : file,
			      config_error_line(&cf), config_error_text(&cf));
	} else {
		v = client_setting(&cf, name);
		if (v[0] == '\0')
			*err = xasprintf("%s: no setting %s", file, name);
		else
			path = client_path(dir, v);
		free(v);
	}
	config_destroy(&cf);
	free(file);
	free(dir);
	return path;
}
