// SPDX-License-Identifier: GPL-2.0
/*
 * `kvmscope migrate --trace FILE`: migrate's events as a timeline in the
 * Chrome trace format (tracer/trace_chrome.c), one process per VMM:
 *
 *   track "dirty-log ioctls"      one slice per KVM_GET_DIRTY_LOG and
 *                                 KVM_CLEAR_DIRTY_LOG, and per memslot
 *                                 ioctl that turned logging on or off
 *   track "whole-slot write protect"  KVM's eager write protect at start
 *   track "rmap allocation"       memslot rmap arrays allocated
 *   async "slot N dirty logging"  per memslot, logging on to logging off
 *   counters, per interval        faults, write faults, write-protect
 *                                 faults, vCPU time in faults, write-protect
 *                                 calls by min_level, splits, TLB flushes,
 *                                 syncs, ioctl time; per vCPU: faults and
 *                                 write-protect faults
 *   counters, per stats sample    every scalar binary statistic of the VM,
 *                                 and of its vCPUs summed
 *
 * Every timestamp is the JSON lines' ts_ns of the same thing; interval
 * counters are stamped at the interval's start and hold until the next.
 * docs/usage.md describes the result for users.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "migrate/migrate.h"
#include "migrate/migrate_trace.h"

/* Track ids: tids are synthetic and unique across VMMs (viewers key
 * threads by tid alone): pid * 1000 + track. pid_max is 2^22, so this fits
 * in 32 bits. */
enum { TRACK_IOCTL = 1, TRACK_SLOT_WP = 2, TRACK_RMAP = 3 };

static uint64_t tid_of(const struct ks_vm *vm, int track)
{
	return (uint64_t)vm->pid * 1000 + track;
}

/* Names the VMM's process and tracks before its first event. */
static void name_vm(struct ks_trace *t, struct ks_vm *vm)
{
	char name[96];

	if (vm->trace_named)
		return;
	vm->trace_named = true;
	snprintf(name, sizeof(name), "%s", vm->comm[0] ? vm->comm : "VMM");
	ks_trace_process_name(t, vm->pid, name, vm->pid);
	ks_trace_thread_name(t, vm->pid, tid_of(vm, TRACK_IOCTL), "dirty-log ioctls", 1);
	ks_trace_thread_name(t, vm->pid, tid_of(vm, TRACK_SLOT_WP), "whole-slot write protect", 2);
	ks_trace_thread_name(t, vm->pid, tid_of(vm, TRACK_RMAP), "rmap allocation", 3);
}

/* Async span ids must not collide between VMMs or slots. */
static void span_id(struct ks_json *j, const struct ks_vm *vm, const struct ks_slot *s)
{
	char id[40];

	snprintf(id, sizeof(id), "0x%" PRIx64,
		 (uint64_t)vm->pid << 17 | (uint64_t)(s->as_id & 1) << 16 | (s->id & 0xffff));
	ks_json_str(j, "id", id);
}

static void span_name(char *buf, size_t len, const struct ks_slot *s)
{
	if (s->as_id)
		snprintf(buf, len, "slot %u (as %u) dirty logging", s->id, s->as_id);
	else
		snprintf(buf, len, "slot %u dirty logging", s->id);
}

static void span_end(struct ks_trace *t, struct ks_vm *vm, struct ks_slot *s, uint64_t ts,
		     const char *why)
{
	struct ks_json j;
	char name[64];

	if (!s->trace_span)
		return;
	s->trace_span = false;
	span_name(name, sizeof(name), s);
	ks_trace_event(t, &j, 'e', name, "memslot", vm->pid, tid_of(vm, TRACK_IOCTL), ts);
	span_id(&j, vm, s);
	ks_json_obj(&j, "args");
	ks_json_str(&j, "ended_by", why);
	ks_json_u64(&j, "iterations", s->n_get);
	ks_json_u64(&j, "pages_dirty", s->dirty_pages);
	ks_json_u64(&j, "pages_cleared", s->cleared_pages);
	ks_trace_event_end(t, &j);
}

void ks_mtrace_memslot(struct ks_migrate *m, struct ks_vm *vm, struct ks_slot *s,
		       const struct ks_event *e, const char *logging, int64_t wp_faults)
{
	struct ks_trace *t = m->trace;
	bool on = !strcmp(logging, "on");
	struct ks_json j;
	char name[96];

	if (!t || (!on && strcmp(logging, "off")))
		return;
	name_vm(t, vm);
	snprintf(name, sizeof(name), "memslot ioctl: slot %u logging %s", s->id, logging);
	ks_trace_event(t, &j, 'X', name, "dirty_log", vm->pid, tid_of(vm, TRACK_IOCTL), e->ts_ns);
	ks_trace_dur(&j, e->dur_ns);
	ks_json_obj(&j, "args");
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "as_id", s->as_id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_str(&j, "logging", logging);
	ks_json_u64(&j, "kvm_ns", e->kvm_ns);
	ks_json_i64(&j, "wp_faults", wp_faults);
	if (on && (e->actions & KS_ACT_KNOWN))
		ks_json_str(&j, "kvm_decision", e->actions & KS_ACT_LAZY ? "lazy" : "eager");
	ks_trace_event_end(t, &j);

	if (!on) {
		span_end(t, vm, s, e->ts_ns + e->dur_ns, "logging off");
		return;
	}
	span_end(t, vm, s, e->ts_ns, "logging on again"); /* never seen off */
	span_name(name, sizeof(name), s);
	ks_trace_event(t, &j, 'b', name, "memslot", vm->pid, tid_of(vm, TRACK_IOCTL), e->ts_ns);
	span_id(&j, vm, s);
	ks_json_obj(&j, "args");
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "base_gfn", e->base_gfn);
	ks_json_u64(&j, "log_on_ns", e->dur_ns);
	ks_trace_event_end(t, &j);
	s->trace_span = true;
}

