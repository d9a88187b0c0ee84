/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's own per-vCPU fault statistics (x86 struct kvm_vcpu_stat: pf_taken,
 * pf_fast, pf_fixed, pf_spurious, the numbers its binary stats fd serves),
 * summed over a VM's vCPUs straight from kernel memory. Run at an event
 * that marks a dirty-log iteration boundary, the difference between two
 * sums is the faults between them, with no program on the fault path
 * (docs/design.md, "Why no program on the fault path"). BPF side only (needs vmlinux.h); used by
 * bpf/migrate.bpf.c and bench/vcpustat.bpf.c.
 *
 * The walk: struct kvm -> vcpu_array (an xarray, since 5.17), as KVM fills
 * it (vCPU ids 0..n-1 at indexes 0..n-1):
 *  - empty: xa_head is NULL;
 *  - one entry at index 0: xa_head is the struct kvm_vcpu pointer itself;
 *  - otherwise xa_head is an internal entry (pointer | 2) to a node; with at
 *    most 64 entries (XA_CHUNK_SIZE) the node has shift 0 and its slots
 *    are the vCPUs; with 65..4096 (x86 KVM_MAX_VCPUS is 4096 on 6.12,
 *    1024 on 6.1) it has shift 6 and its slots are leaf nodes of 64.
 * One bpf_loop over online_vcpus indexes. Anything else (a deeper tree, a
 * kernel without vcpu_array, pf_taken or pf_fast; tracer/hooks/hooks.c probes
 * the same) is reported as unknown, never
 * summed wrong. Each counter is a u64 written only by its own vCPU thread,
 * so a read never tears.
 */
#ifndef KVMSCOPE_VCPU_STATS_BPF_H
#define KVMSCOPE_VCPU_STATS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* vCPUs two xarray levels hold (64 x XA_CHUNK_SIZE): x86 KVM_MAX_VCPUS. */
#define KS_VCPU_WALK_MAX 4096

#define KS_XA_INTERNAL 2UL
#define KS_XA_CHUNK 64

/* The outcome of one sum. */
enum ks_vcpu_walk_status {
	KS_WALK_OK = 0,
	KS_WALK_TOO_DEEP,     /* more vCPUs than two xarray levels hold */
	KS_WALK_UNSUPPORTED,  /* kernel without vcpu_array or these stats */
};

struct ks_vcpu_sums {
	__u64 pf_taken, pf_fast, pf_fixed, pf_spurious;
	__u32 vcpus_read;      /* vCPUs found in the xarray */
	__u32 online_vcpus;    /* kvm->online_vcpus at the read */
};

/* The walk's state, on the caller's stack for bpf_loop. */
struct ks_vcpu_walk {
	unsigned long top;	/* the node xa_head points to */
	unsigned long child;	/* two levels: the leaf node of this chunk, or 0 */
	unsigned char shift;	/* top node's shift: 0 (<= 64 vCPUs) or 6 (<= 4096);
				 * shifts are multiples of 6, so > 6 is a deeper tree */
	struct ks_vcpu_sums sums; /* inline: the callback sees plain numbers */
};

/* An xarray entry that points to a node: internal (low bits 10) and above
 * the small internal values (retry, sibling). */
static __always_inline bool ks_xa_node_entry(unsigned long e)
{
	return (e & 3) == KS_XA_INTERNAL && e > 4096;
}

/* pf_taken, pf_fixed, pf_emulate, pf_spurious, pf_fast are neighbours in
 * x86's struct kvm_vcpu_stat (6.1 to 6.12): one read of the 64 bytes from
 * pf_taken gets them all, rather than a read per counter (this runs per
 * vCPU at every dirty-log ioctl, on the VMM's thread). A layout where one
 * is elsewhere reads that one alone. Offsets are CO-RE constants, so the
 * indexes below are known to the verifier. */
#define KS_STAT_SPAN 8

static __always_inline __u64 ks_stat_pick(const __u64 *span, struct kvm_vcpu *vcpu,
					  __u32 base, __u32 off)
{
	__u64 v = 0;

	if (off >= base && off - base < KS_STAT_SPAN * 8 && !((off - base) & 7))
		return span[((off - base) / 8) & (KS_STAT_SPAN - 1)];
	bpf_probe_read_kernel(&v, sizeof(v), (const char *)vcpu +
			      bpf_core_field_offset(struct kvm_vcpu, stat) + off);
	return v;
}

