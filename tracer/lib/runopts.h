/* SPDX-License-Identifier: GPL-2.0 */
/* Options every tracing command shares (-p, -i, -d, -j, -v), parsed once
 * for all of them, and the clock their timestamps use. */
#ifndef KS_RUNOPTS_H
#define KS_RUNOPTS_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define KS_NS_PER_S 1000000000ULL

struct ks_run_opts {
	int pid;                 /* -p: 0 = every VMM */
	uint64_t interval_ns;    /* -i: at least 10 ms */
	uint64_t duration_ns;    /* -d: 0 = until a signal */
	bool json;               /* -j */
};

/* Handles -p, -i, -d, -j, -v and stray arguments; ARGP_ERR_UNKNOWN for the
 * command's own keys. Bad values end in argp_error (exit 2). */
error_t ks_parse_run_opt(int key, char *arg, struct argp_state *state, struct ks_run_opts *o);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns and of kvmload. */
static inline uint64_t ks_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * KS_NS_PER_S + ts.tv_nsec;
}

#endif
