// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "hooks/hooks.h"
#include "kvmscope.h"

/* Names of the series' tracepoints are fixed here and in kernel/patches;
 * programs for them land with the patched-kernel path of `migrate`. */

/* The programs at the ioctl system call's two ends: one pair for every
 * metric that comes in there (the loader's rodata says what they do), so
 * a system call runs one program at each end, whatever uses them. */
#define SYS_PROGS "tp_sys_enter_ioctl", "tp_sys_exit_ioctl"
/* What that way cannot say of a GET or CLEAR. */
#define SYS_DIRTY_LOG_LIMITS \
	"decoded from its arguments: the whole ioctl's duration, pages counted in BPF " \
	"from the VMM's bitmap; no time inside KVM (kvm_ns null), no write protection " \
	"by min_level"
const struct ks_hook ks_hooks[KS_NR_METRICS] = {
	[KS_M_LOG_FLAGS] = { "log_flags", "dirty logging turned on/off per memslot (KVM's lazy/eager decision)", true, {
		{ KS_WAY_NEW_TP, "kvm_mmu_slot_apply_flags",
		  { "fentry_set_memslot", "fexit_set_memslot", "tp_apply_flags" },
		  "duration from fentry/fexit on kvm_set_memslot" },
		{ KS_WAY_FENTRY, "kvm_set_memslot",
		  { "fentry_set_memslot", "fexit_set_memslot" },
		  "flags and duration only; the lazy/eager decision is inferred" },
		{ KS_WAY_SYSCALL, "sys_enter", { SYS_PROGS },
		  "KVM_SET_USER_MEMORY_REGION decoded from its arguments: flags and the whole "
		  "ioctl's duration; no time inside KVM (kvm_ns null), no lazy/eager decision, "
		  "failed updates not reported" },
	} },
	[KS_M_SLOT_WRITE_PROTECT] = { "slot_write_protect", "whole-slot write protection when logging starts", false, {
		{ KS_WAY_NEW_TP, "kvm_mmu_slot_write_protect", { "tp_slot_write_protect" },
		  "no duration (the whole memslot update is timed)" },
		{ KS_WAY_FENTRY, "kvm_mmu_slot_remove_write_access",
		  { "fentry_slot_write_protect", "fexit_slot_write_protect" },
		  "no count of pages changed" },
	} },
	/* Not required: kernels that refuse fentry have no way to it, and
	 * the dirty-log figures stand without it. */
	[KS_M_GFN_WRITE_PROTECT] = { "gfn_write_protect", "write protection by min_level at each clear", false, {
		{ KS_WAY_NEW_TP, "kvm_mmu_gfn_write_protect", { "tp_gfn_write_protect" }, NULL },
		{ KS_WAY_FENTRY, "kvm_mmu_slot_gfn_write_protect",
		  { "fexit_gfn_write_protect" }, NULL },
	} },
	[KS_M_GET_DIRTY_LOG] = { "get_dirty_log", "KVM_GET_DIRTY_LOG: duration and slot", true, {
		{ KS_WAY_NEW_TP, "kvm_dirty_log_get",
		  { "fentry_get_dirty_log", "tp_dirty_log_get" },
		  "start from fentry on kvm_get_dirty_log_protect; pages counted by KVM" },
		{ KS_WAY_FENTRY, "kvm_get_dirty_log_protect",
		  { "fentry_get_dirty_log", "fexit_get_dirty_log" },
		  "pages counted in BPF from the VMM's bitmap" },
		{ KS_WAY_SYSCALL, "sys_enter", { SYS_PROGS }, SYS_DIRTY_LOG_LIMITS },
	} },
	[KS_M_IOCTL_TIME] = { "ioctl_time", "dirty-log and memslot ioctls timed whole, as the VMM pays them", false, {
		{ KS_WAY_FENTRY, "__x64_sys_ioctl", { "fentry_sys_ioctl", "fexit_sys_ioctl" },
		  NULL },
		{ KS_WAY_TP, "sys_enter", { SYS_PROGS },
		  "every system call of the host runs a test for ioctl (a few ns)" },
		{ KS_WAY_FENTRY, "kvm_vm_ioctl", { "fentry_vm_ioctl", "fexit_vm_ioctl" },
		  NULL },
	} },
	[KS_M_CLEAR_DIRTY_LOG] = { "clear_dirty_log", "KVM_CLEAR_DIRTY_LOG: duration, slot and range", true, {
		{ KS_WAY_NEW_TP, "kvm_dirty_log_clear",
		  { "fentry_clear_dirty_log", "tp_dirty_log_clear" },
		  "start from fentry on kvm_clear_dirty_log_protect; pages counted by KVM" },
		{ KS_WAY_FENTRY, "kvm_clear_dirty_log_protect",
		  { "fentry_clear_dirty_log", "fexit_clear_dirty_log" },
		  "pages counted in BPF from the VMM's bitmap" },
		{ KS_WAY_SYSCALL, "sys_enter", { SYS_PROGS }, SYS_DIRTY_LOG_LIMITS },
	} },
	/* No program on the fault path by default: the dirty-log and memslot
	 * programs read KVM's own per-vCPU fault stats at each event, and the
	 * intervals take them from the stats fds (docs/overhead.md). A program
	 * per fault (--fault-program) also sees write-protect faults KVM fixes
	 * in its slow path; timing each fault (--fault-latency) takes one at
	 * both ends of the handler, which the guest feels (docs/performance.md). */
	[KS_M_FAULTS] = { "faults", "guest page faults handled by KVM's MMU (write-protect faults, latency)", true, {
		{ KS_WAY_KSTATS, "kvm_vcpu_stat", { NULL },
		  "KVM's per-vCPU stats read at each dirty-log ioctl; no program on the fault path. "
		  "wp_faults = write-protect faults fixed in KVM's fast path (pf_fast); no write "
		  "faults, no latency (--fault-program, --fault-latency)" },
		{ KS_WAY_TP, "kvm_page_fault", { "tp_page_fault" },
		  "a program on every fault: counts every write-protect fault, fast or slow path; "
		  "no latency (--fault-latency)" },
		{ KS_WAY_FENTRY, "kvm_mmu_page_fault",
		  { "fentry_page_fault", "fexit_page_fault" },
		  "counts and latency; costs the guest more per fault" },
	} },
	[KS_M_SPLITS] = { "splits", "huge pages split", false, {
		{ KS_WAY_TP, "kvm_mmu_split_huge_page", { "tp_split_huge_page" },
		  "attributed to the VMM process, not to one VM of it" },
	} },
	[KS_M_TLB_FLUSHES] = { "tlb_flushes", "remote TLB flushes", false, {
		{ KS_WAY_FENTRY, "kvm_flush_remote_tlbs", { "fentry_flush_remote_tlbs" }, NULL },
	} },
	[KS_M_RMAP_ALLOC] = { "rmap_alloc", "memslot rmap arrays allocated (lazy rmap allocation)", false, {
		{ KS_WAY_NEW_TP, "kvm_mmu_rmap_alloc", { "tp_rmap_alloc", "tp_rmap_skip" }, NULL },
		{ KS_WAY_FENTRY, "memslot_rmap_alloc", { "fentry_rmap_alloc", "fexit_rmap_alloc" },
		  "allocations only: bytes avoided are derived from the memslots" },
	} },
	[KS_M_STATS_READS] = { "stats_reads", "reads of the binary stats fd", false, {
		{ KS_WAY_NEW_TP, "kvm_stats_read", { "tp_stats_read" }, NULL },
		{ KS_WAY_FENTRY, "kvm_vm_stats_read", { "fexit_vm_stats_read", "fexit_vcpu_stats_read" },
		  "attributed to the reading process" },
	} },
	[KS_M_PAGE_STATS] = { "page_stats", "page-size statistics updates (pages mapped at 4K/2M/1G)", false, {
		{ KS_WAY_NEW_TP, "kvm_mmu_page_stats", { "tp_page_stats" }, NULL },
	} },
	[KS_M_MAP_GPA_RANGE] = { "map_gpa_range", "KVM_HC_MAP_GPA_RANGE hypercalls (SEV page status)", false, {
		{ KS_WAY_TP, "kvm_hypercall", { "tp_hypercall" }, NULL },
	} },
	[KS_M_MIGRATION_CONTROL] = { "migration_control", "MSR_KVM_MIGRATION_CONTROL writes", false, {
		{ KS_WAY_TP, "kvm_msr", { "tp_msr" }, NULL },
	} },
	/* Without these two, VMMs are found by looking through /proc every
	 * second (milliseconds of CPU each); with them, every 10 s. */
	[KS_M_VM_CREATE] = { "vm_create", "VMs created (a VMM found at once, without looking through /proc)", false, {
		{ KS_WAY_FENTRY, "kvm_dev_ioctl", { "fexit_dev_ioctl" }, NULL },
	} },
	[KS_M_VM_RELEASE] = { "vm_release", "VM fds closed (a VM its VMM closed let go at once)", false, {
		{ KS_WAY_FENTRY, "kvm_vm_release", { "fentry_vm_release" }, NULL },
	} },
	/* With PML the guest's cost of dirty logging is not faults but these
	 * exits. The tracepoint fires once per 512 pages written, not per
	 * exit, so it is on by default (docs/overhead.md). */
	[KS_M_PML_FULL] = { "pml_full", "PML-full exits (Intel PML: the guest's cost of dirty logging)", false, {
		{ KS_WAY_TP, "kvm_pml_full", { "tp_pml_full" },
		  "per VMM process and vCPU id, not per VM of a process that runs several; "
		  "per interval, not per dirty-log iteration" },
	} },
};

