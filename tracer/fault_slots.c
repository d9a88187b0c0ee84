// SPDX-License-Identifier: GPL-2.0
/*
 * The fault slots of bpf/migrate.bpf.c: sizing, filling the free stacks,
 * reading a slot, releasing a VMM's slots. Shared by migrate, export and
 * the BPF attach test.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fault_slots.h"
#include "common/log.h"
#include "migrate.skel.h"

/* Every table sized by the number of VMs, in one place: the VM counter
 * table (KS_VM_ENTRIES per VM), the fault slots (one per VM, with their
 * free stack and per-CPU lines) and the vCPU fault slots (KS_VCPU_ENTRIES
 * per VM; latency histograms only with fault latency). */
int ks_fault_slots_size(struct migrate_bpf *skel, unsigned int max_vms, bool latency)
{
	if (!max_vms)
		max_vms = KS_MAX_VMS;
	const unsigned int vcpus = max_vms * KS_VCPU_ENTRIES;
	const struct {
		struct bpf_map *map;
		unsigned int n;
	} t[] = {
		{ skel->maps.vm_counters, max_vms * KS_VM_ENTRIES },
		{ skel->maps.vm_slots, max_vms },
		{ skel->maps.free_vm_slots, max_vms },
		{ skel->maps.vm_faults, max_vms },
		{ skel->maps.vcpu_slots, vcpus },
		{ skel->maps.free_vcpu_slots, vcpus },
		{ skel->maps.vcpu_fault_ctr, vcpus },
		{ skel->maps.vcpu_fault_lat, latency ? vcpus : 1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int err = bpf_map__set_max_entries(t[i].map, t[i].n);

		if (err)
			return ks_err("cannot size BPF map %s for %u VMs: %s",
				      bpf_map__name(t[i].map), max_vms, strerror(-err));
	}
	return 0;
}

static int fill_stack(struct bpf_map *q)
{
	int fd = bpf_map__fd(q);

	for (__u32 i = 0; i < bpf_map__max_entries(q); i++)
		if (bpf_map_update_elem(fd, NULL, &i, BPF_ANY))
			return ks_err("cannot fill %s: %s", bpf_map__name(q), strerror(errno));
	return 0;
}

int ks_fault_slots_init(struct migrate_bpf *skel)
{
	if (fill_stack(skel->maps.free_vm_slots) || fill_stack(skel->maps.free_vcpu_slots))
		return -1;
	return 0;
}

/* The per-CPU copies of one VM line; NULL on error. */
static struct ks_vm_fault_line *vm_lines(struct migrate_bpf *skel, __u32 slot, int *ncpu)
{
	struct ks_vm_fault_line *v;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0 || !(v = calloc(*ncpu, sizeof(*v))))
		return NULL;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.vm_faults), &slot, v)) {
		free(v);
		return NULL;
	}
	return v;
}

bool ks_fault_vm_read(struct migrate_bpf *skel, const struct ks_fault_slot *s,
		      unsigned long long *faults, unsigned long long *write_faults,
		      unsigned long long *wp_faults)
{
	int ncpu;
	struct ks_vm_fault_line *v = vm_lines(skel, s->slot, &ncpu);
	bool ok = v != NULL;

	for (int c = 0; ok && c < ncpu; c++)
		ok = v[c].gen == s->gen;
	for (int c = 0; ok && c < ncpu; c++) {
		*faults += v[c].faults;
		*write_faults += v[c].write_faults;
		*wp_faults += v[c].wp_faults;
	}
	free(v);
	return ok;
}

bool ks_fault_vcpu_read(struct migrate_bpf *skel, const struct ks_fault_slot *s, bool latency,
			struct ks_vcpu_faults *out)
{
	struct ks_vcpu_fault_line l;
	struct ks_vcpu_fault_lat h;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &s->slot, &l) ||
	    l.gen != s->gen)
		return false;
	out->faults += l.faults;
	out->wp_faults += l.wp_faults;
	out->fault_ns += l.fault_ns;
	if (latency && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_lat), &s->slot, &h))
		for (int b = 0; b < KS_LAT_BUCKETS; b++)
			out->fault_lat[b] += h.lat[b];
	return true;
}

/* A released slot: its generation bumped and its counters zeroed in one
 * update, then back on the free stack. The VM is gone by the time it is
 * released (its VMM exited or closed it), so no fault can still be on its
 * way to these lines; a CPU's cache entry for it fails the generation test. */
static void release_vm_slot(struct migrate_bpf *skel, __u32 slot)
{
	int ncpu;
	struct ks_vm_fault_line *v = vm_lines(skel, slot, &ncpu);

	if (v) {
		__u32 gen = v[0].gen + 1;

		memset(v, 0, ncpu * sizeof(*v));
		for (int c = 0; c < ncpu; c++)
			v[c].gen = gen;
		bpf_map_update_elem(bpf_map__fd(skel->maps.vm_faults), &slot, v, BPF_ANY);
		free(v);
	}
	bpf_map_update_elem(bpf_map__fd(skel->maps.free_vm_slots), NULL, &slot, BPF_ANY);
}

static void release_vcpu_slot(struct migrate_bpf *skel, __u32 slot)
{
	struct ks_vcpu_fault_line l;
	struct ks_vcpu_fault_lat h = { 0 };
	__u32 gen = 0;

	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &slot, &l))
		gen = l.gen + 1;
	memset(&l, 0, sizeof(l));
	l.gen = gen;
	bpf_map_update_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &slot, &l, BPF_ANY);
	/* Only with latency on does the histogram exist for every slot. */
	if (slot < bpf_map__max_entries(skel->maps.vcpu_fault_lat))
		bpf_map_update_elem(bpf_map__fd(skel->maps.vcpu_fault_lat), &slot, &h, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(skel->maps.free_vcpu_slots), NULL, &slot, BPF_ANY);
}

void ks_fault_slots_release(struct migrate_bpf *skel, pid_t pid)
{
	int fd = bpf_map__fd(skel->maps.vm_slots), cfd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vm_key key, next;
	struct ks_vcpu_key ckey, cnext;
	struct ks_fault_slot s;
	bool more = !bpf_map_get_next_key(fd, NULL, &next);

	/* The key goes first, so no new cache entry can pick the slot up. */
	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if ((pid_t)key.tgid != pid || bpf_map_lookup_elem(fd, &key, &s) ||
		    bpf_map_delete_elem(fd, &key))
			continue;
		release_vm_slot(skel, s.slot);
	}
	more = !bpf_map_get_next_key(cfd, NULL, &cnext);
	while (more) {
		ckey = cnext;
		more = !bpf_map_get_next_key(cfd, &ckey, &cnext);
		if ((pid_t)ckey.tgid != pid || bpf_map_lookup_elem(cfd, &ckey, &s) ||
		    bpf_map_delete_elem(cfd, &ckey))
			continue;
		release_vcpu_slot(skel, s.slot);
	}
}
