// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side of the migrate model: the per-CPU counters of every VM
 * and the fault slots of every VM and vCPU summed into their running
 * totals, the drop counters, the VMMs whose counters found the kernel's VM
 * table full, and forgetting a VMM that exited (and the entries of
 * processes that are no traced VMM). Shared by `migrate` and `export`.
 */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hooks/fault_slots.h"
#include <errno.h>
#include <signal.h>
#include "migrate/counters.h"
#include "migrate.skel.h"
#include "kvm/vmfind.h"
#include "lib/json.h"
#include "lib/log.h"

/* Each vCPU's PML-full exits (PML hosts). */
static void read_vcpu_pml(struct ks_model *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vcpu_pml);
	struct ks_vcpu_key key, next, *prev = NULL;
	struct ks_vcpu_stat *v;
	struct ks_vm *vm;
	uint64_t n;

	if (!m->pml_full)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		vm = ks_model_vm(m, (pid_t)key.tgid);
		if (vm && vm->active && !bpf_map_lookup_elem(fd, &key, &n) &&
		    (v = ks_model_vcpu(vm, key.vcpu_id)))
			v->total.pml_full = n;
	}
}

/* Each vCPU's faults from its fault slot (tracer/hooks/fault_slots.c). One
 * entry per vCPU: the cost does not grow with the fault rate. */
static void read_vcpu_slots(struct ks_model *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vcpu_key key, next, *prev = NULL;
	struct ks_fault_reader r;
	struct ks_fault_slot s;
	struct ks_vm *vm;

	/* Without the fault program the vCPUs' totals come from the stats
	 * samples (ks_model_stats_faults). */
	if (!m->fault_program)
		return;
	ks_fault_reader_init(skel, &r);
	ks_model_for_each_vm(m, i, vm)
		if (vm->active)
			for (int v = 0; v < vm->nvcpus; v++)
				memset(&vm->vcpus[v].total, 0, sizeof(vm->vcpus[v].total));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ks_vcpu_stat *v;

		key = next;
		prev = &key;
		vm = ks_model_vm(m, (pid_t)key.tgid);
		if (!vm || bpf_map_lookup_elem(fd, &key, &s))
			continue;
		v = ks_model_vcpu(vm, key.vcpu_id);
		if (v)
			ks_fault_vcpu_read(skel, &r, &s, m->fault_latency, &v->total);
	}
	ks_fault_reader_free(&r);
}

/* The fault fields of each VM's totals: counts from its VM slots (one per
 * struct kvm of the VMM), time and latency from its vCPUs' slots. */
static void read_vm_faults(struct ks_model *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vm_slots), cfd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vm_key key, next, *prev = NULL;
	struct ks_vcpu_key ckey, cnext, *cprev = NULL;
	struct ks_fault_reader r;
	struct ks_fault_slot s;

	struct ks_vm *vm;

	if (!m->fault_program) {
		ks_model_for_each_vm(m, i, vm)
			if (vm->active) {
				vm->total.faults = vm->stat_faults;
				vm->total.wp_faults = vm->stat_wp_faults;
			}
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		vm = ks_model_vm(m, (pid_t)key.tgid);
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

		ckey = cnext;
		cprev = &ckey;
		vm = ks_model_vm(m, (pid_t)ckey.tgid);
		if (!vm || bpf_map_lookup_elem(cfd, &ckey, &s) ||
		    !ks_fault_vcpu_read(skel, &r, &s, true, &f))
			continue;
		vm->total.fault_ns += f.fault_ns;
		for (int b = 0; b < KS_LAT_BUCKETS; b++)
			vm->total.fault_lat[b] += f.fault_lat[b];
	}
	ks_fault_reader_free(&r);
}

void ks_counters_read_vm(struct ks_model *m, struct migrate_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.vm_counters);
	int dfd = bpf_map__fd(skel->maps.drops);
	struct ks_vm_key key, next, *prev = NULL;
	struct ks_vm_counters *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	uint64_t *dv = calloc(ncpu > 0 ? ncpu : 1, sizeof(uint64_t));
	struct ks_vm *vm;

	if (!vals || !dv || ncpu <= 0)
		goto out;
	ks_model_for_each_vm(m, i, vm)
		if (vm->active)
			memset(&vm->total, 0, sizeof(vm->total));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		vm = ks_model_vm(m, (pid_t)key.tgid);
		if (!vm || bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int c = 0; c < ncpu; c++) {
			unsigned long long *t = (unsigned long long *)&vm->total;
			const unsigned long long *s = (const unsigned long long *)&vals[c];

			for (size_t k = 0; k < sizeof(vm->total) / sizeof(*t); k++)
				t[k] += s[k];
		}
	}
	read_vm_faults(m, skel);
	ks_model_for_each_vm(m, i, vm)
		if (vm->active)
			ks_counters_untracked(m, skel, vm);
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