const char *ks_way_kind_name(enum ks_way_kind kind)
{
	switch (kind) {
	case KS_WAY_NEW_TP: return "series tracepoint";
	case KS_WAY_FENTRY: return "fentry/fexit";
	case KS_WAY_TP: return "tracepoint";
	case KS_WAY_SYSCALL: return "syscall tracepoint";
	case KS_WAY_KSTATS: return "KVM stats";
	}
	return "?";
}

unsigned int ks_way_opt_in(const struct ks_way *w)
{
	const struct ks_way *faults = ks_hooks[KS_M_FAULTS].ways;

	/* Only the programs on the guest's fault path are opt-in; timing
	 * every fault costs a program at both ends of the handler. */
	if (w < faults || w >= faults + KS_MAX_WAYS)
		return 0;
	return w->kind == KS_WAY_FENTRY ? KS_OPT_FAULT_LATENCY :
	       w->kind == KS_WAY_TP ? KS_OPT_FAULT_PROGRAM : 0;
}

const char *ks_way_opt_name(unsigned int opt)
{
	return opt == KS_OPT_FAULT_LATENCY ? "--fault-latency" :
	       opt == KS_OPT_FAULT_PROGRAM ? "--fault-program" : NULL;
}

int ks_hook_index(const char *name)
{
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		if (!strcmp(ks_hooks[i].metric, name))
			return (int)i;
	return -1;
}

