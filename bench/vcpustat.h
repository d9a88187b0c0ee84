/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bench/vcpustat.bpf.c and bench/vcpustat.c (plain types only). */
#ifndef KVMSCOPE_BENCH_VCPUSTAT_H
#define KVMSCOPE_BENCH_VCPUSTAT_H

enum { NOHOOK_GET = 1, NOHOOK_CLEAR = 2 };

/* One dirty-log ioctl: the VM's fault stats summed over its vCPUs. */
struct nohook_rec {
	__u64 ts_ns, read_ns, kvm;
	__u64 pf_taken, pf_fast, pf_fixed, pf_spurious;
	__u32 tgid, kind, slot, vcpus_read, online_vcpus, too_deep;
	__s32 ret, pad;
};

#endif
