// SPDX-License-Identifier: GPL-2.0
/*
 * What `kvmscope export` exposes (docs/usage.md lists it):
 *  - every binary stat of every VM and vCPU: kvmscope_vm_NAME and
 *    kvmscope_vcpu_NAME, in base units (_seconds, _bytes), cumulative
 *    stats as counters (_total), instant and peak ones as gauges, KVM's
 *    linear and log histograms as Prometheus histograms;
 *  - the migrate aggregates from the BPF programs, per VM;
 *  - the exporter's own state (build, BPF attached, events lost, scrapes) and
 *    cost (process_*, as Prometheus' client libraries define them).
 * Labels: pid and comm of the VMM, vm (the stats fd's id, "kvm-PID"), vcpu.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "export/export.h"
#include "hooks/guestcost.h"
#include "hooks/hooks.h"
#include "lib/build.h"

/* ns to s by division: 3 / 1e9 is the double nearest 3e-9 and prints as
 * "3e-09"; 3 * 1e-9 is one ulp off and prints as 3.0000000000000004e-09. */
#define SECONDS(ns) ((double)(ns) / 1e9)

struct vm_labels {
	char pid[16], vcpu[16], vm[32];
	struct ks_prom_label l[5];   /* pid, comm, vm, then vcpu or op/level */
};

static void vm_labels(struct vm_labels *v, const struct ks_vm *vm)
{
	snprintf(v->pid, sizeof(v->pid), "%d", (int)vm->pid);
	v->l[0] = (struct ks_prom_label){ "pid", v->pid };
	v->l[1] = (struct ks_prom_label){ "comm", vm->comm };
	v->l[2] = (struct ks_prom_label){ "vm", vm->have_stats && vm->st.vm.schema.id[0] ?
					  vm->st.vm.schema.id : NULL };
	if (!v->l[2].value) {
		/* KVM's own id for the VM, as its stats fd would say. */
		snprintf(v->vm, sizeof(v->vm), "kvm-%d", (int)vm->pid);
		v->l[2].value = v->vm;
	}
}

static bool strip(char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	if (n > k && !strcmp(s + n - k, suffix)) {
		s[n - k] = '\0';
		return true;
	}
	return false;
}

/* The family of binary stat d: kvmscope_{vm,vcpu}_NAME[_UNIT]. A unit
 * already in the name ("halt_wait_ns") gives way to the base unit. */
static struct ks_prom_family *stat_family(struct ks_prom *w, const char *scope,
					  const struct ks_stat_desc *d)
{
	static const char *const time_suffixes[] = { "_ns", "_us", "_ms", "_seconds", "_time" };
	char base[KS_STATS_MAX_NAME], name[200], help[300];
	const char *unit = NULL;
	struct ks_prom_family *f;
	enum ks_prom_type type;

	ks_prom_metric_name(base, sizeof(base), d->name);
	switch (d->unit) {
	case KS_UNIT_SECONDS:
		for (size_t i = 0; i < sizeof(time_suffixes) / sizeof(time_suffixes[0]); i++)
			if (strip(base, time_suffixes[i]))
				break;
		unit = "seconds";
		break;
	case KS_UNIT_BYTES:
		strip(base, "_bytes");
		unit = "bytes";
		break;
	case KS_UNIT_CYCLES:
		strip(base, "_cycles");
		unit = "cycles";
		break;
	default:
		break;
	}
	switch (d->type) {
	case KS_STAT_CUMULATIVE:
		type = KS_PROM_COUNTER;
		strip(base, "_total");
		break;
	case KS_STAT_INSTANT:
	case KS_STAT_PEAK:
		type = KS_PROM_GAUGE;
		break;
	default:
		type = KS_PROM_HISTOGRAM;
		break;
	}
	snprintf(name, sizeof(name), "kvmscope_%s_%s%s%s", scope, base, unit ? "_" : "",
		 unit ? unit : "");
	f = ks_prom_lookup(w, name);
	if (f)
		return f;
	snprintf(help, sizeof(help), "KVM %s binary statistic %s (%s, unit %s, as read from the stats fd%s)",
		 scope, d->name, ks_stat_type_name(d->type), ks_stat_unit_name(d->unit),
		 d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST ?
		 "; no _sum: KVM keeps none" : "");
	return ks_prom_family(w, name, type, unit, help);
}

