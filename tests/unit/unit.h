/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal unit-test harness: one "PASS name" / "FAIL name: why" line per
 * check, counted by tests/run; the binary exits non-zero on any failure. */
#ifndef KS_UNIT_H
#define KS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed;

#define CHECK(name, cond, ...) do {                                   \
	if (cond) {                                                   \
		printf("PASS %s\n", name);                            \
	} else {                                                      \
		printf("FAIL %s: ", name);                            \
		printf(__VA_ARGS__);                                  \
		printf(" (%s:%d)\n", __FILE__, __LINE__);             \
		unit_failed++;                                        \
	}                                                             \
} while (0)

#define UNIT_EXIT() return unit_failed ? 1 : 0

#endif
