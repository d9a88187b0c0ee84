/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by tp_btf.bpf.c and tp_btf.c (kernel/test-lab). */
#ifndef TP_BTF_H
#define TP_BTF_H

enum {
	TP_GFN_WRITE_PROTECT,
	TP_SLOT_WRITE_PROTECT,
	TP_SLOT_APPLY_FLAGS,
	TP_RMAP_ALLOC,
	TP_RMAP_SKIP,
	TP_RMAP_FREE,
	TP_PAGE_STATS,
	TP_STATS_READ,
	TP_DIRTY_LOG_GET,
	TP_DIRTY_LOG_CLEAR,
	TP_NR
};

#define TP_NR_ARGS 5

/* Per tracepoint: calls, and per recorded argument the last value, the
 * maximum and the bitwise OR of all values. */
struct tp_rec {
	long long count;
	long long last[TP_NR_ARGS];
	long long max[TP_NR_ARGS];
	long long or[TP_NR_ARGS];
};

/* One read of a stats fd by the VMM itself (kvm_stats_read), with the page
 * size stats updates of its VM summed up to that moment (kvm_mmu_page_stats),
 * by level: compared with kvmload's stats_read records. */
struct tp_read {
	int vcpu_id;			/* -1: the VM's fd */
	int pad;
	long long offset;		/* where the read started */
	long long size;
	long long ret;
	long long page_sums[4];		/* [level], 1..3 */
};

#endif
