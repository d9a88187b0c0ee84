/* When a tracked VMM's stats are opened again (ks_vmstats_stale, the one
 * rule of migrate, stats and export), and the cheap look at whether a VMM
 * still holds its VM (ks_vmm_holds_vm_fd) on fds that are not VMs. */
#include <fcntl.h>
#include <unistd.h>
#include "unit.h"
#include "kvm/vmstats.h"

/* A VMM as a scan finds it: n vCPUs, a VM stats fd or not, and a stats
 * fd for each vCPU when it has a VM stats fd. */
static struct ks_vmm vmm(int nvcpu, int vm_stats_fd)
{
	struct ks_vmm v;

	memset(&v, 0, sizeof(v));
	v.nvcpu = nvcpu;
	v.vm_stats_fd = vm_stats_fd;
	v.nvcpu_stats = vm_stats_fd >= 0 ? nvcpu : 0;
	return v;
}

int main(void)
{
	struct ks_stats_src vcpu = { .fd = -1, .dbg_dir = 5, .vcpus_summed = 2 };
	struct ks_vmstats fd_read = { .vm = { .fd = 3, .dbg_dir = -1 }, .nvcpu = 2 };
	struct ks_vmstats dbg_read = { .vm = { .fd = -1, .dbg_dir = 4 }, .nvcpu = 1, .vcpu = &vcpu };
	struct ks_vmstats none = { .vm = { .fd = -1, .dbg_dir = -1 } };
	struct ks_vmm v;
	int devnull = open("/dev/null", O_RDONLY);

	v = vmm(0, -1);
	ASSERT_TRUE("no stats: looked at again, even with no stats fd to take", ks_vmstats_stale(&none, false, &v));
	v = vmm(2, 7);
	ASSERT_FALSE("read from stats fds: kept", ks_vmstats_stale(&fd_read, true, &v));
	v = vmm(3, 7);
	ASSERT_TRUE("stats fds, a vCPU stats fd more: reopened", ks_vmstats_stale(&fd_read, true, &v));
	v = vmm(3, 7);
	v.nvcpu_stats = 2;
	ASSERT_FALSE("stats fds, a vCPU more without its stats fd yet: kept", ks_vmstats_stale(&fd_read, true, &v));
	v = vmm(2, -1);
	ASSERT_FALSE("debugfs, same vCPUs, no stats fd: kept", ks_vmstats_stale(&dbg_read, true, &v));
	v = vmm(3, -1);
	ASSERT_TRUE("debugfs, a vCPU more: reopened", ks_vmstats_stale(&dbg_read, true, &v));
	v = vmm(2, 9);
	ASSERT_TRUE("debugfs, a stats fd now: reopened", ks_vmstats_stale(&dbg_read, true, &v));
	CHECK("source named", !strcmp(ks_vmstats_source(&dbg_read), "debugfs") &&
	      !strcmp(ks_vmstats_source(&fd_read), "fd"), "%s %s", ks_vmstats_source(&dbg_read),
	      ks_vmstats_source(&fd_read));
	CHECK("an fd that is not a VM is not one", devnull >= 0 && !ks_vmm_holds_vm_fd(getpid(), devnull),
	      "fd %d", devnull);
	ASSERT_FALSE("a closed fd holds no VM", ks_vmm_holds_vm_fd(getpid(), 1000));
	ASSERT_FALSE("a process that is not there holds no VM", ks_vmm_holds_vm_fd(0x3fffffff, 0));
	close(devnull);
	UNIT_EXIT();
}