void ks_mtrace_sync(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		    const struct ks_event *e, uint64_t iteration, int64_t wp_faults,
		    int64_t faults)
{
	struct ks_trace *t = m->trace;
	bool get = e->type == KS_EV_GET_DIRTY_LOG;
	struct ks_json j;
	char name[64];

	if (!t)
		return;
	name_vm(t, vm);
	snprintf(name, sizeof(name), "%s slot %u", get ? "KVM_GET_DIRTY_LOG" : "KVM_CLEAR_DIRTY_LOG",
		 s->id);
	ks_trace_event(t, &j, 'X', name, "dirty_log", vm->pid, tid_of(vm, TRACK_IOCTL), e->ts_ns);
	ks_trace_dur(&j, e->dur_ns);
	ks_json_obj(&j, "args");
	ks_migrate_json_sync(&j, m, s, e, iteration, wp_faults, faults);
	ks_trace_event_end(t, &j);
}

/* Opens the complete event ('X') of one slot's operation, WHAT on TRACK,
 * up to its arguments after "slot"; false if no trace is written. */
static bool slot_op_begin(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
			  const struct ks_event *e, const char *what, const char *cat, int track,
			  struct ks_json *j)
{
	char name[64];

	if (!m->trace)
		return false;
	name_vm(m->trace, vm);
	snprintf(name, sizeof(name), "%s slot %u", what, s->id);
	ks_trace_event(m->trace, j, 'X', name, cat, vm->pid, tid_of(vm, track), e->ts_ns);
	ks_trace_dur(j, e->dur_ns);
	ks_json_obj(j, "args");
	ks_json_u64(j, "slot", s->id);
	return true;
}

void ks_mtrace_slot_wp(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		       const struct ks_event *e)
{
	struct ks_json j;

	if (!slot_op_begin(m, vm, s, e, "write-protect", "dirty_log", TRACK_SLOT_WP, &j))
		return;
	ks_json_u64(&j, "start_level", e->level);
	ks_json_u64(&j, "npages", e->npages);
	ks_trace_event_end(m->trace, &j);
}

void ks_mtrace_rmap(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		    const struct ks_event *e, uint64_t bytes)
{
	struct ks_json j;

	if (!slot_op_begin(m, vm, s, e, "rmap alloc", "rmap", TRACK_RMAP, &j))
		return;
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "bytes", bytes);
	ks_json_i64(&j, "result", e->result);
	ks_trace_event_end(m->trace, &j);
}

static void counter_levels(struct ks_trace *t, const struct ks_vm *vm, const char *name,
			   uint64_t ts, const unsigned long long *v, int from)
{
	static const char *const level[KS_MAX_LEVEL] = { NULL, "4k", "2m", "1g" };
	struct ks_json j;

	ks_trace_event(t, &j, 'C', name, NULL, vm->pid, 0, ts);
	ks_json_obj(&j, "args");
	for (int l = from; l < KS_MAX_LEVEL; l++)
		ks_json_u64(&j, level[l], v[l]);
	ks_trace_event_end(t, &j);
}

/* Every scalar statistic: the VM's, and its vCPUs' summed, as read. */
static void stats_counters(struct ks_trace *t, struct ks_vm *vm)
{
	const struct ks_stats_src *src = &vm->st.vm;
	uint64_t ts = src->cur_ns;
	char name[160];

	if (!vm->have_stats || src->fd < 0 || !ts || ts <= vm->trace_stats_ns)
		return;
	vm->trace_stats_ns = ts;
	for (unsigned int i = 0; i < src->schema.ndesc; i++) {
		const struct ks_stat_desc *d = &src->schema.desc[i];

		if (d->size != 1)
			continue; /* histograms */
		snprintf(name, sizeof(name), "stat %s", d->name);
		ks_trace_counter_u64(t, vm->pid, name, "value", ts, src->cur[d->index]);
	}
	if (vm->st.nvcpu <= 0 || vm->st.vcpu[0].fd < 0)
		return;
	src = &vm->st.vcpu[0];
	for (unsigned int i = 0; i < src->schema.ndesc; i++) {
		const struct ks_stat_desc *d = &src->schema.desc[i];
		bool found;
		uint64_t sum;

		if (d->size != 1)
			continue;
		sum = ks_vmstats_value(&vm->st, true, d->name, &found);
		snprintf(name, sizeof(name), "vcpu stat %s (sum)", d->name);
		ks_trace_counter_u64(t, vm->pid, name, "value", ts, sum);
	}
}

