// SPDX-License-Identifier: GPL-2.0
/* kvmscope: where live migration of KVM guests spends its time. */
#include <argp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "lib/json.h"
#include "lib/log.h"

#define KVMSCOPE_VERSION "0.1"

static const struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
	{ "check", cmd_check, "report whether this host can be traced, and how" },
	{ "migrate", cmd_migrate, "per-VM dirty-logging (live migration) overhead, live" },
	{ "stats", cmd_stats, "binary stats of every VM: values, rates, histograms" },
	{ "rmap", cmd_rmap, "rmap memory per VM and memslot: allocated, avoided, when" },
	{ "export", cmd_export, "serve stats and migrate aggregates for Prometheus" },
};

const char *argp_program_version = "kvmscope " KVMSCOPE_VERSION;

static char doc[] =
	"Measures what dirty logging (live migration) costs KVM guests and the host.\v"
	"Commands:\n"
	"  check      report whether this host can be traced, and how\n"
	"  migrate    per-VM dirty-logging (live migration) overhead, live\n"
	"  stats      binary stats of every VM: values, rates, histograms\n"
	"  rmap       rmap memory per VM and memslot: allocated, avoided, when\n"
	"  export     serve stats and migrate aggregates for Prometheus\n"
	"\nRun 'kvmscope COMMAND --help' for a command's options.\n"
	"Exit status: 0 success, 1 failure, 2 bad command line.";

static const struct argp_option options[] = {
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	{ 0 },
};

struct global_args {
	int cmd_index;   /* argv index of the subcommand, 0 if none */
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct global_args *g = state->input;

	(void)arg;
	switch (key) {
	case 'v':
		ks_verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		/* First non-option: the subcommand; the rest is its to parse. */
		g->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "missing COMMAND");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/*
 * Whatever a command wrote may still sit in stdio's buffer, and a write
 * that failed (a full disk, a closed pipe) must not end in status 0: the
 * output is flushed and closed here, for every command, and a failure
 * there fails the run (one line, unless the command already failed).
 */
static int finish_output(int rc)
{
	bool failed = ferror(stdout);  /* an earlier write failed */
	int e = 0;

	if (fflush(stdout))
		e = errno;
	if (fclose(stdout) && !e)
		e = errno;
	if ((failed || e) && rc == KS_EXIT_OK) {
		/* The first failure's errno if a JSON line noted it. */
		ks_err("output failed: %s", e ? strerror(e) : ks_output_error());
		rc = KS_EXIT_FAIL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_global, "COMMAND [ARGS...]", doc, NULL, NULL, NULL };
	struct global_args g = { 0 };

	ks_log_init("kvmscope");
	/* argp exits with EX_USAGE (64) on bad usage; ours is 2 everywhere. */
	argp_err_exit_status = KS_EXIT_USAGE;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &g))
		return KS_EXIT_USAGE;
	if (!g.cmd_index)
		return KS_EXIT_USAGE;
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!strcmp(argv[g.cmd_index], subcommands[i].name)) {
			/* argp names the program after argv[0] in --help and errors. */
			char name[64];

			int rc;

			snprintf(name, sizeof(name), "kvmscope %s", subcommands[i].name);
			argv[g.cmd_index] = name;
			rc = subcommands[i].run(argc - g.cmd_index, argv + g.cmd_index);
			return finish_output(rc);
		}
	}
	{
		/* Escaped and cut: a newline or terminal escape in it cannot
		 * break the one line. */
		char q[64];

		ks_err("unknown command '%s' (try 'kvmscope --help')",
		       ks_text_escape(argv[g.cmd_index], q, sizeof(q)));
	}
	return KS_EXIT_USAGE;
}
