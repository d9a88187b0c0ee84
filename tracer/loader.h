/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one BPF lifecycle of kvmscope: open the skeleton, configure rodata
 * and autoload from the hook choices, load, attach; destroy on every path.
 */
#ifndef KS_LOADER_H
#define KS_LOADER_H

#include "hooks.h"

struct migrate_bpf;

struct ks_loader {
	struct migrate_bpf *skel;
	struct ks_choice choices[32];
	unsigned int nr_progs;      /* programs loaded and attached */
};

struct ks_loader_opts {
	unsigned int filter_tgid;   /* 0 = every VMM */
};

/* Chooses the hooks from the probe, then loads and attaches. On failure
 * prints one clear line, destroys what was built and returns -1. */
int ks_loader_start(struct ks_loader *l, const struct ks_probe *p,
		    const struct ks_loader_opts *o);
void ks_loader_destroy(struct ks_loader *l);

#endif