/* A raw stat value in its base unit; negative decimal exponents divide,
 * for the same reason as SECONDS(). */
static double to_base(const struct ks_stat_desc *d, double raw)
{
	if (!d->base2 && d->exponent < 0)
		return raw / pow(10.0, -d->exponent);
	return raw * pow(d->base2 ? 2.0 : 10.0, d->exponent);
}

/* Upper bounds of KVM's histogram buckets, inclusive, in the base unit:
 * linear bucket i holds [i*b, (i+1)*b), log bucket 0 holds 0 and bucket i
 * [2^(i-1), 2^i); the last bucket of either takes everything above. */
static void stat_bounds(const struct ks_stat_desc *d, double *upper)
{
	for (unsigned int i = 0; i < d->size; i++) {
		double raw;

		if (i == d->size - 1) {
			upper[i] = INFINITY;
			break;
		}
		if (d->type == KS_STAT_LINEAR_HIST)
			raw = (double)(i + 1) * d->bucket_size - 1;
		else
			raw = i ? ldexp(1.0, (int)i) - 1 : 0;
		upper[i] = to_base(d, raw);
	}
}

static void render_stats(struct ks_prom *w, const char *scope, const struct ks_stats_src *s,
			 const struct ks_prom_label *l, unsigned int nl)
{
	const struct ks_stats_schema *sc = &s->schema;
	double upper[KS_STATS_MAX_VALUES > 4096 ? 4096 : KS_STATS_MAX_VALUES];

	if (s->fd < 0 || !s->cur_ns)
		return;
	for (unsigned int k = 0; k < sc->ndesc; k++) {
		const struct ks_stat_desc *d = &sc->desc[k];
		struct ks_prom_family *f = stat_family(w, scope, d);
		const uint64_t *v = &s->cur[d->index];

		if (d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST) {
			if (d->size > sizeof(upper) / sizeof(upper[0]))
				continue;
			stat_bounds(d, upper);
			ks_prom_histogram(f, l, nl, upper, v, d->size, false, 0);
		} else if (d->exponent == 0) {
			ks_prom_u64(f, l, nl, v[0]);
		} else {
			ks_prom_f64(f, l, nl, to_base(d, (double)v[0]));
		}
	}
}

/* The kernel's log2 latency buckets (bucket b holds [2^b, 2^(b+1)) ns, 0
 * and 1 in bucket 0, the last one everything above) as seconds. */
static void lat_bounds(double *upper)
{
	for (int b = 0; b < KS_LAT_BUCKETS; b++)
		upper[b] = b == KS_LAT_BUCKETS - 1 ? INFINITY : SECONDS(ldexp(1.0, b + 1) - 1);
}

static bool hook(const struct ks_exporter *x, enum ks_metric m)
{
	return x->bpf && x->l.caps.have[m];
}

static const char *const level_names[KS_MAX_LEVEL] = { NULL, "4k", "2m", "1g" };

/* One series per vCPU of f, labelled vcpu (after the VM's three labels):
 * the counter at offset off of each vCPU's totals. */
static void per_vcpu(struct ks_prom_family *f, struct ks_prom_label *l, const struct ks_vm *vm,
		     size_t off)
{
	char id[16];

	for (int v = 0; v < vm->nvcpus; v++) {
		snprintf(id, sizeof(id), "%d", vm->vcpus[v].id);
		l[3] = (struct ks_prom_label){ "vcpu", id };
		ks_prom_u64(f, l, 4,
			    *(const unsigned long long *)((const char *)&vm->vcpus[v].total + off));
	}
}

static void render_migrate(const struct ks_exporter *x, struct ks_prom *w, const struct ks_vm *vm,
			   struct vm_labels *vl)
{
	const struct ks_model *m = &x->s.m;
	const struct ks_vm_counters *c = &vm->total;
	const struct ks_export_ioctls *io = ks_prom_sink_ioctls(&x->ioctls, vm);
	struct ks_prom_label *l = vl->l;
	uint64_t dirty = 0, cleared = 0, rmap_n = 0, rmap_b = 0, avoided = 0, logging = 0;
	double upper[KS_LAT_BUCKETS];
	uint64_t lat[KS_LAT_BUCKETS];
	struct ks_prom_family *f;
	bool faults;

