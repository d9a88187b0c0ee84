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
#include "hooks/fault_slots.h"
#include "lib/log.h"
#include "migrate.skel.h"

/* Every table sized by the number of VMs, in one place: the VM counter
 * table (KS_VM_ENTRIES per VM), the fault slots (one per VM, with their
 * free stack and per-CPU lines) and the vCPU fault slots (KS_VCPU_ENTRIES
 * per VM; latency histograms only with fault latency) and the vCPUs'
 * PML-full exits (on PML hosts). Without the fault
 * program (KVM's per-vCPU stats count the faults) the slot tables are
 * idle: one entry each. */
int ks_fault_slots_size(struct migrate_bpf *skel, unsigned int max_vms, bool slots, bool latency,
			bool pml)
{
	if (!max_vms)
		max_vms = KS_MAX_VMS;
	const unsigned int vms = slots ? max_vms : 1;
	const unsigned int vcpus = slots ? max_vms * KS_VCPU_ENTRIES : 1;
	const struct {
		struct bpf_map *map;
		unsigned int n;
	} t[] = {
		{ skel->maps.vm_counters, max_vms * KS_VM_ENTRIES },
		{ skel->maps.vm_slots, vms },
		{ skel->maps.free_vm_slots, vms },
		{ skel->maps.vm_faults, vms },
		{ skel->maps.vcpu_slots, vcpus },
		{ skel->maps.free_vcpu_slots, vcpus },
		{ skel->maps.vcpu_fault_ctr, vcpus },
		{ skel->maps.vcpu_fault_lat, slots && latency ? vcpus : 1 },
		/* PML-full exits per vCPU (PML hosts only). */
		{ skel->maps.vcpu_pml, pml ? max_vms * KS_VCPU_ENTRIES : 1 },
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

/* Every CPU's eviction count (fault_flushes) into f; false on error. */
static bool read_flushes(struct migrate_bpf *skel, __u64 *f)
{
	__u32 zero = 0;

	return !bpf_map_lookup_elem(bpf_map__fd(skel->maps.fault_flushes), &zero, f);
}

/* The first half of a read (below): every CPU's eviction count, then every
 * CPU's cache entries, into r; r->ok says whether both were read. */
static bool reader_snapshot(struct migrate_bpf *skel, struct ks_fault_reader *r)
{
	__u32 zero = 0;

	r->ok = read_flushes(skel, r->f1) &&
		!bpf_map_lookup_elem(bpf_map__fd(skel->maps.fault_cache), &zero, r->cache);
	return r->ok;
}

/* A vCPU's faults are its line plus its faults in every CPU's cache entry
 * (struct ks_fault_cache_entry). Read in this order: the CPUs' eviction
 * counts, their cache entries, the line, the eviction counts again. A
 * fault is in an entry or, once the entry is evicted, in the line, and
 * lines only grow; it is counted twice only if an entry holding it was
 * evicted after the entries were read and before the line was: a CPU
 * holding some of this vCPU's faults whose eviction count was odd (an
 * eviction under way) or changed. The vCPU is then read again on its own.
 * One pass over many vCPUs reads the counts and the entries once (the
 * snapshot below), then per vCPU its line and the counts again. */
bool ks_fault_reader_init(struct migrate_bpf *skel, struct ks_fault_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu <= 0 || !(r->cache = calloc(r->ncpu, sizeof(*r->cache))) ||
	    !(r->f1 = calloc(r->ncpu, sizeof(*r->f1))) || !(r->f2 = calloc(r->ncpu, sizeof(*r->f2))))
		return false;
	return reader_snapshot(skel, r);
}

void ks_fault_reader_free(struct ks_fault_reader *r)
{
	free(r->cache);
	free(r->f1);
	free(r->f2);
	memset(r, 0, sizeof(*r));
}

/* Evictions are rare (another vCPU of the same way on that CPU) and take a
 * few instructions, so the bound is never reached in practice; reaching it
 * fails the read rather than give a wrong count. */
#define VCPU_READ_TRIES 100

/* Line and entries of slot s as of r's snapshot: false if the snapshot
 * cannot be trusted for this vCPU (retry) or on error (*err). */
static bool vcpu_read_once(struct migrate_bpf *skel, struct ks_fault_reader *r,
			   const struct ks_fault_slot *s, struct ks_vcpu_fault_line *l,
			   unsigned long long *faults, unsigned long long *wp_faults, bool *err)
{
	bool stable = true;

	*faults = *wp_faults = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &s->slot, l) ||
	    !read_flushes(skel, r->f2) || l->gen != s->gen) {
		*err = true;
		return false;
	}
	for (int cpu = 0; cpu < r->ncpu; cpu++)
		for (int w = 0; w < KS_FAULT_CACHE_WAYS; w++) {
			const struct ks_fault_cache_entry *e = &r->cache[cpu].way[w];

			if (!e->vcpu || e->vcpu_slot != s->slot || e->vcpu_gen != s->gen ||
			    !(e->faults || e->wp_faults))
				continue;
			if ((r->f1[cpu] & 1) || r->f1[cpu] != r->f2[cpu])
				stable = false;
			*faults += e->faults;
			*wp_faults += e->wp_faults;
		}
	return stable;
}

