/* test_gauge: high-water marks, and when a rise is worth an event (a quarter, past a floor). */
#include "test.h"

#include "gauge.h"

#include <string.h>

int main(void);

/* The mark is the highest reading; it never falls, and an unreadable (-1) reading is not one. */
static void
test_marks(void)
{
	struct gauges g;

	memset(&g, 0, sizeof g);
	gauge_set(&g, GAUGE_OPEN_INCIDENTS, 10);
	gauge_set(&g, GAUGE_OPEN_INCIDENTS, 30);
	gauge_set(&g, GAUGE_OPEN_INCIDENTS, 5);
	CHECK(g.value[GAUGE_OPEN_INCIDENTS] == 5);
	CHECK(g.high[GAUGE_OPEN_INCIDENTS] == 30);
	gauge_set(&g, GAUGE_RSS, -1);
	CHECK(g.value[GAUGE_RSS] == -1 && g.high[GAUGE_RSS] == 0);
	CHECK_STR(gauge_name(GAUGE_WAL_PAGES), "wal_pages");
	CHECK_STR(gauge_unit(GAUGE_RSS), "KiB");
	CHECK_STR(gauge_name(GAUGE_N), "?");
}

/* Told first at the floor (64 for counts), then only when the mark rose by more than a
 * quarter of what was last told: 64 -> 81 -> 102 ..., and 10^6 is reached in 44 events. */
static void
test_reports(void)
{
	struct gauges g;
	int64_t prev = -7, v;
	int events = 0;

	memset(&g, 0, sizeof g);
	gauge_set(&g, GAUGE_ACTIVE_ORDERS, 63);
	CHECK(!gauge_report_due(&g, GAUGE_ACTIVE_ORDERS, &prev));
	CHECK(prev == -7);
	gauge_set(&g, GAUGE_ACTIVE_ORDERS, 64);
	CHECK(gauge_report_due(&g, GAUGE_ACTIVE_ORDERS, &prev));
	CHECK(prev == 0);
	CHECK(!gauge_report_due(&g, GAUGE_ACTIVE_ORDERS, &prev)); /* told once */
	gauge_set(&g, GAUGE_ACTIVE_ORDERS, 80);			  /* 64 + 16: not more */
	CHECK(!gauge_report_due(&g, GAUGE_ACTIVE_ORDERS, &prev));
	gauge_set(&g, GAUGE_ACTIVE_ORDERS, 81);
	CHECK(gauge_report_due(&g, GAUGE_ACTIVE_ORDERS, &prev));
	CHECK(prev == 64);
	memset(&g, 0, sizeof g);
	for (v = 1; v <= 1000000; v++) {
		gauge_set(&g, GAUGE_BATCH_MESSAGES, v);
		events += gauge_report_due(&g, GAUGE_BATCH_MESSAGES, &prev);
	}
	CHECK(events == 44);
	CHECK(g.told[GAUGE_BATCH_MESSAGES] > 800000);
	/* A gauge with a larger floor waits for it. */
	memset(&g, 0, sizeof g);
	gauge_set(&g, GAUGE_DB_PAGES, 1023);
	CHECK(!gauge_report_due(&g, GAUGE_DB_PAGES, &prev));
	gauge_set(&g, GAUGE_DB_PAGES, 1024);
	CHECK(gauge_report_due(&g, GAUGE_DB_PAGES, &prev));
}

/* This process's resident memory is readable and plausible (more than 100 KiB, less than
 * 64 GiB). */
static void
test_rss(void)
{
	int64_t k = gauge_rss_kib();

	CHECK(k > 100 && k < 64LL * 1024 * 1024);
}

int
main(void)
{
	RUN(test_marks);
	RUN(test_reports);
	RUN(test_rss);
	TEST_DONE();
}
