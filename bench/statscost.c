// SPDX-License-Identifier: GPL-2.0
/*
 * bench/statscost [VCPUS]: cost of one full statistics sample of a VM and
 * all its vCPUs, three ways, in the same run:
 *   fd       kvmscope's path: one pread of each stats fd's data block and
 *            the decoding into values (tracer/kvm/statsfd.c, ks_stats_sample)
 *   debugfs  the same statistics from /sys/kernel/debug/kvm/PID-FD/, as
 *            kvmscope reads them for a VMM without stats fds
 *            (tracer/kvm/statsdbg.c: one open/read/close per statistic)
 *   floor    bare pread of each data block, nothing else
 * The VM is our own (KVM_GET_STATS_FD works only in the VMM's process),
 * with VCPUS vCPUs (default 2) and no memory. Rounds alternate the three
 * ways; each prints ns per sample; the medians and ratios come last.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "kvm/statsdbg.h"
#include "kvm/statsfd.h"
#include "median.h"

#define ROUNDS 7
#define MAX_VCPUS 64

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	int nvcpu = argc > 1 ? atoi(argv[1]) : 2, nfd, kvm, vm, dir_vm, dir_vcpu;
	int fds[MAX_VCPUS + 1];
	struct ks_stats_schema sc[MAX_VCPUS + 1], dbg_vm, dbg_vcpu;
	void *scratch[MAX_VCPUS + 1];
	uint64_t *vals[MAX_VCPUS + 1], *dvals;
	double t_fd[ROUNDS], t_dbg[ROUNDS], t_floor[ROUNDS];
	char err[200];

	if (nvcpu < 1 || nvcpu > MAX_VCPUS) {
		fprintf(stderr, "statscost: VCPUS must be 1..%d\n", MAX_VCPUS);
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	fds[0] = ioctl(vm, KVM_GET_STATS_FD, NULL);
	for (int i = 0; i < nvcpu; i++) {
		int c = ioctl(vm, KVM_CREATE_VCPU, i);

		if (c < 0)
			die("KVM_CREATE_VCPU");
		fds[i + 1] = ioctl(c, KVM_GET_STATS_FD, NULL);
	}
	nfd = nvcpu + 1;
	for (int i = 0; i < nfd; i++) {
		if (fds[i] < 0)
			die("KVM_GET_STATS_FD");
		if (ks_stats_read_schema(fds[i], &sc[i], err, sizeof(err))) {
			fprintf(stderr, "statscost: %s\n", err);
			return 1;
		}
		scratch[i] = malloc(sc[i].data_size);
		vals[i] = calloc(sc[i].nvalues, sizeof(uint64_t));
	}
	dir_vm = ks_statsdbg_open(getpid(), vm, false, &dbg_vm, err, sizeof(err));
	dir_vcpu = ks_statsdbg_open(getpid(), vm, true, &dbg_vcpu, err, sizeof(err));
	if (dir_vm < 0 || dir_vcpu < 0) {
		fprintf(stderr, "statscost: debugfs: %s\n", err);
		return 1;
	}
	dvals = calloc(dbg_vm.ndesc + dbg_vcpu.ndesc, sizeof(uint64_t));
	printf("VM + %d vCPUs: stats fd data blocks %u + %d x %u bytes (%u + %d x %u values); "
	       "debugfs files %u + %u\n", nvcpu, sc[0].data_size, nvcpu, sc[1].data_size,
	       sc[0].nvalues, nvcpu, sc[1].nvalues, dbg_vm.ndesc, dbg_vcpu.ndesc);
	printf("%5s %12s %12s %12s   (ns per full sample)\n", "round", "fd", "debugfs", "floor");
	for (int r = 0; r < ROUNDS; r++) {
		const int n = 2000, nd = 100;
		uint64_t t0;

		t0 = now_ns();
		for (int k = 0; k < n; k++)
			for (int i = 0; i < nfd; i++)
				if (pread(fds[i], scratch[i], sc[i].data_size, sc[i].data_offset) < 0)
					die("pread");
		t_floor[r] = (double)(now_ns() - t0) / n;
		t0 = now_ns();
		for (int k = 0; k < n; k++)
			for (int i = 0; i < nfd; i++)
				if (ks_stats_sample(fds[i], &sc[i], scratch[i], vals[i], err, sizeof(err)))
					die(err);
		t_fd[r] = (double)(now_ns() - t0) / n;
		t0 = now_ns();
		for (int k = 0; k < nd; k++)
			if (ks_statsdbg_sample(dir_vm, &dbg_vm, dvals, err, sizeof(err)) ||
			    ks_statsdbg_sample(dir_vcpu, &dbg_vcpu, dvals + dbg_vm.ndesc, err, sizeof(err)))
				die(err);
		t_dbg[r] = (double)(now_ns() - t0) / nd;
		printf("%5d %12.0f %12.0f %12.0f\n", r, t_fd[r], t_dbg[r], t_floor[r]);
	}
	{
		double fd = median(t_fd, ROUNDS), dbg = median(t_dbg, ROUNDS), fl = median(t_floor, ROUNDS);

		printf("median ns/sample: fd %.0f, debugfs %.0f, floor %.0f\n", fd, dbg, fl);
		printf("ratio debugfs/fd %.1f (goal >= 50), fd/floor %.2f (goal <= 2)\n", dbg / fd, fd / fl);
	}
	return 0;
}
