/* SPDX-License-Identifier: GPL-2.0 */
/* What the bench helpers that hold something attached share: say "ready"
 * to the script driving them, then wait for SIGINT/SIGTERM; and turn on
 * the kernel's per-program run-time statistics (BPF_ENABLE_STATS, what
 * kernel.bpf_stats_enabled=1 does) for as long as the returned fd lives. */
#ifndef KS_BENCH_UNTIL_SIGNAL_H
#define KS_BENCH_UNTIL_SIGNAL_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

static volatile sig_atomic_t ks_bench_stop;

static void ks_bench_on_signal(int sig)
{
	(void)sig;
	ks_bench_stop = 1;
}

/* Before loading anything: a signal then still ends the wait below. */
static inline void ks_bench_catch_signals(void)
{
	signal(SIGINT, ks_bench_on_signal);
	signal(SIGTERM, ks_bench_on_signal);
}

/* Run-time statistics on: the fd, or -1 after a line on stderr. */
static inline int ks_bench_enable_stats(const char *who)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0)
		fprintf(stderr, "%s: BPF_ENABLE_STATS: %s\n", who, strerror(errno));
	return fd;
}

static inline void ks_bench_ready_then_wait(void)
{
	printf("ready\n");
	fflush(stdout);
	while (!ks_bench_stop)
		pause();
}

#endif
