// SPDX-License-Identifier: GPL-2.0
/*
 * Empty programs on the hooks kvmscope's hot-path programs use
 * (bpf/migrate.bpf.c): what attaching anything at all to each hook costs.
 * bench/hookcost compares each kvmscope program's run time per event with
 * the empty program of its hook, measured in the same run.
 *
 * Names are the bench's table (bench/hookcost.c): x_ + the hook.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(x_pf_entry) { return 0; }

SEC("fexit/kvm_mmu_page_fault")
int BPF_PROG(x_pf_exit) { return 0; }

/* The tracepoint KVM fires once per guest page fault exit (NPF/#PF), with
 * the error code: the cheapest way to count faults. */
SEC("tp_btf/kvm_page_fault")
int BPF_PROG(x_pf_tp) { return 0; }

SEC("fexit/kvm_mmu_slot_gfn_write_protect")
int BPF_PROG(x_gfn_wp) { return 0; }

SEC("tp_btf/kvm_mmu_split_huge_page")
int BPF_PROG(x_split) { return 0; }

SEC("fentry/kvm_flush_remote_tlbs")
int BPF_PROG(x_tlb) { return 0; }

SEC("fentry/kvm_vm_ioctl")
int BPF_PROG(x_ioctl_in) { return 0; }

SEC("fexit/kvm_vm_ioctl")
int BPF_PROG(x_ioctl_out) { return 0; }

/* The raw_syscalls tracepoints, where kernels that refuse fentry take the
 * ioctls (kvmscope's syscall way): every system call of the host runs them. */
SEC("tp_btf/sys_enter")
int BPF_PROG(x_sys_in) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(x_sys_out) { return 0; }

/* The dirty-log ioctls' hooks (bench/lab/ioctlcost.sh: what a bare program
 * at each of migrate's hooks costs the VMM's ioctl). */
SEC("fentry/kvm_get_dirty_log_protect")
int BPF_PROG(x_get_in) { return 0; }

SEC("fexit/kvm_get_dirty_log_protect")
int BPF_PROG(x_get_out) { return 0; }

SEC("fentry/kvm_clear_dirty_log_protect")
int BPF_PROG(x_clear_in) { return 0; }

SEC("fexit/kvm_clear_dirty_log_protect")
int BPF_PROG(x_clear_out) { return 0; }

SEC("tp_btf/kvm_dirty_log_get")
int BPF_PROG(x_get_tp) { return 0; }

SEC("tp_btf/kvm_dirty_log_clear")
int BPF_PROG(x_clear_tp) { return 0; }

SEC("fexit/kvm_vm_stats_read")
int BPF_PROG(x_vm_stats) { return 0; }

SEC("fexit/kvm_vcpu_stats_read")
int BPF_PROG(x_vcpu_stats) { return 0; }

SEC("tp_btf/kvm_msr")
int BPF_PROG(x_msr) { return 0; }

SEC("tp_btf/kvm_hypercall")
int BPF_PROG(x_hcall) { return 0; }

/* --- one piece of the fault path each, on the same hook: where the cost of
 * fentry_page_fault/fexit_page_fault goes (bench/hookcost prints these
 * against x_pf_entry). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} y_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} y_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} y_task SEC(".maps");

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(y_ktime)
{
	volatile __u64 t = bpf_ktime_get_ns();

	(void)t;
	return 0;
}

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(y_pid_tgid)
{
	volatile __u64 t = bpf_get_current_pid_tgid();

	(void)t;
	return 0;
}

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(y_task_storage)
{
	__u64 *v = bpf_task_storage_get(&y_task, bpf_get_current_task_btf(), NULL,
					BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (v)
		(*v)++;
	return 0;
}

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(y_hash_upd_del)
{
	__u64 k = bpf_get_current_pid_tgid(), v = 1;

	bpf_map_update_elem(&y_hash, &k, &v, BPF_ANY);
	bpf_map_delete_elem(&y_hash, &k);
	return 0;
}

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(y_pcpu_lookup)
{
	__u64 k = bpf_get_current_pid_tgid() >> 32, v = 0, *p;

	p = bpf_map_lookup_elem(&y_pcpu, &k);
	if (!p)
		bpf_map_update_elem(&y_pcpu, &k, &v, BPF_NOEXIST);
	else
		(*p)++;
	return 0;
}

/* --- the pieces of the default fault path (tp_page_fault: per-CPU cache
 * entry, the VM's per-CPU line, the vCPU's line), each alone on
 * tp_btf/kvm_page_fault: bench/hookcost prints them against x_pf_tp. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} z_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} z_arr SEC(".maps");

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_pid_tgid)
{
	volatile __u64 t = bpf_get_current_pid_tgid();

	(void)t;
	return 0;
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_vcpu_fields, struct kvm_vcpu *vcpu)
{
	volatile __u64 k;
	volatile int id;

	if (!vcpu)
		return 0;
	k = (__u64)vcpu->kvm;
	id = vcpu->vcpu_id;
	(void)k;
	(void)id;
	return 0;
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_pcpu_array)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&z_pcpu, &k);

	if (v)
		(*v)++;
	return 0;
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_array)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&z_arr, &k);

	if (v)
		(*v)++;
	return 0;
}

/* The same accesses in maps shaped like kvmscope's: a plain array as large
 * as vcpu_fault_ctr (8192 lines of 64 bytes, allocated page by page where
 * z_arr fits in one small allocation) and a per-CPU array as large as
 * vm_faults (512 lines), each indexed by the vCPU id as a slot would be. */
struct line64 {
	__u64 n[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct line64);
} z_arr_big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, struct line64);
} z_parr_big SEC(".maps");

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_array_big, struct kvm_vcpu *vcpu)
{
	__u32 k;
	struct line64 *v;

	if (!vcpu)
		return 0;
	k = vcpu->vcpu_id & 15;
	v = bpf_map_lookup_elem(&z_arr_big, &k);
	if (v)
		v->n[0]++;
	return 0;
}

SEC("tp_btf/kvm_page_fault")
int BPF_PROG(z_pcpu_big, struct kvm_vcpu *vcpu)
{
	__u32 k;
	struct line64 *v;

	if (!vcpu)
		return 0;
	k = vcpu->vcpu_id & 15;
	v = bpf_map_lookup_elem(&z_parr_big, &k);
	if (v)
		v->n[0]++;
	return 0;
}
