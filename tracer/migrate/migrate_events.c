// SPDX-License-Identifier: GPL-2.0
/*
 * Rare events of `kvmscope migrate`: memslot changes (dirty logging on/off),
 * dirty-log syncs, whole-slot write protection and rmap allocation. Each
 * updates the VM's slot table and is printed as it arrives.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/migrate.h"
#include "migrate/migrate_trace.h"
#include "kvm/rmap_bytes.h"
#include "lib/json.h"

/* KVM_MEM_LOG_DIRTY_PAGES, from the KVM uAPI. */
#define MEM_LOG_DIRTY 1u

static const char *const change_names[] = { "create", "delete", "move", "flags" };

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

struct ks_vm *ks_migrate_vm(struct ks_migrate *m, pid_t pid, bool create)
{
	struct ks_vm *free_slot = NULL;

	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &m->vms[i];

		if (vm->used && vm->pid == pid && vm->active)
			return vm;
		if (!vm->used && !free_slot)
			free_slot = vm;
	}
	if (!create || !free_slot)
		return NULL;
	ks_migrate_vm_free(free_slot);
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->active = true;
	free_slot->pid = pid;
	free_slot->st.pidfd = -1;
	ks_comm_read(pid, free_slot->comm, sizeof(free_slot->comm));
	m->nvm++;
	return free_slot;
}

void ks_migrate_vm_free(struct ks_vm *vm)
{
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nvcpus = vm->vcpus_alloc = 0;
}

struct ks_vcpu_stat *ks_migrate_vcpu(struct ks_vm *vm, int id)
{
	struct ks_vcpu_stat *v;
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].id == id)
			return &vm->vcpus[i];
	if (vm->nvcpus == vm->vcpus_alloc) {
		int n = vm->vcpus_alloc ? vm->vcpus_alloc * 2 : 8;

		v = realloc(vm->vcpus, (size_t)n * sizeof(*v));
		if (!v)
			return NULL;
		vm->vcpus = v;
		vm->vcpus_alloc = n;
	}
	/* Kept in id order, for the report. */
	for (i = vm->nvcpus; i > 0 && vm->vcpus[i - 1].id > id; i--)
		vm->vcpus[i] = vm->vcpus[i - 1];
	v = &vm->vcpus[i];
	memset(v, 0, sizeof(*v));
	v->id = id;
	vm->nvcpus++;
	return v;
}

