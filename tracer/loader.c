// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "common/log.h"
#include "migrate.skel.h"

_Static_assert(sizeof(((struct ks_loader *)0)->choices) / sizeof(struct ks_choice) >= 12,
	       "ks_loader.choices must hold every hook");

/* Is this program part of a chosen way? */
static bool chosen(const struct ks_loader *l, const char *prog)
{
	for (unsigned int i = 0; i < ks_nr_hooks; i++) {
		const struct ks_choice *c = &l->choices[i];

		if (c->way < 0)
			continue;
		for (int k = 0; k < KS_MAX_PROGS; k++) {
			const char *name = ks_hooks[i].ways[c->way].progs[k];

			if (name && !strcmp(name, prog))
				return true;
		}
	}
	return false;
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

int ks_loader_start(struct ks_loader *l, const struct ks_probe *p,
		    const struct ks_loader_opts *o)
{
	struct bpf_program *prog;
	int err;

	memset(l, 0, sizeof(*l));
	if (ks_nr_hooks > sizeof(l->choices) / sizeof(l->choices[0]))
		return ks_err("internal error: too many hooks");
	if (!p->vmlinux_btf)
		return ks_err("kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load");
	if (ks_hooks_choose(p, l->choices))
		return ks_err("kernel lacks hooks kvmscope needs; run 'kvmscope check' for the list");

	l->skel = migrate_bpf__open();
	if (!l->skel)
		return ks_err("cannot open BPF object: %s", strerror(errno));
	l->skel->rodata->filter_tgid = o->filter_tgid;

	bpf_object__for_each_program(prog, l->skel->obj) {
		bool on = chosen(l, bpf_program__name(prog));

		bpf_program__set_autoload(prog, on);
		if (on)
			l->nr_progs++;
		ks_debug("program %s: %s", bpf_program__name(prog), on ? "load" : "skip");
	}

	err = migrate_bpf__load(l->skel);
	if (err) {
		ks_err("cannot load BPF programs: %s%s", strerror(-err), hint(-err));
		goto fail;
	}
	err = migrate_bpf__attach(l->skel);
	if (err) {
		ks_err("cannot attach BPF programs: %s%s", strerror(-err), hint(-err));
		goto fail;
	}
	return 0;
fail:
	ks_loader_destroy(l);
	return -1;
}

void ks_loader_destroy(struct ks_loader *l)
{
	migrate_bpf__destroy(l->skel);
	l->skel = NULL;
}
