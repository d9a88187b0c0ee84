// SPDX-License-Identifier: GPL-2.0
/*
 * Prototype (docs/design.md, "Why no program on the fault path"): write-protect faults per dirty-log
 * iteration with NO program on the fault path. At each dirty-log ioctl
 * (fexit of KVM's get/clear functions) read KVM's own per-vCPU statistics
 * straight from kernel memory: struct kvm -> vcpu_array (an xarray) ->
 * each struct kvm_vcpu -> stat (x86 struct kvm_vcpu_stat), and sum
 * pf_taken, pf_fast, pf_fixed and pf_spurious over the VM's vCPUs. The
 * differences between two ioctls are that iteration's faults, as exact as
 * KVM's stats fd (which reads the same memory).
 *
 * The walk itself is bpf/vcpu_stats.bpf.h, shared with bpf/migrate.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vcpustat.h"
#include "vcpu_stats.bpf.h"

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

/* Sums the VM's vCPU stats into r (bpf/vcpu_stats.bpf.h). */
static void sum_vcpus(struct nohook_rec *r, struct kvm *kvm)
{
	struct ks_vcpu_sums sums;
	enum ks_vcpu_walk_status st = ks_vcpu_sum(kvm, &sums);

	r->online_vcpus = sums.online_vcpus;
	if (st != KS_WALK_OK) {
		r->too_deep = 1;
		count_lost(1);
		return;
	}
	r->pf_taken = sums.pf_taken;
	r->pf_fast = sums.pf_fast;
	r->pf_fixed = sums.pf_fixed;
	r->pf_spurious = sums.pf_spurious;
	r->vcpus_read = sums.vcpus_read;
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
