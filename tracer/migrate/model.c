// SPDX-License-Identifier: GPL-2.0
/*
 * The migrate model's tables (VMs, memslots, vCPUs) and the rare events
 * applied to them: memslot changes (dirty logging on/off), dirty-log
 * syncs, whole-slot write protection and rmap allocation. Each returns
 * what it changed (struct ks_change) for the sinks to show.
 */
#include <stdlib.h>
#include <string.h>
#include "migrate/model.h"
#include "kvm/rmap_bytes.h"
#include "lib/grow.h"

/* KVM_MEM_LOG_DIRTY_PAGES, from the KVM uAPI. */
#define MEM_LOG_DIRTY 1u

const char *const ks_drop_names[] = {
	"ringbuf_full", "vm_table_full", "start_table_full", "vcpu_table_full" };
_Static_assert(sizeof(ks_drop_names) / sizeof(ks_drop_names[0]) == KS_DROP_MAX,
	       "a name for every drop counter");

void ks_model_init(struct ks_model *m)
{
	memset(m, 0, sizeof(*m));
	/* As on the lab's hosts (TDP); the commands set it from the probe. */
	m->wp_faults_measured = true;
}

static void vm_release(struct ks_vm *vm)
{
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nvcpus = vm->vcpus_alloc = 0;
	free(vm->slots);
	vm->slots = NULL;
	vm->nslots = vm->slots_alloc = 0;
}

void ks_model_caps(struct ks_model *m, const struct ks_caps *caps)
{
	m->fault_latency = caps->fault_latency;
	m->page_stats = caps->page_stats;
	m->gfn_wp = caps->gfn_wp;
	m->wp_faults_measured = caps->wp_faults;
	m->pml_host = caps->dirty == KS_DIRTY_PML;
	m->pml_full = caps->pml_full;
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		m->unavailable[i] = !caps->have[i];
}

bool ks_model_has(const struct ks_model *m, enum ks_metric k)
{
	return !m->unavailable[k];
}

void ks_model_free(struct ks_model *m)
{
	for (int i = 0; i < m->vms_alloc; i++) {
		if (m->vms[i])
			vm_release(m->vms[i]);
		free(m->vms[i]);
	}
	free(m->vms);
	m->vms = NULL;
	m->vms_alloc = 0;
}

struct ks_vm *ks_model_vm(const struct ks_model *m, pid_t pid)
{
	for (int i = 0; i < m->vms_alloc; i++) {
		struct ks_vm *vm = m->vms[i];

		if (vm && vm->used && vm->pid == pid && vm->active)
			return vm;
	}
	return NULL;
}

struct ks_vm *ks_model_vm_add(struct ks_model *m, pid_t pid)
{
	struct ks_vm *vm = ks_model_vm(m, pid);
	int i;

	if (vm)
		return vm;
	for (i = 0; i < m->vms_alloc; i++)
		if (!m->vms[i] || !m->vms[i]->used)
			break;
	if (i == m->vms_alloc && ks_grow(&m->vms, &m->vms_alloc, i + 1, sizeof(*m->vms),
					 KS_MAX_TRACKED))
		return NULL;
	if (!m->vms[i] && !(m->vms[i] = calloc(1, sizeof(*vm))))
		return NULL;
	vm = m->vms[i];
	vm_release(vm);
	memset(vm, 0, sizeof(*vm));
	vm->used = true;
	vm->active = true;
	vm->index = i;
	vm->serial = ++m->next_serial;
	vm->pid = pid;
	/* As ks_vmstats_open leaves it when the stats are out of reach. */
	vm->st.pidfd = -1;
	vm->st.vm.fd = vm->st.vm.dbg_dir = -1;
	ks_comm_read(pid, vm->comm, sizeof(vm->comm));
	m->vms_seen++;
	return vm;
}

int ks_model_live_vms(const struct ks_model *m)
{
	struct ks_vm *vm;
	int n = 0;

	ks_model_for_each_vm(m, i, vm)
		n++;
	return n;
}

void ks_model_vm_forget(struct ks_model *m, struct ks_vm *vm)
{
	(void)m;
	vm_release(vm);
	vm->used = false;
	vm->active = false;
}

