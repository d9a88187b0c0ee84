// SPDX-License-Identifier: GPL-2.0
#include "hooks/guestcost.h"

static const char *wp_why_not(enum ks_dirty_mech d)
{
	switch (d) {
	case KS_DIRTY_PML:
		return "PML logs written pages without write-protect faults (only huge mappings are "
		       "write-protected): the guest's write cost is its PML-full exits";
	case KS_DIRTY_WP_SHADOW:
		return "shadow paging: KVM fixes them in its slow path, which its pf_fast statistic "
		       "does not count (--fault-program counts them)";
	default:
		return "how this host logs dirty pages is not known, so KVM's pf_fast may miss "
		       "them (--fault-program counts them)";
	}
}

void ks_guest_figs(const struct ks_caps *caps, struct ks_guest_fig f[KS_NR_GUEST_FIGS])
{
	bool pml = caps->dirty == KS_DIRTY_PML;

	f[KS_G_FAULTS] = (struct ks_guest_fig){ "faults", true, caps->have[KS_M_FAULTS],
		!caps->have[KS_M_FAULTS] ? "no way in on this kernel (see the hooks)" :
		caps->fault_program ? "every guest fault, by a program on KVM's fault path" :
		"every guest fault, from KVM's per-vCPU statistics (pf_taken)" };
	f[KS_G_WP_FAULTS] = (struct ks_guest_fig){ "wp_faults", true, caps->wp_faults,
		!caps->wp_faults ? wp_why_not(caps->dirty) :
		caps->fault_program ? "write faults on present mappings, fast path or slow" :
		"write-protect faults KVM fixed in its fast path (pf_fast): all of them under "
		"EPT/NPT" };
	f[KS_G_PML_FULL] = (struct ks_guest_fig){ "pml_full_exits", pml, caps->pml_full,
		caps->pml_full ? "PML-full exits, one per 512 pages written, per VMM and vCPU "
		"(tracepoint kvm_pml_full)" :
		"the kvm_pml_full tracepoint cannot be used on this kernel ('kvmscope check' "
		"says why)" };
	f[KS_G_FAULT_NS] = (struct ks_guest_fig){ "fault_ns", true, caps->fault_latency,
		caps->fault_latency ? "time in KVM's fault handler, every fault timed" :
		"off (--fault-latency times every fault, at a cost to the guest)" };
}

void ks_guest_figs_text(FILE *out, const struct ks_caps *caps, const char *module,
			const char *params, const char *indent)
{
	struct ks_guest_fig f[KS_NR_GUEST_FIGS];

	fprintf(out, "%sdirty logging: %s", indent, ks_dirty_mech_what(caps->dirty));
	if (module && module[0])
		fprintf(out, " (%s%s%s)", module, params && params[0] ? " " : "",
			params ? params : "");
	fprintf(out, "\n");
	ks_guest_figs(caps, f);
	for (int i = 0; i < KS_NR_GUEST_FIGS; i++)
		if (f[i].applies)
			fprintf(out, "%s  %-15s %s: %s\n", indent, f[i].name,
				f[i].measured ? "measured" : "NOT MEASURED", f[i].note);
}

void ks_guest_figs_json(struct ks_json *j, const struct ks_caps *caps, const char *module)
{
	struct ks_guest_fig f[KS_NR_GUEST_FIGS];

	ks_json_str(j, "kvm_module", module ? module : "");
	ks_json_str(j, "dirty_logging", ks_dirty_mech_name(caps->dirty));
	ks_json_obj(j, "guest_cost");
	ks_guest_figs(caps, f);
	for (int i = 0; i < KS_NR_GUEST_FIGS; i++) {
		if (!f[i].applies)
			continue;
		ks_json_obj(j, f[i].name);
		ks_json_bool(j, "measured", f[i].measured);
		ks_json_str(j, "note", f[i].note);
		ks_json_close(j);
	}
	ks_json_close(j);
}
