/* SPDX-License-Identifier: GPL-2.0 */
/* The median the benchmarks report (robust to the lab's stalls). */
#ifndef KS_BENCH_MEDIAN_H
#define KS_BENCH_MEDIAN_H

#include <stdlib.h>

static int ks_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), ks_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