struct ks_vcpu_stat *ks_model_vcpu(struct ks_vm *vm, int id)
{
	struct ks_vcpu_stat *v;
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].id == id)
			return &vm->vcpus[i];
	if (ks_grow(&vm->vcpus, &vm->vcpus_alloc, vm->nvcpus + 1, sizeof(*vm->vcpus), 0))
		return NULL;
	/* Kept in id order, for the report. */
	for (i = vm->nvcpus; i > 0 && vm->vcpus[i - 1].id > id; i--)
		vm->vcpus[i] = vm->vcpus[i - 1];
	v = &vm->vcpus[i];
	memset(v, 0, sizeof(*v));
	v->id = id;
	vm->nvcpus++;
	return v;
}

/* The memslot's entry, added (at the end: first-seen order) if new. */
static struct ks_slot *slot_of(struct ks_vm *vm, unsigned int as_id, unsigned int id)
{
	struct ks_slot *s;

	for (int i = 0; i < vm->nslots; i++)
		if (vm->slots[i].id == id && vm->slots[i].as_id == as_id)
			return &vm->slots[i];
	if (ks_grow(&vm->slots, &vm->slots_alloc, vm->nslots + 1, sizeof(*vm->slots), 0))
		return NULL;
	s = &vm->slots[vm->nslots++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->as_id = as_id;
	return s;
}

void ks_model_remember_kvm(struct ks_vm *vm, uint64_t kvm)
{
	if (!kvm)
		return;
	for (int i = 0; i < vm->nkvm; i++)
		if (vm->kvm[i] == kvm)
			return;
	if (vm->nkvm < KS_MAX_KVM_PER_VMM)
		vm->kvm[vm->nkvm++] = kvm;
}

static bool untracked(struct ks_model *m, struct ks_vm *vm)
{
	return m->untracked ? m->untracked(m, vm, m->untracked_ctx) : vm->untracked != 0;
}

/* Write-protect faults and faults since the VM's previous dirty-log or
 * memslot event: with syncs as boundaries, those of one dirty-log
 * iteration. -1 when unknown (not read, the previous event was of another
 * VM of the process, or, with the fault program, the VM's counters found
 * the kernel's VM table full: the kernel then has no faults of it to sum,
 * which must not read as 0; KVM's own stats have no such table). */
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

static void faults_since(struct ks_model *m, struct ks_vm *vm, const struct ks_event *e,
			 struct ks_change *c)
{
	bool same = vm->wp_mark_kvm == e->kvm, first = !vm->wp_mark_kvm;

	c->wp_faults = c->faults = -1;
	if (m->fault_program && untracked(m, vm))
		return;
	/* KVM's stats count from the VM's creation, not from when tracing
	 * began: the first event of a VM is a baseline only. */
	if (!m->fault_program)
		first = false;
	c->wp_faults = since(&vm->wp_mark, e->wp_faults_total, same, first);
	c->faults = since(&vm->fault_mark, e->faults_total, same, first);
	vm->wp_mark_kvm = e->kvm;
	if (c->faults >= 0 && c->wp_faults >= 0)
		c->faults = (int64_t)ks_faults_at_least((uint64_t)c->faults, (uint64_t)c->wp_faults,
							&vm->ev_faults_ahead);
}

static bool memslot_event(struct ks_model *m, struct ks_vm *vm, const struct ks_event *e,
			  struct ks_change *c)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot);
	bool was = e->old_flags & MEM_LOG_DIRTY, is = e->new_flags & MEM_LOG_DIRTY;

	faults_since(m, vm, e, c);
	if (!s)
		return false;
	c->slot = s;
	s->npages = e->npages;
	s->base_gfn = e->base_gfn;
	s->flags = e->new_flags;
	if (e->change == 1) /* delete */
		is = false;
	c->logging = KS_LOG_UNCHANGED;
	if (!was && is) {
		c->logging = KS_LOG_ON;
		s->logging = true;
		s->start_actions = e->actions;
		s->log_on_ts = e->ts_ns;
		s->log_on_ns = e->dur_ns;
		s->iteration = 0;
		vm->host_ns_interval += e->dur_ns;
		vm->host_ns_total += e->dur_ns;
	} else if (was && !is) {
		c->logging = KS_LOG_OFF;
		s->logging = false;
		s->log_off_ts = e->ts_ns;
		s->log_off_ns = e->dur_ns;
		vm->host_ns_interval += e->dur_ns;
		vm->host_ns_total += e->dur_ns;
	}
	return true;
}

