/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal unit-test harness: one "PASS name" / "FAIL name: why" /
 * "SKIP name: why" line per check, counted by tests/run; the binary exits
 * non-zero on any failure.
 *
 *   ASSERT_EQ(name, got, want)       integers (signed or unsigned)
 *   ASSERT_NE(name, got, unwanted)
 *   ASSERT_GE(name, got, least)      ASSERT_LE(name, got, most)
 *   ASSERT_STREQ(name, got, want)    strings; NULL is shown as (null)
 *   ASSERT_CONTAINS(name, hay, needle)
 *   ASSERT_TRUE(name, cond)          ASSERT_FALSE(name, cond)
 * print both sides of a failed comparison, as expressions and values, and
 * where it is. CHECK(name, cond, fmt, ...) is the general form: on failure
 * it prints fmt.
 *
 *   REQUIRE(cond, why)   when cond does not hold, every check after it
 *                        prints "SKIP name: why" instead of running, up to
 *                        REQUIRE_END() (or the end of the program).
 */
#ifndef KS_UNIT_H
#define KS_UNIT_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int unit_failed;
static const char *unit_skip; /* why the checks are skipped, or NULL */

/* 1 if the check named name is to run; else prints its SKIP line. */
static inline int unit_run(const char *name)
{
	if (!unit_skip)
		return 1;
	printf("SKIP %s: %s\n", name, unit_skip);
	return 0;
}

static inline void unit_fail_at(const char *file, int line)
{
	printf(" (%s:%d)\n", file, line);
	unit_failed++;
}

#define CHECK(name, cond, ...) do {                                   \
	if (!unit_run(name))                                          \
		break;                                                \
	if (cond) {                                                   \
		printf("PASS %s\n", name);                            \
	} else {                                                      \
		printf("FAIL %s: ", name);                            \
		printf(__VA_ARGS__);                                  \
		unit_fail_at(__FILE__, __LINE__);                     \
	}                                                             \
} while (0)

/* Integer comparisons: unsigned operands are compared and shown as
 * unsigned long long, others as long long. */
enum unit_op { UNIT_EQ, UNIT_NE, UNIT_GE, UNIT_LE };
static const char *const unit_op_text[] = { "==", "!=", ">=", "<=" };

static inline int unit_holds_u(enum unit_op op, unsigned long long a, unsigned long long b)
{
	return op == UNIT_EQ ? a == b : op == UNIT_NE ? a != b : op == UNIT_GE ? a >= b : a <= b;
}

static inline int unit_holds_s(enum unit_op op, long long a, long long b)
{
	return op == UNIT_EQ ? a == b : op == UNIT_NE ? a != b : op == UNIT_GE ? a >= b : a <= b;
}

static inline void unit_cmp(const char *name, enum unit_op op, int is_unsigned,
			    unsigned long long ua, unsigned long long ub, long long sa, long long sb,
			    const char *ta, const char *tb, const char *file, int line)
{
	int ok = is_unsigned ? unit_holds_u(op, ua, ub) : unit_holds_s(op, sa, sb);

	if (!unit_run(name))
		return;
	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	printf("FAIL %s: expected %s %s %s, got ", name, ta, unit_op_text[op], tb);
	if (is_unsigned)
		printf("%llu vs %llu", ua, ub);
	else
		printf("%lld vs %lld", sa, sb);
	unit_fail_at(file, line);
}

#define UNIT_IS_UNSIGNED(x) _Generic((x),                             \
	unsigned char: 1, unsigned short: 1, unsigned int: 1,          \
	unsigned long: 1, unsigned long long: 1, _Bool: 1, default: 0)

#define UNIT_CMP(name, op, a, b) do {                                 \
	__typeof__(a) unit_a_ = (a);                                  \
	__typeof__(b) unit_b_ = (b);                                  \
	unit_cmp(name, op, UNIT_IS_UNSIGNED(unit_a_) || UNIT_IS_UNSIGNED(unit_b_), \
		 (unsigned long long)unit_a_, (unsigned long long)unit_b_, \
		 (long long)unit_a_, (long long)unit_b_, #a, #b, __FILE__, __LINE__); \
} while (0)

#define ASSERT_EQ(name, got, want) UNIT_CMP(name, UNIT_EQ, got, want)
#define ASSERT_NE(name, got, unwanted) UNIT_CMP(name, UNIT_NE, got, unwanted)
#define ASSERT_GE(name, got, least) UNIT_CMP(name, UNIT_GE, got, least)
#define ASSERT_LE(name, got, most) UNIT_CMP(name, UNIT_LE, got, most)

static inline void unit_str(const char *name, int contains, const char *a, const char *b,
			    const char *ta, const char *tb, const char *file, int line)
{
	int ok = contains ? a && b && strstr(a, b) : a && b ? !strcmp(a, b) : a == b;

	if (!unit_run(name))
		return;
	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	printf("FAIL %s: expected %s %s %s, got \"%s\" vs \"%s\"", name, ta,
	       contains ? "to contain" : "==", tb, a ? a : "(null)", b ? b : "(null)");
	unit_fail_at(file, line);
}

#define ASSERT_STREQ(name, got, want) \
	unit_str(name, 0, got, want, #got, #want, __FILE__, __LINE__)
#define ASSERT_CONTAINS(name, hay, needle) \
	unit_str(name, 1, hay, needle, #hay, #needle, __FILE__, __LINE__)

#define ASSERT_TRUE(name, cond) CHECK(name, cond, "expected %s", #cond)
#define ASSERT_FALSE(name, cond) CHECK(name, !(cond), "expected not %s", #cond)

#define REQUIRE(cond, why) do {                                       \
	if (!unit_skip && !(cond))                                    \
		unit_skip = (why);                                    \
} while (0)
#define REQUIRE_END() (unit_skip = NULL)

#define UNIT_EXIT() return unit_failed ? 1 : 0

/* The directory rel (e.g. "tests/unit/golden") of the source tree the
 * test binary was built in: looked for above the binary, so the test runs
 * from any directory. out[0] is '\0' when there is none. */
static inline void unit_find_dir(const char *rel, char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	out[0] = '\0';
	if (len <= 0)
		return;
	exe[len] = '\0';
	for (char *slash; (slash = strrchr(exe, '/')); ) {
		*slash = '\0';
		if (snprintf(out, n, "%.*s/%s", (int)(n / 2), exe, rel) < (int)n &&
		    !access(out, F_OK))
			return;
	}
	out[0] = '\0';
}

#endif
