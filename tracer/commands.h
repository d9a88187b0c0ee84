/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands: each takes its own argv (argv[0] = subcommand name) and
 * returns the process exit status. */
#ifndef KS_COMMANDS_H
#define KS_COMMANDS_H

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

#endif
