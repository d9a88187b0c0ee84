// SPDX-License-Identifier: GPL-2.0
/* kvmscope: where live migration of KVM guests spends its time. */
#include <argp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "lib/build.h"
#include "lib/help.h"
#include "lib/json.h"
#include "lib/log.h"
#include "version.h"   /* generated: KS_VERSION, KS_REVISION (scripts/version-h) */

static const struct ks_command subcommands[] = {
	{ "check", cmd_check, &ks_check_argp, "report whether this host can be traced, and how" },
	{ "migrate", cmd_migrate, &ks_migrate_argp, "per-VM dirty-logging (live migration) overhead, live" },
	{ "stats", cmd_stats, &ks_stats_argp, "binary stats of every VM: values, rates, histograms" },
	{ "rmap", cmd_rmap, &ks_rmap_argp, "rmap memory per VM and memslot: allocated, avoided, when" },
	{ "export", cmd_export, &ks_export_argp, "serve stats and migrate aggregates for Prometheus" },
};
#define NR_COMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

const char *argp_program_version = "kvmscope " KS_VERSION " (revision " KS_REVISION ")";

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

static const struct argp global_argp = { options, parse_global, "COMMAND [ARGS...]", doc,
	ks_help_children, NULL, NULL };

/* `kvmscope completion bash`: not in the list of commands (make install
 * puts its output where bash finds it). */
static int completion(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "bash")) {
		ks_err("usage: kvmscope completion bash");
		return KS_EXIT_USAGE;
	}
	ks_completion_bash(stdout, &global_argp, subcommands, NR_COMMANDS);
	return fflush(stdout) || ferror(stdout) ? KS_EXIT_FAIL : KS_EXIT_OK;
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
	struct global_args g = { 0 };
	char name[64];

	ks_build = (struct ks_build){ KS_VERSION, KS_REVISION };
	/* argp names the program after argv[0] in --help and its errors: the
	 * same prefix as every other line, whatever path ran the binary. */
	argv[0] = "kvmscope";
	ks_log_init("kvmscope");
	/* argp exits with EX_USAGE (64) on bad usage; ours is 2 everywhere. */
	argp_err_exit_status = KS_EXIT_USAGE;
	if (argp_parse(&global_argp, argc, argv, ARGP_IN_ORDER, NULL, &g))
		return KS_EXIT_USAGE;
	if (!g.cmd_index)
		return KS_EXIT_USAGE;
	snprintf(name, sizeof(name), "kvmscope %.40s", argv[g.cmd_index]);
	if (!strcmp(argv[g.cmd_index], "completion")) {
		ks_log_init(name);
		return completion(argc - g.cmd_index, argv + g.cmd_index);
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		if (!strcmp(argv[g.cmd_index], subcommands[i].name)) {
			/* "kvmscope NAME: " before every line of the command,
			 * argp's included. */
			argv[g.cmd_index] = name;
			ks_log_init(name);
			return finish_output(subcommands[i].run(argc - g.cmd_index, argv + g.cmd_index));
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
