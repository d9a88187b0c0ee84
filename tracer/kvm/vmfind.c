// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "kvm/vmfind.h"
#include "lib/json.h"
#include "lib/log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

enum ks_kvm_fd_kind ks_kvm_fd_kind(const char *link, int *vcpu_id)
{
	static const char vcpu[] = "anon_inode:kvm-vcpu:";
	const char *p;
	long id = 0;

	if (!strcmp(link, "anon_inode:kvm-vm"))
		return KS_FD_VM;
	if (!strcmp(link, "anon_inode:kvm-vm-stats"))
		return KS_FD_VM_STATS;
	/* "kvm-vcpu-stats:N" (N the vCPU id) on current kernels. */
	if (!strncmp(link, "anon_inode:kvm-vcpu-stats", 25) &&
	    (link[25] == '\0' || link[25] == ':'))
		return KS_FD_VCPU_STATS;
	if (!strcmp(link, "/dev/kvm"))
		return KS_FD_KVM;
	if (strncmp(link, vcpu, sizeof(vcpu) - 1))
		return KS_FD_OTHER;
	p = link + sizeof(vcpu) - 1;
	if (!isdigit((unsigned char)*p))
		return KS_FD_OTHER;
	for (; isdigit((unsigned char)*p); p++) {
		id = id * 10 + (*p - '0');
		if (id > 1 << 20)
			return KS_FD_OTHER;
	}
	if (*p)
		return KS_FD_OTHER;
	*vcpu_id = (int)id;
	return KS_FD_VCPU;
}

void ks_comm_parse(const char *buf, size_t len, char *out, size_t outlen)
{
	const char *nul = memchr(buf, '\0', len);
	size_t n = nul ? (size_t)(nul - buf) : len;

	if (!outlen)
		return;
	if (n && buf[n - 1] == '\n')
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
}

void ks_comm_read(pid_t pid, char *out, size_t outlen)
{
	char path[64], buf[128];
	ssize_t n;
	int fd;

	if (outlen)
		out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		ks_comm_parse(buf, (size_t)n, out, outlen);
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

bool ks_vmm_holds_vm_fd(pid_t pid, int fd)
{
	char path[64], link[128];
	ssize_t n;
	int id;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return ks_kvm_fd_kind(link, &id) == KS_FD_VM;
}

int ks_vmm_scan(pid_t pid, struct ks_vmm *out)
{
	char path[64], link[128];
	struct dirent *de;
	DIR *d;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->vm_fd = -1;
	out->vm_stats_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1; /* errno: ENOENT (gone) or EACCES */
	while ((de = readdir(d))) {
		ssize_t n;
		int id = -1;

		if (!is_number(de->d_name))
			continue;
		/* Relative to the directory: one name looked up per fd, not the
		 * four of /proc/PID/fd/N (the look costs what other processes'
		 * fds cost: docs/reliability.md). */
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n < 0 && (errno == EACCES || errno == EPERM)) {
			/* The directory was listable but the links are not
			 * (no ptrace access): say so, not "no VM here". */
			closedir(d);
			errno = EACCES;
			return -1;
		}
		if (n < 0)
			continue; /* fd closed meanwhile */
		link[n] = '\0';
		switch (ks_kvm_fd_kind(link, &id)) {
		case KS_FD_VM:
			if (out->nvm++ == 0)
				out->vm_fd = atoi(de->d_name);
			break;
		case KS_FD_VCPU:
			if (out->nvcpu < KS_MAX_VCPUS) {
				out->vcpu_fd[out->nvcpu] = atoi(de->d_name);
				out->vcpu_id[out->nvcpu] = id;
				out->nvcpu++;
			}
			break;
		case KS_FD_VM_STATS:
			if (out->vm_stats_fd < 0)
				out->vm_stats_fd = atoi(de->d_name);
			break;
		case KS_FD_VCPU_STATS:
			if (out->nvcpu_stats < KS_MAX_VCPUS)
				out->vcpu_stats_fd[out->nvcpu_stats++] = atoi(de->d_name);
			break;
		default:
			break;
		}
	}
	closedir(d);
	if (!out->nvm)
		return 0;
	ks_comm_read(pid, out->comm, sizeof(out->comm));
	return 1;
}

int ks_vmm_require(pid_t pid)
{
	struct ks_vmm *v = malloc(sizeof(*v));
	int rc;

	if (!v)
		return ks_err("out of memory");
	rc = ks_vmm_scan(pid, v);
	free(v);
	if (rc < 0)
		return ks_err(errno == ENOENT ? "no process with PID %d" : "cannot inspect PID %d: %s",
			      (int)pid, strerror(errno));
	if (rc == 0)
		return ks_err("PID %d is not a VMM: it has no KVM VM fd open", (int)pid);
	return 0;
}

