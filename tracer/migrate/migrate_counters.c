// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side of the migrate state: the per-CPU counters of every VM
 * and the fault slots of every VM and vCPU summed into their running
 * totals, the drop counters, and
 * forgetting a VMM that exited. Shared by `migrate` and `export`.
 */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hooks/fault_slots.h"
#include "migrate/migrate.h"
#include "migrate.skel.h"
#include "lib/json.h"
#include "lib/log.h"

/* Each vCPU's faults from its fault slot (tracer/fault_slots.c). One
 * entry per vCPU: the cost does not grow with the fault rate. */
void ks_migrate_read_vcpu_faults(struct ks_migrate *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vcpu_key key, next, *prev = NULL;
	struct ks_fault_reader r;
	struct ks_fault_slot s;

	/* Without the fault program the vCPUs' totals come from the stats
	 * samples (ks_migrate_stats_faults). */
	if (!m->fault_program)
		return;
	ks_fault_reader_init(skel, &r);
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &m->vms[i];

		if (vm->used && vm->active)
			for (int v = 0; v < vm->nvcpus; v++)
				memset(&vm->vcpus[v].total, 0, sizeof(vm->vcpus[v].total));
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ks_vcpu_stat *v;
		struct ks_vm *vm;

		key = next;
		prev = &key;
		vm = ks_migrate_vm(m, (pid_t)key.tgid, false);
		if (!vm || bpf_map_lookup_elem(fd, &key, &s))
			continue;
		v = ks_migrate_vcpu(vm, key.vcpu_id);
		if (v)
			ks_fault_vcpu_read(skel, &r, &s, m->fault_latency, &v->total);
	}
	ks_fault_reader_free(&r);
}

/* The fault fields of each VM's totals: counts from its VM slots (one per
 * struct kvm of the VMM), time and latency from its vCPUs' slots. */
static void read_vm_faults(struct ks_migrate *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vm_slots), cfd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vm_key key, next, *prev = NULL;
	struct ks_vcpu_key ckey, cnext, *cprev = NULL;
	struct ks_fault_reader r;
	struct ks_fault_slot s;

	if (!m->fault_program) {
		for (int i = 0; i < KS_MAX_TRACKED; i++) {
			struct ks_vm *vm = &m->vms[i];

			if (vm->used && vm->active) {
				vm->total.faults = vm->stat_faults;
				vm->total.wp_faults = vm->stat_wp_faults;
			}
		}
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ks_vm *vm;

		key = next;
		prev = &key;
		vm = ks_migrate_vm(m, (pid_t)key.tgid, false);
		if (!vm || bpf_map_lookup_elem(fd, &key, &s))
			continue;
		ks_fault_vm_read(skel, &s, &vm->total.faults, &vm->total.write_faults,
				 &vm->total.wp_faults);
	}
	if (!m->fault_latency)
		return;
	/* A failed init fails every read with it. */
	ks_fault_reader_init(skel, &r);
	while (!bpf_map_get_next_key(cfd, cprev, &cnext)) {
		struct ks_vcpu_faults f = { 0 };
		struct ks_vm *vm;

		ckey = cnext;
		cprev = &ckey;
		vm = ks_migrate_vm(m, (pid_t)ckey.tgid, false);
		if (!vm || bpf_map_lookup_elem(cfd, &ckey, &s) ||
		    !ks_fault_vcpu_read(skel, &r, &s, true, &f))
			continue;
		vm->total.fault_ns += f.fault_ns;
		for (int b = 0; b < KS_LAT_BUCKETS; b++)
			vm->total.fault_lat[b] += f.fault_lat[b];
	}
	ks_fault_reader_free(&r);
}

void ks_migrate_read_vm_counters(struct ks_migrate *m, struct migrate_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.vm_counters);
	int dfd = bpf_map__fd(skel->maps.drops);
	struct ks_vm_key key, next, *prev = NULL;
	struct ks_vm_counters *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	uint64_t *dv = calloc(ncpu > 0 ? ncpu : 1, sizeof(uint64_t));

	if (!vals || !dv || ncpu <= 0)
		goto out;
	for (int i = 0; i < KS_MAX_TRACKED; i++)
		if (m->vms[i].used && m->vms[i].active)
			memset(&m->vms[i].total, 0, sizeof(m->vms[i].total));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ks_vm *vm;

		key = next;
		prev = &key;
		vm = ks_migrate_vm(m, (pid_t)key.tgid, false);
		if (!vm || bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int c = 0; c < ncpu; c++) {
			uint64_t *t = (uint64_t *)&vm->total;
			const uint64_t *s = (const uint64_t *)&vals[c];

			for (size_t k = 0; k < sizeof(vm->total) / sizeof(uint64_t); k++)
				t[k] += s[k];
		}
	}
	read_vm_faults(m, skel);
	for (int i = 0; i < KS_MAX_TRACKED; i++)
		if (m->vms[i].used && m->vms[i].active)
			ks_migrate_untracked(m, &m->vms[i]);
	for (uint32_t i = 0; i < KS_DROP_MAX; i++) {
		if (bpf_map_lookup_elem(dfd, &i, dv))
			continue;
		m->drops[i] = 0;
		for (int c = 0; c < ncpu; c++)
			m->drops[i] += dv[c];
	}
