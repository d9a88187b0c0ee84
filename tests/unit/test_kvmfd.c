/* A copy of a VMM's fd is kept only if it is the KVM fd it should be
 * (ks_kvm_fd_is, ks_take_fd): files whose reads could block, or that are
 * KVM fds of another kind, are refused with what they are. KVM's own fds
 * are checked where /dev/kvm works. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/kvm.h>
#include "unit.h"
#include "kvm/vmfind.h"

static void refused(const char *name, int fd, enum ks_kvm_fd_kind want, const char *what)
{
	char why[160] = "";
	bool ok = ks_kvm_fd_is(fd, want, why, sizeof(why));

	CHECK(name, fd >= 0 && !ok && strstr(why, what), "fd %d ok %d why '%s' (want '%s')",
	      fd, ok, why, what);
}

int main(void)
{
	char fifo[] = "/tmp/kvmscope-test-fifo-XXXXXX", why[200] = "";
	int efd = eventfd(0, EFD_CLOEXEC), mfd = memfd_create("kvm-vm-stats", MFD_CLOEXEC);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), ffd = -1, kvm, vm = -1, sfd = -1, copy;

	refused("eventfd is no stats fd (same file system, other name)", efd, KS_FD_VM_STATS,
		"anon_inode:[eventfd]");
	refused("memfd named like a stats fd is refused", mfd, KS_FD_VM_STATS, "memfd:kvm-vm-stats");
	refused("/dev/null is refused", null, KS_FD_VM_STATS, "'/dev/null'");
	if (mkdtemp(fifo)) {
		char path[64];

		snprintf(path, sizeof(path), "%s/f", fifo);
		if (!mkfifo(path, 0600))
			ffd = open(path, O_RDWR | O_CLOEXEC);
		unlink(path);
		rmdir(fifo);
	}
	refused("FIFO is refused", ffd, KS_FD_VM_STATS, "/f");
	copy = ks_take_fd(getpid(), mfd, KS_FD_VM_STATS, NULL, why, sizeof(why));
	CHECK("ks_take_fd refuses a copy of the wrong kind", copy < 0 && errno == EBADF &&
	      strstr(why, "is not a KVM stats fd"), "copy %d errno %d why '%s'", copy, errno, why);
	copy = ks_take_fd(getpid(), 1000000, KS_FD_VM_STATS, NULL, why, sizeof(why));
	CHECK("ks_take_fd of a closed fd says so", copy < 0 && strstr(why, "cannot take fd 1000000"),
	      "copy %d why '%s'", copy, why);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm >= 0)
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0)
		sfd = ioctl(vm, KVM_GET_STATS_FD, NULL);
	REQUIRE(sfd >= 0, "no working /dev/kvm here");
	CHECK("a VM's stats fd passes", ks_kvm_fd_is(sfd, KS_FD_VM_STATS, why, sizeof(why)),
	      "why '%s'", why);
	CHECK("a VM fd passes as a VM fd", ks_kvm_fd_is(vm, KS_FD_VM, why, sizeof(why)),
	      "why '%s'", why);
	refused("a VM fd is no stats fd", vm, KS_FD_VM_STATS, "anon_inode:kvm-vm'");
	copy = ks_take_fd(getpid(), sfd, KS_FD_VM_STATS, NULL, why, sizeof(why));
	CHECK("ks_take_fd copies a stats fd", copy >= 0, "why '%s'", why);
	REQUIRE_END();
	if (copy >= 0)
		close(copy);
	for (int fd = 3; fd < 20; fd++)
		close(fd);
	return unit_failed ? 1 : 0;
}
