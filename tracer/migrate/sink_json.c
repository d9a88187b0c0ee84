// SPDX-License-Identifier: GPL-2.0
/*
 * `kvmscope migrate --json`: the model as JSON lines (docs/json.md): each
 * rare event as it arrives, per interval and VM the event-derived counts
 * next to the binary stats deltas they should agree with, a record per VM
 * when it appears or goes away, its summary, the run's summary.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/sink.h"
#include "migrate/sink_common.h"
#include "lib/json.h"
#include "lib/selfcpu.h"

static const char *const change_names[] = { "create", "delete", "move", "flags" };
static const char *const logging_names[] = { "unchanged", "on", "off" };

static void end(struct ks_stream *js, struct ks_json *j)
{
	if (ks_json_end(j))
		js->failed = true;
}

/* KVM's decision, as the series' kvm_mmu_slot_apply_flags reports it. */
static void json_actions(struct ks_json *j, unsigned int actions)
{
	static const struct { unsigned int bit; const char *name; } names[] = {
		{ KS_ACT_START, "start" }, { KS_ACT_STOP, "stop" }, { KS_ACT_LAZY, "lazy" },
		{ KS_ACT_SPLIT, "split" }, { KS_ACT_CLEAR_DIRTY, "clear_dirty" },
		{ KS_ACT_WRPROT_4K, "wrprot_4k" }, { KS_ACT_WRPROT_2M, "wrprot_2m" },
		{ KS_ACT_COLLAPSE, "collapse" },
	};

	if (!(actions & KS_ACT_KNOWN))
		return;
	ks_json_arr(j, "kvm_actions");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (actions & names[i].bit)
			ks_json_arr_str(j, names[i].name);
	ks_json_close(j);
}

static void change(void *self, const struct ks_model *m, const struct ks_change *c)
{
	struct ks_stream *js = self;
	const struct ks_event *e = c->e;
	const struct ks_slot *s = c->slot;
	struct ks_json j;

	switch (c->kind) {
	case KS_CH_MEMSLOT:
		ks_json_begin(&j, js->out, "memslot", e->ts_ns);
		ks_json_i64(&j, "pid", c->vm->pid);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "as_id", s->as_id);
		ks_json_str(&j, "change", e->change < 4 ? change_names[e->change] : "unknown");
		ks_json_u64(&j, "npages", e->npages);
		ks_json_u64(&j, "base_gfn", e->base_gfn);
		ks_json_u64(&j, "old_flags", e->old_flags);
		ks_json_u64(&j, "new_flags", e->new_flags);
		ks_json_str(&j, "logging", logging_names[c->logging]);
		json_actions(&j, e->actions);
		ks_json_u64(&j, "dur_ns", e->dur_ns);
		ks_json_kvm_ns(&j, e);
		if (e->preempted >= 0)
			ks_json_i64(&j, "preempted", e->preempted);
		ks_json_wp_faults(&j, m, c->wp_faults);
		ks_json_i64(&j, "faults", c->faults);
		end(js, &j);
		break;
	case KS_CH_SYNC:
		ks_json_begin(&j, js->out, "dirty_log", e->ts_ns);
		ks_json_i64(&j, "pid", c->vm->pid);
		ks_json_u64(&j, "dur_ns", e->dur_ns);
		ks_json_sync_fields(&j, m, c);
		end(js, &j);
		break;
	case KS_CH_SLOT_WP:
		ks_json_begin(&j, js->out, "slot_write_protect", e->ts_ns);
		ks_json_i64(&j, "pid", c->vm->pid);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "as_id", s->as_id);
		ks_json_u64(&j, "start_level", e->level);
		ks_json_u64(&j, "npages", e->npages);
		ks_json_u64(&j, "dur_ns", e->dur_ns);
		end(js, &j);
		break;
	case KS_CH_RMAP:
		ks_json_begin(&j, js->out, "rmap_alloc", e->ts_ns);
		ks_json_i64(&j, "pid", c->vm->pid);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "npages", e->npages);
		ks_json_u64(&j, "bytes", c->rmap_bytes);
		ks_json_u64(&j, "dur_ns", e->dur_ns);
		ks_json_i64(&j, "result", e->result);
		end(js, &j);
		break;
	case KS_CH_RMAP_SKIP:
		ks_json_begin(&j, js->out, "rmap_skip", e->ts_ns);
		ks_json_i64(&j, "pid", c->vm->pid);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "npages", e->npages);
		ks_json_u64(&j, "bytes", e->bytes);
		end(js, &j);
		break;
	case KS_CH_VM_CREATE:
	case KS_CH_VM_RELEASE:
		break;
	}
}

