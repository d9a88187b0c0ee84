/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands: each takes its own argv (argv[0] = "kvmscope NAME") and
 * returns the process exit status; its argp is public so that the shell
 * completion can be generated from the same tables (completion.c). */
#ifndef KS_COMMANDS_H
#define KS_COMMANDS_H

#include <argp.h>
#include <stdio.h>

/* Exit statuses shared by every subcommand (docs/usage.md). */
enum {
	KS_EXIT_OK = 0,
	KS_EXIT_FAIL = 1,        /* the run failed, or check found something missing */
	KS_EXIT_USAGE = 2,       /* bad command line */
};

int cmd_check(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_rmap(int argc, char **argv);
int cmd_export(int argc, char **argv);

extern const struct argp ks_check_argp, ks_migrate_argp, ks_stats_argp, ks_rmap_argp,
	ks_export_argp;

struct ks_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const struct argp *argp;
	const char *summary;
};

/* A bash completion script for kvmscope: its global options (argp),
 * commands and each command's options, from their argp tables (argp's
 * own --help, --usage and --version included). */
void ks_completion_bash(FILE *f, const struct argp *global, const struct ks_command *cmds,
			unsigned int ncmds);

#endif
