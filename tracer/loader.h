/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one BPF lifecycle of kvmscope: open the skeleton, configure rodata
 * and autoload from the hook choices, load, attach; destroy on every path.
 */
#ifndef KS_LOADER_H
#define KS_LOADER_H

#include "hooks.h"

struct migrate_bpf;

#define KS_LOADER_MAX_LINKS 64

struct ks_loader {
	struct migrate_bpf *skel;
	struct ks_choice choices[32];
	unsigned int nr_progs;      /* programs loaded and attached */
	struct bpf_link *links[KS_LOADER_MAX_LINKS];
	/* Why a way that the probe found usable failed to attach anyway. */
	char attach_why[32][KS_MAX_WAYS][96];
};

struct ks_loader_opts {
	unsigned int filter_tgid;   /* 0 = every VMM */
	bool fault_latency;         /* time every fault (--fault-latency): the opt-in ways */
	unsigned int max_vms;       /* VM table size; 0 = KS_MAX_VMS */
};

/* Chooses the hooks from the probe, then loads and attaches. A way that
 * loads but cannot attach (e.g. fexit on a function with more arguments
 * than the kernel's trampoline takes) is dropped for the next way of its
 * hook, and everything is loaded again. On failure prints one clear line,
 * destroys what was built and returns -1. */
int ks_loader_start(struct ks_loader *l, const struct ks_probe *p,
		    const struct ks_loader_opts *o);
void ks_loader_destroy(struct ks_loader *l);

#endif
