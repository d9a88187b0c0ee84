// SPDX-License-Identifier: GPL-2.0
/*
 * One tp_btf program per tracepoint of the kernel series, declared with the
 * exact TP_PROTO: loading checks the prototypes against the kernel's BTF,
 * and what they record checks the arguments. Built and run by
 * kernel/test-lab.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tp_btf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TP_NR);
	__type(key, __u32);
	__type(value, struct tp_rec);
} recs SEC(".maps");

/* The pid of the VMM under test: events of other VMs are not recorded. */
const volatile __s32 vmm_pid;

/* kvm_mmu_page_stats deltas of the VMM's VMs, summed by level. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __s64);
} page_sums SEC(".maps");

/* The VMM's own stats-fd reads, in order (struct tp_read). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} reads SEC(".maps");

/* Reads that did not fit in the ring buffer. */
__u64 reads_lost;

static __always_inline void rec(__u32 i, struct kvm *kvm, __s64 a0, __s64 a1,
				__s64 a2, __s64 a3, __s64 a4)
{
	__s64 a[TP_NR_ARGS] = { a0, a1, a2, a3, a4 };
	struct tp_rec *r;

	/* Raw tracepoint pointer arguments may be NULL for the verifier. */
	if (!kvm)
		return;
	if (vmm_pid && BPF_CORE_READ(kvm, userspace_pid) != vmm_pid)
		return;
	r = bpf_map_lookup_elem(&recs, &i);
	if (!r)
		return;
	__sync_fetch_and_add(&r->count, 1);
	for (int k = 0; k < TP_NR_ARGS; k++) {
		r->last[k] = a[k];
		r->or[k] |= a[k];
		if (a[k] > r->max[k])
			r->max[k] = a[k];
	}
}

SEC("tp_btf/kvm_mmu_gfn_write_protect")
int BPF_PROG(gfn_write_protect, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     u64 gfn, int min_level, bool rmap_wp, bool tdp_wp)
{
	if (slot)
		rec(TP_GFN_WRITE_PROTECT, kvm, slot->id, gfn, min_level, rmap_wp, tdp_wp);
	return 0;
}

SEC("tp_btf/kvm_mmu_slot_write_protect")
int BPF_PROG(slot_write_protect, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     int start_level, bool rmap_wp, bool tdp_wp)
{
	if (slot)
		rec(TP_SLOT_WRITE_PROTECT, kvm, slot->id, slot->npages, start_level,
		    rmap_wp, tdp_wp);
	return 0;
}

SEC("tp_btf/kvm_mmu_slot_apply_flags")
int BPF_PROG(slot_apply_flags, struct kvm *kvm, const struct kvm_memory_slot *old,
	     const struct kvm_memory_slot *new, enum kvm_mr_change change,
	     unsigned int actions)
{
	const struct kvm_memory_slot *s = new ? new : old;

	if (s)
		rec(TP_SLOT_APPLY_FLAGS, kvm, s->id, old ? old->flags : 0,
		    new ? new->flags : 0, change, actions);
	return 0;
}

#define RMAP_PROG(name, idx)							\
SEC("tp_btf/kvm_mmu_" #name)							\
int BPF_PROG(name, struct kvm *kvm, const struct kvm_memory_slot *slot,		\
	     enum kvm_mmu_rmap_reason reason, unsigned long bytes, int ret)	\
{										\
	if (slot)								\
		rec(idx, kvm, slot->id, slot->npages, reason, bytes, ret);	\
	return 0;								\
}
RMAP_PROG(rmap_alloc, TP_RMAP_ALLOC)
RMAP_PROG(rmap_skip, TP_RMAP_SKIP)
RMAP_PROG(rmap_free, TP_RMAP_FREE)

SEC("tp_btf/kvm_mmu_page_stats")
int BPF_PROG(page_stats, struct kvm *kvm, int level, int delta)
{
	__u32 l = level;
	__s64 *sum;

	rec(TP_PAGE_STATS, kvm, level, delta, 0, 0, 0);
	if (!kvm || (vmm_pid && BPF_CORE_READ(kvm, userspace_pid) != vmm_pid))
		return 0;
	sum = bpf_map_lookup_elem(&page_sums, &l);
	if (sum)
		__sync_fetch_and_add(sum, delta);
	return 0;
}

static __always_inline __s64 page_sum(__u32 level)
{
	__s64 *sum = bpf_map_lookup_elem(&page_sums, &level);

	return sum ? *sum : 0;
}

SEC("tp_btf/kvm_stats_read")
int BPF_PROG(stats_read, struct kvm *kvm, struct kvm_vcpu *vcpu, loff_t pos,
	     size_t size, ssize_t ret)
{
	int vcpu_id = vcpu ? BPF_CORE_READ(vcpu, vcpu_id) : -1;
	struct tp_read *r;

	rec(TP_STATS_READ, kvm, vcpu_id, pos, size, ret, 0);
	/* Only the VMM's own reads: those are in its ground truth. */
	if (!kvm || !vmm_pid || (bpf_get_current_pid_tgid() >> 32) != vmm_pid ||
	    BPF_CORE_READ(kvm, userspace_pid) != vmm_pid)
		return 0;
	r = bpf_ringbuf_reserve(&reads, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&reads_lost, 1);
		return 0;
	}
	r->vcpu_id = vcpu_id;
	r->pad = 0;
	r->offset = ret > 0 ? pos - ret : pos;
	r->size = size;
	r->ret = ret;
	r->page_sums[0] = 0;
	r->page_sums[1] = page_sum(1);
	r->page_sums[2] = page_sum(2);
	r->page_sums[3] = page_sum(3);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/kvm_dirty_log_get")
int BPF_PROG(dirty_log_get, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     unsigned long dirty, unsigned long reprotected, bool flush, int ret)
{
	if (slot)
		rec(TP_DIRTY_LOG_GET, kvm, slot->id, dirty, reprotected, flush, ret);
	return 0;
}

SEC("tp_btf/kvm_dirty_log_clear")
int BPF_PROG(dirty_log_clear, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     u64 first_page, u32 num_pages, unsigned long requested,
	     unsigned long cleared, bool flush, int ret)
{
	if (slot)
		rec(TP_DIRTY_LOG_CLEAR, kvm, slot->id, num_pages, requested, cleared,
		    flush | (ret ? 2 : 0));
	return 0;
}
