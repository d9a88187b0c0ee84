// SPDX-License-Identifier: GPL-2.0
/*
 * bench/vmfindcost [PROCS] [FDS] [LOOKS]: what one look through /proc for
 * VMMs (ks_vmm_scan_all, tracer/kvm/vmfind.c) costs on a host where other
 * processes hold many fds. Side by side in one run, alternating: the look
 * with the host as it is, and with PROCS extra processes (default 10)
 * holding FDS fds each (default 19000, which a hard RLIMIT_NOFILE of
 * 20000 allows; more needs CAP_SYS_RESOURCE). CPU time (user + system) per look, the median of LOOKS
 * looks (default 9) of each, and the difference per 10,000 fds of the
 * extra processes: the figure docs/performance.md states as the bound.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "kvm/vmfind.h"
#include "lib/selfcpu.h"
#include "median.h"

#define MAX_LOOKS 101

static double look_ms(void)
{
	struct ks_cpu a = ks_self_cpu(), b;

	ks_vmm_scan_all(NULL, NULL);
	b = ks_self_cpu();
	return (double)(b.user_ns + b.sys_ns - a.user_ns - a.sys_ns) / 1e6;
}

/* A process holding n fds (dups of /dev/null) until killed; its pid. */
static pid_t holder(int n, const int ready[2])
{
	pid_t pid = fork();

	if (pid)
		return pid;
	{
		struct rlimit rl;
		int fd = open("/dev/null", O_RDONLY);

		/* Raised to the hard limit if that is enough (raising the
		 * hard limit needs CAP_SYS_RESOURCE). */
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_max < (rlim_t)n + 64) {
			rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
		} else {
			rl.rlim_cur = (rlim_t)n + 64;
		}
		close(ready[0]);
		if (setrlimit(RLIMIT_NOFILE, &rl) || fd < 0) {
			perror("vmfindcost: holder");
			_exit(1);
		}
		for (int i = 0; i < n; i++)
			if (dup(fd) < 0) {
				perror("vmfindcost: dup");
				_exit(1);
			}
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 10, fds = argc > 2 ? atoi(argv[2]) : 19000;
	int looks = argc > 3 ? atoi(argv[3]) : 9, p[2], ok = 0;
	double base[MAX_LOOKS], flood[MAX_LOOKS], mb, mf;
	pid_t *kids = calloc((size_t)(procs > 0 ? procs : 1), sizeof(pid_t));
	char c;

	if (procs < 1 || fds < 1 || looks < 1 || looks > MAX_LOOKS || !kids || pipe(p)) {
		fprintf(stderr, "usage: vmfindcost [PROCS] [FDS] [LOOKS <= %d]\n", MAX_LOOKS);
		return 2;
	}
	for (int i = 0; i < looks; i++)
		base[i] = look_ms();
	for (int i = 0; i < procs; i++)
		kids[i] = holder(fds, p);
	close(p[1]); /* a holder that fails ends the read below */
	for (int i = 0; i < procs; i++)
		ok += read(p[0], &c, 1) == 1;
	if (ok != procs) {
		fprintf(stderr, "vmfindcost: %d of %d holders failed to open %d fds (root?)\n",
			procs - ok, procs, fds);
		for (int i = 0; i < procs; i++)
			kill(kids[i], SIGKILL);
		return 1;
	}
	for (int i = 0; i < looks; i++)
		flood[i] = look_ms();
	for (int i = 0; i < procs; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	mb = median(base, looks);
	mf = median(flood, looks);
	printf("look through /proc, CPU ms (median of %d): host as it is %.3f; with %d processes "
	       "x %d fds %.3f\n", looks, mb, procs, fds, mf);
	printf("per 10,000 fds of other processes: %.3f ms CPU per look\n",
	       (mf - mb) * 10000.0 / ((double)procs * fds));
	return 0;
}
