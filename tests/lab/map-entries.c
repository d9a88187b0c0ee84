// SPDX-License-Identifier: GPL-2.0
/*
 * map-entries NAME [PID...]: the number of entries in every loaded BPF map
 * called NAME, one line "NAME ID ENTRIES" each (as `bpftool map dump` would
 * count, which the lab does not have). Lab tests use it to see kvmscope's
 * per-VM maps return to empty after VMs exit.
 *
 * With PIDs (the tracers), a VM table entry {tgid, pad, kvm} of one of those
 * processes with kvm 0 is not counted: the counters of the tracer's own
 * stats fd reads, one per tracer for as long as it runs, which the entries
 * of VMs must not hide behind or be confused with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

static int tracer_own(const void *key, __u32 size, int npid, char **pids)
{
	__u32 tgid;
	__u64 kvm;

	if (size != 16)
		return 0;
	memcpy(&tgid, key, sizeof(tgid));
	memcpy(&kvm, (const char *)key + 8, sizeof(kvm));
	for (int i = 0; i < npid && !kvm; i++)
		if (tgid == (__u32)strtoul(pids[i], NULL, 10))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	__u32 id = 0;
	int found = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: map-entries NAME [PID...]\n");
		return 2;
	}
	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(id);
		void *key, *next;
		long n = 0;

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, argv[1])) {
			close(fd);
			continue;
		}
		key = calloc(1, info.key_size);
		next = calloc(1, info.key_size);
		if (!key || !next)
			return 1;
		if (!bpf_map_get_next_key(fd, NULL, next)) {
			do {
				n += !tracer_own(next, info.key_size, argc - 2, argv + 2);
				memcpy(key, next, info.key_size);
			} while (!bpf_map_get_next_key(fd, key, next));
		}
		printf("%s %u %ld\n", argv[1], id, n);
		found++;
		free(key);
		free(next);
		close(fd);
	}
	if (!found)
		printf("%s none 0\n", argv[1]);
	return 0;
}
