// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "lib/procself.h"

int ks_procself_parse_stat(const char *stat, long ticks, long page_size, uint64_t btime,
			   struct ks_procself *out)
{
	unsigned long long utime, stime, start, vsize;
	long long rss;
	const char *p = strrchr(stat, ')');

	if (!p || ticks <= 0 || page_size <= 0)
		return -1;
	/* After "pid (comm)": state (3), ..., utime (14), stime (15), ...,
	 * starttime (22), vsize (23), rss (24). */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		   "%*d %*d %llu %llu %lld", &utime, &stime, &start, &vsize, &rss) != 5)
		return -1;
	out->cpu_seconds = (double)(utime + stime) / (double)ticks;
	out->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page_size : 0;
	out->vsize_bytes = vsize;
	out->start_seconds = (double)btime + (double)start / (double)ticks;
	return 0;
}

uint64_t ks_procself_parse_btime(const char *proc_stat)
{
	const char *p = strstr(proc_stat, "\nbtime ");

	if (!p && !strncmp(proc_stat, "btime ", 6))
		p = proc_stat - 1;
	return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* btime of /proc/stat, line by line: the lines before it (one per CPU,
 * and interrupt counts) can be long, and so can the file. */
static uint64_t boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	uint64_t btime = 0;
	char line[256];

	/* A long line comes in pieces, none of which starts "btime ". */
	while (f && !btime && fgets(line, sizeof(line), f))
		btime = ks_procself_parse_btime(line);
	if (f)
		fclose(f);
	return btime;
}

int ks_procself_read(struct ks_procself *out)
{
	struct rlimit rl;
	struct dirent *d;
	uint64_t btime;
	char stat[1024];
	size_t n;
	DIR *dir;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return -1;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	btime = boot_time();
	if (!btime || ks_procself_parse_stat(stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), btime, out))
		return -1;
	/* Counted as client libraries count them: the directory's own fd
	 * included. */
	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		out->open_fds += d->d_name[0] != '.';
	closedir(dir);
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		out->max_fds = rl.rlim_cur;
	return 0;
}