static bool sync_event(struct ks_model *m, struct ks_vm *vm, const struct ks_event *e,
		       struct ks_change *c)
{
	bool get = e->type == KS_EV_GET_DIRTY_LOG;
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot);

	faults_since(m, vm, e, c);
	if (!s)
		return false;
	c->slot = s;
	if (e->npages && !s->npages)
		s->npages = e->npages;
	/* Iterations count GETs since logging started; a CLEAR belongs to the
	 * iteration of the GET before it. */
	if (get)
		c->iteration = s->iteration++;
	else
		c->iteration = s->iteration ? s->iteration - 1 : 0;
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
	return true;
}

static bool slot_event(struct ks_vm *vm, const struct ks_event *e, struct ks_change *c)
{
	struct ks_slot *s = slot_of(vm, e->as_id, (unsigned int)e->slot);

	if (!s)
		return false;
	c->slot = s;
	switch (e->type) {
	case KS_EV_SLOT_WRITE_PROTECT:
		s->eager_wp = true;
		s->eager_wp_ns += e->dur_ns;
		break;
	case KS_EV_RMAP_ALLOC:
		/* Series kernels report the bytes; otherwise the same formula. */
		c->rmap_bytes = e->result ? 0 : e->bytes ? e->bytes :
				ks_rmap_bytes(e->base_gfn, e->npages);
		s->rmap_allocs++;
		s->rmap_bytes += c->rmap_bytes;
		s->rmap_ns += e->dur_ns;
		break;
	case KS_EV_RMAP_SKIP:
		/* Series kernels: a memslot made without rmaps, and the bytes saved. */
		s->rmap_avoided_bytes = e->bytes;
		break;
	}
	return true;
}

bool ks_model_apply(struct ks_model *m, const struct ks_event *e, struct ks_change *c)
{
	struct ks_vm *vm;

	memset(c, 0, sizeof(*c));
	if (m->filter_pid && (int)e->tgid != m->filter_pid)
		return false;
	/* An event from a VMM not seen yet: track it now; its stats are
	 * attached when the session finds it. A VM fd released is news only
	 * about a VMM already tracked. */
	vm = e->type == KS_EV_VM_RELEASE ? ks_model_vm(m, (pid_t)e->tgid) :
	     ks_model_vm_add(m, (pid_t)e->tgid);
	if (!vm)
		return false;
	ks_model_remember_kvm(vm, e->kvm);
	c->e = e;
	c->vm = vm;
	switch (e->type) {
	case KS_EV_MEMSLOT_COMMIT:
		c->kind = KS_CH_MEMSLOT;
		return memslot_event(m, vm, e, c);
	case KS_EV_GET_DIRTY_LOG:
	case KS_EV_CLEAR_DIRTY_LOG:
		c->kind = KS_CH_SYNC;
		return sync_event(m, vm, e, c);
	case KS_EV_SLOT_WRITE_PROTECT:
		c->kind = KS_CH_SLOT_WP;
		return slot_event(vm, e, c);
	case KS_EV_RMAP_ALLOC:
		c->kind = KS_CH_RMAP;
		return slot_event(vm, e, c);
	case KS_EV_RMAP_SKIP:
		c->kind = KS_CH_RMAP_SKIP;
		return slot_event(vm, e, c);
	case KS_EV_VM_CREATE:
		c->kind = KS_CH_VM_CREATE;
		return true;
	case KS_EV_VM_RELEASE:
		c->kind = KS_CH_VM_RELEASE;
		return true;
	default:
		return false;
	}
}

static uint64_t since_base(uint64_t now, uint64_t base)
{
	return now >= base ? now - base : 0;
}

