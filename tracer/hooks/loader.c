// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "hooks/fault_slots.h"
#include "kvmscope.h"
#include "hooks/loader.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "migrate.skel.h"

_Static_assert(sizeof(((struct ks_loader *)0)->choices) / sizeof(struct ks_choice) >= 12,
	       "ks_loader.choices must hold every hook");

_Static_assert(KS_MAX_VMS <= KS_MAX_VMS_LIMIT, "the default --max-vms must be accepted");

error_t ks_loader_parse_max_vms(const char *arg, struct argp_state *state,
				struct ks_loader_opts *o)
{
	char err[160];
	uint64_t n;

	if (ks_parse_u64(arg, 1, KS_MAX_VMS_LIMIT, &n, err, sizeof(err)))
		argp_error(state, "--max-vms: %s", err);
	o->max_vms = (unsigned int)n;
	return 0;
}

error_t ks_loader_parse_fault_opt(int key, struct ks_loader_opts *o)
{
	if (key == KS_OPT_FAULT_PROGRAM_KEY)
		o->fault_opts |= KS_OPT_FAULT_PROGRAM;
	else if (key == KS_OPT_FAULT_LATENCY_KEY)
		o->fault_opts |= KS_OPT_FAULT_LATENCY | KS_OPT_FAULT_PROGRAM;
	else
		return ARGP_ERR_UNKNOWN;
	return 0;
}

unsigned int ks_loader_max_vms(const struct ks_loader_opts *o)
{
	return o->max_vms ? o->max_vms : KS_MAX_VMS;
}

static const char *hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return " (needs root, or CAP_BPF and CAP_PERFMON)";
	case ENOENT:
	case ESRCH:
		return " (a target function or tracepoint is missing; see 'kvmscope check')";
	case EINVAL:
		return " (kernel rejected the program; run with -v for the verifier log)";
	default:
		return "";
	}
}

/* The hook and way a program belongs to under the current choices. */
static bool hook_of(const struct ks_loader *l, const char *prog, unsigned int *hook)
{
	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		const struct ks_choice *c = &l->choices[i];

		if (c->way < 0)
			continue;
		for (int k = 0; k < KS_MAX_PROGS; k++) {
			const char *name = ks_hooks[i].ways[c->way].progs[k];

			if (name && !strcmp(name, prog)) {
				*hook = i;
				return true;
			}
		}
	}
	return false;
}

/* Is this program part of a chosen way? */
static bool chosen(const struct ks_loader *l, const char *prog)
{
	unsigned int hook;

	return hook_of(l, prog, &hook);
}

static void detach_all(struct ks_loader *l)
{
	for (unsigned int i = 0; i < KS_LOADER_MAX_LINKS; i++) {
		bpf_link__destroy(l->links[i]);
		l->links[i] = NULL;
	}
	migrate_bpf__destroy(l->skel);
	l->skel = NULL;
	l->nr_progs = 0;
}

/* One open → configure → load → attach pass. Returns 0, -1 on a hard error,
 * or 1 after moving a hook whose program would not attach to its next way. */
