// SPDX-License-Identifier: GPL-2.0
/*
 * `kvmscope completion bash`: the bash completion script, written from the
 * same argp tables that parse the command line, so it cannot offer an
 * option that is not there or miss one that is (tests/unit/test-docs.sh
 * runs it for every option --help lists).
 *
 * The script holds one table per command: its options, each with the kind
 * of value it takes after '=' ("-p=PID"); the values themselves are
 * completed by kind: PID (the processes that hold a KVM VM), FILE (paths).
 */
#include <ctype.h>
#include <stdbool.h>
#include "commands.h"

/* What argp adds to every parser: -?, --help, --usage, and -V, --version
 * (argp_program_version is set); and -h (lib/help.c). */
static const char builtin[] = " -h -? --help --usage -V --version";

/* A word of the table for each name of each option of argp and its
 * children, depth first. -h is hidden (help.c) but offered: it is what a
 * user types. */
static void table(FILE *f, const struct argp *argp)
{
	const char *arg = NULL;

	for (const struct argp_option *o = argp->options; o && (o->name || o->key || o->doc); o++) {
		bool is_short = o->key > 0 && o->key < 128 && isgraph(o->key);

		if (o->flags & OPTION_DOC)
			continue;
		/* An alias takes the value of the option before it. */
		if (!(o->flags & OPTION_ALIAS))
			arg = o->flags & OPTION_ARG_OPTIONAL ? NULL : o->arg;
		if (is_short && o->key == 'h')
			continue;  /* in builtin */
		if (is_short)
			fprintf(f, " -%c%s%s", o->key, arg ? "=" : "", arg ? arg : "");
		if (o->name)
			fprintf(f, " --%s%s%s", o->name, arg ? "=" : "", arg ? arg : "");
	}
	for (const struct argp_child *c = argp->children; c && c->argp; c++)
		table(f, c->argp);
}

static const char script_head[] =
	"# bash completion for kvmscope, written by `kvmscope completion bash`\n"
	"# from kvmscope's own option tables.\n"
	"\n"
	"# _kvmscope_table COMMAND: its options; OPTION=KIND for one that takes a\n"
	"# value. No COMMAND: kvmscope's own options, before the command.\n"
	"_kvmscope_table() {\n"
	"\tcase $1 in\n";

static const char script_tail[] =
	"\n"
	"_kvmscope() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= i w kind= words=() opts=()\n"
	"\t# The command: the first word that is not an option (kvmscope's own\n"
	"\t# options take no value).\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tcase ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
	"\tdone\n"
	"\t# The option before the word, also as --opt=VALUE (bash splits at '=').\n"
	"\tif [ \"$cur\" = = ]; then\n"
	"\t\tprev=${COMP_WORDS[COMP_CWORD-1]} cur=\n"
	"\telif [ \"$COMP_CWORD\" -ge 2 ] && [ \"${COMP_WORDS[COMP_CWORD-1]}\" = = ]; then\n"
	"\t\tprev=${COMP_WORDS[COMP_CWORD-2]}\n"
	"\telif [ \"$COMP_CWORD\" -ge 1 ]; then\n"
	"\t\tprev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tfi\n"
	"\tread -ra words <<<\"$(_kvmscope_table \"$cmd\")\"\n"
	"\tfor w in \"${words[@]}\"; do\n"
	"\t\topts+=(\"${w%=*}\")\n"
	"\t\t[ -n \"$cmd\" ] && [ \"${w%=*}\" = \"$prev\" ] && [ \"$w\" != \"$prev\" ] && kind=${w#*=}\n"
	"\tdone\n"
	"\tCOMPREPLY=()\n"
	"\tcase $kind in\n"
	"\tPID)\n"
	"\t\t# Processes that hold a VM (readable: this user's, or all as root).\n"
	"\t\tw=$(find /proc/[0-9]*/fd -lname 'anon_inode:kvm-vm' 2>/dev/null | cut -d/ -f3 | sort -un)\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"$w\" -- \"$cur\")\n"
	"\t\treturn ;;\n"
	"\tFILE)\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
	"\t\treturn ;;\n"
	"\t?*)\n"
	"\t\treturn ;;  # a number, a duration, an address: typed\n"
	"\tesac\n"
	"\tif [ -z \"$cmd\" ] && [[ $cur != -* ]]; then\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"$(_kvmscope_commands)\" -- \"$cur\")\n"
	"\telse\n"
	"\t\t# Each option as its own word: '-?' must not be taken for a pattern.\n"
	"\t\tfor w in \"${opts[@]}\"; do\n"
	"\t\t\t[[ $w == \"$cur\"* ]] && COMPREPLY+=(\"$w\")\n"
	"\t\tdone\n"
	"\tfi\n"
	"}\n"
	"complete -F _kvmscope kvmscope\n";

void ks_completion_bash(FILE *f, const struct argp *global, const struct ks_command *cmds,
			unsigned int ncmds)
{
	fputs(script_head, f);
	fputs("\t'')\n\t\techo '", f);
	table(f, global);
	fprintf(f, "%s' ;;\n", builtin);
	for (unsigned int i = 0; i < ncmds; i++) {
		fprintf(f, "\t%s)\n\t\techo '", cmds[i].name);
		table(f, cmds[i].argp);
		fprintf(f, "%s' ;;\n", builtin);
	}
	fputs("\tesac\n}\n\n_kvmscope_commands() {\n\techo '", f);
	for (unsigned int i = 0; i < ncmds; i++)
		fprintf(f, "%s%s", i ? " " : "", cmds[i].name);
	fputs("'\n}\n", f);
	fputs(script_tail, f);
}
