// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/runopts.h"

#define MIN_INTERVAL_NS 10000000ULL               /* 10 ms */
#define MAX_INTERVAL_NS (3600 * KS_NS_PER_S)      /* 1 h */
#define MAX_DURATION_NS (366 * 24 * 3600 * KS_NS_PER_S)

error_t ks_parse_run_opt(int key, char *arg, struct argp_state *state, struct ks_run_opts *o)
{
	char err[160];

	switch (key) {
	case 'p':
		if (ks_parse_pid(arg, &o->pid, err, sizeof(err)))
			argp_error(state, "%s", err);
		return 0;
	case 'i':
		if (ks_parse_duration(arg, MIN_INTERVAL_NS, MAX_INTERVAL_NS, &o->interval_ns,
				      err, sizeof(err)))
			argp_error(state, "--interval: %s", err);
		return 0;
	case 'd':
		if (ks_parse_duration(arg, MIN_INTERVAL_NS, MAX_DURATION_NS, &o->duration_ns,
				      err, sizeof(err)))
			argp_error(state, "--duration: %s", err);
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'v':
		ks_verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}
