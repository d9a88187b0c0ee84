// SPDX-License-Identifier: GPL-2.0
/*
 * `kvmscope migrate --trace FILE`: migrate's events as a timeline in the
 * Chrome trace format (tracer/lib/trace_chrome.c), one process per VMM:
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
#include <stdlib.h>
#include <string.h>
#include "migrate/sink.h"
#include "migrate/sink_common.h"
#include "lib/grow.h"
#include "lib/trace_chrome.h"

/* What the trace keeps of each VM (by table index; a VM of another serial
 * there is a new one): its process named, its last stats sample written,
 * the memslots (by index in vm->slots) whose logging span is open. */
struct trace_vm {
	uint64_t serial;
	bool named;
	uint64_t stats_ns;
	bool *span;
	int nspan;
};

struct trace_sink {
	struct ks_trace *t;
	struct trace_vm *vms;
	int nvms;
};

static void tvm_reset(void *elem)
{
	free(((struct trace_vm *)elem)->span);
}

/* The trace's state of vm; NULL if out of memory. */
static struct trace_vm *tvm_of(struct trace_sink *ts, const struct ks_vm *vm)
{
	return ks_vm_side(&ts->vms, &ts->nvms, sizeof(*ts->vms), vm, tvm_reset);
}

/* Is the logging span of vm's memslot s open? Set it to *set if given. */
static bool span_open(struct trace_vm *tv, const struct ks_vm *vm, const struct ks_slot *s,
		      const bool *set)
{
	int i = (int)(s - vm->slots);

	if (i >= tv->nspan &&
	    (!set || !*set || ks_grow(&tv->span, &tv->nspan, i + 1, sizeof(*tv->span), 0)))
		return false;
	if (set)
		tv->span[i] = *set;
	return tv->span[i];
}

/* Track ids: tids are synthetic and unique across VMMs (viewers key
 * threads by tid alone): pid * 1000 + track. pid_max is 2^22, so this fits
 * in 32 bits. */
enum { TRACK_IOCTL = 1, TRACK_SLOT_WP = 2, TRACK_RMAP = 3 };

static uint64_t tid_of(const struct ks_vm *vm, int track)
{
	return (uint64_t)vm->pid * 1000 + track;
}

/* Names the VMM's process and tracks before its first event. */
static void name_vm(struct ks_trace *t, struct trace_vm *tv, const struct ks_vm *vm)
{
	char name[96];

	if (tv->named)
		return;
	tv->named = true;
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
	char slot[40];

	snprintf(buf, len, "%s dirty logging", ks_slot_name(s, slot, sizeof(slot)));
}

static void span_end(struct ks_trace *t, struct trace_vm *tv, const struct ks_vm *vm,
		     const struct ks_slot *s, uint64_t ts, const char *why)
{
	static const bool closed = false;
	struct ks_json j;
	char name[64];

	if (!span_open(tv, vm, s, NULL))
		return;
	span_open(tv, vm, s, &closed);
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

static void memslot(struct ks_trace *t, struct trace_vm *tv, const struct ks_model *m,
		    const struct ks_change *c)
{
	static const bool open = true;
	const struct ks_vm *vm = c->vm;
	const struct ks_slot *s = c->slot;
	const struct ks_event *e = c->e;
	bool on = c->logging == KS_LOG_ON;
	const char *logging = on ? "on" : "off";
	struct ks_json j;
	char name[96], slot[40];

	if (c->logging == KS_LOG_UNCHANGED)
		return;
	name_vm(t, tv, vm);
	snprintf(name, sizeof(name), "memslot ioctl: %s logging %s",
		 ks_slot_name(s, slot, sizeof(slot)), logging);
	ks_trace_event(t, &j, 'X', name, "dirty_log", vm->pid, tid_of(vm, TRACK_IOCTL), e->ts_ns);
	ks_trace_dur(&j, e->dur_ns);
	ks_json_obj(&j, "args");
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "as_id", s->as_id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_str(&j, "logging", logging);
	ks_json_kvm_ns(&j, e);
	ks_json_wp_faults(&j, m, c->wp_faults);
	if (on && (e->actions & KS_ACT_KNOWN))
		ks_json_str(&j, "kvm_decision", e->actions & KS_ACT_LAZY ? "lazy" : "eager");
	ks_trace_event_end(t, &j);

	if (!on) {
		span_end(t, tv, vm, s, e->ts_ns + e->dur_ns, "logging off");
		return;
	}
	span_end(t, tv, vm, s, e->ts_ns, "logging on again"); /* never seen off */
	span_name(name, sizeof(name), s);
	ks_trace_event(t, &j, 'b', name, "memslot", vm->pid, tid_of(vm, TRACK_IOCTL), e->ts_ns);
	span_id(&j, vm, s);
	ks_json_obj(&j, "args");
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "as_id", s->as_id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "base_gfn", e->base_gfn);
	ks_json_u64(&j, "log_on_ns", e->dur_ns);
	ks_trace_event_end(t, &j);
	span_open(tv, vm, s, &open);
}

