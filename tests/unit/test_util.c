/* test_util: allocation helpers, strings, clocks, and that logging keeps errno. */
#include "test.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void);

/* xasprintf and strbuf build exactly the text asked for, however long. */
static void
test_strings(void)
{
	struct strbuf b = {0};
	char *s = xasprintf("%s-%d-%05.1f", "muster", 42, 3.25);
	int i;

	CHECK_STR(s, "muster-42-003.2");
	free(s);
	CHECK(b.s == NULL && b.len == 0);
	for (i = 0; i < 1000; i++)
		strbuf_addf(&b, "%d,", i % 10);
	CHECK(b.len == 2000);
	CHECK(b.s != NULL && strlen(b.s) == 2000);
	CHECK(b.s && strncmp(b.s, "0,1,2,3,4,", 10) == 0);
	CHECK(b.s && strcmp(b.s + 1990, "5,6,7,8,9,") == 0);
	strbuf_finish(&b);
	CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
	CHECK(xstrdup(NULL) == NULL);
	s = xstrdup("grid");
	CHECK_STR(s, "grid");
	free(s);
}

/* Allocations of zero bytes still give a pointer that can be freed. */
static void
test_alloc(void)
{
	void *p = xmalloc(0), *q = xcalloc(0, 8), *r = xrealloc(NULL, 0);
	unsigned char *z = xcalloc(16, 1);
	int i, zero = 1;

	CHECK(p && q && r && z);
	for (i = 0; i < 16; i++)
		zero &= z[i] == 0;
	CHECK(zero);
	free(p);
	free(q);
	free(r);
	free(z);
}

/* The wall clock agrees with time(); the monotonic clock never goes back. */
static void
test_clocks(void)
{
	int64_t w = util_wall_ms(), m1 = util_mono_ns(), m2;
	int64_t t = (int64_t)time(NULL) * 1000;

	CHECK(w >= t - 2000 && w <= t + 2000);
	m2 = util_mono_ns();
	CHECK(m2 >= m1);
}

/* log_warn appends strerror but leaves errno as it found it, so callers can still test it. */
static void
test_log_keeps_errno(void)
{
	errno = ENOENT;
	log_warn("test_util: expected warning");
	CHECK(errno == ENOENT);
	errno = EACCES;
	log_warnx("test_util: expected warning without errno");
	log_debug("test_util: not shown at verbosity 0");
	CHECK(errno == EACCES);
}

/* Counts the lines of FILE that contain TEXT. */
static int
count_lines(FILE *f, const char *text)
{
	char line[512];
	int n = 0;

	rewind(f);
	while (fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	return n;
}

/* A limited warning is written LOG_LIMIT_BURST times in a window, then held back and counted;
 * the count is told at the flush (at the end of the window, or at once when asked), and each
 * call site has its own limit. */
static void
test_log_limit(void)
{
	static struct log_limit a = {.what = "things of kind a"}, b = {.what = "things of kind b"};
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO), i;

	CHECK(f != NULL && saved >= 0);
	if (f == NULL || saved < 0)
		return;
	fflush(stderr);
	CHECK(dup2(fileno(f), STDERR_FILENO) >= 0);
	for (i = 0; i < 25; i++)
		log_warnx_limited(&a, "test_util: kind a %d", i);
	log_warnx_limited(&b, "test_util: kind b");
	log_limits_flush(0); /* the window (10 s) has not ended: nothing yet */
	fflush(stderr);
	CHECK(count_lines(f, "test_util: kind a") == LOG_LIMIT_BURST);
	CHECK(count_lines(f, "test_util: kind b") == 1);
	CHECK(count_lines(f, "not logged one by one") == 0);
	log_limits_flush(1);
	fflush(stderr);
	CHECK(count_lines(f, "15 more things of kind a in 10 s were not logged one by one") == 1);
	CHECK(count_lines(f, "kind b in") == 0); /* held nothing */
	/* A new window writes again. */
	log_warnx_limited(&a, "test_util: kind a again");
	fflush(stderr);
	CHECK(count_lines(f, "test_util: kind a again") == 1);
	CHECK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	fclose(f);
}

int
main(void)
{
	log_init("test_util", 1, 0);
	RUN(test_log_limit);
	RUN(test_strings);
	RUN(test_alloc);
	RUN(test_clocks);
	RUN(test_log_keeps_errno);
	TEST_DONE();
}
