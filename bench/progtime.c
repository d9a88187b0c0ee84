// SPDX-License-Identifier: GPL-2.0
/*
 * bench/progtime: the kernel's own run time of BPF programs, for the
 * in-kernel slowdown figure of bench/lab/slowdown.sh.
 *   progtime on     turns on BPF run-time statistics (BPF_ENABLE_STATS: as
 *                   kernel.bpf_stats_enabled=1, while our fd is open),
 *                   prints "ready" and waits for SIGINT/SIGTERM;
 *   progtime list   prints every loaded program: "ID NAME RUN_CNT RUN_TIME_NS"
 *                   (BPF_OBJ_GET_INFO), so that two lists taken around a
 *                   workload give what each program ran during it.
 * run_time_ns is what the kernel measures around the program itself; the
 * dispatch to it (tracepoint or trampoline) is not in it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "until_signal.h"


static int list(void)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;   /* unloaded meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			printf("%u %s %llu %llu\n", id, info.name[0] ? info.name : "-",
			       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc == 2 && !strcmp(argv[1], "list"))
		return list();
	if (argc != 2 || strcmp(argv[1], "on")) {
		fprintf(stderr, "usage: progtime on|list\n");
		return 2;
	}
	ks_bench_catch_signals();
	fd = ks_bench_enable_stats("progtime");
	if (fd < 0)
		return 1;
	ks_bench_ready_then_wait();
	close(fd);
	return 0;
}
