// SPDX-License-Identifier: GPL-2.0
/* `kvmscope check`'s report for a person (docs/usage.md shows it). */
#include <stdio.h>
#include "check/check.h"
#include "hooks/guestcost.h"

/* One "name   value" line, marked when it is what stops tracing. */
static void item(bool ok, const char *name, const char *val)
{
	printf("  %-12s %s%s\n", name, val, ok ? "" : "   <- missing");
}

/* docs/reliability.md (Privileges) says why each is needed. */
static void privileges(const struct ks_check_privileges *v)
{
	printf("  %-12s %s; CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s, "
	       "CAP_DAC_READ_SEARCH %s%s\n",
	       "privileges", v->root ? "root" : "not root", v->bpf ? "yes" : "no",
	       v->perfmon ? "yes" : "no", v->admin ? "yes" : "no", v->ptrace ? "yes" : "no",
	       v->dac ? "yes" : "no",
	       v->ok ? "" : v->module ? "   <- missing (CAP_BPF, CAP_PERFMON and, for KVM as a module, "
			 "CAP_SYS_ADMIN are needed to trace)" :
			 "   <- missing (CAP_BPF and CAP_PERFMON are needed to trace)");
	if (v->ok && !v->all_vmms)
		printf("  %-12s without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only VMMs of this "
		       "user can be sampled\n", "");
}

static void hooks(const struct ks_loader *l)
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

void ks_check_text(const struct ks_check *c)
{
	const struct ks_probe *p = &c->p;
	char buf[256];

	printf("kvmscope check\n");
	item(p->release[0], "kernel", p->release[0] ? p->release : "unknown");
	item(c->btf, "BTF", c->btf ? "vmlinux: yes" : "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
	if (!p->kvm_loaded)
		snprintf(buf, sizeof(buf), "not loaded (modprobe kvm and kvm_amd or kvm_intel)");
	else if (p->kvm_builtin)
		snprintf(buf, sizeof(buf), "built into the kernel%s%s",
			 p->vendor.module[0] ? ", " : "", p->vendor.module);
	else
		snprintf(buf, sizeof(buf), "module kvm%s%s; module BTF: %s",
			 p->vendor.module[0] ? " + " : "", p->vendor.module,
			 c->kvm_btf ? "yes" : "NO (CONFIG_DEBUG_INFO_BTF_MODULES)");
	item(c->kvm_ok, "KVM", buf);
	item(p->dev_kvm, "/dev/kvm", p->dev_kvm ? "present" : "absent: no VM can run on this host");
	item(true, "tracefs", p->tracefs[0] ? p->tracefs :
	     "not mounted: functions are not checked for traceability before loading "
	     "(mount -t tracefs none /sys/kernel/tracing)");
	privileges(&c->priv);
	hooks(&c->l);
	if (c->load_ran) {
		if (c->load_ok)
			printf("\nload test: %u programs loaded and attached\n", c->nr_progs);
		else
			printf("\nload test: FAILED (see the error above)\n");
	}
	printf("\nguest cost of dirty logging on this host (migrate's defaults):\n");
	ks_guest_figs_text(stdout, &c->caps, p->vendor.module, p->vendor.params, "  ");
	if (c->problems)
		printf("\nresult: tracing cannot work here (%d problem%s above)\n",
		       c->problems, c->problems == 1 ? "" : "s");
	else
		printf("\nresult: tracing can work\n");
}