static void sync_slice(struct ks_trace *t, struct trace_vm *tv, const struct ks_model *m,
		       const struct ks_change *c)
{
	bool get = c->e->type == KS_EV_GET_DIRTY_LOG;
	struct ks_json j;
	char name[64], slot[40];

	name_vm(t, tv, c->vm);
	snprintf(name, sizeof(name), "%s %s", get ? "KVM_GET_DIRTY_LOG" : "KVM_CLEAR_DIRTY_LOG",
		 ks_slot_name(c->slot, slot, sizeof(slot)));
	ks_trace_event(t, &j, 'X', name, "dirty_log", c->vm->pid, tid_of(c->vm, TRACK_IOCTL),
		       c->e->ts_ns);
	ks_trace_dur(&j, c->e->dur_ns);
	ks_json_obj(&j, "args");
	ks_json_sync_fields(&j, m, c);
	ks_trace_event_end(t, &j);
}

/* Opens the complete event ('X') of one slot's operation, WHAT on TRACK,
 * up to its arguments after "slot". */
static void slot_op_begin(struct ks_trace *t, struct trace_vm *tv, const struct ks_change *c,
			  const char *what, const char *cat, int track, struct ks_json *j)
{
	char name[64], slot[40];

	name_vm(t, tv, c->vm);
	snprintf(name, sizeof(name), "%s %s", what, ks_slot_name(c->slot, slot, sizeof(slot)));
	ks_trace_event(t, j, 'X', name, cat, c->vm->pid, tid_of(c->vm, track), c->e->ts_ns);
	ks_trace_dur(j, c->e->dur_ns);
	ks_json_obj(j, "args");
	ks_json_u64(j, "slot", c->slot->id);
	ks_json_u64(j, "as_id", c->slot->as_id);
}

