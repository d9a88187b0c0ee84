/* SPDX-License-Identifier: GPL-2.0 */
/* What this binary is: its version and the source revision it was built
 * from, for --version and export's kvmscope_build_info. kvmscope's main
 * sets them from the build (a header the Makefile generates, so that a new
 * revision recompiles main alone); programs that only link the library
 * (unit tests, benchmarks) keep "unknown". */
#ifndef KS_BUILD_H
#define KS_BUILD_H

struct ks_build {
	const char *version;     /* "0.1" */
	const char *revision;    /* `git describe --always --dirty`, or "unknown" */
};

extern struct ks_build ks_build;

#endif