bool ks_hook_uses(const struct ks_choice *choices, enum ks_metric m, enum ks_way_kind kind)
{
	return choices[m].way >= 0 && ks_hooks[m].ways[choices[m].way].kind == kind;
}

void ks_caps_of(const struct ks_choice *choices, const struct ks_vendor *v,
		struct ks_caps *caps)
{
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		caps->have[i] = choices[i].way >= 0;
	/* Without a program of its own (or without any way), faults come
	 * from KVM's per-vCPU stats; the loader falls back to a program only
	 * where those cannot be read. */
	caps->fault_program = caps->have[KS_M_FAULTS] &&
			      !ks_hook_uses(choices, KS_M_FAULTS, KS_WAY_KSTATS);
	caps->fault_latency = ks_hook_uses(choices, KS_M_FAULTS, KS_WAY_FENTRY);
	caps->page_stats = caps->have[KS_M_PAGE_STATS];
	caps->gfn_wp = caps->have[KS_M_GFN_WRITE_PROTECT];
	caps->vm_events = caps->have[KS_M_VM_CREATE] && caps->have[KS_M_VM_RELEASE];
	caps->rmap_avoided = ks_hook_uses(choices, KS_M_RMAP_ALLOC, KS_WAY_NEW_TP);
	caps->sys_decode = (ks_hook_uses(choices, KS_M_LOG_FLAGS, KS_WAY_SYSCALL) ? KS_SYS_MEMSLOT : 0) |
			   (ks_hook_uses(choices, KS_M_GET_DIRTY_LOG, KS_WAY_SYSCALL) ? KS_SYS_GET : 0) |
			   (ks_hook_uses(choices, KS_M_CLEAR_DIRTY_LOG, KS_WAY_SYSCALL) ? KS_SYS_CLEAR : 0);
	caps->dirty = v->dirty;
	/* KVM's pf_fast sees every write-protect fault only where KVM fixes
	 * them in its fast path (TDP); a program on the fault path sees them
	 * wherever they are fixed. */
	caps->wp_faults = caps->have[KS_M_FAULTS] &&
			  (caps->fault_program || v->dirty == KS_DIRTY_WP_TDP);
	/* Its one way is usable only on a PML host. */
	caps->pml_full = caps->have[KS_M_PML_FULL] && v->dirty == KS_DIRTY_PML;
}

