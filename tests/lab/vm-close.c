// SPDX-License-Identifier: GPL-2.0
/*
 * vm-close CLOSE_MS EXIT_MS: a VMM that closes its VM while it lives on.
 * Creates a VM with a binary stats fd, prints "open PID" on stdout, closes
 * both fds after CLOSE_MS ("closed"), and exits after EXIT_MS. A tracer
 * must let the VM go when its VMM does (its copies of the stats fd would
 * otherwise keep the VM alive in the kernel).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

int main(int argc, char **argv)
{
	long close_ms, exit_ms;
	int kvm, vm, stats;

	if (argc != 3 || (close_ms = atol(argv[1])) < 0 || (exit_ms = atol(argv[2])) < close_ms) {
		fprintf(stderr, "usage: vm-close CLOSE_MS EXIT_MS (EXIT_MS >= CLOSE_MS)\n");
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 ||
	    (stats = ioctl(vm, KVM_GET_STATS_FD, NULL)) < 0) {
		perror("vm-close: creating a VM");
		return 1;
	}
	printf("open %d\n", (int)getpid());
	fflush(stdout);
	sleep_ms(close_ms);
	close(stats);
	close(vm);
	printf("closed\n");
	fflush(stdout);
	sleep_ms(exit_ms - close_ms);
	return 0;
}
