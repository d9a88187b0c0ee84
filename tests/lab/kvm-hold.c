// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-hold: keeps one empty VM open for the whole lab session.
 *
 * Creating the first VM on a host (and destroying the last) flips the
 * preempt-notifier static key, which live-patches __schedule. Under QEMU's
 * TCG a CPU can execute the patch's temporary int3 and oops (seen about
 * once in ten lab boots, with and without BPF attached). The lab's /init
 * starts this before the test command, while the system is idle, so no
 * test's VM flips the key again. The VM has no memslots and no vCPUs; it
 * holds a binary stats fd like any well-behaved VMM.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0) {
		perror("kvm-hold: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvm-hold: KVM_CREATE_VM");
		return 1;
	}
	if (ioctl(vm, KVM_GET_STATS_FD, NULL) < 0)
		perror("kvm-hold: KVM_GET_STATS_FD");
	for (;;)
		pause();
}
