/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fault slots of bpf/migrate.bpf.c (bpf/kvmscope.h): sized before the
 * BPF object loads, the free-slot stacks filled after, read per interval,
 * and a VMM's slots given back when it goes.
 */
#ifndef KS_FAULT_SLOTS_H
#define KS_FAULT_SLOTS_H

#include <stdbool.h>
#include <sys/types.h>
#include "kvmscope.h"

struct migrate_bpf;

/* Before load: the VM slot tables get max_vms entries (the VM table's
 * size) if slots (the fault program) are used, else one; the latency
 * histograms one per vCPU slot if latency is on. */
int ks_fault_slots_size(struct migrate_bpf *skel, unsigned int max_vms, bool slots, bool latency,
			bool pml);
/* After load, before attach: every slot onto its free stack. */
int ks_fault_slots_init(struct migrate_bpf *skel);

/* One VM's faults summed over the CPUs; false if its line is unreadable
 * or was released (generation changed). */
bool ks_fault_vm_read(struct migrate_bpf *skel, const struct ks_fault_slot *s,
		      unsigned long long *faults, unsigned long long *write_faults,
		      unsigned long long *wp_faults);
/* A pass over vCPUs: every CPU's fault cache entries and eviction counts
 * read once (tracer/hooks/fault_slots.c says why both). init returns false (and
 * every read with it fails) if they cannot be read; free in any case. */
struct ks_fault_reader {
	int ncpu;
	bool ok;
	struct ks_fault_cache *cache;    /* per CPU */
	unsigned long long *f1, *f2;     /* eviction counts per CPU */
};
bool ks_fault_reader_init(struct migrate_bpf *skel, struct ks_fault_reader *r);
void ks_fault_reader_free(struct ks_fault_reader *r);
/* One vCPU's faults (latency too if latency is on): its line and its
 * faults in the CPUs' cache entries; false as above. */
bool ks_fault_vcpu_read(struct migrate_bpf *skel, struct ks_fault_reader *r,
			const struct ks_fault_slot *s, bool latency, struct ks_vcpu_faults *out);

/* Gives back every VM and vCPU slot of process pid: entries deleted,
 * generations bumped (so no CPU's cached slot counts again), counters
 * zeroed, slots back on their free stacks. */
void ks_fault_slots_release(struct migrate_bpf *skel, pid_t pid);

#endif
