/* SPDX-License-Identifier: GPL-2.0 */
/* Arrays that grow as needed. */
#ifndef KS_GROW_H
#define KS_GROW_H

#include <stdlib.h>
#include <string.h>

/* Makes the array that arr points to (a pointer of any type to *alloc
 * elements of size bytes) hold at least need elements, doubling from 8 but
 * never past max (0: no limit); new elements are zeroed. 0, or -1 (nothing
 * changed) if memory ran out or need > max. (The pointer is read and
 * written with memcpy: it is not a void *.) */
static inline int ks_grow(void *arr, int *alloc, int need, size_t size, int max)
{
	int n = *alloc ? *alloc : 8;
	char *a, *old;

	if (need <= *alloc)
		return 0;
	if (max && need > max)
		return -1;
	while (n < need)
		n *= 2;
	if (max && n > max)
		n = max;
	memcpy(&old, arr, sizeof(old));
	a = realloc(old, (size_t)n * size);
	if (!a)
		return -1;
	memset(a + (size_t)*alloc * size, 0, (size_t)(n - *alloc) * size);
	memcpy(arr, &a, sizeof(a));
	*alloc = n;
	return 0;
}

#endif
