// SPDX-License-Identifier: GPL-2.0
/*
 * tp_btf [-p] CMD [ARG...]: load and attach a tp_btf program to every
 * tracepoint of the kernel series, run CMD, and print what each recorded:
 *   TP name count N last a b c d e max a b c d e or a b c d e
 * and, with -p, each read of a stats fd by CMD's process, in order, with its
 * VM's page-size stats updates summed up to then (by level 1..3):
 *   READ vcpu_id offset size ret sum_4k sum_2m sum_1g
 *   READS_LOST n
 * CMD's stdout goes to /dev/null, its stderr is kept.
 * With -p, only events of VMs CMD's process creates are recorded.
 * Exit status: 0, or 1 if loading or attaching failed (message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "tp_btf.h"
#include "tp_btf.skel.h"

static const char *const names[TP_NR] = {
	"kvm_mmu_gfn_write_protect", "kvm_mmu_slot_write_protect",
	"kvm_mmu_slot_apply_flags", "kvm_mmu_rmap_alloc", "kvm_mmu_rmap_skip",
	"kvm_mmu_rmap_free", "kvm_mmu_page_stats", "kvm_stats_read",
	"kvm_dirty_log_get", "kvm_dirty_log_clear",
};

static int print_read(void *ctx, void *data, size_t size)
{
	const struct tp_read *r = data;

	(void)ctx;
	if (size < sizeof(*r))
		return 0;
	printf("READ %d %lld %lld %lld %lld %lld %lld\n", r->vcpu_id, r->offset, r->size,
	       r->ret, r->page_sums[1], r->page_sums[2], r->page_sums[3]);
	return 0;
}

int main(int argc, char **argv)
{
	int by_pid = argc > 1 && !strcmp(argv[1], "-p");
	char **cmd = argv + 1 + by_pid;
	struct tp_btf_bpf *skel;
	int go[2], status, fd;
	pid_t child;

	if (!*cmd) {
		fprintf(stderr, "usage: tp_btf [-p] CMD [ARG...]\n");
		return 2;
	}
	if (pipe(go))
		return 1;
	child = fork();
	if (child == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		/* CMD's stdout is not ours: only TP lines go there. */
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	close(go[0]);

	skel = tp_btf_bpf__open();
	if (!skel) {
		fprintf(stderr, "tp_btf: open failed\n");
		return 1;
	}
	skel->rodata->vmm_pid = by_pid ? child : 0;
	if (tp_btf_bpf__load(skel)) {
		fprintf(stderr, "tp_btf: load failed (see libbpf's log above)\n");
		return 1;
	}
	if (tp_btf_bpf__attach(skel)) {
		fprintf(stderr, "tp_btf: attach failed\n");
		return 1;
	}
	printf("ATTACHED %d\n", TP_NR);
	fflush(stdout);
	if (write(go[1], "g", 1) != 1)
		return 1;
	close(go[1]);
	waitpid(child, &status, 0);
	printf("WORKLOAD %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	if (by_pid) {
		struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.reads),
							  print_read, NULL, NULL);

		if (!rb || ring_buffer__consume(rb) < 0) {
			fprintf(stderr, "tp_btf: reading the reads ring buffer failed\n");
			return 1;
		}
		ring_buffer__free(rb);
		printf("READS_LOST %llu\n", (unsigned long long)skel->bss->reads_lost);
	}

	fd = bpf_map__fd(skel->maps.recs);
	for (unsigned int i = 0; i < TP_NR; i++) {
		struct tp_rec r;

		if (bpf_map_lookup_elem(fd, &i, &r))
			return 1;
		printf("TP %s count %lld", names[i], r.count);
		printf(" last");
		for (int k = 0; k < TP_NR_ARGS; k++)
			printf(" %lld", r.last[k]);
		printf(" max");
		for (int k = 0; k < TP_NR_ARGS; k++)
			printf(" %lld", r.max[k]);
		printf(" or");
		for (int k = 0; k < TP_NR_ARGS; k++)
			printf(" %lld", r.or[k]);
		printf("\n");
	}
	tp_btf_bpf__destroy(skel);
	return 0;
}
