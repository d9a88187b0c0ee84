// SPDX-License-Identifier: GPL-2.0
/*
 * Prototype (docs/notes-nohook.md): write-protect faults per dirty-log
 * iteration with NO program on the fault path. At each dirty-log ioctl
 * (fexit of KVM's get/clear functions) read KVM's own per-vCPU statistics
 * straight from kernel memory: struct kvm -> vcpu_array (an xarray) ->
 * each struct kvm_vcpu -> stat (x86 struct kvm_vcpu_stat), and sum
 * pf_taken, pf_fast, pf_fixed and pf_spurious over the VM's vCPUs. The
 * differences between two ioctls are that iteration's faults, as exact as
 * KVM's stats fd (which reads the same memory).
 *
 * The xarray, as KVM fills it (vCPU ids 0..n-1 at indexes 0..n-1):
 *  - empty: xa_head is NULL;
 *  - one entry at index 0: xa_head is the struct kvm_vcpu pointer itself;
 *  - otherwise xa_head is an internal entry (pointer | 2) to a node; with at
 *    most 64 entries (XA_CHUNK_SIZE) the node has shift 0 and its slots
 *    are the vCPUs; with 65..4096 (x86 KVM_MAX_VCPUS is 4096 on 6.12,
 *    1024 on 6.1) it has shift 6 and its slots are leaf nodes of 64.
 * The walk is one bpf_loop over online_vcpus indexes. Anything else (a
 * deeper tree) is counted in too_deep and reported, never summed wrong.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vcpustat.h"

char LICENSE[] SEC("license") = "GPL";

const volatile unsigned int filter_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} records SEC(".maps");

/* [0] records lost (ring full), [1] VMs with more vCPUs than one node. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static void count_lost(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The walk's state, on the caller's stack for bpf_loop: sums are plain
 * numbers here and copied into the ring-buffer record afterwards. */
struct walk {
	unsigned long top;	/* the node xa_head points to */
	unsigned long child;	/* two levels: the leaf node of this chunk, or 0 */
	unsigned char shift;	/* top node's shift: 0 (<= 64 vCPUs) or 6 (<= 4096);
				 * shifts are multiples of 6, so > 6 is a deeper tree */
	__u64 pf_taken, pf_fast, pf_fixed, pf_spurious;
	__u32 vcpus_read;
};

#define XA_INTERNAL 2UL
#define XA_CHUNK 64

/* An xarray entry that points to a node: internal (low bits 10) and above
 * the small internal values (retry, sibling). */
static bool xa_node_entry(unsigned long e)
{
	return (e & 3) == XA_INTERNAL && e > 4096;
}

static void add_vcpu(struct walk *w, struct kvm_vcpu *vcpu)
{
	w->pf_taken += BPF_CORE_READ(vcpu, stat.pf_taken);
	w->pf_fast += BPF_CORE_READ(vcpu, stat.pf_fast);
	w->pf_fixed += BPF_CORE_READ(vcpu, stat.pf_fixed);
	w->pf_spurious += BPF_CORE_READ(vcpu, stat.pf_spurious);
	w->vcpus_read++;
}

/* Index i of the xarray: with one level, slot i of the top node; with two,
 * slot i % 64 of the leaf node in the top node's slot i / 64 (read when
 * i % 64 == 0). Slot addresses come from scalars, so the verifier needs no
 * bounds: bpf_probe_read_kernel checks the memory. */
static long walk_step(__u32 i, void *arg)
{
	struct walk *w = arg;
	unsigned long leaf, slot = 0;
	struct xa_node *node;

	if (!w->shift) {
		if (i >= XA_CHUNK)
			return 1;
		leaf = w->top;
	} else {
		if (!(i % XA_CHUNK)) {
			struct xa_node *top = (struct xa_node *)w->top;
			unsigned long e = 0;

			bpf_probe_read_kernel(&e, sizeof(e), &top->slots[i / XA_CHUNK]);
			w->child = xa_node_entry(e) ? e - XA_INTERNAL : 0;
		}
		if (!w->child)
			return 0;
		leaf = w->child;
	}
	node = (struct xa_node *)leaf;
	bpf_probe_read_kernel(&slot, sizeof(slot), &node->slots[i % XA_CHUNK]);
	if (slot && !(slot & 3))
		add_vcpu(w, (struct kvm_vcpu *)slot);
	return 0;
}

/* Sums the VM's vCPU stats into r: online_vcpus entries of kvm->vcpu_array
 * at most (KVM fills indexes 0..online_vcpus-1). */
static void sum_vcpus(struct nohook_rec *r, struct kvm *kvm)
{
	unsigned long head = (unsigned long)BPF_CORE_READ(kvm, vcpu_array.xa_head);
	struct walk w = {};
	__u32 n;

	r->online_vcpus = BPF_CORE_READ(kvm, online_vcpus.counter);
	n = r->online_vcpus;
	if (!head || !n)
		return;
	if (!(head & 3)) { /* the single entry at index 0 */
		add_vcpu(&w, (struct kvm_vcpu *)head);
	} else if (xa_node_entry(head)) {
		/* Through a local: a member of struct walk inside BPF_CORE_READ
		 * would get a CO-RE relocation the kernel's BTF cannot resolve. */
		struct xa_node *top = (struct xa_node *)(head - XA_INTERNAL);

		w.top = (unsigned long)top;
		w.shift = BPF_CORE_READ(top, shift);
		if (w.shift > 6 || n > KS_NOHOOK_MAX_VCPUS) {
			r->too_deep = 1;
			count_lost(1);
			return;
		}
		bpf_loop(n, walk_step, &w, 0);
	}
	r->pf_taken = w.pf_taken;
	r->pf_fast = w.pf_fast;
	r->pf_fixed = w.pf_fixed;
	r->pf_spurious = w.pf_spurious;
	r->vcpus_read = w.vcpus_read;
}

static int record(struct kvm *kvm, __u32 kind, __u32 slot, int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nohook_rec *r;
	__u64 t0;

	if (filter_tgid && tgid != filter_tgid)
		return 0;
	t0 = bpf_ktime_get_ns();
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		count_lost(0);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->tgid = tgid;
	r->kind = kind;
	r->slot = slot;
	r->ret = ret;
	r->kvm = (__u64)kvm;
	sum_vcpus(r, kvm);
	r->ts_ns = bpf_ktime_get_ns();
	r->read_ns = r->ts_ns - t0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("fexit/kvm_get_dirty_log_protect")
int BPF_PROG(nohook_get_log, struct kvm *kvm, struct kvm_dirty_log *log, int ret)
{
	return record(kvm, NOHOOK_GET, BPF_CORE_READ(log, slot), ret);
}

SEC("fexit/kvm_clear_dirty_log_protect")
int BPF_PROG(nohook_clear_log, struct kvm *kvm, struct kvm_clear_dirty_log *log, int ret)
{
	return record(kvm, NOHOOK_CLEAR, BPF_CORE_READ(log, slot), ret);
}
