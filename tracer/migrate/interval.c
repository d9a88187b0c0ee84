// SPDX-License-Identifier: GPL-2.0
/*
 * An interval of a VM closed: the change of its counters, the comparisons
 * of what the events say with what KVM's own statistics say over the same
 * span (docs/overhead.md), the vCPU time lost in faults; then the model
 * moves on to the next interval.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/model.h"

/*
 * The comparisons:
 *  EQUAL     the stat counts exactly the traced calls (remote TLB flush
 *            requests are counted at the top of kvm_flush_remote_tlbs);
 *  WITHIN    the stat counts a subset of the traced calls (pf_taken is not
 *            counted for MMIO and a few retried faults that still go
 *            through kvm_mmu_page_fault): stat <= seen, and close to it;
 *  INFO      related but not comparable (new huge mappings raise pages_2m
 *            while splits lower it): shown, never flagged; also EQUAL and
 *            WITHIN comparisons of an interval whose ends were not both
 *            sampled "settled" (session/sample.c): events that fell
 *            between the two reads count on one side only;
 *  EXACT     a signed sum (page-size stats updates) that must equal the
 *            stat's change exactly: the sample is taken so that no update
 *            falls between the two reads (session/sample.c);
 *  SIGNED_INFO the same, when that could not be ensured: shown only.
 */
const char *const ks_relation_names[] = { "equal", "within", "info", "exact", "info" };

/* (Counters are unsigned long long, read and written as such: another
 * type through a cast would break the compiler's aliasing rules.) */
static unsigned long long d(unsigned long long now, unsigned long long before)
{
	return now >= before ? now - before : 0;
}

/* Counters and stats are read a few microseconds apart while the guest
 * runs: events in that gap may land on either side of an interval. */
static bool agrees(const struct ks_agreement *a)
{
	int64_t seen = (int64_t)a->seen, slack = seen / 100 > 2 ? seen / 100 : 2;

	if (!a->found)
		return true;
	switch (a->rel) {
	case KS_REL_EQUAL:
		return a->stat_delta >= seen - slack && a->stat_delta <= seen + slack;
	case KS_REL_WITHIN:
		/* Up to 10% of the faults may be ones KVM does not count; under
		 * heavy fault rates the few microseconds between reading the
		 * counters and the stats let some 5% more land in the stats. */
		return a->stat_delta <= seen + slack + seen / 20 &&
		       a->stat_delta >= seen - slack - seen / 10;
	case KS_REL_EXACT:
		/* seen holds a signed sum (page deltas) in two's complement. */
		return a->stat_delta == (int64_t)a->seen;
	case KS_REL_INFO:
	case KS_REL_SIGNED_INFO:
		break;
	}
	return true;
}

static void compare(struct ks_interval *iv, const struct ks_vm *vm, bool vcpus,
		    const char *events, const char *stat, uint64_t seen, enum ks_relation rel)
{
	struct ks_agreement *a = &iv->a[iv->na++];

	*a = (struct ks_agreement){ events, stat, seen, 0, false, rel, false };
	a->stat_delta = ks_vmstats_delta(&vm->st, vcpus, stat, &a->found);
	a->agree = agrees(a);
}

static void fill_agreements(const struct ks_model *m, const struct ks_vm *vm,
			    struct ks_interval *iv)
{
	const struct ks_vm_counters *dc = &iv->dc;
	/* Both sides must cover the same span: from the interval after the
	 * stats were attached on. */
	bool settled = vm->settled && vm->settled_prev;

	iv->na = 0;
	if (!vm->have_stats || !vm->stats_baseline || vm->untracked)
		return;
	compare(iv, vm, false, "tlb_flushes", "remote_tlb_flush_requests", dc->tlb_flushes,
		settled ? KS_REL_EQUAL : KS_REL_INFO);
	/* Without the fault program the faults are these stats: nothing to
	 * compare. */
	if (m->fault_program) {
		compare(iv, vm, true, "faults", "pf_taken", dc->faults,
			settled ? KS_REL_WITHIN : KS_REL_INFO);
		compare(iv, vm, true, "wp_faults", "pf_fast", dc->wp_faults, KS_REL_INFO);
	}
	compare(iv, vm, false, "splits_2m", "pages_2m", dc->splits[2], KS_REL_INFO);
	/* Series kernels: the page-size stats updates of the interval, summed,
	 * are the change of pages_4k/2m/1g over it, exactly, when both ends of
	 * the interval were sampled with no update in between the reads. */
	if (m->page_stats) {
		static const char *const pages[] = { NULL, "pages_4k", "pages_2m", "pages_1g" };
		static const char *const names[] = { NULL, "page_stats_4k", "page_stats_2m",
						     "page_stats_1g" };

		for (int l = 1; l < KS_MAX_LEVEL; l++)
			compare(iv, vm, false, names[l], pages[l], dc->page_delta[l],
				settled ? KS_REL_EXACT : KS_REL_SIGNED_INFO);
	}
}