/* Per vCPU, the interval's faults and write-protect faults (the JSON
 * lines' vcpu_faults: where the fault bursts were); with zero, the end of
 * the VM (every vCPU back to 0). */
static void vcpu_counters(struct ks_trace *t, const struct ks_vm *vm, uint64_t ts, bool zero)
{
	char name[64];

	for (int i = 0; i < vm->nvcpus; i++) {
		const struct ks_vcpu_stat *v = &vm->vcpus[i];

		snprintf(name, sizeof(name), "vCPU %d faults", v->id);
		ks_trace_counter_u64(t, vm->pid, name, "faults", ts,
				     zero || v->total.faults < v->last.faults ? 0 :
				     v->total.faults - v->last.faults);
		snprintf(name, sizeof(name), "vCPU %d write-protect faults", v->id);
		ks_trace_counter_u64(t, vm->pid, name, "wp_faults", ts,
				     zero || v->total.wp_faults < v->last.wp_faults ? 0 :
				     v->total.wp_faults - v->last.wp_faults);
	}
}

void ks_mtrace_interval(struct ks_migrate *m, struct ks_vm *vm, const struct ks_vm_counters *dc,
			uint64_t now_ns, uint64_t dt_ns, double lost_pct)
{
	struct ks_trace *t = m->trace;
	uint64_t start = now_ns - dt_ns;

	if (!t)
		return;
	name_vm(t, vm);
	ks_trace_counter_u64(t, vm->pid, "syncs", "get", start, vm->syncs_interval);
	ks_trace_counter(t, vm->pid, "dirty-log ioctl time", "ms", start,
			 vm->host_ns_interval / 1e6);
	/* A VM whose counters found the kernel's VM table full has no
	 * counts to show: nothing rather than zeros. */
	if (vm->untracked) {
		stats_counters(t, vm);
		ks_trace_flush(t);
		return;
	}
	/* Fault counts only where known (the JSON lines' null); write faults
	 * only the fault program tells apart. */
	if (ks_migrate_faults_known(m, vm)) {
		ks_trace_counter_u64(t, vm->pid, "faults", "all", start, dc->faults);
		if (m->fault_program)
			ks_trace_counter_u64(t, vm->pid, "write faults", "write", start,
					     dc->write_faults);
		ks_trace_counter_u64(t, vm->pid, "write-protect faults", "wp", start, dc->wp_faults);
	}
	if (m->fault_latency)
		ks_trace_counter(t, vm->pid, "vCPU time in faults", "pct", start, lost_pct);
	counter_levels(t, vm, "write-protect calls by min_level", start, dc->wp_gfn_calls, 1);
	/* Splits are counted by the level split from: 2m and 1g. */
	counter_levels(t, vm, "huge pages split", start, dc->splits, 2);
	ks_trace_counter_u64(t, vm->pid, "remote TLB flushes", "flushes", start, dc->tlb_flushes);
	vcpu_counters(t, vm, start, false);
	stats_counters(t, vm);
	ks_trace_flush(t);
}

void ks_mtrace_vm_exit(struct ks_migrate *m, struct ks_vm *vm, uint64_t ts)
{
	static const unsigned long long zero[KS_MAX_LEVEL];
	struct ks_trace *t = m->trace;

	if (!t || !vm->trace_named)
		return;
	/* The interval counters end with the VM: back to 0. */
	ks_trace_counter_u64(t, vm->pid, "syncs", "get", ts, 0);
	ks_trace_counter(t, vm->pid, "dirty-log ioctl time", "ms", ts, 0);
	ks_trace_counter_u64(t, vm->pid, "faults", "all", ts, 0);
	if (m->fault_program)
		ks_trace_counter_u64(t, vm->pid, "write faults", "write", ts, 0);
	ks_trace_counter_u64(t, vm->pid, "write-protect faults", "wp", ts, 0);
	if (m->fault_latency)
		ks_trace_counter(t, vm->pid, "vCPU time in faults", "pct", ts, 0);
	counter_levels(t, vm, "write-protect calls by min_level", ts, zero, 1);
	counter_levels(t, vm, "huge pages split", ts, zero, 2);
	ks_trace_counter_u64(t, vm->pid, "remote TLB flushes", "flushes", ts, 0);
	vcpu_counters(t, vm, ts, true);
	for (int i = 0; i < KS_MAX_SLOTS; i++)
		if (vm->slots[i].used)
			span_end(t, vm, &vm->slots[i], ts, "VM exited");
	ks_trace_flush(t);
}

int ks_mtrace_close(struct ks_migrate *m, uint64_t now_ns)
{
	struct ks_trace *t = m->trace;

	if (!t)
		return 0;
	/* Spans still open (logging on when the run ended) end with the run. */
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &m->vms[i];

		if (!vm->used)
			continue;
		for (int k = 0; k < KS_MAX_SLOTS; k++)
			if (vm->slots[k].used)
				span_end(t, vm, &vm->slots[k], now_ns, "end of trace");
	}
	return ks_trace_close(t);
}