/* A VM whose counters found the kernel's VM table full has none to show:
 * each counter field is null, never a 0 that would read as measured. */
/* A counter of metric k: null when the VM's counters are not tracked or
 * the metric has no way in on this kernel. */
static void json_count(struct ks_json *j, const struct ks_model *m, const struct ks_vm *vm,
		       enum ks_metric k, const char *key, uint64_t v)
{
	if (vm->untracked || !ks_model_has(m, k))
		ks_json_null(j, key);
	else
		ks_json_u64(j, key, v);
}

/* PML hosts only: PML-full exits, null when not counted (or untracked). */
static void json_pml(struct ks_json *j, const struct ks_model *m, const struct ks_vm *vm,
		     uint64_t v)
{
	if (!m->pml_host)
		return;
	if (m->pml_full)
		json_count(j, m, vm, KS_M_PML_FULL, "pml_full_exits", v);
	else
		ks_json_null(j, "pml_full_exits");
}

static void json_count_levels(struct ks_json *j, const struct ks_model *m, const struct ks_vm *vm,
			      enum ks_metric k, const char *key, const unsigned long long *v)
{
	if (vm->untracked || !ks_model_has(m, k))
		ks_json_null(j, key);
	else
		ks_json_levels(j, key, v);
}

/* v if its metric has a way in on this kernel (have), else null. */
static void json_u64_if(struct ks_json *j, bool have, const char *key, uint64_t v)
{
	if (have)
		ks_json_u64(j, key, v);
	else
		ks_json_null(j, key);
}

/* The SEV live-migration guest interface's counters. */
static void json_sev(struct ks_json *j, const struct ks_model *m, const struct ks_vm *vm,
		     const struct ks_vm_counters *c)
{
	json_count(j, m, vm, KS_M_MAP_GPA_RANGE, "map_gpa_range_hypercalls", c->hypercalls_map_gpa);
	json_count(j, m, vm, KS_M_MAP_GPA_RANGE, "map_gpa_range_pages", c->map_gpa_pages);
	json_count(j, m, vm, KS_M_MIGRATION_CONTROL, "migration_control_writes",
		   c->msr_migration_control);
}

/* A fault count: null when not known (ks_model_faults_known); write
 * faults only the fault program tells apart; write-protect faults only
 * where this host's are all counted. */
static void json_faults(struct ks_json *j, const struct ks_model *m, const struct ks_vm *vm,
			const char *key, uint64_t v)
{
	if (!ks_model_faults_known(m, vm) || (!m->fault_program && !strcmp(key, "write_faults")) ||
	    (!m->wp_faults_measured && !strcmp(key, "wp_faults")))
		ks_json_null(j, key);
	else
		ks_json_u64(j, key, v);
}

/* fault_ns and fault_lat_log2_ns, or null for both when latency is not
 * measured: a 0 there would read as a measurement. */
static void json_latency(const struct ks_model *m, struct ks_json *j, uint64_t ns,
			 const unsigned long long *lat)
{
	if (!m->fault_latency) {
		ks_json_double(j, "fault_ns", NAN);
		ks_json_double(j, "fault_lat_log2_ns", NAN);
		return;
	}
	ks_json_u64(j, "fault_ns", ns);
	ks_json_arr(j, "fault_lat_log2_ns");
	for (int b = 0; b < KS_LAT_BUCKETS; b++)
		ks_json_arr_u64(j, lat[b]);
	ks_json_close(j);
}

