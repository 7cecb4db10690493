/* musterd: parses arguments, loads the configuration, runs the loop, shuts down. */
#include "cfg.h"
#include "daemon.h"
#include "log.h"
#include "replay.h"
#include "util.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
usage(void)
{
	fprintf(stderr,
		"usage: musterd [-dnv] [-c musterd.conf] [-R fd] [-V START | -S START,SPEED]"
		" [-Y INPUTS.db [-G]] [-H]\n"
		"  -c FILE  configuration (default: musterd.conf)\n"
		"  -d       stay in the foreground, log to stderr\n"
		"  -n       check the configuration and exit\n"
		"  -v       verbose (debug) logging\n"
		"  -R FD    write \"READY\\n\" to FD once serving, then close it\n"
		"  -V START a drill daemon on a virtual clock standing at START\n"
		"           (YYYY-MM-DDThh:mm:ss UTC, or ms since the epoch), moved only\n"
		"           by AdvanceClock requests (muster drill run --virtual)\n"
		"  -Y DB    with -V: replay the inputs DB recorded (muster replay), then exit\n"
		"  -G       with -Y: also tick every 250 ms between the recorded ticks\n"
		"  -S START,SPEED  a drill daemon whose clock starts at START and runs\n"
		"           SPEED (1 to 1000) times as fast as real time (--speed)\n"
		"  -H       list every musterd.conf setting and exit\n");
	exit(2);
}

/* SIGTERM or SIGINT: leave the loop; daemon_free commits and closes cleanly. */
static void
main_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("musterd: signal %d, shutting down", (int)sig);
	if (event_base_loopexit(base, NULL) != 0)
		log_warnx("musterd: loopexit failed");
}

/* SIGHUP: load the whole configuration again; keep the old one if anything is wrong. */
static void
main_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char *errors = NULL;
	struct config *nc = cfg_load(d->cfg->path, &errors);

	if (nc == NULL) {
		log_warnx("musterd: reload refused, the running configuration is kept:\n%s",
			  errors ? errors : "(no detail)");
		free(errors);
		return;
	}
	daemon_reload(d, nc);
}

/* Parses -V START: "YYYY-MM-DDThh:mm:ss" (UTC) or milliseconds since the epoch. */
static int
main_parse_start(const char *s, int64_t *ms)
{
	struct tm tm;
	char *end;
	long long v;
	time_t t;
	int n = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == 0 && end != s && *end == '\0' && v > 0) {
		*ms = v;
		return 0;
	}
	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    s[n] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* Loads the configuration or exits naming every problem. */
static struct config *
main_load(const char *path)
{
	char *errors = NULL;
	struct config *cfg = cfg_load(path, &errors);

	if (cfg == NULL) {
		fprintf(stderr, "%s", errors ? errors : "configuration invalid\n");
		if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
			fputc('\n', stderr);
		free(errors);
		exit(1);
	}
	return cfg;
}

int
main(int argc, char **argv)
{
	const char *conf = "musterd.conf";
	int ch, foreground = 0, check = 0, verbose = 0, ready_fd = -1;
	int64_t virtual_ms;
	const char *replay = NULL;
	int grid = 0;
	struct config *cfg;
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup;
	struct daemon *d;
	char *err = NULL;

	while ((ch = getopt(argc, argv, "c:dnvR:V:S:Y:GH")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'R': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end != '\0' || v < 0 || v > 65535)
				usage();
			ready_fd = (int)v;
			break;
		}
		case 'V':
			if (main_parse_start(optarg, &virtual_ms) != 0) {
				fprintf(stderr,
					"musterd: -V '%s': give YYYY-MM-DDThh:mm:ss (UTC) or "
					"milliseconds since the epoch\n",
					optarg);
				return 2;
			}
			util_clock_virtual(virtual_ms);
			break;
		case 'S': {
			char *comma = strrchr(optarg, ',');
			double speed = 0;
			char *end = NULL;

			if (comma != NULL) {
				*comma = '\0';
				speed = strtod(comma + 1, &end);
			}
			if (comma == NULL || end == comma + 1 || *end != '\0' || !(speed >= 1) ||
			    speed > 1000 || main_parse_start(optarg, &virtual_ms) != 0) {
				fprintf(stderr,
					"musterd: -S: give START,SPEED (START as for -V, SPEED "
					"1 to 1000)\n");
				return 2;
			}
			util_clock_scaled(virtual_ms, speed);
			break;
		}
		case 'Y':
			replay = optarg;
			break;
		case 'G':
			grid = 1;
			break;
		case 'H':
			cfg_print_help(stdout);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc || ((replay != NULL || grid) && !util_clock_is_virtual()))
		usage(); /* a replay runs on the virtual clock */
	log_init("musterd", 1, verbose);
	cfg = main_load(conf);
	if (check) {
		printf(
		    "%s: configuration OK (%zu places, %zu departments, %zu units, %zu clients)\n",
		    conf, cfg->district->n_places, cfg->roster->n_departments, cfg->roster->n_units,
		    cfg->n_clients);
		cfg_free(cfg);
		return 0;
	}
	if (!foreground) {
		if (daemon(1, 0) != 0)
			fatal("daemon");
		log_init("musterd", 0, verbose);
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	base = event_base_new();
	if (base == NULL || event_base_priority_init(base, DAEMON_PRIORITIES) != 0)
		fatalx("cannot create the event loop");
	d = daemon_new(base, cfg, &err);
	if (d == NULL) {
		log_warnx("musterd: %s", err ? err : "cannot start");
		free(err);
		event_base_free(base);
		return 1;
	}
	if (replay != NULL) {
		int rc = replay_run(d, replay, grid, &err);

		if (rc != 0) {
			log_warnx("musterd: %s", err);
			free(err);
		}
		daemon_free(d);
		event_base_free(base);
		return rc == 0 ? 0 : 1;
	}
	sigterm = evsignal_new(base, SIGTERM, main_stop_cb, base);
	sigint = evsignal_new(base, SIGINT, main_stop_cb, base);
	sighup = evsignal_new(base, SIGHUP, main_reload_cb, d);
	if (!sigterm || !sigint || !sighup || event_add(sigterm, NULL) != 0 ||
	    event_add(sigint, NULL) != 0 || event_add(sighup, NULL) != 0)
		fatalx("cannot watch signals");
	log_info("musterd: serving (pid %ld)", (long)getpid());
	if (ready_fd >= 0) {
		static const char ready[] = "READY\n";

		if (write(ready_fd, ready, sizeof ready - 1) != (ssize_t)(sizeof ready - 1))
			log_warn("musterd: readiness fd %d", ready_fd);
		if (close(ready_fd) != 0)
			log_warn("musterd: close readiness fd");
	}
	if (event_base_dispatch(base) < 0)
		log_warnx("musterd: event loop failed");
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	daemon_free(d);
	event_base_free(base);
	log_info("musterd: stopped");
	return 0;
}