bool ks_counters_untracked(struct ks_model *m, struct migrate_bpf *skel, struct ks_vm *vm)
{
	uint32_t tgid = (uint32_t)vm->pid;
	uint64_t n;

	if (!skel || !vm->active)
		return vm->untracked != 0;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.untracked), &tgid, &n) || !n)
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

void ks_counters_read_vcpu_faults(struct ks_model *m, struct migrate_bpf *skel)
{
	/* In this order: the fault slots' reading starts each vCPU's totals
	 * from zero. */
	read_vcpu_slots(m, skel);
	read_vcpu_pml(m, skel);
}

void ks_counters_read(struct ks_model *m, struct migrate_bpf *skel)
{
	ks_counters_read_vm(m, skel);
	ks_counters_read_vcpu_faults(m, skel);
}

/* Deletes the entries of processes gone(pid) says so of, from a map keyed
 * by struct ks_vcpu_key. */
static void delete_vcpu_keys(int fd, bool (*gone)(pid_t pid, const void *ctx), const void *ctx)
{
	struct ks_vcpu_key key, next;
	bool more = !bpf_map_get_next_key(fd, NULL, &next);

	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (gone((pid_t)key.tgid, ctx))
			bpf_map_delete_elem(fd, &key);
	}
}

static bool is_pid(pid_t pid, const void *ctx)
{
	return pid == *(const pid_t *)ctx;
}

/* A process that is no traced VMM and has exited. */
static bool gone_untraced(pid_t pid, const void *ctx)
{
	return !ks_model_vm(ctx, pid) && kill(pid, 0) && errno == ESRCH;
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
			ks_model_remember_kvm(vm, key.kvm);
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
void ks_counters_forget(struct migrate_bpf *skel, struct ks_vm *vm)
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
	delete_vcpu_keys(bpf_map__fd(skel->maps.vcpu_pml), is_pid, &vm->pid);
}

/* Counters under a process that is not a traced VMM: what KVM does while
 * a VM is destroyed is counted in whichever process closed the VM's last
 * fd (kvmscope's own, or another tracer's holding copies of its stats
 * fds), after that VM was forgotten. Deleted at each sweep, unless the
 * process is a VMM about to be adopted. */
static bool stray(const struct ks_model *m, pid_t pid, struct ks_vmm **v)
{
	if (ks_model_vm(m, pid))
		return false;
	if (!*v && !(*v = malloc(sizeof(**v))))
		return false;
	return ks_vmm_scan(pid, *v) != 1;
}

void ks_counters_sweep_strays(const struct ks_model *m, struct migrate_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.vm_counters);
	int ufd = bpf_map__fd(skel->maps.untracked);
	struct ks_vm_key key, next;
	uint32_t ukey, unext;
	struct ks_vmm *v = NULL;
	bool more = !bpf_map_get_next_key(fd, NULL, &next);

	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (stray(m, (pid_t)key.tgid, &v))
			bpf_map_delete_elem(fd, &key);
	}
	/* The same for the marks of processes that found the table full. */
	more = !bpf_map_get_next_key(ufd, NULL, &unext);
	while (more) {
		ukey = unext;
		more = !bpf_map_get_next_key(ufd, &ukey, &unext);
		if (stray(m, (pid_t)ukey, &v))
			bpf_map_delete_elem(ufd, &ukey);
	}
	/* Fault slots of a VMM that went untraced and has exited: given back,
	 * a few per sweep. */
	{
		pid_t gone[16];
		int ngone = 0;

		fd = bpf_map__fd(skel->maps.vm_slots);
		more = !bpf_map_get_next_key(fd, NULL, &next);
		while (more && ngone < 16) {
			key = next;
			more = !bpf_map_get_next_key(fd, &key, &next);
			if (!ks_model_vm(m, (pid_t)key.tgid) &&
			    kill((pid_t)key.tgid, 0) && errno == ESRCH)
				gone[ngone++] = (pid_t)key.tgid;
		}
		for (int i = 0; i < ngone; i++)
			ks_fault_slots_release(skel, gone[i]);
	}
	delete_vcpu_keys(bpf_map__fd(skel->maps.vcpu_pml), gone_untraced, m);
	free(v);
}