/* Per vCPU: faults, write-protect faults, time in the handler and its
 * share of span_ns, log2 latency histogram (the last three null without
 * fault latency). f[i] are vCPU ids[i]'s figures. */
static void json_vcpus(const struct ks_model *m, struct ks_json *j, const struct ks_vm *vm,
		       const struct ks_vcpu_faults *f, const int *ids, int n, uint64_t span_ns)
{
	if (!ks_model_faults_known(m, vm)) {
		ks_json_null(j, "vcpu_faults");
		return;
	}
	ks_json_arr(j, "vcpu_faults");
	for (int i = 0; i < n; i++) {
		ks_json_obj(j, NULL);
		ks_json_i64(j, "vcpu", ids[i]);
		ks_json_u64(j, "faults", f[i].faults);
		if (m->wp_faults_measured)
			ks_json_u64(j, "wp_faults", f[i].wp_faults);
		else
			ks_json_null(j, "wp_faults");
		if (m->pml_host && m->pml_full)
			ks_json_u64(j, "pml_full_exits", f[i].pml_full);
		else if (m->pml_host)
			ks_json_null(j, "pml_full_exits");
		ks_json_double(j, "vcpu_time_lost_pct", m->fault_latency && span_ns ?
			       100.0 * f[i].fault_ns / span_ns : NAN);
		json_latency(m, j, f[i].fault_ns, f[i].fault_lat);
		ks_json_close(j);
	}
	ks_json_close(j);
}

