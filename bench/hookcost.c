// SPDX-License-Identifier: GPL-2.0
/*
 * bench/hookcost: cost per event of kvmscope's hot-path BPF programs,
 * against an empty program on the same hook in the same run.
 *
 * Attaches bench/empty.bpf.c's programs, turns on the kernel's BPF run-time
 * statistics (BPF_ENABLE_STATS: kernel.bpf_stats_enabled while our fd is
 * open), prints "ready", and waits for SIGINT/SIGTERM (the bench script
 * runs kvmscope migrate and workloads meanwhile). Then reads run_time_ns
 * and run_cnt of every program loaded (BPF_OBJ_GET_INFO) and prints, per
 * hook, both programs' ns/event and their ratio:
 *   hook  kvmscope-prog  events  ns/event  empty-prog  events  ns/event  ratio
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "empty.skel.h"
#include "until_signal.h"

/* kvmscope program (name as the kernel keeps it: 15 characters) and the
 * empty program on its hook. */
static const struct { const char *hook, *prog, *empty; } pairs[] = {
	{ "tp kvm_page_fault", "tp_page_fault", "x_pf_tp" },
	/* The fault latency pair: kvmscope migrate --fault-latency. */
	{ "fentry kvm_mmu_page_fault", "fentry_page_fault", "x_pf_entry" },
	{ "fexit kvm_mmu_page_fault", "fexit_page_fault", "x_pf_exit" },
	{ "fexit kvm_mmu_slot_gfn_write_protect", "fexit_gfn_write_protect", "x_gfn_wp" },
	{ "tp kvm_mmu_split_huge_page", "tp_split_huge_page", "x_split" },
	{ "fentry kvm_flush_remote_tlbs", "fentry_flush_remote_tlbs", "x_tlb" },
	{ "fentry kvm_vm_ioctl", "fentry_vm_ioctl", "x_ioctl_in" },
	{ "fexit kvm_vm_ioctl", "fexit_vm_ioctl", "x_ioctl_out" },
	{ "fexit kvm_vm_stats_read", "fexit_vm_stats_read", "x_vm_stats" },
	{ "fexit kvm_vcpu_stats_read", "fexit_vcpu_stats_read", "x_vcpu_stats" },
	{ "tp kvm_msr", "tp_msr", "x_msr" },
	{ "tp kvm_hypercall", "tp_hypercall", "x_hcall" },
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))


struct stat_of { unsigned long long cnt, ns; int found; };

/* Sums the statistics of every loaded program whose name starts like
 * name's first 15 characters (the kernel's limit). */
static struct stat_of lookup(const char *name)
{
	struct stat_of s = { 0 };
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, name, BPF_OBJ_NAME_LEN - 1)) {
			s.cnt += info.run_cnt;
			s.ns += info.run_time_ns;
			s.found++;
		}
		close(fd);
	}
	return s;
}

int main(void)
{
	struct empty_bpf *skel;
	int stats_fd;

	ks_bench_catch_signals();
	struct bpf_program *prog;

	skel = empty_bpf__open();
	/* The dirty-log ioctls' empty programs are ioctlcost's (the series'
	 * tracepoints among them, absent on a stock kernel). */
	if (skel)
		bpf_object__for_each_program(prog, skel->obj)
			if (!strncmp(bpf_program__name(prog), "x_get_", 6) ||
			    !strncmp(bpf_program__name(prog), "x_clear_", 8))
				bpf_program__set_autoload(prog, false);
	if (!skel || empty_bpf__load(skel) || empty_bpf__attach(skel)) {
		fprintf(stderr, "hookcost: cannot load/attach the empty programs: %s\n", strerror(errno));
		return 1;
	}
	stats_fd = ks_bench_enable_stats("hookcost");
	if (stats_fd < 0)
		return 1;
	ks_bench_ready_then_wait();
	printf("%-38s %-24s %10s %9s %-13s %10s %9s %6s\n", "hook", "kvmscope program", "events",
	       "ns/event", "empty", "events", "ns/event", "ratio");
	for (unsigned int i = 0; i < NPAIRS; i++) {
		struct stat_of p = lookup(pairs[i].prog), e = lookup(pairs[i].empty);
		double pn = p.cnt ? (double)p.ns / p.cnt : 0, en = e.cnt ? (double)e.ns / e.cnt : 0;

		if (!p.found) {
			printf("%-38s %-24s %10s\n", pairs[i].hook, pairs[i].prog, "not loaded");
			continue;
		}
		printf("%-38s %-24s %10llu %9.0f %-13s %10llu %9.0f ", pairs[i].hook, pairs[i].prog,
		       p.cnt, pn, pairs[i].empty, e.cnt, en);
		if (p.cnt && e.cnt && en > 0)
			printf("%6.2f\n", pn / en);
		else
			printf("%6s\n", "-");
	}
	/* The pieces of the fault path, each alone on the same hook. */
	{
		static const char *const pieces[] = { "y_ktime", "y_pid_tgid", "y_task_storage",
						      "y_hash_upd_del", "y_pcpu_lookup" };
		struct stat_of e = lookup("x_pf_entry");

		printf("\npieces of the fault path, alone on fentry kvm_mmu_page_fault:\n");
		for (unsigned int i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
			struct stat_of p = lookup(pieces[i]);

			if (p.cnt && e.cnt)
				printf("  %-16s %10llu events %9.0f ns/event (empty %.0f, ratio %.2f)\n",
				       pieces[i], p.cnt, (double)p.ns / p.cnt, (double)e.ns / e.cnt,
				       ((double)p.ns / p.cnt) / ((double)e.ns / e.cnt));
		}
	}
	/* The pieces of the default fault path, each alone on the tracepoint. */
	{
		static const char *const pieces[] = { "z_pid_tgid", "z_vcpu_fields", "z_pcpu_array",
						      "z_array", "z_array_big", "z_pcpu_big" };
		struct stat_of e = lookup("x_pf_tp");

		printf("\npieces of the default fault path, alone on tp kvm_page_fault:\n");
		for (unsigned int i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
			struct stat_of p = lookup(pieces[i]);

			if (p.cnt && e.cnt)
				printf("  %-16s %10llu events %9.0f ns/event (empty %.0f, ratio %.2f)\n",
				       pieces[i], p.cnt, (double)p.ns / p.cnt, (double)e.ns / e.cnt,
				       ((double)p.ns / p.cnt) / ((double)e.ns / e.cnt));
		}
	}
	close(stats_fd);
	empty_bpf__destroy(skel);
	return 0;
}