/* The change of every counter over an interval. The counters only grow, so
 * a drop (an entry forgotten and recreated) counts as 0, except the page
 * deltas: they are signed sums that fall whenever pages are unmapped or huge
 * pages split, and must be subtracted as they are (two's complement). */
static void counters_delta(const struct ks_vm_counters *now, const struct ks_vm_counters *then,
			   struct ks_vm_counters *out)
{
	const unsigned long long *a = (const unsigned long long *)now;
	const unsigned long long *b = (const unsigned long long *)then;
	const size_t sfrom = offsetof(struct ks_vm_counters, page_delta) / sizeof(*a);
	const size_t sto = sfrom + KS_MAX_LEVEL;
	unsigned long long *o = (unsigned long long *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(*a); i++)
		o[i] = i >= sfrom && i < sto ? a[i] - b[i] : d(a[i], b[i]);
}

static void vcpu_deltas(struct ks_vm *vm, struct ks_interval *iv)
{
	iv->nvcpus = 0;
	iv->vcpu_delta = NULL;
	iv->vcpu_id = NULL;
	if (!vm->nvcpus)
		return;
	iv->vcpu_delta = calloc((size_t)vm->nvcpus, sizeof(*iv->vcpu_delta));
	iv->vcpu_id = calloc((size_t)vm->nvcpus, sizeof(*iv->vcpu_id));
	if (!iv->vcpu_delta || !iv->vcpu_id) {
		ks_interval_free(iv);
		return;
	}
	for (int i = 0; i < vm->nvcpus; i++) {
		struct ks_vcpu_stat *v = &vm->vcpus[i];
		const unsigned long long *a = (const unsigned long long *)&v->total;
		const unsigned long long *b = (const unsigned long long *)&v->last;
		unsigned long long *o = (unsigned long long *)&iv->vcpu_delta[i];

		for (size_t k = 0; k < sizeof(v->total) / sizeof(*a); k++)
			o[k] = d(a[k], b[k]);
		iv->vcpu_delta[i].faults = ks_faults_at_least(iv->vcpu_delta[i].faults,
							      iv->vcpu_delta[i].wp_faults,
							      &v->faults_ahead);
		iv->vcpu_id[i] = v->id;
	}
	iv->nvcpus = vm->nvcpus;
}

void ks_model_close_interval(struct ks_model *m, struct ks_vm *vm, uint64_t now_ns,
			     struct ks_cpu cpu, struct ks_interval *iv)
{
	uint64_t since = vm->last_report_ns ? vm->last_report_ns : m->start_ns;
	struct ks_cpu then = vm->last_report_ns ? vm->cpu_last : m->cpu_start;

	memset(iv, 0, sizeof(*iv));
	iv->vm = vm;
	iv->now_ns = now_ns;
	iv->dt_ns = now_ns - since;
	iv->cpu = ks_cpu_since(cpu, then);
	iv->syncs = vm->syncs_interval;
	iv->host_ns = vm->host_ns_interval;
	iv->nvcpu = vm->vcpus_seen;
	iv->settled = vm->have_stats && vm->settled;
	counters_delta(&vm->total, &vm->last, &iv->dc);
	/* (The agreements compare the counters' own changes, before this.) */
	fill_agreements(m, vm, iv);
	iv->dc.faults = ks_faults_at_least(iv->dc.faults, iv->dc.wp_faults, &vm->iv_faults_ahead);
	iv->lost_pct = iv->nvcpu && iv->dt_ns ?
		       100.0 * iv->dc.fault_ns / ((double)iv->dt_ns * iv->nvcpu) : 0;
	vcpu_deltas(vm, iv);

	/* The next interval starts here. */
	vm->last = vm->total;
	vm->settled_prev = vm->settled;
	for (int i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i].last = vm->vcpus[i].total;
	vm->host_ns_interval = 0;
	vm->syncs_interval = 0;
	vm->last_report_ns = now_ns;
	vm->cpu_last = cpu;
	/* Comparisons start at the first boundary sampled settled, and go on
	 * from there. At a boundary that is not settled the counters are read
	 * while updates land between the reads (populating a 4K-backed guest:
	 * thousands of page-size updates), so the two sides start apart by the
	 * updates of that window, and summed over the VM's life the intervals
	 * would differ by them (seen: +1 to +3 pages_4k on anon backing). From
	 * a settled start, the sums up to any later settled boundary agree. */
	vm->stats_baseline = vm->have_stats && (vm->stats_baseline || vm->settled);
}

void ks_interval_free(struct ks_interval *iv)
{
	free(iv->vcpu_delta);
	free(iv->vcpu_id);
	iv->vcpu_delta = NULL;
	iv->vcpu_id = NULL;
	iv->nvcpus = 0;
}
