/* The process_* figures of `kvmscope export` (lib/procself.c): a
 * /proc/PID/stat line parsed field by field, a hostile comm included; and
 * this process's own figures against what the kernel says otherwise. */
#include <math.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "lib/procself.h"

int main(void)
{
	/* Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss):
	 * 250 + 50 ticks, started 12345 ticks after boot, 11034624 bytes,
	 * 375 pages. The comm holds ") " and a digit run to mislead a parser
	 * that splits on spaces or stops at the first ')'. */
	static const char line[] =
		"4242 (a) 1 2 3 (b) S 1 4242 4242 0 -1 4194560 98 0 0 0 250 50 0 0 20 0 3 0 12345 "
		"11034624 375 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	struct ks_procself p = { 0 }, me;
	struct rusage ru;
	struct rlimit rl;
	double cpu;

	ASSERT_EQ("stat: parsed", ks_procself_parse_stat(line, 100, 4096, 1700000000, &p), 0);
	CHECK("stat: cpu seconds = (utime + stime) / ticks", fabs(p.cpu_seconds - 3.0) < 1e-9,
	      "%g", p.cpu_seconds);
	ASSERT_EQ("stat: resident bytes = rss pages x page size", p.rss_bytes, 375ULL * 4096);
	ASSERT_EQ("stat: virtual bytes = vsize", p.vsize_bytes, 11034624ULL);
	CHECK("stat: start = btime + starttime / ticks", fabs(p.start_seconds - 1700000123.45) < 1e-6,
	      "%.6f", p.start_seconds);
	ASSERT_EQ("stat: a line cut short is refused",
		  ks_procself_parse_stat("4242 (a) S 1 4242 4242 0 -1 4194560 98", 100, 4096, 1, &p), -1);
	ASSERT_EQ("stat: a line without ')' is refused",
		  ks_procself_parse_stat("4242 a S 1 2 3", 100, 4096, 1, &p), -1);
	ASSERT_EQ("stat: no clock ticks is refused", ks_procself_parse_stat(line, 0, 4096, 1, &p), -1);
	ASSERT_EQ("btime: found after the cpu lines",
		  ks_procself_parse_btime("cpu  1 2 3\ncpu0 1 2 3\nintr 5 6\nctxt 7\nbtime 1796697000\n"
					  "processes 9\n"), 1796697000ULL);
	ASSERT_EQ("btime: a line of its own", ks_procself_parse_btime("btime 42\n"), 42ULL);
	ASSERT_EQ("btime: absent", ks_procself_parse_btime("cpu 1 2\nctxt 7\n"), 0ULL);

	/* This process: what getrusage, getrlimit and the clock say. */
	for (volatile unsigned long i = 0; i < 30000000UL; i++)
		;
	ASSERT_EQ("self: read", ks_procself_read(&me), 0);
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	/* Ticks (1/100 s) against the scheduler's exact time, read after. */
	CHECK("self: cpu seconds agree with getrusage", me.cpu_seconds <= cpu + 0.02 &&
	      me.cpu_seconds >= cpu - 0.05, "%g vs %g", me.cpu_seconds, cpu);
	CHECK("self: started in the last hour, not in the future",
	      me.start_seconds <= time(NULL) + 1 && me.start_seconds > time(NULL) - 3600,
	      "%.2f, now %ld", me.start_seconds, (long)time(NULL));
	getrlimit(RLIMIT_NOFILE, &rl);
	ASSERT_EQ("self: max fds = RLIMIT_NOFILE", me.max_fds, (unsigned long long)rl.rlim_cur);
	/* stdin, stdout, stderr and the directory being read, at least. */
	ASSERT_GE("self: open fds", me.open_fds, 4);
	ASSERT_GE("self: resident bytes, at least a page", me.rss_bytes, (unsigned long long)getpagesize());
	ASSERT_GE("self: virtual bytes at least resident", me.vsize_bytes, me.rss_bytes);
	UNIT_EXIT();
}