/* The PML-full exits' ways need more of the host than their target in
 * BTF: kvm_pml_full is in the kvm module on AMD hosts too, and never fires
 * there. */
static bool needs_pml(const struct ks_way *w)
{
	const struct ks_way *pml = ks_hooks[KS_M_PML_FULL].ways;

	return w >= pml && w < pml + KS_MAX_WAYS;
}

static const char *way_unusable(const struct ks_probe *p, const struct ks_way *w,
				const char **where)
{
	if (needs_pml(w) && p->vendor.dirty != KS_DIRTY_PML)
		return "this host does not log dirty pages with PML (kvm_intel pml=Y)";
	if (w->kind == KS_WAY_KSTATS) {
		/* Read by the dirty-log programs (bpf/vcpu_stats.bpf.h): the
		 * stats must be in the kernel's BTF, and the VM's vCPUs in
		 * kvm->vcpu_array. */
		if (!ks_probe_member(p, w->target, "pf_fast", where) ||
		    !ks_probe_member(p, w->target, "pf_taken", NULL))
			return "pf_fast or pf_taken not in kernel BTF";
		if (!ks_probe_member(p, "kvm", "vcpu_array", NULL))
			return "struct kvm has no vcpu_array (kernel before 5.17)";
		return NULL;
	}
	if (w->kind == KS_WAY_FENTRY) {
		switch (ks_probe_func(p, w->target, where)) {
		case KS_FUNC_ABSENT:
			return "function not in kernel BTF (inlined or absent)";
		case KS_FUNC_NOT_TRACEABLE:
			return "function not traceable (not in available_filter_functions)";
		case KS_FUNC_FORBIDDEN:
			return ks_probe_fentry_why(p);
		case KS_FUNC_OK:
			break;
		}
	} else if (w->kind == KS_WAY_SYSCALL) {
		/* The programs read KVM's own structures (CO-RE): KVM's BTF
		 * must be there, not only the few KVM types vmlinux's BTF may
		 * carry without KVM loaded. */
		if (!p->kvm_builtin && !p->kvm_btf)
			return p->kvm_loaded ? "kvm module without BTF" : "KVM not loaded";
		/* The memslot of an ioctl is looked up in KVM's id hash
		 * (bpf/kvm_lookup.bpf.h). */
		if (!ks_probe_tracepoint(p, w->target, where) || !ks_probe_tracepoint(p, "sys_exit", NULL))
			return "raw_syscalls tracepoints absent from kernel BTF";
		if (!ks_probe_member(p, "kvm_memslots", "id_hash", NULL))
			return "struct kvm_memslots has no id_hash (kernel before 5.17)";
	} else if (!ks_probe_tracepoint(p, w->target, where)) {
		return w->kind == KS_WAY_NEW_TP ?
			"tracepoint absent (kernel without kvmscope's KVM series)" :
			"tracepoint absent from kernel BTF";
	}
	if (!w->progs[0])
		return "present, but no program of this build uses it yet";
	return NULL;
}