static __always_inline void ks_vcpu_add(struct ks_vcpu_sums *s, struct kvm_vcpu *vcpu)
{
	__u32 base = bpf_core_field_offset(struct kvm_vcpu_stat, pf_taken);
	__u64 span[KS_STAT_SPAN] = {};

	bpf_probe_read_kernel(span, sizeof(span), (const char *)vcpu +
			      bpf_core_field_offset(struct kvm_vcpu, stat) + base);
	s->pf_taken += span[0];
	s->pf_fast += ks_stat_pick(span, vcpu, base,
				   bpf_core_field_offset(struct kvm_vcpu_stat, pf_fast));
	/* Optional: 0 on a kernel without them. */
	if (bpf_core_field_exists(struct kvm_vcpu_stat, pf_fixed))
		s->pf_fixed += ks_stat_pick(span, vcpu, base,
					    bpf_core_field_offset(struct kvm_vcpu_stat, pf_fixed));
	if (bpf_core_field_exists(struct kvm_vcpu_stat, pf_spurious))
		s->pf_spurious += ks_stat_pick(span, vcpu, base,
					       bpf_core_field_offset(struct kvm_vcpu_stat, pf_spurious));
	s->vcpus_read++;
}

/* Index i of the xarray: with one level, slot i of the top node; with two,
 * slot i % 64 of the leaf node in the top node's slot i / 64 (read when
 * i % 64 == 0). Slot addresses come from scalars, so the verifier needs no
 * bounds: bpf_probe_read_kernel checks the memory. */
static long ks_vcpu_walk_step(__u32 i, void *arg)
{
	struct ks_vcpu_walk *w = arg;
	unsigned long leaf, slot = 0;
	struct xa_node *node;

	if (!w->shift) {
		if (i >= KS_XA_CHUNK)
			return 1;
		leaf = w->top;
	} else {
		if (!(i % KS_XA_CHUNK)) {
			struct xa_node *top = (struct xa_node *)w->top;
			unsigned long e = 0;

			bpf_probe_read_kernel(&e, sizeof(e), &top->slots[i / KS_XA_CHUNK]);
			w->child = ks_xa_node_entry(e) ? e - KS_XA_INTERNAL : 0;
		}
		if (!w->child)
			return 0;
		leaf = w->child;
	}
	node = (struct xa_node *)leaf;
	bpf_probe_read_kernel(&slot, sizeof(slot), &node->slots[i % KS_XA_CHUNK]);
	if (slot && !(slot & 3))
		ks_vcpu_add(&w->sums, (struct kvm_vcpu *)slot);
	return 0;
}

/* Sums the VM's vCPU stats into s (zeroed first): online_vcpus entries of
 * kvm->vcpu_array at most (KVM fills indexes 0..online_vcpus-1). */
static __always_inline enum ks_vcpu_walk_status ks_vcpu_sum(struct kvm *kvm,
							    struct ks_vcpu_sums *s)
{
	struct ks_vcpu_walk w = {};
	unsigned long head;
	__u32 n;

	__builtin_memset(s, 0, sizeof(*s));
	if (!bpf_core_field_exists(struct kvm, vcpu_array) ||
	    !bpf_core_field_exists(struct kvm_vcpu_stat, pf_fast) ||
	    !bpf_core_field_exists(struct kvm_vcpu_stat, pf_taken))
		return KS_WALK_UNSUPPORTED;
	head = (unsigned long)BPF_CORE_READ(kvm, vcpu_array.xa_head);
	n = BPF_CORE_READ(kvm, online_vcpus.counter);
	s->online_vcpus = n;
	if (!head || !n)
		return KS_WALK_OK;
	if (!(head & 3)) { /* the single entry at index 0 */
		ks_vcpu_add(&w.sums, (struct kvm_vcpu *)head);
	} else if (ks_xa_node_entry(head)) {
		/* Through a local: a member of struct ks_vcpu_walk inside
		 * BPF_CORE_READ would get a CO-RE relocation the kernel's BTF
		 * cannot resolve (6.1 rejects the program). */
		struct xa_node *top = (struct xa_node *)(head - KS_XA_INTERNAL);

		w.top = (unsigned long)top;
		w.shift = BPF_CORE_READ(top, shift);
		if (w.shift > 6 || n > KS_VCPU_WALK_MAX)
			return KS_WALK_TOO_DEEP;
		bpf_loop(n, ks_vcpu_walk_step, &w, 0);
	} else {
		/* Not a layout KVM makes (a retry or sibling entry): unknown. */
		return KS_WALK_TOO_DEEP;
	}
	w.sums.online_vcpus = n;
	*s = w.sums;
	return KS_WALK_OK;
}

#endif
