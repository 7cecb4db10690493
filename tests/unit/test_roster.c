/* test_roster: look-ups by id and the names of unit statuses, on the test configuration. */
#include "test.h"

#include "cfg.h"
#include "roster.h"

int main(void);

/* Units and departments are found by id, and only by id. */
static void
test_lookups(void)
{
	char *errors = NULL;
	struct config *c = cfg_load("../data/conf/good/musterd.conf", &errors);
	struct roster *r;
	size_t i;

	if (c == NULL)
		fprintf(stderr, "%s\n", errors ? errors : "?");
	CHECK(c != NULL);
	free(errors);
	if (c == NULL)
		return;
	r = c->roster;
	CHECK(r->n_units > 0 && r->n_departments > 0);
	for (i = 0; i < r->n_units; i++) {
		CHECK(roster_unit(r, r->units[i].id) == &r->units[i]);
		CHECK(r->units[i].department >= 0 &&
		      (size_t)r->units[i].department < r->n_departments);
	}
	for (i = 0; i < r->n_departments; i++)
		CHECK(roster_department(r, r->departments[i].id) == (int)i);
	CHECK(roster_unit(r, "no-such-unit") == NULL);
	CHECK(roster_department(r, "navy") == -1);
	CHECK(roster_unit(r, "") == NULL);
	cfg_free(c);
}

/* Every status has the name the feed and the docs use. */
static void
test_status_names(void)
{
	CHECK_STR(roster_status_name(UNIT_STATUS_AVAILABLE), "available");
	CHECK_STR(roster_status_name(UNIT_STATUS_BUSY), "busy");
	CHECK_STR(roster_status_name(UNIT_STATUS_OFF_DUTY), "off_duty");
	CHECK_STR(roster_status_name(UNIT_STATUS_OUT_OF_SERVICE), "out_of_service");
	CHECK_STR(roster_status_name(UNIT_STATUS_UNKNOWN), "unknown");
	CHECK_STR(roster_status_name((enum unit_status)77), "unknown");
}

/* Shifts: no shift is always on; a day shift and a night shift that wraps midnight. */
static void
test_shifts(void)
{
	struct unit u;
	int h, on = 0;

	memset(&u, 0, sizeof u);
	u.shift_from = u.shift_to = -1;
	for (h = 0; h < 24; h++)
		on += roster_on_shift(&u, h);
	CHECK(on == 24);
	u.shift_from = 8;
	u.shift_to = 20;
	CHECK(!roster_on_shift(&u, 7) && roster_on_shift(&u, 8) && roster_on_shift(&u, 19) &&
	      !roster_on_shift(&u, 20));
	u.shift_from = 20;
	u.shift_to = 8;
	CHECK(roster_on_shift(&u, 20) && roster_on_shift(&u, 23) && roster_on_shift(&u, 0) &&
	      roster_on_shift(&u, 7) && !roster_on_shift(&u, 8) && !roster_on_shift(&u, 19));
}

int
main(void)
{
	RUN(test_shifts);
	RUN(test_lookups);
	RUN(test_status_names);
	TEST_DONE();
}
