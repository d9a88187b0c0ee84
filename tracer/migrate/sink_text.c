// SPDX-License-Identifier: GPL-2.0
/*
 * `kvmscope migrate`'s text: dirty logging turned on and off as it
 * happens, a line per interval and active VM with the stats comparisons
 * that disagree, a line when a VM appears or goes away, a block per VM and
 * memslot in its summary, and the run's last line. docs/overhead.md
 * defines the overhead figures.
 */
#include <stdlib.h>
#include <string.h>
#include "migrate/sink.h"
#include "migrate/sink_common.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/selfcpu.h"

/* A process name for text output: names are chosen by the process, and may
 * hold newlines or terminal escapes (lib/json.h). Valid until the next
 * call. */
static const char *text_comm(const struct ks_vm *vm)
{
	static char buf[64];

	return ks_text_escape(vm->comm, buf, sizeof(buf));
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static uint64_t hist_quantile(const unsigned long long *h, double q)
{
	uint64_t total = 0, acc = 0;

	for (int i = 0; i < KS_LAT_BUCKETS; i++)
		total += h[i];
	if (!total)
		return 0;
	for (int i = 0; i < KS_LAT_BUCKETS; i++) {
		acc += h[i];
		if (acc >= q * total)
			return 2ULL << i; /* upper bound of the bucket */
	}
	return 0;
}

/* A counter of metric k as text: "n/a" when the metric has no way in on
 * this kernel (kvmscope check says why), never a 0 that reads as counted. */
static const char *count_str(const struct ks_model *m, enum ks_metric k, unsigned long long v,
			     char *buf, size_t n)
{
	if (!ks_model_has(m, k))
		return "n/a";
	snprintf(buf, n, "%llu", v);
	return buf;
}

/* Why fault latency is not measured (m->fault_latency false). */
static const char *latency_off(const struct ks_model *m)
{
	return m->fault_latency_asked ? "not measured (fault latency cannot be traced on this kernel)" :
	       "not measured (fault latency is off; kvmscope migrate --fault-latency)";
}

/* Only dirty logging turned on or off: syncs are summed per interval. */
static void change(void *self, const struct ks_model *m, const struct ks_change *c)
{
	struct ks_stream *ts = self;
	const struct ks_event *e = c->e;
	bool is = c->logging == KS_LOG_ON;
	char slot[40];

	if (c->kind != KS_CH_MEMSLOT || c->logging == KS_LOG_UNCHANGED)
		return;
	fprintf(ts->out, "%10.3fs  pid %-7d %s: dirty logging %s (%llu pages, memslot ioctl %.3f ms%s%s)\n",
		(e->ts_ns - m->start_ns) / 1e9, c->vm->pid, ks_slot_name(c->slot, slot, sizeof(slot)),
		is ? "on" : "off",
		(unsigned long long)e->npages, ms(e->dur_ns),
		!(e->actions & KS_ACT_KNOWN) || !is ? "" :
		(e->actions & KS_ACT_LAZY) ? "; KVM: lazy, initially set" : "; KVM: eager write protect",
		(e->actions & KS_ACT_KNOWN) && is && (e->actions & KS_ACT_SPLIT) ? ", eager split" : "");
}

static void check(struct ks_stream *ts)
{
	if (ks_output_check(ts->out))
		ts->failed = true;
}

static void interval(void *self, const struct ks_model *m, const struct ks_interval *iv)
{
	struct ks_stream *ts = self;
	const struct ks_vm *vm = iv->vm;
	const struct ks_vm_counters *dc = &iv->dc;
	char lat[64], faults[64], pml[48] = "", n[4][24];

	/* Text output shows active VMs only; JSON has every interval. */
	if (!iv->syncs && !iv->host_ns && !dc->faults && !dc->tlb_flushes &&
	    !dc->wp_gfn_calls[1] && !dc->wp_gfn_calls[2] && !dc->pml_full)
		return;
	if (vm->untracked) {
		fprintf(ts->out, "%10.3fs  pid %-7d %-15.15s syncs %-4llu ioctl %8.3f ms  "
			"counters not tracked (kernel VM table full)\n",
			(iv->now_ns - m->start_ns) / 1e9, vm->pid, text_comm(vm),
			(unsigned long long)iv->syncs, iv->host_ns / 1e6);
		check(ts);
		return;
	}
	if (m->fault_latency)
		snprintf(lat, sizeof(lat), ", p99 %llu us)  vCPU stall %.2f%%",
			 (unsigned long long)hist_quantile(dc->fault_lat, 0.99) / 1000, iv->lost_pct);
	else
		snprintf(lat, sizeof(lat), ")  vCPU stall not measured");
	/* Without stats (and the fault program) the faults are not known. */
	if (ks_model_faults_known(m, vm) && !m->fault_program && !m->wp_faults_measured)
		snprintf(faults, sizeof(faults), "%llu (wp not measured", (unsigned long long)dc->faults);
	else if (ks_model_faults_known(m, vm))
		snprintf(faults, sizeof(faults), "%llu (%s %llu", (unsigned long long)dc->faults,
			 m->fault_program ? "w" : "wp fast",
			 (unsigned long long)(m->fault_program ? dc->write_faults : dc->wp_faults));
	else
		snprintf(faults, sizeof(faults), "not known (no binary stats");
	/* PML hosts: the guest's write cost is its PML-full exits. */
	if (m->pml_host && m->pml_full)
		snprintf(pml, sizeof(pml), "  pml-full %llu", (unsigned long long)dc->pml_full);
	else if (m->pml_host)
		snprintf(pml, sizeof(pml), "  pml-full not measured");
	fprintf(ts->out, "%10.3fs  pid %-7d %-15.15s syncs %-4llu ioctl %8.3f ms  wp 4k/2m %s/%s  "
		"faults %s%s%s  splits %s  tlb %s\n",
		(iv->now_ns - m->start_ns) / 1e9, vm->pid, text_comm(vm),
		(unsigned long long)iv->syncs, iv->host_ns / 1e6,
		count_str(m, KS_M_GFN_WRITE_PROTECT, dc->wp_gfn_calls[1], n[0], sizeof(n[0])),
		count_str(m, KS_M_GFN_WRITE_PROTECT, dc->wp_gfn_calls[2], n[1], sizeof(n[1])),
		faults, lat, pml,
		count_str(m, KS_M_SPLITS, dc->splits[2] + dc->splits[3], n[2], sizeof(n[2])),
		count_str(m, KS_M_TLB_FLUSHES, dc->tlb_flushes, n[3], sizeof(n[3])));
	for (int i = 0; i < iv->na; i++) {
		const struct ks_agreement *a = &iv->a[i];
		char seen[24];

		if (!a->found || a->agree)
			continue;
		/* Page-size sums are signed (two's complement), as in the JSON. */
		if (a->rel == KS_REL_EXACT || a->rel == KS_REL_SIGNED_INFO)
			snprintf(seen, sizeof(seen), "%+lld", (long long)a->seen);
		else
			snprintf(seen, sizeof(seen), "%llu", (unsigned long long)a->seen);
		fprintf(ts->out, "%12s  pid %-7d DISAGREE: %s %s vs stat %s %+lld\n", "",
			vm->pid, a->events, seen, a->stat, (long long)a->stat_delta);
	}
	check(ts);
}

static void vm_record(void *self, const struct ks_model *m, const struct ks_vm *vm,
		      const char *what, uint64_t now_ns)
{
	struct ks_stream *ts = self;

	fprintf(ts->out, "%10.3fs  pid %-7d %s: VM %s", (now_ns - m->start_ns) / 1e9, vm->pid,
		text_comm(vm), what);
	if (vm->have_stats)
		fprintf(ts->out, " (%d vCPUs, stats %s '%s')\n", ks_vmstats_vcpus(&vm->st),
			vm->st.vm.dbg_dir >= 0 ? "from debugfs" : "fd", vm->st.vm.schema.id);
	else
		fprintf(ts->out, " (binary stats not available yet: %s)\n",
			vm->st.why[0] ? vm->st.why : "not attached");
	fflush(ts->out);
}

/* The summary's counter lines of a VM whose counters were tracked. */
static void text_counters(struct ks_stream *ts, const struct ks_model *m, const struct ks_vm *vm,
			  const struct ks_overhead *o)
{
	const struct ks_vm_counters *c = &vm->total;
	FILE *out = ts->out;
	char n[6][24];

	if (o->window && m->fault_latency)
		fprintf(out, "  migration overhead over %.3f s of dirty logging: host %.2f%% (ioctls), "
			"guest %.2f%% of %d vCPUs' time (faults)\n",
			o->window / 1e9, o->host_pct, o->guest_pct, o->nvcpu);
	else if (o->window)
		fprintf(out, "  migration overhead over %.3f s of dirty logging: host %.2f%% (ioctls), "
			"guest %s\n", o->window / 1e9, o->host_pct, latency_off(m));
	if (m->fault_latency)
		fprintf(out, "  host: %.3f ms in dirty-log ioctls; guest: %.3f ms in %llu faults (%llu writes)\n",
			vm->host_ns_total / 1e6, c->fault_ns / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->write_faults);
	else if (m->fault_program)
		fprintf(out, "  host: %.3f ms in dirty-log ioctls; guest: %llu faults (%llu writes), "
			"time in them %s\n", vm->host_ns_total / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->write_faults, latency_off(m));
	else if (vm->stat_faults_known && !m->wp_faults_measured)
		fprintf(out, "  host: %.3f ms in dirty-log ioctls; guest: %llu faults (KVM's stats; "
			"write-protect faults not measured on this host), time in them %s\n",
			vm->host_ns_total / 1e6, (unsigned long long)c->faults, latency_off(m));
	else if (vm->stat_faults_known)
		fprintf(out, "  host: %.3f ms in dirty-log ioctls; guest: %llu faults (%llu write-protect "
			"faults fixed in KVM's fast path; KVM's stats), time in them %s\n",
			vm->host_ns_total / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->wp_faults, latency_off(m));
	else
		fprintf(out, "  host: %.3f ms in dirty-log ioctls; guest faults not known (no binary "
			"stats)\n", vm->host_ns_total / 1e6);
	if (m->pml_host && m->pml_full)
		fprintf(out, "  guest: %llu PML-full exits (one per 512 pages written; the guest's cost "
			"of dirty logging under PML)\n", (unsigned long long)c->pml_full);
	else if (m->pml_host)
		fprintf(out, "  guest: PML-full exits not measured (the guest's cost of dirty logging "
			"under PML)\n");
	fprintf(out, "  write-protect calls by min_level: 4k %s, 2m %s, 1g %s; splits 2m %s, 1g %s; TLB flushes %s\n",
		count_str(m, KS_M_GFN_WRITE_PROTECT, c->wp_gfn_calls[1], n[0], sizeof(n[0])),
		count_str(m, KS_M_GFN_WRITE_PROTECT, c->wp_gfn_calls[2], n[1], sizeof(n[1])),
		count_str(m, KS_M_GFN_WRITE_PROTECT, c->wp_gfn_calls[3], n[2], sizeof(n[2])),
		count_str(m, KS_M_SPLITS, c->splits[2], n[3], sizeof(n[3])),
		count_str(m, KS_M_SPLITS, c->splits[3], n[4], sizeof(n[4])),
		count_str(m, KS_M_TLB_FLUSHES, c->tlb_flushes, n[5], sizeof(n[5])));
	for (int i = 0; i < vm->nvcpus; i++) {
		const struct ks_vcpu_faults *f = &vm->vcpus[i].total;

		if (m->wp_faults_measured)
			fprintf(out, "  vCPU %-3d faults %llu (write-protect %llu)", vm->vcpus[i].id,
				(unsigned long long)f->faults, (unsigned long long)f->wp_faults);
		else
			fprintf(out, "  vCPU %-3d faults %llu (write-protect not measured)",
				vm->vcpus[i].id, (unsigned long long)f->faults);
		if (m->pml_host && m->pml_full)
			fprintf(out, ", PML-full exits %llu", (unsigned long long)f->pml_full);
		if (m->fault_latency && f->faults)
			fprintf(out, ", latency p50 %.1f us, p99 %.1f us, %.2f%% of its time over the logging window",
				hist_quantile(f->fault_lat, 0.5) / 1e3, hist_quantile(f->fault_lat, 0.99) / 1e3,
				o->window ? 100.0 * f->fault_ns / o->window : 0);
		fprintf(out, "\n");
	}
	if (c->hypercalls_map_gpa || c->msr_migration_control)
		fprintf(out, "  SEV migration interface: %llu KVM_HC_MAP_GPA_RANGE hypercalls (%llu pages), "
			"%llu MSR_KVM_MIGRATION_CONTROL writes\n",
			(unsigned long long)c->hypercalls_map_gpa, (unsigned long long)c->map_gpa_pages,
			(unsigned long long)c->msr_migration_control);
}

/* Memslots in (address space, slot) order: a VMM with two address spaces
 * (x86's SMM space) has each slot number twice, and the rows of one space
 * belong together. */
static int slot_cmp(const void *a, const void *b)
{
	const struct ks_slot *x = *(const struct ks_slot *const *)a;
	const struct ks_slot *y = *(const struct ks_slot *const *)b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void slot_row(FILE *out, const struct ks_model *m, const struct ks_slot *s)
{
	fprintf(out, "  %5u %3u %10llu %8s %10.3f %6llu %10.3f %12llu %6llu %10.3f %12llu\n",
		s->id, s->as_id, (unsigned long long)s->npages,
		!s->log_on_ts ? "-" :
		(s->start_actions & KS_ACT_KNOWN) ? ((s->start_actions & KS_ACT_LAZY) ? "lazy" : "eager") :
		/* Inferred from the whole-slot write protect, if traced. */
		!ks_model_has(m, KS_M_SLOT_WRITE_PROTECT) ? "?" :
		s->eager_wp ? "eager" : "lazy", s->log_on_ns / 1e6,
		(unsigned long long)s->n_get, s->get_ns / 1e6,
		(unsigned long long)s->dirty_pages, (unsigned long long)s->n_clear,
		s->clear_ns / 1e6, (unsigned long long)s->cleared_pages);
}

/* One row per memslot that logged or had rmaps allocated. */
static void slot_table(FILE *out, const struct ks_model *m, const struct ks_vm *vm)
{
	const struct ks_slot **order = calloc((size_t)vm->nslots + 1, sizeof(*order));
	int n = 0;

	fprintf(out, "  %5s %3s %10s %8s %10s %6s %10s %12s %6s %10s %12s\n", "slot", "as", "pages",
		"start", "start ms", "iters", "get ms", "dirty", "clears", "clear ms", "cleared");
	for (int i = 0; i < vm->nslots; i++) {
		const struct ks_slot *s = &vm->slots[i];

		if (!s->n_get && !s->log_on_ts && !s->rmap_allocs)
			continue;
		if (order)
			order[n++] = s;
		else
			slot_row(out, m, s); /* out of memory: first-seen order */
	}
	if (order)
		qsort(order, (size_t)n, sizeof(*order), slot_cmp);
	for (int i = 0; i < n; i++)
		slot_row(out, m, order[i]);
	free(order);
}

static void vm_summary(void *self, const struct ks_model *m, const struct ks_vm *vm,
		       uint64_t now_ns)
{
	struct ks_stream *ts = self;
	const struct ks_vm_counters *c = &vm->total;
	struct ks_overhead o;

	ks_model_overhead(vm, now_ns, &o);
	/* A VM that did nothing while traced (a VMM idling) gets no block. */
	if (!o.window && !c->faults && !vm->host_ns_total && !c->tlb_flushes)
		return;
	fprintf(ts->out, "\nVM pid %d (%s)%s\n", vm->pid, text_comm(vm), vm->active ? "" : ", exited");
	if (vm->untracked)
		/* Only what the events say: time in ioctls and the memslots. */
		fprintf(ts->out, "  counters not tracked: the kernel's VM table was full (--max-vms %u)\n"
			"  host: %.3f ms in dirty-log ioctls\n", m->max_vms, vm->host_ns_total / 1e6);
	else
		text_counters(ts, m, vm, &o);
	slot_table(ts->out, m, vm);
}

static void summary(void *self, const struct ks_model *m, uint64_t now_ns)
{
	struct ks_stream *ts = self;
	uint64_t lost = ks_model_lost(m);
	struct ks_cpu cpu;

	ks_sink_warn_lost(m);
	/* The whole process's CPU, loading included, after everything above. */
	cpu = ks_self_cpu();
	fprintf(ts->out, "\n%d VM%s traced for %.3f s; events lost: %llu", m->vms_seen,
		m->vms_seen == 1 ? "" : "s", (now_ns - m->start_ns) / 1e9, (unsigned long long)lost);
	for (int i = 0; i < KS_DROP_MAX; i++)
		if (m->drops[i])
			fprintf(ts->out, " (%s %llu)", ks_drop_names[i], (unsigned long long)m->drops[i]);
	fprintf(ts->out, "; kvmscope's own CPU %.3f s (user %.3f, system %.3f)\n",
		(cpu.user_ns + cpu.sys_ns) / 1e9, cpu.user_ns / 1e9, cpu.sys_ns / 1e9);
	fflush(ts->out);
}

static const struct ks_sink_ops text_ops = {
	.change = change,
	.interval = interval,
	.vm = vm_record,
	.vm_summary = vm_summary,
	.summary = summary,
	.failed = ks_sink_stream_failed,
	.free = ks_sink_stream_free,
};

int ks_sink_text(struct ks_sink *s, FILE *out)
{
	return ks_sink_stream(s, &text_ops, out);
}
