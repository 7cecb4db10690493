/* test: the whole unit-test harness; each test file is one executable run by meson test. */
#ifndef MUSTER_TEST_H
#define MUSTER_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

/* Records a failure (with file:line) when COND is false; the test goes on. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

/* As CHECK, for two strings (either may be NULL). */
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!(a_ && b_ && strcmp(a_, b_) == 0)) {                                          \
			fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,   \
				__LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                 \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

/* Runs one test function and says so. */
#define RUN(fn)                                                                                    \
	do {                                                                                       \
		int before_ = test_failures;                                                       \
		fn();                                                                              \
		printf("%s %s\n", test_failures == before_ ? "ok" : "FAIL", #fn);                  \
	} while (0)

/* Ends main: exit status 0 only when nothing failed. */
#define TEST_DONE() return test_failures ? 1 : 0

#endif