int ks_hooks_choose(const struct ks_probe *p, struct ks_choice *choices, unsigned int opts)
{
	/* The strongest option asked for picks its way first. */
	unsigned int want = (opts & KS_OPT_FAULT_LATENCY) ? KS_OPT_FAULT_LATENCY :
			    (opts & KS_OPT_FAULT_PROGRAM) ? KS_OPT_FAULT_PROGRAM : 0;
	int missing = 0;

	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		const struct ks_hook *h = &ks_hooks[i];
		struct ks_choice *c = &choices[i];

		c->way = -1;
		for (int w = 0; w < KS_MAX_WAYS && h->ways[w].target; w++) {
			c->where[w] = NULL;
			c->why_not[w] = way_unusable(p, &h->ways[w], &c->where[w]);
		}
		/* First the way the options ask for (an ordinary one without
		 * them); then, for --fault-latency, the fault program it
		 * implies; last, any, best first, as a fallback. */
		for (int pass = 0; pass < 3 && c->way < 0; pass++) {
			unsigned int pw = pass == 0 ? want :
					  want == KS_OPT_FAULT_LATENCY ? KS_OPT_FAULT_PROGRAM : want;

			for (int w = 0; w < KS_MAX_WAYS && h->ways[w].target && c->way < 0; w++)
				if (!c->why_not[w] && (pass == 2 || ks_way_opt_in(&h->ways[w]) == pw))
					c->way = w;
		}
		if (c->way < 0 && h->required)
			missing++;
	}
	return missing;
}

/* Appends to buf[0..len) at n; returns the new end, never past len - 1. */
static size_t add(char *buf, size_t len, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (n >= len - 1)
		return n;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	return k < 0 ? n : n + (size_t)k < len ? n + (size_t)k : len - 1;
}

const char *ks_hooks_missing(const struct ks_choice *choices, char *buf, size_t len)
{
	const char *why[KS_NR_METRICS];
	int way[KS_NR_METRICS];
	bool done[KS_NR_METRICS];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		const struct ks_hook *h = &ks_hooks[i];

		done[i] = !h->required || choices[i].way >= 0;
		way[i] = -1;
		/* The last ordinary way says most: the series' tracepoints come
		 * first, an opt-in way is not what the metric needs, and the
		 * system call decode is only the fallback of kernels that refuse
		 * fentry (whose reason the fentry way gives). */
		for (int w = 0; w < KS_MAX_WAYS && h->ways[w].target; w++)
			if (!ks_way_opt_in(&h->ways[w]) && h->ways[w].kind != KS_WAY_SYSCALL)
				way[i] = w;
		why[i] = way[i] >= 0 ? choices[i].why_not[way[i]] : NULL;
	}
	/* Metrics missing for the same reason (fentry forbidden, say) share
	 * it: "a (f), b (g): why; c (h): other". */
	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		bool first = true;

		if (done[i])
			continue;
		for (unsigned int k = i; k < KS_NR_METRICS; k++) {
			if (done[k] || (why[k] != why[i] && (!why[k] || !why[i] || strcmp(why[k], why[i]))))
				continue;
			done[k] = true;
			n = add(buf, len, n, "%s%s", first ? (n ? "; " : "") : ", ", ks_hooks[k].metric);
			if (way[k] >= 0)
				n = add(buf, len, n, " (%s)", ks_hooks[k].ways[way[k]].target);
			first = false;
		}
		if (why[i])
			n = add(buf, len, n, ": %s", why[i]);
	}
	return buf;
}
