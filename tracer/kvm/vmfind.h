/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Finding VMs from outside their VMM: a VM is an fd whose /proc/PID/fd link
 * reads "anon_inode:kvm-vm", a vCPU one reading "anon_inode:kvm-vcpu:N",
 * binary stats fds "anon_inode:kvm-vm-stats" and "anon_inode:kvm-vcpu-stats:N".
 * KVM refuses VM and vCPU ioctls (KVM_GET_STATS_FD included) from any
 * process but the VMM (-EIO), while reading a stats fd works from anywhere:
 * so kvmscope takes copies (pidfd_getfd) of the stats fds the VMM opened.
 */
#ifndef KS_VMFIND_H
#define KS_VMFIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ks_kvm_fd_kind { KS_FD_OTHER, KS_FD_VM, KS_FD_VCPU, KS_FD_KVM,
		       KS_FD_VM_STATS, KS_FD_VCPU_STATS };

/* Classifies a readlink() target; for vCPUs sets *vcpu_id. Pure, for tests. */
enum ks_kvm_fd_kind ks_kvm_fd_kind(const char *link, int *vcpu_id);

/* The process name from the len bytes read of /proc/PID/comm: the kernel's
 * one trailing newline removed, every other byte kept (a name may hold
 * newlines, quotes, control and non-UTF-8 bytes: output escapes them).
 * Stops at a NUL; truncates to outlen - 1 bytes. Pure, for tests. */
void ks_comm_parse(const char *buf, size_t len, char *out, size_t outlen);
/* ks_comm_parse of /proc/PID/comm; "" if it cannot be read. */
void ks_comm_read(pid_t pid, char *out, size_t outlen);

#define KS_MAX_VCPUS 512

struct ks_vmm {
	pid_t pid;
	char comm[64];           /* raw bytes of /proc/PID/comm: escape on output */
	int nvm;                 /* VM fds in the process */
	int vm_fd;               /* the first VM fd number (in the VMM) */
	int nvcpu;
	int vcpu_fd[KS_MAX_VCPUS];  /* fd numbers in the VMM */
	int vcpu_id[KS_MAX_VCPUS];
	/* Binary stats fds the VMM itself opened (KVM_GET_STATS_FD only works
	 * from the VMM's own process, so these are the way to its stats). */
	int vm_stats_fd;         /* -1 if none */
	int nvcpu_stats;
	int vcpu_stats_fd[KS_MAX_VCPUS];
};

/*
 * Scans one process. Returns 1 if it holds a VM fd, 0 if not, -1 with errno
 * (ESRCH: gone; EACCES: not allowed to look).
 */
int ks_vmm_scan(pid_t pid, struct ks_vmm *out);
/* Does process pid still hold a VM at fd number fd (one readlink: the
 * cheap way to see that a known VMM closed its VM, between scans)? */
bool ks_vmm_holds_vm_fd(pid_t pid, int fd);
/* -p PID of a tracing command: 0 if PID is a VMM, else -1 after one line
 * on stderr (no such process, not inspectable, or no VM fd). */
int ks_vmm_require(pid_t pid);
/*
 * Is process pid kvmscope: does it run the same executable file (device
 * and inode of /proc/PID/exe) as this process? A kvmscope process holds a
 * VM fd only for the moment it makes and closes the reference VM of its
 * debugfs stats (kvm/statsdbg.h); another command, or a second run, must
 * not report that VM. 1 yes, 0 no (or not allowed to look), -1 gone (no
 * such process, or a zombie).
 */
int ks_proc_is_kvmscope(pid_t pid);
/* Scans every process but kvmscope's own (ks_proc_is_kvmscope); calls fn
 * for each VMM found. Returns the count. */
int ks_vmm_scan_all(int (*fn)(const struct ks_vmm *v, void *ctx), void *ctx);

/*
 * A look through /proc costs a link read per fd of every process, what
 * other users' processes hold included (docs/reliability.md has the
 * figure per 10,000 fds). Every command paces its looks by one rule: the
 * next comes base_ns after this one, or later, so that looks take at most
 * 1/KS_LOOK_SHARE of a CPU (cost_ns: the CPU this look took), but never
 * more than KS_LOOK_MAX_NS apart: a new VMM the kernel's events do not
 * announce is found within that time on any host.
 */
#define KS_LOOK_SHARE 100
#define KS_LOOK_MAX_NS (60ULL * 1000000000ULL)
static inline uint64_t ks_vmm_look_every(uint64_t base_ns, uint64_t cost_ns)
{
	uint64_t paced = cost_ns > KS_LOOK_MAX_NS / KS_LOOK_SHARE ? KS_LOOK_MAX_NS :
			 cost_ns * KS_LOOK_SHARE;

	return paced > base_ns ? paced : base_ns;
}

/* pidfd_open(2), close-on-exec; -1 with errno (ESRCH: gone). */
int ks_pidfd_open(pid_t pid);
/* pidfd_open + pidfd_getfd: a copy of fd number `fd` of process pid, and
 * the pidfd (to poll for the VMM's exit) in *pidfd if not NULL. The copy
 * is returned only once proven to be of kind `want` (ks_kvm_fd_is): the
 * VMM chooses what sits at that number, and may swap it between our look
 * and our copy. -1 with errno (EBADF for a copy of the wrong kind, why
 * saying what it was instead). */
int ks_take_fd(pid_t pid, int fd, enum ks_kvm_fd_kind want, int *pidfd, char *why, size_t whylen);
/* Is our fd one of KVM's anonymous inodes of kind `want`: its link
 * (/proc/self/fd/N) names it, and fstat puts it on the anonymous-inode
 * file system (a FUSE file, a device or a FIFO, whose reads may block,
 * cannot pass). Otherwise false, what it is (escaped, cut) in why. */
bool ks_kvm_fd_is(int fd, enum ks_kvm_fd_kind want, char *why, size_t whylen);

#endif
