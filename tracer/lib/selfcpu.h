/* SPDX-License-Identifier: GPL-2.0 */
/* The tracer's own CPU time, user and system, for the reports that say what
 * tracing cost (migrate's interval and summary records), and for pacing
 * work whose cost depends on the host (the look through /proc for VMMs). */
#ifndef KS_SELFCPU_H
#define KS_SELFCPU_H

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

struct ks_cpu {
	uint64_t user_ns, sys_ns;
};

/* CPU time of the whole process so far. getrusage(RUSAGE_SELF): one system
 * call, microseconds; its total is the scheduler's exact run time (that of
 * CLOCK_PROCESS_CPUTIME_ID), split between user and system in the
 * proportion of the ticks that fell in each, and never goes back. */
static inline struct ks_cpu ks_self_cpu(void)
{
	struct rusage ru;
	struct ks_cpu c = { 0, 0 };

	if (!getrusage(RUSAGE_SELF, &ru)) {
		c.user_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_utime.tv_usec * 1000;
		c.sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_stime.tv_usec * 1000;
	}
	return c;
}

/* The process's CPU time in ns, user and system together (exact: the
 * scheduler's run time), to time a piece of work in CPU. */
static inline uint64_t ks_self_cpu_ns(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t))
		return 0;
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* The calling thread's CPU time in ns (export looks through /proc on its
 * collector thread, beside the HTTP server's). */
static inline uint64_t ks_thread_cpu_ns(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t))
		return 0;
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* now - then, each part clamped at 0 (the kernel keeps both parts from going
 * back; the clamp keeps a report from ever wrapping if one did). */
static inline struct ks_cpu ks_cpu_since(struct ks_cpu now, struct ks_cpu then)
{
	struct ks_cpu d = {
		now.user_ns > then.user_ns ? now.user_ns - then.user_ns : 0,
		now.sys_ns > then.sys_ns ? now.sys_ns - then.sys_ns : 0,
	};

	return d;
}

#endif
