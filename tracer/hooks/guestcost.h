/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which of the guest's dirty-logging costs kvmscope measures on this host,
 * from the ways attached and how the host logs dirty pages (ks_caps). One
 * table, so `kvmscope check`, migrate's header and its JSON `attached`
 * record say the same; a figure not measured is reported as null or "not
 * measured", never 0 (docs/overhead.md, "Hosts and vendors").
 */
#ifndef KS_GUESTCOST_H
#define KS_GUESTCOST_H

#include <stdbool.h>
#include <stdio.h>
#include "hooks/hooks.h"
#include "lib/json.h"

enum ks_guest_fig_id {
	KS_G_FAULTS,        /* guest faults KVM's MMU handled */
	KS_G_WP_FAULTS,     /* write-protect faults: the write cost under write protection */
	KS_G_PML_FULL,      /* PML-full exits: the write cost under PML */
	KS_G_FAULT_NS,      /* time in KVM's fault handler */
	KS_NR_GUEST_FIGS
};

struct ks_guest_fig {
	const char *name;   /* as in the JSON records */
	bool applies;       /* a figure of this host's mechanism (PML-full exits: PML hosts) */
	bool measured;
	const char *note;   /* measured: what it counts; else why not, and what would */
};

void ks_guest_figs(const struct ks_caps *caps, struct ks_guest_fig f[KS_NR_GUEST_FIGS]);
/* "  dirty logging  MECHANISM (module, params)" and a line per figure that
 * applies, each starting with indent. */
void ks_guest_figs_text(FILE *out, const struct ks_caps *caps, const char *module,
			const char *params, const char *indent);
/* "kvm_module", "dirty_logging" and "guest_cost": {figure: {measured,
 * note}} for the figures that apply, into an open JSON object. */
void ks_guest_figs_json(struct ks_json *j, const struct ks_caps *caps, const char *module);

#endif