static void interval(void *self, const struct ks_model *m, const struct ks_interval *iv)
{
	struct ks_stream *js = self;
	const struct ks_vm *vm = iv->vm;
	const struct ks_vm_counters *dc = &iv->dc;
	struct ks_json j;

	ks_json_begin(&j, js->out, "interval", iv->now_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_str(&j, "comm", vm->comm);
	ks_json_u64(&j, "interval_ns", iv->dt_ns);
	ks_json_u64(&j, "tracer_user_ns", iv->cpu.user_ns);
	ks_json_u64(&j, "tracer_sys_ns", iv->cpu.sys_ns);
	ks_json_u64(&j, "syncs", iv->syncs);
	ks_json_u64(&j, "host_ioctl_ns", iv->host_ns);
	ks_json_bool(&j, "vm_table_full", vm->untracked != 0);
	json_count_levels(&j, m, vm, KS_M_GFN_WRITE_PROTECT, "wp_calls", dc->wp_gfn_calls);
	json_count_levels(&j, m, vm, KS_M_GFN_WRITE_PROTECT, "wp_changed", dc->wp_gfn_protected);
	json_count_levels(&j, m, vm, KS_M_SPLITS, "splits", dc->splits);
	json_faults(&j, m, vm, "faults", dc->faults);
	json_faults(&j, m, vm, "write_faults", dc->write_faults);
	json_faults(&j, m, vm, "wp_faults", dc->wp_faults);
	json_pml(&j, m, vm, dc->pml_full);
	if (vm->untracked) {
		ks_json_null(&j, "fault_ns");
		ks_json_null(&j, "fault_lat_log2_ns");
	} else {
		json_latency(m, &j, dc->fault_ns, dc->fault_lat);
	}
	ks_json_u64(&j, "vcpus", iv->nvcpu);
	if (m->fault_latency && !vm->untracked)
		ks_json_double(&j, "vcpu_time_lost_pct", iv->lost_pct);
	else
		ks_json_null(&j, "vcpu_time_lost_pct"); /* not measured */
	json_vcpus(m, &j, vm, iv->vcpu_delta, iv->vcpu_id, iv->nvcpus, iv->dt_ns);
	json_count(&j, m, vm, KS_M_TLB_FLUSHES, "tlb_flushes", dc->tlb_flushes);
	json_count(&j, m, vm, KS_M_STATS_READS, "stats_reads", dc->stats_reads);
	json_count(&j, m, vm, KS_M_STATS_READS, "stats_read_bytes", dc->stats_read_bytes);
	json_sev(&j, m, vm, dc);
	ks_json_bool(&j, "settled", iv->settled);
	ks_json_arr(&j, "agreement");
	for (int i = 0; i < iv->na; i++) {
		const struct ks_agreement *a = &iv->a[i];

		ks_json_obj(&j, NULL);
		ks_json_str(&j, "events", a->events);
		ks_json_str(&j, "stat", a->stat);
		if (a->rel == KS_REL_EXACT || a->rel == KS_REL_SIGNED_INFO)
			ks_json_i64(&j, "seen", (int64_t)a->seen);
		else
			ks_json_u64(&j, "seen", a->seen);
		if (a->found)
			ks_json_i64(&j, "stat_delta", a->stat_delta);
		ks_json_str(&j, "relation", ks_relation_names[a->rel]);
		ks_json_bool(&j, "agree", a->agree);
		ks_json_close(&j);
	}
	ks_json_close(&j);
	end(js, &j);
}

static void vm_record(void *self, const struct ks_model *m, const struct ks_vm *vm,
		      const char *what, uint64_t now_ns)
{
	struct ks_stream *js = self;
	struct ks_json j;

	(void)m;
	ks_json_begin(&j, js->out, "vm", now_ns);
	ks_json_str(&j, "event", what);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_str(&j, "comm", vm->comm);
	ks_json_bool(&j, "stats", vm->have_stats);
	if (vm->have_stats) {
		ks_json_u64(&j, "vcpus", ks_vmstats_vcpus(&vm->st));
		ks_json_str(&j, "stats_id", vm->st.vm.schema.id);
		ks_json_str(&j, "stats_source", ks_vmstats_source(&vm->st));
	} else {
		ks_json_str(&j, "stats_missing", vm->st.why);
	}
	end(js, &j);
}

static void vm_summary(void *self, const struct ks_model *m, const struct ks_vm *vm,
		       uint64_t now_ns)
{
	struct ks_stream *js = self;
	const struct ks_vm_counters *c = &vm->total;
	struct ks_overhead o;
	struct ks_json j;
	struct ks_vcpu_faults *f = NULL;
	int *ids = NULL;

	ks_model_overhead(vm, now_ns, &o);
	ks_json_begin(&j, js->out, "vm_summary", now_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_str(&j, "comm", vm->comm);
	ks_json_bool(&j, "exited", !vm->active);
	ks_json_u64(&j, "logging_window_ns", o.window);
	ks_json_u64(&j, "vcpus", o.nvcpu);
	ks_json_u64(&j, "host_ioctl_ns", vm->host_ns_total);
	ks_json_double(&j, "host_overhead_pct", o.host_pct);
	if (m->fault_latency && !vm->untracked)
		ks_json_double(&j, "guest_overhead_pct", o.guest_pct);
	else
		ks_json_null(&j, "guest_overhead_pct"); /* not measured */
	ks_json_bool(&j, "vm_table_full", vm->untracked != 0);
	if (m->fault_latency)
		json_count(&j, m, vm, KS_M_FAULTS, "fault_ns", c->fault_ns);
	else
		ks_json_null(&j, "fault_ns"); /* not measured */
	json_faults(&j, m, vm, "faults", c->faults);
	json_faults(&j, m, vm, "write_faults", c->write_faults);
	json_faults(&j, m, vm, "wp_faults", c->wp_faults);
	json_pml(&j, m, vm, c->pml_full);
	json_count_levels(&j, m, vm, KS_M_GFN_WRITE_PROTECT, "wp_calls", c->wp_gfn_calls);
	json_count_levels(&j, m, vm, KS_M_GFN_WRITE_PROTECT, "wp_changed", c->wp_gfn_protected);
	json_count_levels(&j, m, vm, KS_M_SPLITS, "splits", c->splits);
	json_count(&j, m, vm, KS_M_TLB_FLUSHES, "tlb_flushes", c->tlb_flushes);
	json_sev(&j, m, vm, c);
	if (vm->nvcpus) {
		f = calloc((size_t)vm->nvcpus, sizeof(*f));
		ids = calloc((size_t)vm->nvcpus, sizeof(*ids));
	}
	if (f && ids) {
		for (int i = 0; i < vm->nvcpus; i++) {
			f[i] = vm->vcpus[i].total;
			ids[i] = vm->vcpus[i].id;
		}
		json_vcpus(m, &j, vm, f, ids, vm->nvcpus, o.window);
	} else {
		json_vcpus(m, &j, vm, NULL, NULL, 0, o.window);
	}
	free(f);
	free(ids);
	ks_json_arr(&j, "slots");
	for (int i = 0; i < vm->nslots; i++) {
		const struct ks_slot *s = &vm->slots[i];

		ks_json_obj(&j, NULL);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "as_id", s->as_id);
		ks_json_u64(&j, "npages", s->npages);
		ks_json_u64(&j, "log_on_ns", s->log_on_ns);
		ks_json_u64(&j, "log_off_ns", s->log_off_ns);
		if (ks_model_has(m, KS_M_SLOT_WRITE_PROTECT))
			ks_json_bool(&j, "eager_write_protect", s->eager_wp);
		else
			ks_json_null(&j, "eager_write_protect");
		json_u64_if(&j, ks_model_has(m, KS_M_SLOT_WRITE_PROTECT), "eager_write_protect_ns",
			    s->eager_wp_ns);
		ks_json_u64(&j, "iterations", s->n_get);
		ks_json_u64(&j, "get_ns", s->get_ns);
		ks_json_u64(&j, "pages_dirty", s->dirty_pages);
		ks_json_u64(&j, "clears", s->n_clear);
		ks_json_u64(&j, "clear_ns", s->clear_ns);
		ks_json_u64(&j, "pages_cleared", s->cleared_pages);
		json_u64_if(&j, ks_model_has(m, KS_M_RMAP_ALLOC), "rmap_allocs", s->rmap_allocs);
		json_u64_if(&j, ks_model_has(m, KS_M_RMAP_ALLOC), "rmap_bytes", s->rmap_bytes);
		ks_json_u64(&j, "rmap_avoided_bytes", s->rmap_avoided_bytes);
		if (s->start_actions & KS_ACT_KNOWN)
			ks_json_str(&j, "kvm_decision", s->start_actions & KS_ACT_LAZY ? "lazy" : "eager");
		ks_json_close(&j);
	}
	ks_json_close(&j);
	end(js, &j);
}

static void summary(void *self, const struct ks_model *m, uint64_t now_ns)
{
	struct ks_stream *js = self;
	struct ks_json j;
	struct ks_cpu cpu;

	ks_sink_warn_lost(m);
	/* The whole process's CPU, loading included, after everything above. */
	cpu = ks_self_cpu();
	ks_json_begin(&j, js->out, "summary", now_ns);
	ks_json_u64(&j, "duration_ns", now_ns - m->start_ns);
	ks_json_u64(&j, "vms", m->vms_seen);
	ks_json_u64(&j, "vms_not_tracked", (uint64_t)m->untracked_vms);
	ks_json_u64(&j, "tracer_user_ns", cpu.user_ns);
	ks_json_u64(&j, "tracer_sys_ns", cpu.sys_ns);
	ks_json_obj(&j, "lost");
	for (int i = 0; i < KS_DROP_MAX; i++)
		ks_json_u64(&j, ks_drop_names[i], m->drops[i]);
	ks_json_close(&j);
	end(js, &j);
}

static const struct ks_sink_ops json_ops = {
	.change = change,
	.interval = interval,
	.vm = vm_record,
	.vm_summary = vm_summary,
	.summary = summary,
	.failed = ks_sink_stream_failed,
	.free = ks_sink_stream_free,
};

int ks_sink_json(struct ks_sink *s, FILE *out)
{
	return ks_sink_stream(s, &json_ops, out);
}