void ks_model_stats_faults(struct ks_model *m, struct ks_vm *vm)
{
	uint64_t f, wp;
	bool found;

	if (m->fault_program || !vm->have_stats)
		return;
	f = ks_vmstats_value(&vm->st, true, "pf_taken", &found);
	wp = ks_vmstats_value(&vm->st, true, "pf_fast", &found);
	/* KVM counts from the VM's creation: a VM already running when
	 * tracing began starts from what it had when first read. */
	if (!vm->stat_faults_known && vm->preexisting) {
		vm->stat_base_faults = f;
		vm->stat_base_wp_faults = wp;
	}
	vm->stat_faults_known = true;
	vm->stat_faults = since_base(f, vm->stat_base_faults);
	vm->stat_wp_faults = since_base(wp, vm->stat_base_wp_faults);
	vm->total.faults = vm->stat_faults;
	vm->total.wp_faults = vm->stat_wp_faults;
	for (int i = 0; i < vm->st.nvcpu; i++) {
		const struct ks_stats_src *src = &vm->st.vcpu[i];
		struct ks_vcpu_stat *v;
		bool seen = false;

		/* A debugfs source sums every vCPU: no per-vCPU figures. */
		if (src->vcpu_id < 0 || src->vcpus_summed)
			continue;
		for (int k = 0; k < vm->nvcpus; k++)
			seen |= vm->vcpus[k].id == src->vcpu_id;
		if (!(v = ks_model_vcpu(vm, src->vcpu_id)))
			continue;
		/* A vCPU first seen now starts from 0 if the VM was seen from
		 * its creation, else from its values now. */
		if (!seen && vm->preexisting) {
			v->base_faults = ks_stats_src_value(src, "pf_taken");
			v->base_wp_faults = ks_stats_src_value(src, "pf_fast");
		}
		v->total.faults = since_base(ks_stats_src_value(src, "pf_taken"), v->base_faults);
		v->total.wp_faults = since_base(ks_stats_src_value(src, "pf_fast"), v->base_wp_faults);
	}
}

uint64_t ks_faults_at_least(uint64_t faults, uint64_t wp_faults, uint64_t *ahead)
{
	uint64_t f = faults > *ahead ? faults - *ahead : 0;

	if (f < wp_faults)
		f = wp_faults;
	/* f >= faults - *ahead, so this stays >= 0. */
	*ahead = *ahead + f - faults;
	return f;
}

bool ks_model_faults_known(const struct ks_model *m, const struct ks_vm *vm)
{
	return m->fault_program ? !vm->untracked : vm->stat_faults_known;
}

uint64_t ks_model_lost(const struct ks_model *m)
{
	uint64_t lost = 0;

	for (int i = 0; i < KS_DROP_MAX; i++)
		lost += m->drops[i];
	return lost;
}

/* The dirty-logging window of a VM: first logging start to last stop (or
 * now, or the VM's exit, if logging is still on). 0 if never logging. */
static uint64_t logging_window(const struct ks_vm *vm, uint64_t now_ns)
{
	uint64_t first = 0, last = 0;
	bool open = false;

	for (int i = 0; i < vm->nslots; i++) {
		const struct ks_slot *s = &vm->slots[i];

		if (!s->log_on_ts)
			continue;
		if (!first || s->log_on_ts < first)
			first = s->log_on_ts;
		if (s->logging)
			open = true;
		else if (s->log_off_ts > last)
			last = s->log_off_ts + s->log_off_ns;
	}
	if (open)
		last = vm->exit_ts ? vm->exit_ts : now_ns;
	return first && last > first ? last - first : 0;
}

void ks_model_overhead(const struct ks_vm *vm, uint64_t now_ns, struct ks_overhead *o)
{
	o->window = logging_window(vm, now_ns);
	o->nvcpu = vm->st.vcpus_seen ? vm->st.vcpus_seen : vm->vcpus_seen;
	/* docs/overhead.md: host share = time in dirty-log ioctls over the
	 * logging window; guest share = vCPU time in KVM's fault handler over
	 * the vCPU time of the window. */
	o->host_pct = o->window ? 100.0 * vm->host_ns_total / o->window : 0;
	o->guest_pct = o->window && o->nvcpu ?
		       100.0 * vm->total.fault_ns / ((double)o->window * o->nvcpu) : 0;
}

void *ks_vm_side(void *arr, int *n, size_t size, const struct ks_vm *vm,
		 void (*reset)(void *elem))
{
	uint64_t *serial;
	char *a;

	if (ks_grow(arr, n, vm->index + 1, size, 0))
		return NULL;
	memcpy(&a, arr, sizeof(a));
	serial = (uint64_t *)(a + (size_t)vm->index * size);
	if (*serial != vm->serial) {
		if (reset)
			reset(serial);
		memset(serial, 0, size);
		*serial = vm->serial;
	}
	return serial;
}

const void *ks_vm_side_get(const void *arr, int n, size_t size, const struct ks_vm *vm)
{
	const uint64_t *serial;

	if (vm->index >= n)
		return NULL;
	serial = (const uint64_t *)((const char *)arr + (size_t)vm->index * size);
	return *serial == vm->serial ? serial : NULL;
}