static int try_start(struct ks_loader *l, const struct ks_loader_opts *o)
{
	struct bpf_program *prog;
	struct ks_caps caps;
	unsigned int n = 0, nr_on = 0;
	int err;

	l->skel = migrate_bpf__open();
	if (!l->skel)
		return ks_err("cannot open BPF object: %s", strerror(errno));
	l->skel->rodata->filter_tgid = o->filter_tgid;
	/* The faults metric's way decides where the dirty-log programs take
	 * the fault totals from, and whether the fault slots are used. */
	l->fault_program = !ks_hook_uses(l->choices, KS_M_FAULTS, KS_WAY_KSTATS);
	l->skel->rodata->fault_source = l->fault_program ? KS_FAULTS_PROGRAM : KS_FAULTS_VCPU_STAT;
	/* The system call programs decode the ioctls whose metric comes in
	 * there, and time the events KVM's functions hold when ioctl_time
	 * does (without it they run only to decode). */
	ks_caps_of(l->choices, &l->vendor, &caps);
	l->skel->rodata->sys_decode = caps.sys_decode;
	l->skel->rodata->sys_time = ks_hook_uses(l->choices, KS_M_IOCTL_TIME, KS_WAY_TP);
	if (ks_fault_slots_size(l->skel, ks_loader_max_vms(o), l->fault_program,
				(o->fault_opts & KS_OPT_FAULT_LATENCY) != 0,
				l->choices[KS_M_PML_FULL].way >= 0))
		return -1;

	bpf_object__for_each_program(prog, l->skel->obj) {
		bool on = chosen(l, bpf_program__name(prog));

		bpf_program__set_autoload(prog, on);
		nr_on += on;
		ks_debug("program %s: %s", bpf_program__name(prog), on ? "load" : "skip");
	}
	/* The verifier takes seconds over these on a slow machine. */
	ks_progress("loading %u BPF programs...", nr_on);
	err = migrate_bpf__load(l->skel);
	if (err)
		return ks_err("cannot load BPF programs: %s%s", strerror(-err), hint(-err));
	if (ks_fault_slots_init(l->skel))
		return -1;

	bpf_object__for_each_program(prog, l->skel->obj) {
		const char *name = bpf_program__name(prog);
		struct bpf_link *link;
		unsigned int h;
		int w;

		if (!bpf_program__autoload(prog))
			continue;
		ks_progress("attaching BPF programs: %u of %u...", l->nr_progs + 1, nr_on);
		link = bpf_program__attach(prog);
		if (link) {
			if (n < KS_LOADER_MAX_LINKS)
				l->links[n++] = link;
			l->nr_progs++;
			continue;
		}
		err = errno;
		if (!hook_of(l, name, &h))
			return ks_err("cannot attach %s: %s", name, strerror(err));
		w = l->choices[h].way;
		snprintf(l->attach_why[h][w], sizeof(l->attach_why[h][w]),
			 "attach failed: %s", err == 524 ? "not supported by this kernel" : strerror(err));
		l->choices[h].why_not[w] = l->attach_why[h][w];
		ks_debug("%s: %s; trying the next way for %s", name, l->attach_why[h][w],
			 ks_hooks[h].metric);
		l->choices[h].way = -1;
		/* Any way still usable (the failed one now says why not). */
		for (int next = 0; next < KS_MAX_WAYS && ks_hooks[h].ways[next].target; next++) {
			if (!l->choices[h].why_not[next]) {
				l->choices[h].way = next;
				break;
			}
		}
		if (l->choices[h].way < 0 && ks_hooks[h].required)
			return ks_err("cannot attach %s (%s), and %s has no other way in",
				      name, l->attach_why[h][w], ks_hooks[h].metric);
		return 1;
	}
	return 0;
}

int ks_loader_start(struct ks_loader *l, struct ks_probe *p,
		    const struct ks_loader_opts *o)
{
	memset(l, 0, sizeof(*l));
	if (ks_require_tracing_privileges(p->kvm_loaded && !p->kvm_builtin))
		return -1;
	if (!p->vmlinux_btf)
		return ks_err("kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
	if (ks_hooks_choose(p, l->choices, o->fault_opts)) {
		char missing[512];

		return ks_err("kernel lacks hooks kvmscope needs: %s; 'kvmscope check' shows every "
			      "way in", ks_hooks_missing(l->choices, missing, sizeof(missing)));
	}
	ks_probe_release_btf(p);

	/* Each retry drops one way for good, so this ends. */
	for (unsigned int attempt = 0; attempt <= KS_NR_METRICS * KS_MAX_WAYS; attempt++) {
		int rc = try_start(l, o);

		if (rc == 0) {
			ks_progress_end();
			l->vendor = p->vendor;
			ks_caps_of(l->choices, &l->vendor, &l->caps);
			/* Asked for, but no fault-path way could be used: say so
			 * (the faults come from KVM's stats instead). */
			if ((o->fault_opts & KS_OPT_FAULT_PROGRAM) && !l->fault_program)
				ks_warn("%s: no program can run on this kernel's fault path; faults "
					"come from KVM's per-vCPU stats (see 'kvmscope check')",
					ks_way_opt_name((o->fault_opts & KS_OPT_FAULT_LATENCY) ?
							KS_OPT_FAULT_LATENCY : KS_OPT_FAULT_PROGRAM));
			return 0;
		}
		detach_all(l);
		if (rc < 0) {
			ks_progress_end();
			return -1;
		}
	}
	return ks_err("internal error: could not settle on programs to attach");
}

void ks_loader_destroy(struct ks_loader *l)
{
	detach_all(l);
}
