// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "lib/log.h"

bool ks_verbose;
static const char *prog = "kvmscope";

void ks_log_init(const char *progname)
{
	const char *slash = progname ? strrchr(progname, '/') : NULL;

	if (progname)
		prog = slash ? slash + 1 : progname;
}

static void vline(const char *kind, const char *fmt, va_list ap)
{
	/* Build the line first so concurrent writers cannot interleave it. */
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s: %s", prog, kind);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	fprintf(stderr, "%s\n", buf);
}

int ks_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
	return -1;
}

void ks_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("warning: ", fmt, ap);
	va_end(ap);
}

void ks_debug(const char *fmt, ...)
{
	va_list ap;

	if (!ks_verbose)
		return;
	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !ks_verbose)
		return 0;
	if (level == LIBBPF_INFO && !ks_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void ks_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}
