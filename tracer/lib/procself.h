/* SPDX-License-Identifier: GPL-2.0 */
/* kvmscope's own process figures, as Prometheus' client libraries export
 * theirs (process_cpu_seconds_total, process_resident_memory_bytes, ...):
 * read from /proc/self like they are, so dashboards and alerts written for
 * any exporter work for `kvmscope export` too. */
#ifndef KS_PROCSELF_H
#define KS_PROCSELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ks_procself {
	double cpu_seconds;       /* user + system, /proc/self/stat utime + stime */
	uint64_t rss_bytes;       /* resident set: rss pages x page size */
	uint64_t vsize_bytes;     /* virtual memory size */
	double start_seconds;     /* start, Unix time: btime + starttime */
	uint64_t open_fds;        /* entries of /proc/self/fd */
	uint64_t max_fds;         /* RLIMIT_NOFILE's soft limit */
};

/* Fields of a /proc/PID/stat line (its comm may hold spaces and
 * parentheses: the fields are counted from its last ')'), with the clock
 * ticks per second, the page size and the boot time (/proc/stat btime).
 * 0, or -1 if the line is not one. Pure, for tests. */
int ks_procself_parse_stat(const char *stat, long ticks, long page_size, uint64_t btime,
			   struct ks_procself *out);
/* btime of /proc/stat's text; 0 if absent. Pure, for tests. */
uint64_t ks_procself_parse_btime(const char *proc_stat);
/* All of them for this process; 0, or -1 if /proc could not be read. */
int ks_procself_read(struct ks_procself *out);

#endif
