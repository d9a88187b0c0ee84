// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope check: can this host be traced, and which way does each metric
 * come in? Probes the kernel, then proves it by loading and attaching the
 * programs it chose. Exit 0 only when tracing can work. The findings are
 * gathered here, then written as text (check_text.c) or JSON (check_json.c).
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/capability.h>
#include "commands.h"
#include "check/check.h"
#include "lib/help.h"
#include "lib/json.h"
#include "lib/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct check_args {
	bool no_load;
	bool json;
};

static const struct argp_option check_options[] = {
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	{ "no-load", 'n', NULL, 0, "Only probe; do not load and attach the programs", 0 },
	{ "json", 'j', NULL, 0, "One JSON record (docs/json.md) instead of the report", 0 },
	{ 0 },
};

static error_t parse_check(int key, char *arg, struct argp_state *state)
{
	struct check_args *a = state->input;

	(void)arg;
	switch (key) {
	case 'v':
		ks_verbose = true;
		return 0;
	case 'n':
		a->no_load = true;
		return 0;
	case 'j':
		a->json = true;
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* docs/reliability.md (Privileges) says why each is needed. */
static void privileges(const struct ks_probe *p, struct ks_check_privileges *v)
{
	v->root = geteuid() == 0;
	v->admin = ks_has_cap(CAP_SYS_ADMIN);
	v->bpf = ks_has_cap(CAP_BPF) || v->admin;
	v->perfmon = ks_has_cap(CAP_PERFMON) || v->admin;
	v->ptrace = ks_has_cap(CAP_SYS_PTRACE);
	v->dac = ks_has_cap(CAP_DAC_READ_SEARCH) || ks_has_cap(CAP_DAC_OVERRIDE);
	v->module = p->kvm_loaded && !p->kvm_builtin;
	v->ok = v->bpf && v->perfmon && (v->admin || !v->module);
	v->all_vmms = v->ptrace && v->dac;
}

/* Everything the report says, found before a line of it is written (the
 * progress line is gone by then). */
static void gather(struct ks_check *c, const struct check_args *a)
{
	struct ks_probe *p = &c->p;

	ks_progress("probing the kernel...");
	ks_probe_init(p);
	c->btf = p->vmlinux_btf != NULL;
	c->kvm_btf = p->kvm_btf != NULL;
	c->kvm_ok = p->kvm_loaded && (p->kvm_builtin || p->kvm_btf);
	/* tracefs is no problem: only the fentry ways use it, to tell a
	 * traceable function (available_filter_functions) before a load
	 * fails on it. */
	c->problems = !p->release[0] + !c->btf + !c->kvm_ok + !p->dev_kvm;
	privileges(p, &c->priv);
	c->problems += !c->priv.ok;
	c->problems += ks_hooks_choose(p, c->l.choices, 0);
	/* The proof: load and attach what was chosen. The loader may move a
	 * hook to its next way if a program will not attach; the report
	 * shows the final choice. */
	if (!a->no_load && !c->problems) {
		struct ks_loader_opts o = { 0 };

		c->load_ran = true;
		if (ks_loader_start(&c->l, p, &o)) {
			const char *why = ks_last_error();

			snprintf(c->load_error, sizeof(c->load_error), "%s", why ? why : "unknown");
			c->problems++;
		} else {
			c->load_ok = true;
			c->nr_progs = c->l.nr_progs;
			ks_loader_destroy(&c->l);
		}
	}
	/* What the ways as chosen (migrate's defaults) leave measured of the
	 * guest's cost on this host. */
	ks_caps_of(c->l.choices, &p->vendor, &c->caps);
	ks_progress_end();
}

const struct argp ks_check_argp = { check_options, parse_check, NULL,
	"Report whether this host can be traced: kernel, BTF, KVM, privileges "
	"and, for every metric, which way into the kernel is used.",
	ks_help_children, NULL, NULL };

int cmd_check(int argc, char **argv)
{
	struct check_args a = { 0 };
	struct ks_check *c;
	int status;

	if (argp_parse(&ks_check_argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ks_err("out of memory"), KS_EXIT_FAIL;
	ks_libbpf_logging();
	gather(c, &a);
	status = c->problems ? KS_EXIT_FAIL : KS_EXIT_OK;
	if (a.json) {
		if (ks_check_json(c)) {
			ks_err("output failed: %s", ks_output_error());
			status = KS_EXIT_FAIL;
		}
	} else {
		ks_check_text(c);
	}
	ks_probe_free(&c->p);
	free(c);
	return status;
}
