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

SEC("fexit/kvm_vm_stats_read")
int BPF_PROG(x_vm_stats) { return 0; }

SEC("fexit/kvm_vcpu_stats_read")
int BPF_PROG(x_vcpu_stats) { return 0; }

SEC("tp_btf/kvm_msr")
int BPF_PROG(x_msr) { return 0; }

SEC("tp_btf/kvm_hypercall")
int BPF_PROG(x_hcall) { return 0; }