	for (int i = 0; i < vm->nslots; i++) {
		const struct ks_slot *s = &vm->slots[i];

		dirty += s->dirty_pages;
		cleared += s->cleared_pages;
		rmap_n += s->rmap_allocs;
		rmap_b += s->rmap_bytes;
		avoided += s->rmap_avoided_bytes;
		logging += s->logging;
	}
	lat_bounds(upper);
	f = ks_prom_family(w, "kvmscope_dirty_log_ioctl_seconds", KS_PROM_HISTOGRAM, "seconds",
			   "Duration of each KVM_GET_DIRTY_LOG (op=get) and KVM_CLEAR_DIRTY_LOG (op=clear) "
			   "ioctl, timed whole in the kernel");
	for (int op = 0; op < 2; op++) {
		if (!hook(x, op ? KS_M_CLEAR_DIRTY_LOG : KS_M_GET_DIRTY_LOG))
			continue;
		l[3] = (struct ks_prom_label){ "op", op ? "clear" : "get" };
		ks_prom_histogram(f, l, 4, upper, io->hist[op], KS_LAT_BUCKETS, true, SECONDS(io->ns[op]));
	}
	ks_prom_f64(ks_prom_family(w, "kvmscope_dirty_log_host_seconds", KS_PROM_COUNTER, "seconds",
				   "Host time in dirty-logging ioctls: logging on/off, get, clear "
				   "(docs/overhead.md)"), l, 3, SECONDS(vm->host_ns_total));
	ks_prom_u64(ks_prom_family(w, "kvmscope_dirty_pages", KS_PROM_COUNTER, NULL,
				   "Pages KVM_GET_DIRTY_LOG reported dirty"), l, 3, dirty);
	ks_prom_u64(ks_prom_family(w, "kvmscope_dirty_pages_cleared", KS_PROM_COUNTER, NULL,
				   "Pages handed back to KVM_CLEAR_DIRTY_LOG (re-protected)"), l, 3, cleared);
	ks_prom_u64(ks_prom_family(w, "kvmscope_dirty_logging_slots", KS_PROM_GAUGE, NULL,
				   "Memslots with dirty logging on"), l, 3, logging);
	if (hook(x, KS_M_RMAP_ALLOC)) {
		ks_prom_u64(ks_prom_family(w, "kvmscope_rmap_allocations", KS_PROM_COUNTER, NULL,
					   "Memslot rmap array allocations seen"), l, 3, rmap_n);
		ks_prom_u64(ks_prom_family(w, "kvmscope_rmap_allocated_bytes", KS_PROM_COUNTER, "bytes",
					   "Bytes of memslot rmap arrays allocated"), l, 3, rmap_b);
		if (x->l.caps.rmap_avoided)
			ks_prom_u64(ks_prom_family(w, "kvmscope_rmap_avoided_bytes", KS_PROM_GAUGE, "bytes",
						   "Bytes of rmap arrays not allocated (lazy rmaps, series "
						   "kernels)"), l, 3, avoided);
	}
	ks_prom_u64(ks_prom_family(w, "kvmscope_vm_counters_tracked", KS_PROM_GAUGE, NULL,
				   "1 if the kernel's VM table (--max-vms) held this VM's counters; 0 if "
				   "it was full, and the VM's counter series below are left out"),
		    l, 3, !vm->untracked);
	/* Counters that missed events are not exported at all: a series that
	 * stops growing would read as an idle VM. */
	if (vm->untracked)
		return;
	if (hook(x, KS_M_GFN_WRITE_PROTECT)) {
		struct ks_prom_family *calls = ks_prom_family(w, "kvmscope_write_protect_calls",
			KS_PROM_COUNTER, NULL, "kvm_mmu_slot_gfn_write_protect calls, by min_level");
		struct ks_prom_family *changed = ks_prom_family(w, "kvmscope_write_protect_changed",
			KS_PROM_COUNTER, NULL, "kvm_mmu_slot_gfn_write_protect calls that changed an SPTE, by min_level");

		for (int lv = 1; lv < KS_MAX_LEVEL; lv++) {
			l[3] = (struct ks_prom_label){ "level", level_names[lv] };
			ks_prom_u64(calls, l, 4, c->wp_gfn_calls[lv]);
			ks_prom_u64(changed, l, 4, c->wp_gfn_protected[lv]);
		}
	}
	/* Fault counts: the fault program's, or (by default) KVM's per-vCPU
	 * stats summed from the samples; not known for a VM without stats. */
	faults = hook(x, KS_M_FAULTS) && ks_model_faults_known(m, vm);
	if (faults)
		ks_prom_u64(ks_prom_family(w, "kvmscope_page_faults", KS_PROM_COUNTER, NULL,
					   "Guest page faults handled by KVM's MMU"), l, 3, c->faults);
	if (faults && m->fault_program)
		ks_prom_u64(ks_prom_family(w, "kvmscope_page_write_faults", KS_PROM_COUNTER, NULL,
					   "Guest write faults handled by KVM's MMU (write-protect faults "
					   "while dirty logging; with --fault-program)"), l, 3, c->write_faults);
	/* Write-protect faults only where this host's are all counted: a
	 * PML host takes none per page, and pf_fast misses shadow paging's. */
	if (faults && m->wp_faults_measured)
		per_vcpu(ks_prom_family(w, "kvmscope_write_protect_faults", KS_PROM_COUNTER, NULL,
					m->fault_program ?
					"Write faults on present, write-protected pages, per vCPU: under "
					"dirty logging, one per page first written after it was protected" :
					"Write-protect faults KVM fixed in its fast path (pf_fast), per "
					"vCPU: under dirty logging, one per 4K page first written after it "
					"was protected (--fault-program counts the slow path's too)"),
			 l, vm, offsetof(struct ks_vcpu_faults, wp_faults));
	/* PML hosts: the guest's write cost, per vCPU id. */
	if (m->pml_full)
		per_vcpu(ks_prom_family(w, "kvmscope_pml_full_exits", KS_PROM_COUNTER, NULL,
					"PML-full exits per vCPU (Intel PML: one per 512 pages the "
					"guest wrote; the guest's cost of dirty logging there)"),
			 l, vm, offsetof(struct ks_vcpu_faults, pml_full));
	for (int b = 0; b < KS_LAT_BUCKETS; b++)
		lat[b] = c->fault_lat[b];
	if (hook(x, KS_M_FAULTS) && m->fault_latency)
		ks_prom_histogram(ks_prom_family(w, "kvmscope_page_fault_seconds", KS_PROM_HISTOGRAM,
						 "seconds", "Time in KVM's page fault handler per fault "
						 "(while dirty logging: mostly write-protect faults)"),
				  l, 3, upper, lat, KS_LAT_BUCKETS, true, SECONDS(c->fault_ns));
	if (hook(x, KS_M_SPLITS)) {
		f = ks_prom_family(w, "kvmscope_huge_page_splits", KS_PROM_COUNTER, NULL,
				   "Huge pages split, by the level split from");
		for (int lv = 2; lv < KS_MAX_LEVEL; lv++) {
			l[3] = (struct ks_prom_label){ "level", level_names[lv] };
			ks_prom_u64(f, l, 4, c->splits[lv]);
		}
	}
	if (hook(x, KS_M_TLB_FLUSHES))
		ks_prom_u64(ks_prom_family(w, "kvmscope_remote_tlb_flushes", KS_PROM_COUNTER, NULL,
					   "Remote TLB flushes (kvm_flush_remote_tlbs)"), l, 3, c->tlb_flushes);
	if (hook(x, KS_M_MAP_GPA_RANGE))
		ks_prom_u64(ks_prom_family(w, "kvmscope_map_gpa_range_hypercalls", KS_PROM_COUNTER, NULL,
					   "KVM_HC_MAP_GPA_RANGE hypercalls (SEV page status)"), l, 3,
			    c->hypercalls_map_gpa);
	if (hook(x, KS_M_MIGRATION_CONTROL))
		ks_prom_u64(ks_prom_family(w, "kvmscope_migration_control_msr_writes", KS_PROM_COUNTER,
					   NULL, "MSR_KVM_MIGRATION_CONTROL writes"), l, 3,
			    c->msr_migration_control);
}

