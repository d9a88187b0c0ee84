// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "lib/term.h"

/* Back to the line's start, erase it: the progress line goes away and
 * what is written next starts at column 0. */
#define ERASE_LINE "\r\033[K"

bool ks_verbose;
static const char *prog = "kvmscope";
static char last_err[1024];
static bool progress_shown;

void ks_log_init(const char *progname)
{
	const char *slash = progname ? strrchr(progname, '/') : NULL;

	if (progname)
		prog = slash ? slash + 1 : progname;
}

static void vline(const char *kind, const char *fmt, va_list ap, bool keep)
{
	/* Build the line first so concurrent writers cannot interleave it. */
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s: %s", prog, kind);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (keep)
		snprintf(last_err, sizeof(last_err), "%s", buf + n);
	ks_progress_end();
	fprintf(stderr, "%s\n", buf);
}

int ks_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap, true);
	va_end(ap);
	return -1;
}

const char *ks_last_error(void)
{
	return last_err[0] ? last_err : NULL;
}

void ks_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("warning: ", fmt, ap, false);
	va_end(ap);
}

void ks_debug(const char *fmt, ...)
{
	va_list ap;

	if (!ks_verbose)
		return;
	va_start(ap, fmt);
	vline("", fmt, ap, false);
	va_end(ap);
}

void ks_progress(const char *fmt, ...)
{
	static bool at_exit;
	char buf[256];
	va_list ap;
	int n;

	/* -v prints what happens line by line; a pipe or a file would keep
	 * the control bytes. */
	if (ks_verbose || !ks_term_ansi(STDERR_FILENO))
		return;
	n = snprintf(buf, sizeof(buf), ERASE_LINE "%s: ", prog);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	/* Whatever way the process ends, the line does not stay behind. */
	if (!at_exit)
		at_exit = !atexit(ks_progress_end);
	fputs(buf, stderr);
	fflush(stderr);
	progress_shown = true;
}

void ks_progress_end(void)
{
	if (!progress_shown)
		return;
	progress_shown = false;
	fputs(ERASE_LINE, stderr);
	fflush(stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !ks_verbose)
		return 0;
	if (level == LIBBPF_INFO && !ks_verbose)
		return 0;
	ks_progress_end();
	return vfprintf(stderr, fmt, ap);
}

void ks_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}
