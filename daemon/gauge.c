/* gauge: readings, high-water marks and when a mark is worth an event. */
#include "gauge.h"

#include <stdio.h>
#include <unistd.h>

static const struct {
	const char *name;
	const char *unit;
	int64_t floor; /* below this, a rise is not reported (start-up noise) */
} gauge_info[GAUGE_N] = {
    [GAUGE_RSS] = {"rss", "KiB", 32768},
    [GAUGE_OPEN_INCIDENTS] = {"open_incidents", "incidents", 64},
    [GAUGE_ACTIVE_ORDERS] = {"active_orders", "orders", 64},
    [GAUGE_AGENT_SESSIONS] = {"agent_sessions", "agents", 64},
    [GAUGE_BATCH_MESSAGES] = {"batch_messages", "messages", 64},
    [GAUGE_BATCH_SENDS] = {"batch_sends", "messages", 64},
    [GAUGE_DB_PAGES] = {"db_pages", "pages", 1024},
    [GAUGE_WAL_PAGES] = {"wal_pages", "pages", 1024},
};

const char *
gauge_name(enum gauge_id g)
{
	return g < GAUGE_N ? gauge_info[g].name : "?";
}

const char *
gauge_unit(enum gauge_id g)
{
	return g < GAUGE_N ? gauge_info[g].unit : "";
}

void
gauge_set(struct gauges *s, enum gauge_id g, int64_t v)
{
	if (g >= GAUGE_N)
		return;
	s->value[g] = v;
	if (v > s->high[g])
		s->high[g] = v;
}

int
gauge_report_due(struct gauges *s, enum gauge_id g, int64_t *prev)
{
	int64_t h;

	if (g >= GAUGE_N)
		return 0;
	h = s->high[g];
	/* A quarter above the last report: from 64 to 10^6 that is 44 events, not 10^6. */
	if (h < gauge_info[g].floor || h <= s->told[g] + s->told[g] / 4)
		return 0;
	*prev = s->told[g];
	s->told[g] = h;
	return 1;
}

int64_t
gauge_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, resident = 0;
	long page = sysconf(_SC_PAGESIZE);
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &resident);
	if (fclose(f) != 0 || n != 2 || page <= 0)
		return -1;
	return (int64_t)(resident * (unsigned long long)page / 1024);
}
