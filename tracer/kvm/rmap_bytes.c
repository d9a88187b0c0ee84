// SPDX-License-Identifier: GPL-2.0
#include "kvm/rmap_bytes.h"

#define KS_RMAP_HEAD_BYTES 8   /* sizeof(struct kvm_rmap_head) */
#define KS_NR_PAGE_SIZES 3     /* 4K, 2M, 1G */
#define KS_LEVEL_SHIFT 9       /* 512 entries per page-table level */

uint64_t ks_rmap_bytes(uint64_t base_gfn, uint64_t npages)
{
	uint64_t bytes = 0;

	if (!npages)
		return 0;
	for (int level = 0; level < KS_NR_PAGE_SIZES; level++) {
		unsigned int shift = KS_LEVEL_SHIFT * level;
		uint64_t first = base_gfn >> shift, last = (base_gfn + npages - 1) >> shift;

		bytes += (last - first + 1) * KS_RMAP_HEAD_BYTES;
	}
	return bytes;
}