bool ks_fault_vcpu_read(struct migrate_bpf *skel, struct ks_fault_reader *r,
			const struct ks_fault_slot *s, bool latency, struct ks_vcpu_faults *out)
{
	unsigned long long faults, wp_faults;
	struct ks_vcpu_fault_line l;
	struct ks_vcpu_fault_lat h;
	bool ok = false, err = false;

	if (!r->ok)
		return false;
	ok = vcpu_read_once(skel, r, s, &l, &faults, &wp_faults, &err);
	/* An entry holding some of its faults was evicted meanwhile: read this
	 * vCPU alone, snapshot first. r's snapshot is refreshed with it. */
	for (int t = 0; !ok && !err && t < VCPU_READ_TRIES; t++) {
		if (!reader_snapshot(skel, r))
			return false;
		ok = vcpu_read_once(skel, r, s, &l, &faults, &wp_faults, &err);
	}
	if (!ok)
		return false;
	out->faults += l.faults + faults;
	out->wp_faults += l.wp_faults + wp_faults;
	out->fault_ns += l.fault_ns;
	if (latency && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_lat), &s->slot, &h))
		for (int b = 0; b < KS_LAT_BUCKETS; b++)
			out->fault_lat[b] += h.lat[b];
	return true;
}

/* A released slot: its generation bumped and its counters zeroed in one
 * update, then back on the free stack. The VM is gone by the time it is
 * released (its VMM exited or closed it), so no fault can still be on its
 * way to these lines; a CPU's cache entry for it fails the generation test
 * (the VM's, released with its vCPUs'), and the faults still in such an
 * entry are dropped when it is evicted (its vCPU line's generation moved
 * on too) and not read (readers match the generation). */
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

/* A released vCPU line: counters zeroed, generation gen. */
static void clear_vcpu_line(struct migrate_bpf *skel, __u32 slot, __u32 gen)
{
	struct ks_vcpu_fault_line l = { .gen = gen };

	bpf_map_update_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &slot, &l, BPF_ANY);
}

/* Waits (briefly) for the evictions under way on any CPU to end. An
 * eviction tests the line's generation, then adds to it: one that tested
 * before the line was cleared may add after. Evictions run with preemption
 * off and take a few instructions; the bound only guards against a CPU
 * that never answers. */
static void wait_evictions(struct migrate_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *f0, *f;
	bool busy = true;

	if (ncpu <= 0)
		return;
	f0 = calloc(ncpu, sizeof(*f0));
	f = calloc(ncpu, sizeof(*f));
	/* The cleared lines are visible before the counts are read (the
	 * evictions' own increments are atomic, hence ordered too). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (f0 && f && read_flushes(skel, f0))
		for (int t = 0; busy && t < 10000; t++) {
			busy = false;
			if (!read_flushes(skel, f))
				break;
			for (int c = 0; c < ncpu; c++)
				busy |= (f0[c] & 1) && f[c] == f0[c];
		}
	free(f0);
	free(f);
}

void ks_fault_slots_release(struct migrate_bpf *skel, pid_t pid)
{
	int fd = bpf_map__fd(skel->maps.vm_slots), cfd = bpf_map__fd(skel->maps.vcpu_slots);
	struct ks_vm_key key, next;
	struct ks_vcpu_key ckey, cnext;
	struct ks_fault_slot s;
	struct ks_fault_slot *gone = NULL;
	size_t ngone = 0, cap = 0;
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
	/* vCPU lines: cleared with their generation bumped, then cleared again
	 * once the evictions that may have tested the old generation are over,
	 * and only then free: a CPU's cache entry of the gone vCPU can be
	 * evicted at any time, and must not add its faults to the next owner. */
	more = !bpf_map_get_next_key(cfd, NULL, &cnext);
	while (more) {
		struct ks_vcpu_fault_line l;

		ckey = cnext;
		more = !bpf_map_get_next_key(cfd, &ckey, &cnext);
		if ((pid_t)ckey.tgid != pid || bpf_map_lookup_elem(cfd, &ckey, &s) ||
		    bpf_map_delete_elem(cfd, &ckey))
			continue;
		if (ngone == cap) {
			struct ks_fault_slot *g = realloc(gone, (cap = cap ? 2 * cap : 16) * sizeof(*g));

			if (!g) {
				/* Out of memory: the slot stays taken (lost), never reused dirty. */
				continue;
			}
			gone = g;
		}
		s.gen = bpf_map_lookup_elem(bpf_map__fd(skel->maps.vcpu_fault_ctr), &s.slot, &l) ?
			0 : l.gen + 1;
		clear_vcpu_line(skel, s.slot, s.gen);
		gone[ngone++] = s;
	}
	if (!ngone)
		goto out;
	wait_evictions(skel);
	for (size_t i = 0; i < ngone; i++) {
		struct ks_vcpu_fault_lat h = { 0 };
		__u32 slot = gone[i].slot;

		clear_vcpu_line(skel, slot, gone[i].gen);
		/* Only with latency on does the histogram exist for every slot. */
		if (slot < bpf_map__max_entries(skel->maps.vcpu_fault_lat))
			bpf_map_update_elem(bpf_map__fd(skel->maps.vcpu_fault_lat), &slot, &h, BPF_ANY);
		bpf_map_update_elem(bpf_map__fd(skel->maps.free_vcpu_slots), NULL, &slot, BPF_ANY);
	}
out:
	free(gone);
}
