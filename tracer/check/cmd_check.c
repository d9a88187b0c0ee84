// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope check: can this host be traced, and which way does each metric
 * come in? Probes the kernel, then proves it by loading and attaching the
 * programs it chose. Exit 0 only when tracing can work.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include "commands.h"
#include "hooks/guestcost.h"
#include "hooks/hooks.h"
#include "hooks/loader.h"
#include "lib/log.h"
#include "lib/probe.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct check_args {
	bool no_load;
};

static const struct argp_option check_options[] = {
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	{ "no-load", 'n', NULL, 0, "Only probe; do not load and attach the programs", 0 },
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
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* Prints one "name   value" line and counts it as a problem when !ok. */
static void item(int *problems, bool ok, const char *name, const char *fmt, const char *val)
{
	printf("  %-12s ", name);
	printf(fmt, val);
	printf("%s\n", ok ? "" : "   <- missing");
	if (!ok)
		(*problems)++;
}

/* docs/reliability.md (Privileges) says why each is needed. */
static int check_privileges(const struct ks_probe *p)
{
	bool root = geteuid() == 0;
	bool admin = ks_has_cap(CAP_SYS_ADMIN);
	bool bpf = ks_has_cap(CAP_BPF) || admin;
	bool perfmon = ks_has_cap(CAP_PERFMON) || admin;
	bool ptrace = ks_has_cap(CAP_SYS_PTRACE);
	bool dac = ks_has_cap(CAP_DAC_READ_SEARCH) || ks_has_cap(CAP_DAC_OVERRIDE);
	bool module = p->kvm_loaded && !p->kvm_builtin;
	bool ok = bpf && perfmon && (admin || !module);

	printf("  %-12s %s; CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s, "
	       "CAP_DAC_READ_SEARCH %s%s\n",
	       "privileges", root ? "root" : "not root", bpf ? "yes" : "no",
	       perfmon ? "yes" : "no", admin ? "yes" : "no", ptrace ? "yes" : "no",
	       dac ? "yes" : "no",
	       ok ? "" : module ? "   <- missing (CAP_BPF, CAP_PERFMON and, for KVM as a module, "
			 "CAP_SYS_ADMIN are needed to trace)" :
			 "   <- missing (CAP_BPF and CAP_PERFMON are needed to trace)");
	if (ok && !(ptrace && dac))
		printf("  %-12s without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only VMMs of this "
		       "user can be sampled\n", "");
	return ok ? 0 : 1;
}

static void print_hooks(const struct ks_loader *l)
{
	printf("\nhooks (metric: way in, best first; '*' = used):\n");
	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		const struct ks_hook *h = &ks_hooks[i];
		const struct ks_choice *c = &l->choices[i];

		printf("  %-20s %s%s\n", h->metric, h->what,
		       c->way < 0 ? (h->required ? "   <- UNAVAILABLE (required)" :
				      "   <- unavailable") : "");
		for (int w = 0; w < KS_MAX_WAYS && h->ways[w].target; w++) {
			const struct ks_way *way = &h->ways[w];
			/* A usable opt-in way left out: say what turns it on. */
			const char *opt = c->why_not[w] ? NULL : ks_way_opt_name(ks_way_opt_in(way));

			printf("    %c %-18s %-34s %s%s%s%s%s%s\n", w == c->way ? '*' : ' ',
			       ks_way_kind_name(way->kind), way->target,
			       c->why_not[w] ? c->why_not[w] : "ok",
			       !c->why_not[w] && c->where[w] ? " in " : "",
			       !c->why_not[w] && c->where[w] ? c->where[w] : "",
			       opt && w != c->way ? "; used with " : "",
			       opt && w != c->way ? opt : "",
			       opt && w != c->way ? " (off by default)" : "");
			if (w == c->way && way->limits)
				printf("      %-18s %s\n", "", way->limits);
		}
	}
}

int cmd_check(int argc, char **argv)
{
	static const struct argp argp = { check_options, parse_check, NULL,
		"Report whether this host can be traced: kernel, BTF, KVM, privileges "
		"and, for every metric, which way into the kernel is used.", NULL, NULL, NULL };
	struct check_args a = { 0 };
	struct ks_loader l;
	struct ks_caps caps;
	struct ks_probe p;
	int problems = 0, missing_hooks;
	char buf[256], load_buf[96];
	const char *load_msg = NULL;

	if (argp_parse(&argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	ks_libbpf_logging();
	ks_probe_init(&p);

	printf("kvmscope check\n");
	item(&problems, p.release[0], "kernel", "%s", p.release[0] ? p.release : "unknown");
	item(&problems, p.vmlinux_btf, "BTF", "%s",
	     p.vmlinux_btf ? "vmlinux: yes" : "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
	if (!p.kvm_loaded)
		snprintf(buf, sizeof(buf), "not loaded (modprobe kvm and kvm_amd or kvm_intel)");
	else if (p.kvm_builtin)
		snprintf(buf, sizeof(buf), "built into the kernel%s%s",
			 p.vendor.module[0] ? ", " : "", p.vendor.module);
	else
		snprintf(buf, sizeof(buf), "module kvm%s%s; module BTF: %s",
			 p.vendor.module[0] ? " + " : "", p.vendor.module,
			 p.kvm_btf ? "yes" : "NO (CONFIG_DEBUG_INFO_BTF_MODULES)");
	item(&problems, p.kvm_loaded && (p.kvm_builtin || p.kvm_btf), "KVM", "%s", buf);
	item(&problems, p.dev_kvm, "/dev/kvm", "%s",
	     p.dev_kvm ? "present" : "absent: no VM can run on this host");
	item(&problems, p.tracefs[0], "tracefs", "%s",
	     p.tracefs[0] ? p.tracefs : "not mounted (mount -t tracefs none /sys/kernel/tracing)");
	problems += check_privileges(&p);

	memset(&l, 0, sizeof(l));
	missing_hooks = ks_hooks_choose(&p, l.choices, 0);
	problems += missing_hooks;
	/* The proof: load and attach what was chosen. The loader may move a
	 * hook to its next way if a program will not attach; the table below
	 * shows the final choice. */
	if (!a.no_load && !problems) {
		struct ks_loader_opts o = { 0 };

		if (ks_loader_start(&l, &p, &o)) {
			load_msg = "FAILED (see the error above)";
			problems++;
		} else {
			snprintf(load_buf, sizeof(load_buf), "%u programs loaded and attached", l.nr_progs);
			load_msg = load_buf;
			ks_loader_destroy(&l);
		}
	}
	print_hooks(&l);
	if (load_msg)
		printf("\nload test: %s\n", load_msg);
	/* With the ways as chosen above (migrate's defaults). */
	ks_caps_of(l.choices, &p.vendor, &caps);
	printf("\nguest cost of dirty logging on this host (migrate's defaults):\n");
	ks_guest_figs_text(stdout, &caps, p.vendor.module, p.vendor.params, "  ");
	ks_probe_free(&p);

	if (problems) {
		printf("\nresult: tracing cannot work here (%d problem%s above)\n",
		       problems, problems == 1 ? "" : "s");
		return KS_EXIT_FAIL;
	}
	printf("\nresult: tracing can work\n");
	return KS_EXIT_OK;
}
