// SPDX-License-Identifier: GPL-2.0
/*
 * fd-swap MODE: a hostile process for the reliability tests. It prints
 * "ready PID" once set up and runs until killed.
 *
 *   swap [wait]  keeps swapping the fd number where it holds its VM's
 *            stats fd with /dev/kmsg seeked to its end (a read there
 *            blocks until the kernel logs something), so that a tracer
 *            that looked at the number and then copied it gets a file
 *            that blocks. With `wait`, from SIGUSR1 on (its ioctls in a
 *            tight loop while a tracer attaches to the ioctl path would
 *            race the lab kernel's live patching under TCG: docs/lab.md);
 *   foreign  holds a stats fd of another process's VM (a child's, passed
 *            over a socket) and none of its own VM's: a tracer that shows
 *            those numbers as this VMM's shows wrong ones.
 *   flood N  no VMM at all: holds N fds (raising its fd limit to the hard
 *            one if needed), which every look through /proc for VMMs
 *            reads.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/kvm.h>

/* The fd number the swap happens at: low, so a scan meets it first. */
#define SLOT 10

static int create_vm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0) {
		perror("fd-swap: creating a VM");
		exit(1);
	}
	close(kvm);
	return vm;
}

static void ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

static volatile sig_atomic_t go;

static void on_go(int sig)
{
	(void)sig;
	go = 1;
}

static int swap(bool wait)
{
	struct timespec ts = { 0, 20000 };
	int vm = create_vm();
	int kmsg = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);

	if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0) {
		perror("fd-swap: /dev/kmsg");
		return 1;
	}
	if (wait) {
		int sfd = ioctl(vm, KVM_GET_STATS_FD, NULL);

		signal(SIGUSR1, on_go);
		if (sfd < 0 || dup3(sfd, SLOT, O_CLOEXEC) < 0) {
			perror("fd-swap: stats fd");
			return 1;
		}
		close(sfd);
	}
	ready();
	while (wait && !go)
		pause();
	for (;;) {
		int sfd = ioctl(vm, KVM_GET_STATS_FD, NULL);

		if (sfd < 0 || dup3(sfd, SLOT, O_CLOEXEC) < 0) {
			perror("fd-swap: stats fd");
			return 1;
		}
		close(sfd);
		nanosleep(&ts, NULL);
		dup3(kmsg, SLOT, O_CLOEXEC);
		nanosleep(&ts, NULL);
	}
}

static int foreign(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int sv[2], sfd;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("fd-swap: socketpair");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fd-swap: fork");
		return 1;
	}
	if (child == 0) {
		int vm = create_vm();

		close(sv[0]); /* so that its parent's end closing ends the read below */
		sfd = ioctl(vm, KVM_GET_STATS_FD, NULL);
		memset(cbuf, 0, sizeof(cbuf));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sfd, sizeof(int));
		if (sfd < 0 || sendmsg(sv[1], &mh, 0) != 1)
			_exit(1);
		/* Lives as long as its parent does. */
		read(sv[1], &byte, 1);
		_exit(0);
	}
	create_vm();
	if (recvmsg(sv[0], &mh, 0) != 1 || !(cm = CMSG_FIRSTHDR(&mh)) ||
	    cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "fd-swap: no stats fd from the child\n");
		kill(child, SIGKILL);
		return 1;
	}
	ready();
	for (;;)
		pause();
}

static int flood(int n)
{
	struct rlimit rl;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < n; i++)
		if (fd < 0 || dup(fd) < 0) {
			perror("fd-swap: flood");
			return 1;
		}
	ready();
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "flood") && atoi(argv[2]) > 0)
		return flood(atoi(argv[2]));
	if ((argc == 2 || (argc == 3 && !strcmp(argv[2], "wait"))) && !strcmp(argv[1], "swap"))
		return swap(argc == 3);
	if (argc == 2 && !strcmp(argv[1], "foreign"))
		return foreign();
	fprintf(stderr, "usage: fd-swap swap [wait]|foreign|flood N\n");
	return 2;
}
