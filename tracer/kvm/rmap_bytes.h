/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KS_RMAP_BYTES_H
#define KS_RMAP_BYTES_H

#include <stdint.h>

/*
 * Bytes of rmap arrays KVM allocates for a memslot (memslot_rmap_alloc):
 * for each page size it maps (4K, 2M, 1G), one 8-byte head for every page
 * of that size the slot overlaps, as __kvm_mmu_slot_lpages() counts them.
 */
uint64_t ks_rmap_bytes(uint64_t base_gfn, uint64_t npages);

#endif