int ks_proc_is_kvmscope(pid_t pid)
{
	/* Our own executable does not change: looked up once. */
	static struct stat self;
	static int self_known = -1;
	struct stat other;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (stat(path, &other))
		return errno == ENOENT || errno == ESRCH ? -1 : 0;
	if (self_known < 0)
		self_known = !stat("/proc/self/exe", &self);
	if (!self_known)
		return 0;
	return self.st_dev == other.st_dev && self.st_ino == other.st_ino;
}

int ks_vmm_scan_all(int (*fn)(const struct ks_vmm *v, void *ctx), void *ctx)
{
	struct ks_vmm *v = malloc(sizeof(*v));
	int self = (int)getpid();
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (!v)
		return -1;
	d = opendir("/proc");
	if (!d) {
		free(v);
		return -1;
	}
	while ((de = readdir(d))) {
		/* Not ourselves: kvmscope holds no VM fd (copies of stats fds at
		 * most), and a tracer's own fds (BPF programs, maps and links:
		 * some seventy) are a link read each. */
		if (!is_number(de->d_name) || atoi(de->d_name) == self)
			continue;
		/* Another kvmscope holds a VM fd only while it makes its
		 * reference VM: none to trace (one stat, VMMs only). */
		if (ks_vmm_scan((pid_t)atoi(de->d_name), v) == 1 &&
		    ks_proc_is_kvmscope(v->pid) != 1) {
			found++;
			if (fn && fn(v, ctx))
				break;
		}
	}
	closedir(d);
	free(v);
	return found;
}

int ks_pidfd_open(pid_t pid)
{
	/* pidfds are close-on-exec by construction. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The device of the kernel's anonymous inodes, as an eventfd of ours
 * shows it (KVM's VM, vCPU and stats fds live there too); 0 if unknown. */
static dev_t anon_inode_dev(void)
{
	static dev_t dev;
	struct stat st;
	int fd;

	if (dev)
		return dev;
	fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!fstat(fd, &st))
		dev = st.st_dev;
	close(fd);
	return dev;
}

bool ks_kvm_fd_is(int fd, enum ks_kvm_fd_kind want, char *why, size_t whylen)
{
	char path[64], link[128], q[64];
	struct stat st;
	ssize_t n;
	int id;
	dev_t anon = anon_inode_dev();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(why, whylen, "cannot read the link of our copy: %s", strerror(errno));
		return false;
	}
	link[n] = '\0';
	ks_text_escape(link, q, sizeof(q));
	if (ks_kvm_fd_kind(link, &id) != want) {
		snprintf(why, whylen, "it is '%s' by now", q);
		return false;
	}
	if (fstat(fd, &st) || !anon || st.st_dev != anon) {
		snprintf(why, whylen, "'%s' is not on the anonymous-inode file system", q);
		return false;
	}
	return true;
}

int ks_take_fd(pid_t pid, int fd, enum ks_kvm_fd_kind want, int *pidfd_out, char *why, size_t whylen)
{
	int pidfd = ks_pidfd_open(pid);
	char what[160];
	int copy;

	if (pidfd < 0) {
		snprintf(why, whylen, "PID %d: %s", (int)pid, strerror(errno));
		return -1;
	}
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (copy < 0) {
		int e = errno;

		snprintf(why, whylen, "cannot take fd %d of PID %d: %s%s", fd, (int)pid, strerror(e),
			 e == EPERM ? " (needs ptrace access to the VMM: CAP_SYS_PTRACE or same user)" : "");
		close(pidfd);
		errno = e;
		return -1;
	}
	/* Our copies must not leak into anything we might exec. */
	fcntl(copy, F_SETFD, FD_CLOEXEC);
	/* Checked on our copy, which the VMM can no longer swap: what we
	 * keep is what we checked. */
	if (!ks_kvm_fd_is(copy, want, what, sizeof(what))) {
		snprintf(why, whylen, "fd %d of PID %d is not a KVM %s fd: %s", fd, (int)pid,
			 want == KS_FD_VM_STATS || want == KS_FD_VCPU_STATS ? "stats" :
			 want == KS_FD_VM ? "VM" : "vCPU", what);
		close(copy);
		close(pidfd);
		errno = EBADF;
		return -1;
	}
	if (pidfd_out)
		*pidfd_out = pidfd;
	else
		close(pidfd);
	return copy;
}