/* How the host logs dirty pages, and which guest-cost figures that and
 * the ways attached leave measured (docs/overhead.md, Hosts and vendors):
 * a series left out, or 0 here, is not a guest that paid nothing. */
static void render_guest_cost(const struct ks_exporter *x, struct ks_prom *w)
{
	struct ks_guest_fig g[KS_NR_GUEST_FIGS];
	struct ks_prom_family *f;
	struct ks_prom_label l[2] = {
		{ "kvm_module", x->l.vendor.module },
		{ "dirty_logging", ks_dirty_mech_name(x->l.caps.dirty) },
	};

	ks_prom_u64(ks_prom_family(w, "kvmscope_dirty_logging_info", KS_PROM_GAUGE, NULL,
				   "1, labelled with KVM's vendor module and how it logs dirty pages "
				   "(write_protect, write_protect_shadow, pml, unknown)"), l, 2, 1);
	f = ks_prom_family(w, "kvmscope_guest_cost_measured", KS_PROM_GAUGE, NULL,
			   "1 if this guest-cost figure is measured on this host, 0 if not (its "
			   "series are then left out)");
	ks_guest_figs(&x->l.caps, g);
	for (int i = 0; i < KS_NR_GUEST_FIGS; i++) {
		if (!g[i].applies)
			continue;
		l[0] = (struct ks_prom_label){ "figure", g[i].name };
		ks_prom_u64(f, l, 1, g[i].measured);
	}
}

