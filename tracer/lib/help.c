// SPDX-License-Identifier: GPL-2.0
#include "lib/help.h"

static error_t parse_help(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key != 'h')
		return ARGP_ERR_UNKNOWN;
	/* The same page as --help (of the command being parsed: argp knows
	 * its root), and exit 0. */
	argp_state_help(state, state->out_stream, ARGP_HELP_STD_HELP);
	return 0;
}

static const struct argp_option help_options[] = {
	{ NULL, 'h', NULL, OPTION_HIDDEN, NULL, 0 },
	{ 0 },
};

static const struct argp help_argp = { help_options, parse_help, NULL, NULL, NULL, NULL, NULL };

const struct argp_child ks_help_children[] = {
	{ &help_argp, 0, NULL, 0 },
	{ 0 },
};
