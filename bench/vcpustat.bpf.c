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
 *    are the vCPUs. More than 64 vCPUs need a second level: counted in
 *    too_deep, not read (KS_NOHOOK_MAX_VCPUS bounds the walk anyway).
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

/* Adds one vCPU's fault stats into r. */
static void add_vcpu(struct nohook_rec *r, struct kvm_vcpu *vcpu)
{
	r->pf_taken += BPF_CORE_READ(vcpu, stat.pf_taken);
	r->pf_fast += BPF_CORE_READ(vcpu, stat.pf_fast);
	r->pf_fixed += BPF_CORE_READ(vcpu, stat.pf_fixed);
	r->pf_spurious += BPF_CORE_READ(vcpu, stat.pf_spurious);
	r->vcpus_read++;
}

#define XA_INTERNAL 2UL

static void sum_vcpus(struct nohook_rec *r, struct kvm *kvm)
{
	unsigned long head = (unsigned long)BPF_CORE_READ(kvm, vcpu_array.xa_head);
	struct xa_node *node;
	unsigned char shift;

	r->online_vcpus = BPF_CORE_READ(kvm, online_vcpus.counter);
	if (!head)
		return;
	if ((head & 3) != XA_INTERNAL) { /* the single entry at index 0 */
		add_vcpu(r, (struct kvm_vcpu *)head);
		return;
	}
	if (head <= 4096) /* an internal value (retry/sibling), not a node */
		return;
	node = (struct xa_node *)(head - XA_INTERNAL);
	shift = BPF_CORE_READ(node, shift);
	if (shift) {
		r->too_deep = 1;
		count_lost(1);
		return;
	}
	for (int i = 0; i < KS_NOHOOK_MAX_VCPUS; i++) {
		void *slot = NULL;

		bpf_probe_read_kernel(&slot, sizeof(slot), &node->slots[i]);
		if (!slot || ((unsigned long)slot & 3))
			continue;
		add_vcpu(r, slot);
	}
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
