// SPDX-License-Identifier: GPL-2.0
/*
 * bench/vcpustat [--stats] [TGID]: the no-fault-hook prototype
 * (docs/design.md, "Why no program on the fault path"). Attaches only bench/vcpustat.bpf.c's programs
 * (fexit of KVM's dirty-log get/clear functions), prints "ready", then one
 * JSON line per dirty-log ioctl with the VM's pf_taken/pf_fast/pf_fixed/
 * pf_spurious summed over its vCPUs, read from KVM's memory. On SIGINT or
 * SIGTERM it prints a "done" line: records lost, VMs too large to walk and,
 * with --stats (kernel BPF run-time statistics on while it runs), each
 * program's run count and run time: the cost per ioctl.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "vcpustat.h"
#include "vcpustat.skel.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int on_record(void *ctx, void *data, size_t size)
{
	const struct nohook_rec *r = data;

	(void)ctx;
	if (size < sizeof(*r))
		return 0;
	printf("{\"type\":\"ioctl\",\"op\":\"%s\",\"tgid\":%u,\"kvm\":\"0x%llx\",\"slot\":%u,\"ret\":%d,"
	       "\"ts_ns\":%llu,\"read_ns\":%llu,\"online_vcpus\":%u,\"vcpus_read\":%u,\"too_deep\":%u,"
	       "\"pf_taken\":%llu,\"pf_fast\":%llu,\"pf_fixed\":%llu,\"pf_spurious\":%llu}\n",
	       r->kind == NOHOOK_GET ? "get" : "clear", r->tgid, (unsigned long long)r->kvm,
	       r->slot & 0xffff, r->ret, (unsigned long long)r->ts_ns, (unsigned long long)r->read_ns,
	       r->online_vcpus, r->vcpus_read, r->too_deep, (unsigned long long)r->pf_taken,
	       (unsigned long long)r->pf_fast, (unsigned long long)r->pf_fixed,
	       (unsigned long long)r->pf_spurious);
	return 0;
}

static void print_prog(struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return;
	printf(",\"%s\":{\"run_cnt\":%llu,\"run_time_ns\":%llu,\"insns\":%u}", bpf_program__name(p),
	       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
	       info.xlated_prog_len / 8);
}

int main(int argc, char **argv)
{
	struct vcpustat_bpf *skel;
	struct ring_buffer *rb = NULL;
	int stats_fd = -1, rc = 1, a = 1;
	unsigned long tgid = 0;
	__u64 lost[2] = { 0, 0 };

	if (a < argc && !strcmp(argv[a], "--stats"))
		stats_fd = -2, a++;
	if (a < argc) {
		char *end;

		errno = 0;
		tgid = strtoul(argv[a], &end, 10);
		if (errno || *end || !tgid || tgid > 0x7fffffff || a + 1 != argc) {
			fprintf(stderr, "usage: vcpustat [--stats] [TGID]\n");
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = vcpustat_bpf__open();
	if (!skel) {
		fprintf(stderr, "vcpustat: cannot open the programs: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->filter_tgid = tgid;
	if (vcpustat_bpf__load(skel) || vcpustat_bpf__attach(skel)) {
		fprintf(stderr, "vcpustat: cannot load/attach: %s\n", strerror(errno));
		goto out;
	}
	if (stats_fd == -2 && (stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME)) < 0) {
		fprintf(stderr, "vcpustat: cannot enable BPF run-time statistics: %s\n", strerror(errno));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_record, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "vcpustat: cannot open the ring buffer: %s\n", strerror(errno));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n = ring_buffer__poll(rb, 100);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vcpustat: ring buffer poll: %s\n", strerror(-n));
			goto out;
		}
		fflush(stdout);
	}
	ring_buffer__consume(rb);
	for (__u32 k = 0; k < 2; k++)
		bpf_map__lookup_elem(skel->maps.lost, &k, sizeof(k), &lost[k], sizeof(lost[k]), 0);
	printf("{\"type\":\"done\",\"lost\":%llu,\"too_deep\":%llu", (unsigned long long)lost[0],
	       (unsigned long long)lost[1]);
	if (stats_fd >= 0) {
		print_prog(skel->progs.nohook_get_log);
		print_prog(skel->progs.nohook_clear_log);
	}
	printf("}\n");
	rc = 0;
out:
	ring_buffer__free(rb);
	if (stats_fd >= 0)
		close(stats_fd);
	vcpustat_bpf__destroy(skel);
	return rc;
}
