// SPDX-License-Identifier: GPL-2.0
/*
 * Binary stats fds held open, as a VMM that exports its stats does (QEMU
 * keeps them after its first query-stats). KVM serves KVM_GET_STATS_FD only
 * to the VMM's own process, so these fds are how a tool outside the VMM,
 * such as kvmscope, reads the VM's statistics; kvmload never reads them.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "kvmload.h"

void kl_stats_fds_open(struct kl_vm *vm, const struct kl_vcpu *vcpus, unsigned int n)
{
	/* Kernels before 5.14 lack the ioctl: run without, the start record
	 * says so. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0)
		return;
	vm->stats_fd = ioctl(vm->vm_fd, KVM_GET_STATS_FD, NULL);
	if (vm->stats_fd < 0)
		kl_fail("KVM_GET_STATS_FD on the VM failed: %s", strerror(errno));
	for (unsigned int i = 0; i < n; i++) {
		/* Held until exit: the process's fd table is the interface. */
		if (ioctl(vcpus[i].fd, KVM_GET_STATS_FD, NULL) < 0)
			kl_fail("KVM_GET_STATS_FD on vCPU %u failed: %s", i, strerror(errno));
		vm->vcpu_stats_fds++;
	}
}