static struct ks_slot *slot_of(struct ks_vm *vm, unsigned int as_id, unsigned int id,
			       bool create)
{
	struct ks_slot *free_slot = NULL;

	for (int i = 0; i < KS_MAX_SLOTS; i++) {
		struct ks_slot *s = &vm->slots[i];

		if (s->used && s->id == id && s->as_id == as_id)
			return s;
		if (!s->used && !free_slot)
			free_slot = s;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->id = id;
	free_slot->as_id = as_id;
	return free_slot;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

/* Write-protect faults and faults since the VM's previous dirty-log or
 * memslot event: with syncs as boundaries, those of one dirty-log
 * iteration. -1 when unknown (not read, the previous event was of another
 * VM of the process, or, with the fault program, the VM's counters found
 * the kernel's VM table full: the kernel then has no faults of it to sum,
 * which must not read as 0; KVM's own stats have no such table). */
struct faults_since {
	int64_t wp_faults, faults;
};

static int64_t since(uint64_t *mark, int64_t total, bool same_kvm, bool first)
{
	int64_t n = -1;

	if (total < 0)
		return -1;
	if (same_kvm)
		n = (uint64_t)total >= *mark ? (int64_t)((uint64_t)total - *mark) : 0;
	else if (first)
		n = total; /* counted since tracing began */
	if (!same_kvm || (uint64_t)total > *mark)
		*mark = (uint64_t)total;
	return n;
}

static struct faults_since faults_since(struct ks_migrate *m, struct ks_vm *vm,
					const struct ks_event *e)
{
	struct faults_since f = { -1, -1 };
	bool same = vm->wp_mark_kvm == e->kvm, first = !vm->wp_mark_kvm;

	if (m->fault_program && ks_migrate_untracked(m, vm))
		return f;
	/* KVM's stats count from the VM's creation, not from when tracing
	 * began: the first event of a VM is a baseline only. */
	if (!m->fault_program)
		first = false;
	f.wp_faults = since(&vm->wp_mark, e->wp_faults_total, same, first);
	f.faults = since(&vm->fault_mark, e->faults_total, same, first);
	vm->wp_mark_kvm = e->kvm;
	return f;
}

static void memslot_event(struct ks_migrate *m, struct ks_vm *vm, const struct ks_event *e)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot, true);
	bool was = e->old_flags & MEM_LOG_DIRTY, is = e->new_flags & MEM_LOG_DIRTY;
	const char *logging = "unchanged";
	struct faults_since f = faults_since(m, vm, e);
	struct ks_json j;

	if (!s)
		return;
	s->npages = e->npages;
	s->base_gfn = e->base_gfn;
	s->flags = e->new_flags;
	if (e->change == 1) /* delete */
		is = false;
	if (!was && is) {
		logging = "on";
		s->logging = true;
		s->start_actions = e->actions;
		s->log_on_ts = e->ts_ns;
		s->log_on_ns = e->dur_ns;
		s->iteration = 0;
		vm->host_ns_interval += e->dur_ns;
		vm->host_ns_total += e->dur_ns;
	} else if (was && !is) {
		logging = "off";
		s->logging = false;
		s->log_off_ts = e->ts_ns;
		s->log_off_ns = e->dur_ns;
		vm->host_ns_interval += e->dur_ns;
		vm->host_ns_total += e->dur_ns;
	}
	ks_mtrace_memslot(m, vm, s, e, logging, f.wp_faults);
	if (m->json) {
		ks_json_begin(&j, m->out, "memslot", e->ts_ns);
		ks_json_i64(&j, "pid", vm->pid);
		ks_json_u64(&j, "slot", s->id);
		ks_json_u64(&j, "as_id", s->as_id);
		ks_json_str(&j, "change", e->change < 4 ? change_names[e->change] : "unknown");
		ks_json_u64(&j, "npages", e->npages);
		ks_json_u64(&j, "base_gfn", e->base_gfn);
		ks_json_u64(&j, "old_flags", e->old_flags);
		ks_json_u64(&j, "new_flags", e->new_flags);
		ks_json_str(&j, "logging", logging);
		json_actions(&j, e->actions);
		ks_json_u64(&j, "dur_ns", e->dur_ns);
		ks_json_u64(&j, "kvm_ns", e->kvm_ns);
		if (e->preempted >= 0)
			ks_json_i64(&j, "preempted", e->preempted);
		ks_json_i64(&j, "wp_faults", f.wp_faults);
		ks_json_i64(&j, "faults", f.faults);
		if (ks_json_end(&j))
			m->output_failed = true;
	} else if (m->out && strcmp(logging, "unchanged")) {
		fprintf(m->out, "%10.3fs  pid %-7d slot %u: dirty logging %s (%llu pages, memslot ioctl %.3f ms%s%s)\n",
			(e->ts_ns - m->start_ns) / 1e9, vm->pid, s->id, logging,
			(unsigned long long)e->npages, ms(e->dur_ns),
			!(e->actions & KS_ACT_KNOWN) || !is ? "" :
			(e->actions & KS_ACT_LAZY) ? "; KVM: lazy, initially set" : "; KVM: eager write protect",
			(e->actions & KS_ACT_KNOWN) && is && (e->actions & KS_ACT_SPLIT) ? ", eager split" : "");
	}
}

static void sync_event(struct ks_migrate *m, struct ks_vm *vm, const struct ks_event *e)
{
	bool get = e->type == KS_EV_GET_DIRTY_LOG;
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot, true);
	struct faults_since f = faults_since(m, vm, e);
	uint64_t iteration;
	struct ks_json j;

	if (!s)
		return;
	if (e->npages && !s->npages)
		s->npages = e->npages;
	/* Iterations count GETs since logging started; a CLEAR belongs to the
	 * iteration of the GET before it. */
	if (get)
		iteration = s->iteration++;
	else
		iteration = s->iteration ? s->iteration - 1 : 0;
	if (get) {
		s->n_get++;
		s->get_ns += e->dur_ns;
		if (e->pages > 0)
			s->dirty_pages += e->pages;
		vm->syncs_interval++;
	} else {
		s->n_clear++;
		s->clear_ns += e->dur_ns;
		if (e->pages > 0)
			s->cleared_pages += e->pages;
	}
	vm->host_ns_interval += e->dur_ns;
	vm->host_ns_total += e->dur_ns;
	ks_mtrace_sync(m, vm, s, e, iteration, f.wp_faults, f.faults);
	if (!m->json)
		return; /* human output aggregates syncs per interval */
	ks_json_begin(&j, m->out, "dirty_log", e->ts_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_u64(&j, "dur_ns", e->dur_ns);
	ks_migrate_json_sync(&j, m, s, e, iteration, f.wp_faults, f.faults);
	if (ks_json_end(&j))
		m->output_failed = true;
}