/* The process_* metrics of Prometheus' client libraries, with their names,
 * types and help, from /proc/self (lib/procself.h). */
static void render_process(const struct ks_procself *p, struct ks_prom *w)
{
	ks_prom_f64(ks_prom_family(w, "process_cpu_seconds", KS_PROM_COUNTER, "seconds",
				   "Total user and system CPU time spent in seconds."), NULL, 0, p->cpu_seconds);
	ks_prom_u64(ks_prom_family(w, "process_open_fds", KS_PROM_GAUGE, NULL,
				   "Number of open file descriptors."), NULL, 0, p->open_fds);
	ks_prom_u64(ks_prom_family(w, "process_max_fds", KS_PROM_GAUGE, NULL,
				   "Maximum number of open file descriptors."), NULL, 0, p->max_fds);
	ks_prom_u64(ks_prom_family(w, "process_virtual_memory_bytes", KS_PROM_GAUGE, "bytes",
				   "Virtual memory size in bytes."), NULL, 0, p->vsize_bytes);
	ks_prom_u64(ks_prom_family(w, "process_resident_memory_bytes", KS_PROM_GAUGE, "bytes",
				   "Resident memory size in bytes."), NULL, 0, p->rss_bytes);
	ks_prom_f64(ks_prom_family(w, "process_start_time_seconds", KS_PROM_GAUGE, "seconds",
				   "Start time of the process since unix epoch in seconds."), NULL, 0,
		    p->start_seconds);
}