out:
	free(vals);
	free(dv);
}

static uint64_t since(uint64_t now, uint64_t base)
{
	return now >= base ? now - base : 0;
}

void ks_migrate_stats_faults(struct ks_migrate *m, struct ks_vm *vm)
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
	vm->stat_faults = since(f, vm->stat_base_faults);
	vm->stat_wp_faults = since(wp, vm->stat_base_wp_faults);
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
		if (!(v = ks_migrate_vcpu(vm, src->vcpu_id)))
			continue;
		/* A vCPU first seen now starts from 0 if the VM was seen from
		 * its creation, else from its values now. */
		if (!seen && vm->preexisting) {
			v->base_faults = ks_stats_src_value(src, "pf_taken");
			v->base_wp_faults = ks_stats_src_value(src, "pf_fast");
		}
		v->total.faults = since(ks_stats_src_value(src, "pf_taken"), v->base_faults);
		v->total.wp_faults = since(ks_stats_src_value(src, "pf_fast"), v->base_wp_faults);
	}
}

bool ks_migrate_faults_known(const struct ks_migrate *m, const struct ks_vm *vm)
{
	return m->fault_program ? !vm->untracked : vm->stat_faults_known;
}

bool ks_migrate_untracked(struct ks_migrate *m, struct ks_vm *vm)
{
	uint32_t tgid = (uint32_t)vm->pid;
	uint64_t n;

	if (!m->skel || !vm->active)
		return vm->untracked != 0;
	if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.untracked), &tgid, &n) || !n)
		return vm->untracked != 0;
	if (!vm->untracked) {
		char comm[64];

		/* The name is the process's choice: escaped to stay one line. */
		ks_warn("PID %d (%s): the kernel's VM table is full (--max-vms %u): its counters "
			"(%swrite protection, splits, TLB flushes) are not tracked",
			(int)vm->pid, ks_text_escape(vm->comm, comm, sizeof(comm)), m->max_vms,
			m->fault_program ? "faults, " : "");
		m->untracked_vms++;
	}
	vm->untracked = n;
	return true;
}

void ks_migrate_read_counters(struct ks_migrate *m, struct migrate_bpf *skel)
{
	ks_migrate_read_vm_counters(m, skel);
	ks_migrate_read_vcpu_faults(m, skel);
}

/* Remembers the struct kvm addresses of vm's entries in a map keyed by
 * struct ks_vm_key. */
static void remember_kvms(struct ks_vm *vm, int fd)
{
	struct ks_vm_key key, next;
	bool more = !bpf_map_get_next_key(fd, NULL, &next);

	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if ((pid_t)key.tgid == vm->pid)
			ks_migrate_remember_kvm(vm, key.kvm);
	}
}

/* A gone VM's entries go, so they neither fill the maps up nor, once KVM
 * reuses the struct kvm address for a new VM, lend it the old VM's memslot
 * sizes: its counters (keyed by VMM and struct kvm), its vCPUs' fault
 * counters, and the memslot sizes of its struct kvm addresses (KVM frees
 * memslots without a delete when a VM is destroyed, so the BPF side never
 * sees them go). Closing our copies of its stats fds may have destroyed
 * the VM in our own process, and what KVM does then (TLB flushes, zaps) is
 * counted under our tgid: those entries go too. */
void ks_migrate_forget_in_kernel(struct migrate_bpf *skel, struct ks_vm *vm)
{
	int fd = bpf_map__fd(skel->maps.vm_counters);
	int sfd = bpf_map__fd(skel->maps.slot_pages);
	int ffd = bpf_map__fd(skel->maps.vm_slots);
	struct ks_vm_key key, next;
	struct ks_slot_key skey, snext;
	pid_t self = getpid();
	uint32_t tgid = (uint32_t)vm->pid;
	bool more;

	/* Its struct kvm addresses, from both maps keyed by VMM and struct
	 * kvm: a VM that only took faults has no vm_counters entry. */
	remember_kvms(vm, fd);
	remember_kvms(vm, ffd);
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		bool mine = false;

		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		for (int i = 0; i < vm->nkvm && (pid_t)key.tgid == self; i++)
			mine |= key.kvm == vm->kvm[i];
		if ((pid_t)key.tgid == vm->pid || mine)
			bpf_map_delete_elem(fd, &key);
	}
	ks_fault_slots_release(skel, vm->pid);
	more = vm->nkvm && !bpf_map_get_next_key(sfd, NULL, &snext);
	while (more) {
		skey = snext;
		more = !bpf_map_get_next_key(sfd, &skey, &snext);
		for (int i = 0; i < vm->nkvm; i++)
			if (skey.kvm == vm->kvm[i])
				bpf_map_delete_elem(sfd, &skey);
	}
	vm->nkvm = 0;
	bpf_map_delete_elem(bpf_map__fd(skel->maps.untracked), &tgid);
}