void ks_migrate_json_sync(struct ks_json *j, const struct ks_migrate *m, const struct ks_slot *s,
			  const struct ks_event *e, uint64_t iteration, int64_t wp_faults,
			  int64_t faults)
{
	bool get = e->type == KS_EV_GET_DIRTY_LOG;

	ks_json_str(j, "op", get ? "get" : "clear");
	ks_json_u64(j, "slot", s->id);
	ks_json_u64(j, "as_id", s->as_id);
	ks_json_u64(j, "iteration", iteration);
	ks_json_u64(j, "kvm_ns", e->kvm_ns);
	if (e->preempted >= 0)
		ks_json_i64(j, "preempted", e->preempted);
	ks_json_i64(j, "wp_faults", wp_faults);
	ks_json_i64(j, "faults", faults);
	ks_json_i64(j, get ? "pages_dirty" : "pages_cleared", e->pages);
	if (!get) {
		ks_json_u64(j, "first_page", e->first_page);
		ks_json_u64(j, "num_pages", e->num_pages);
	}
	ks_json_i64(j, "result", e->result);
	if (m->gfn_wp && e->wp_known) {
		ks_migrate_json_levels(j, "wp_calls", e->wp_calls);
		ks_migrate_json_levels(j, "wp_changed", e->wp_changed);
	} else {
		ks_json_double(j, "wp_calls", NAN);   /* null: not counted */
		ks_json_double(j, "wp_changed", NAN);
	}
}

static void slot_wp_event(struct ks_migrate *m, struct ks_vm *vm, const struct ks_event *e)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot, true);
	struct ks_json j;

	if (!s)
		return;
	s->eager_wp = true;
	s->eager_wp_ns += e->dur_ns;
	ks_mtrace_slot_wp(m, vm, s, e);
	if (!m->json)
		return;
	ks_json_begin(&j, m->out, "slot_write_protect", e->ts_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "as_id", s->as_id);
	ks_json_u64(&j, "start_level", e->level);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "dur_ns", e->dur_ns);
	if (ks_json_end(&j))
		m->output_failed = true;
}

static void rmap_event(struct ks_migrate *m, struct ks_vm *vm, const struct ks_event *e)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot, true);
	/* Series kernels report the bytes; otherwise the same formula. */
	uint64_t bytes = e->result ? 0 : e->bytes ? e->bytes : ks_rmap_bytes(e->base_gfn, e->npages);
	struct ks_json j;

	if (!s)
		return;
	s->rmap_allocs++;
	s->rmap_bytes += bytes;
	s->rmap_ns += e->dur_ns;
	ks_mtrace_rmap(m, vm, s, e, bytes);
	if (!m->json)
		return;
	ks_json_begin(&j, m->out, "rmap_alloc", e->ts_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "bytes", bytes);
	ks_json_u64(&j, "dur_ns", e->dur_ns);
	ks_json_i64(&j, "result", e->result);
	if (ks_json_end(&j))
		m->output_failed = true;
}

/* Series kernels: a memslot made without rmaps, and the bytes saved. */
static void rmap_skip_event(struct ks_migrate *m, struct ks_vm *vm, const struct ks_event *e)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot, true);
	struct ks_json j;

	if (!s)
		return;
	s->rmap_avoided_bytes = e->bytes;
	if (!m->json)
		return;
	ks_json_begin(&j, m->out, "rmap_skip", e->ts_ns);
	ks_json_i64(&j, "pid", vm->pid);
	ks_json_u64(&j, "slot", s->id);
	ks_json_u64(&j, "npages", e->npages);
	ks_json_u64(&j, "bytes", e->bytes);
	if (ks_json_end(&j))
		m->output_failed = true;
}

void ks_migrate_remember_kvm(struct ks_vm *vm, uint64_t kvm)
{
	if (!kvm)
		return;
	for (int i = 0; i < vm->nkvm; i++)
		if (vm->kvm[i] == kvm)
			return;
	if (vm->nkvm < KS_MAX_KVM_PER_VMM)
		vm->kvm[vm->nkvm++] = kvm;
}

void ks_migrate_event(struct ks_migrate *m, const struct ks_event *e)
{
	struct ks_vm *vm;

	if (m->filter_pid && (int)e->tgid != m->filter_pid)
		return;
	/* An event from a VMM not seen yet: track it now; its stats are
	 * attached at the next interval's scan. A VM fd released is news only
	 * about a VMM already tracked. */
	vm = ks_migrate_vm(m, (pid_t)e->tgid, e->type != KS_EV_VM_RELEASE);
	if (!vm)
		return;
	ks_migrate_remember_kvm(vm, e->kvm);
	switch (e->type) {
	case KS_EV_MEMSLOT_COMMIT:
		memslot_event(m, vm, e);
		break;
	case KS_EV_GET_DIRTY_LOG:
	case KS_EV_CLEAR_DIRTY_LOG:
		sync_event(m, vm, e);
		break;
	case KS_EV_SLOT_WRITE_PROTECT:
		slot_wp_event(m, vm, e);
		break;
	case KS_EV_RMAP_ALLOC:
		rmap_event(m, vm, e);
		break;
	case KS_EV_RMAP_SKIP:
		rmap_skip_event(m, vm, e);
		break;
	default:
		break;
	}
}