static void render_self(const struct ks_exporter *x, struct ks_prom *w)
{
	const struct ks_model *m = &x->s.m;
	struct ks_prom_family *f;
	struct ks_prom_label l[2];
	uint64_t with_stats = 0;
	struct ks_vm *vm;

	l[0] = (struct ks_prom_label){ "version", ks_build.version };
	l[1] = (struct ks_prom_label){ "revision", ks_build.revision };
	ks_prom_u64(ks_prom_family(w, "kvmscope_build_info", KS_PROM_GAUGE, NULL,
				   "Always 1: the version of kvmscope and the source revision it was built "
				   "from (git describe), as labels"), l, 2, 1);
	if (x->self_ok)
		render_process(&x->self, w);

	ks_prom_u64(ks_prom_family(w, "kvmscope_bpf_attached", KS_PROM_GAUGE, NULL,
				   "1 if the BPF programs are attached (migrate aggregates exported), "
				   "0 if only binary stats are"), NULL, 0, x->bpf);
	if (x->bpf) {
		f = ks_prom_family(w, "kvmscope_bpf_metric_available", KS_PROM_GAUGE, NULL,
				   "1 if this kernel gives the metric (kvmscope check says how and why not)");
		for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
			l[0] = (struct ks_prom_label){ "metric", ks_hooks[i].metric };
			ks_prom_u64(f, l, 1, hook(x, i));
		}
		render_guest_cost(x, w);
		f = ks_prom_family(w, "kvmscope_events_lost", KS_PROM_COUNTER, NULL,
				   "BPF events not recorded, by reason");
		for (int i = 0; i < KS_DROP_MAX; i++) {
			l[0] = (struct ks_prom_label){ "reason", ks_drop_names[i] };
			ks_prom_u64(f, l, 1, m->drops[i]);
		}
	}
	ks_model_for_each_vm(m, i, vm)
		with_stats += vm->have_stats;
	ks_prom_u64(ks_prom_family(w, "kvmscope_vmms", KS_PROM_GAUGE, NULL, "VMM processes exported"),
		    NULL, 0, (uint64_t)ks_model_live_vms(m));
	ks_prom_u64(ks_prom_family(w, "kvmscope_vmms_with_stats", KS_PROM_GAUGE, NULL,
				   "VMM processes whose binary stats fds kvmscope reads"), NULL, 0, with_stats);
	ks_prom_u64(ks_prom_family(w, "kvmscope_export_collections", KS_PROM_COUNTER, NULL,
				   "Collections (stats sampled, counters read, page rendered) so far"),
		    NULL, 0, x->collections);
	ks_prom_f64(ks_prom_family(w, "kvmscope_export_collect_seconds", KS_PROM_GAUGE, "seconds",
				   "Duration of the previous collection"), NULL, 0, SECONDS(x->last_collect_ns));
	ks_prom_f64(ks_prom_family(w, "kvmscope_export_interval_seconds", KS_PROM_GAUGE, "seconds",
				   "Collection interval (-i)"), NULL, 0, SECONDS(x->interval_ns));
	if (x->h) {
		ks_prom_u64(ks_prom_family(w, "kvmscope_export_http_requests", KS_PROM_COUNTER, NULL,
					   "HTTP requests answered"), NULL, 0,
			    __atomic_load_n(&x->h->requests, __ATOMIC_RELAXED));
		f = ks_prom_family(w, "kvmscope_export_http_rejected", KS_PROM_COUNTER, NULL,
				   "HTTP connections refused or closed early, by reason");
		l[0] = (struct ks_prom_label){ "reason", "busy" };
		ks_prom_u64(f, l, 1, __atomic_load_n(&x->h->rejected_busy, __ATOMIC_RELAXED));
		l[0] = (struct ks_prom_label){ "reason", "timeout" };
		ks_prom_u64(f, l, 1, __atomic_load_n(&x->h->timed_out, __ATOMIC_RELAXED));
		l[0] = (struct ks_prom_label){ "reason", "bad_request" };
		ks_prom_u64(f, l, 1, __atomic_load_n(&x->h->bad_requests, __ATOMIC_RELAXED));
		l[0] = (struct ks_prom_label){ "reason", "evicted" };
		ks_prom_u64(f, l, 1, __atomic_load_n(&x->h->evicted, __ATOMIC_RELAXED));
	}
}

void ks_export_render(const struct ks_exporter *x, struct ks_prom *w)
{
	struct ks_vm *vm;

	render_self(x, w);
	ks_model_for_each_vm(&x->s.m, i, vm) {
		struct vm_labels vl;

		if (!vm->found_ts)
			continue;
		vm_labels(&vl, vm);
		if (vm->have_stats) {
			render_stats(w, "vm", &vm->st.vm, vl.l, 3);
			for (int c = 0; c < vm->st.nvcpu; c++) {
				snprintf(vl.vcpu, sizeof(vl.vcpu), "%d", vm->st.vcpu[c].vcpu_id);
				vl.l[3] = (struct ks_prom_label){ "vcpu", vl.vcpu };
				render_stats(w, "vcpu", &vm->st.vcpu[c], vl.l, 4);
			}
		}
		if (x->bpf)
			render_migrate(x, w, vm, &vl);
	}
}

struct ks_httpd_page *ks_export_page(const struct ks_prom *w)
{
	struct ks_buf text = { 0 }, om = { 0 };
	struct ks_httpd_page *p;

	if (ks_prom_render(w, KS_PROM_TEXT, &text) || ks_prom_render(w, KS_PROM_OPENMETRICS, &om) ||
	    !(p = calloc(1, sizeof(*p)))) {
		ks_buf_free(&text);
		ks_buf_free(&om);
		return NULL;
	}
	p->text = text.p;
	p->text_len = text.len;
	p->om = om.p;
	p->om_len = om.len;
	return p;
}