static void change(void *self, const struct ks_model *m, const struct ks_change *c)
{
	struct trace_sink *ts = self;
	struct trace_vm *tv = tvm_of(ts, c->vm);
	struct ks_json j;

	if (!tv)
		return;
	switch (c->kind) {
	case KS_CH_MEMSLOT:
		memslot(ts->t, tv, m, c);
		break;
	case KS_CH_SYNC:
		sync_slice(ts->t, tv, m, c);
		break;
	case KS_CH_SLOT_WP:
		slot_op_begin(ts->t, tv, c, "write-protect", "dirty_log", TRACK_SLOT_WP, &j);
		ks_json_u64(&j, "start_level", c->e->level);
		ks_json_u64(&j, "npages", c->e->npages);
		ks_trace_event_end(ts->t, &j);
		break;
	case KS_CH_RMAP:
		slot_op_begin(ts->t, tv, c, "rmap alloc", "rmap", TRACK_RMAP, &j);
		ks_json_u64(&j, "npages", c->e->npages);
		ks_json_u64(&j, "bytes", c->rmap_bytes);
		ks_json_i64(&j, "result", c->e->result);
		ks_trace_event_end(ts->t, &j);
		break;
	case KS_CH_RMAP_SKIP:
	case KS_CH_VM_CREATE:
	case KS_CH_VM_RELEASE:
		break;
	}
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
static void stats_counters(struct ks_trace *t, struct trace_vm *tv, const struct ks_vm *vm)
{
	const struct ks_stats_src *src = &vm->st.vm;
	uint64_t ts = src->cur_ns;
	char name[160];

	if (!vm->have_stats || src->fd < 0 || !ts || ts <= tv->stats_ns)
		return;
	tv->stats_ns = ts;
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
 * lines' vcpu_faults: where the fault bursts were); no write-protect
 * track where they are not measured. */
static void vcpu_counters(struct ks_trace *t, const struct ks_model *m,
			  const struct ks_interval *iv, uint64_t ts)
{
	char name[64];

	for (int i = 0; i < iv->nvcpus; i++) {
		snprintf(name, sizeof(name), "vCPU %d faults", iv->vcpu_id[i]);
		ks_trace_counter_u64(t, iv->vm->pid, name, "faults", ts, iv->vcpu_delta[i].faults);
		if (!m->wp_faults_measured)
			continue;
		snprintf(name, sizeof(name), "vCPU %d write-protect faults", iv->vcpu_id[i]);
		ks_trace_counter_u64(t, iv->vm->pid, name, "wp_faults", ts,
				     iv->vcpu_delta[i].wp_faults);
	}
}

static void interval(void *self, const struct ks_model *m, const struct ks_interval *iv)
{
	struct trace_sink *ts = self;
	struct ks_trace *t = ts->t;
	const struct ks_vm *vm = iv->vm;
	const struct ks_vm_counters *dc = &iv->dc;
	struct trace_vm *tv = tvm_of(ts, vm);
	uint64_t start = iv->now_ns - iv->dt_ns;

	if (!tv)
		return;
	name_vm(t, tv, vm);
	ks_trace_counter_u64(t, vm->pid, "syncs", "get", start, iv->syncs);
	ks_trace_counter(t, vm->pid, "dirty-log ioctl time", "ms", start, iv->host_ns / 1e6);
	/* A VM whose counters found the kernel's VM table full has no
	 * counts to show: nothing rather than zeros. */
	if (vm->untracked) {
		stats_counters(t, tv, vm);
		ks_trace_flush(t);
		return;
	}
	/* Fault counts only where known (the JSON lines' null); write faults
	 * only the fault program tells apart. */
	if (ks_model_faults_known(m, vm)) {
		ks_trace_counter_u64(t, vm->pid, "faults", "all", start, dc->faults);
		if (m->fault_program)
			ks_trace_counter_u64(t, vm->pid, "write faults", "write", start,
					     dc->write_faults);
		if (m->wp_faults_measured)
			ks_trace_counter_u64(t, vm->pid, "write-protect faults", "wp", start,
					     dc->wp_faults);
	}
	if (m->pml_full)
		ks_trace_counter_u64(t, vm->pid, "PML-full exits", "exits", start, dc->pml_full);
	if (m->fault_latency)
		ks_trace_counter(t, vm->pid, "vCPU time in faults", "pct", start, iv->lost_pct);
	/* No counter track for a metric with no way in on this kernel. */
	if (ks_model_has(m, KS_M_GFN_WRITE_PROTECT))
		counter_levels(t, vm, "write-protect calls by min_level", start, dc->wp_gfn_calls, 1);
	/* Splits are counted by the level split from: 2m and 1g. */
	if (ks_model_has(m, KS_M_SPLITS))
		counter_levels(t, vm, "huge pages split", start, dc->splits, 2);
	if (ks_model_has(m, KS_M_TLB_FLUSHES))
		ks_trace_counter_u64(t, vm->pid, "remote TLB flushes", "flushes", start, dc->tlb_flushes);
	vcpu_counters(t, m, iv, start);
	stats_counters(t, tv, vm);
	ks_trace_flush(t);
}

/* A VM gone: its interval counters back to 0, its open spans ended. */
static void vm_record(void *self, const struct ks_model *m, const struct ks_vm *vm,
		      const char *what, uint64_t ts)
{
	static const unsigned long long zero[KS_MAX_LEVEL];
	struct trace_sink *ts_ = self;
	struct ks_trace *t = ts_->t;
	struct trace_vm *tv;
	char name[64];

	if (strcmp(what, "exited") || !(tv = tvm_of(ts_, vm)) || !tv->named)
		return;
	ks_trace_counter_u64(t, vm->pid, "syncs", "get", ts, 0);
	ks_trace_counter(t, vm->pid, "dirty-log ioctl time", "ms", ts, 0);
	ks_trace_counter_u64(t, vm->pid, "faults", "all", ts, 0);
	if (m->fault_program)
		ks_trace_counter_u64(t, vm->pid, "write faults", "write", ts, 0);
	if (m->wp_faults_measured)
		ks_trace_counter_u64(t, vm->pid, "write-protect faults", "wp", ts, 0);
	if (m->pml_full)
		ks_trace_counter_u64(t, vm->pid, "PML-full exits", "exits", ts, 0);
	if (m->fault_latency)
		ks_trace_counter(t, vm->pid, "vCPU time in faults", "pct", ts, 0);
	counter_levels(t, vm, "write-protect calls by min_level", ts, zero, 1);
	counter_levels(t, vm, "huge pages split", ts, zero, 2);
	ks_trace_counter_u64(t, vm->pid, "remote TLB flushes", "flushes", ts, 0);
	for (int i = 0; i < vm->nvcpus; i++) {
		snprintf(name, sizeof(name), "vCPU %d faults", vm->vcpus[i].id);
		ks_trace_counter_u64(t, vm->pid, name, "faults", ts, 0);
		if (!m->wp_faults_measured)
			continue;
		snprintf(name, sizeof(name), "vCPU %d write-protect faults", vm->vcpus[i].id);
		ks_trace_counter_u64(t, vm->pid, name, "wp_faults", ts, 0);
	}
	for (int i = 0; i < vm->nslots; i++)
		span_end(t, tv, vm, &vm->slots[i], ts, "VM exited");
	ks_trace_flush(t);
}

/* Spans still open (logging on when the run ended) end with the run. */
static int sink_close(void *self, const struct ks_model *m, uint64_t now_ns)
{
	struct trace_sink *ts = self;
	struct ks_vm *vm;

	ks_model_for_each_vm(m, i, vm) {
		struct trace_vm *tv = tvm_of(ts, vm);

		for (int k = 0; tv && k < vm->nslots; k++)
			span_end(ts->t, tv, vm, &vm->slots[k], now_ns, "end of trace");
	}
	return ks_trace_close(ts->t);
}

static bool failed(void *self)
{
	return ((struct trace_sink *)self)->t->err != 0;
}

static void sink_free(void *self)
{
	struct trace_sink *ts = self;

	for (int i = 0; i < ts->nvms; i++)
		free(ts->vms[i].span);
	free(ts->vms);
	free(ts);
}

static const struct ks_sink_ops trace_ops = {
	.change = change,
	.interval = interval,
	.vm = vm_record,
	.close = sink_close,
	.failed = failed,
	.free = sink_free,
};

int ks_sink_trace(struct ks_sink *s, struct ks_trace *t)
{
	struct trace_sink *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return -1;
	ts->t = t;
	s->ops = &trace_ops;
	s->self = ts;
	return 0;
}
