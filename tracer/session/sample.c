// SPDX-License-Identifier: GPL-2.0
/*
 * The sample at the end of an interval: the kernel's counters and the
 * binary stats read so that the comparisons between them hold
 * (migrate/interval.c), for `migrate` and `export` alike.
 */
#include <string.h>
#include "session/session.h"
#include "migrate/counters.h"
#include "lib/log.h"

static void settle_key(const struct ks_vm *vm, struct ks_settle_key *k)
{
	k->tlb_flushes = vm->total.tlb_flushes;
	k->faults = vm->total.faults;
	memcpy(k->page_delta, vm->total.page_delta, sizeof(k->page_delta));
}

/* Nothing moved between the two reads that a comparison would notice: TLB
 * flushes and page-size sums are compared exactly, so they must not move at
 * all; faults are compared within a slack (interval.c) and during a fault
 * storm move by a few in any window, so the window's faults must stay
 * within max(2, 1%) of the interval's. */
static bool settle_same(const struct ks_vm *vm, const struct ks_settle_key *a,
			const struct ks_settle_key *b)
{
	unsigned long long interval = b->faults >= vm->last.faults ? b->faults - vm->last.faults : 0;
	unsigned long long slack = interval / 100 > 2 ? interval / 100 : 2;

	return a->tlb_flushes == b->tlb_flushes &&
	       !memcmp(a->page_delta, b->page_delta, sizeof(a->page_delta)) &&
	       b->faults - a->faults <= slack;
}

static bool wanted(const struct ks_vm *vm, const struct ks_vm *only)
{
	return (!only || vm == only) && vm->active && vm->have_stats;
}

static void sample(struct ks_vm *vm, uint64_t ts, bool again)
{
	/* A retry reads the same sample point again. */
	if (again) {
		ks_vmstats_resample(&vm->st, ts);
	} else if (ks_vmstats_sample(&vm->st, ts)) {
		ks_debug("PID %d: stats read failed", (int)vm->pid);
	}
}

/*
 * Reads the counters and samples the binary stats of one VM (or of every
 * active VM with stats if only is NULL) at the end of an interval.
 * KVM counts a TLB flush request or a fault in its stats and the BPF program
 * counts it in the map a moment apart, and page-size stats are added before
 * kvm_mmu_page_stats fires; an event between reading the counters and the
 * stats would count in different intervals on the two sides (the tracer's
 * thread can be preempted for milliseconds between the two reads). So the
 * counters are read again after the stats: if the compared counters did not
 * move (settle_same()), no such event fell between the reads (short of one
 * stalled for the whole sample) and the VM is "settled"; if they moved,
 * sample again, a few times at most. An interval not settled at both ends
 * has its comparisons shown, not judged (interval.c). A retry samples again
 * only the VMs that moved: a fault storm in one VM must not multiply the
 * work done for every other (the counters are one map walk for all VMs
 * either way). Without BPF there are only the stats to read.
 */
void ks_session_sample(struct ks_session *s, struct ks_vm *only, uint64_t ts)
{
	enum { TRIES = 4 };
	struct ks_session_vm *sv;
	struct ks_settle_key after;
	struct ks_vm *vm;
	bool moved = true;
	int t;

	if (!s->skel) {
		ks_model_for_each_vm(&s->m, i, vm)
			if (wanted(vm, only))
				sample(vm, ts, false);
		return;
	}
	ks_model_for_each_vm(&s->m, i, vm)
		if ((sv = ks_session_vm_state(s, vm)))
			sv->held = false;
	for (t = 0; t < TRIES && moved; t++) {
		moved = false;
		ks_counters_read_vm(&s->m, s->skel);
		ks_model_for_each_vm(&s->m, i, vm) {
			if (!wanted(vm, only) || (t && vm->settled) ||
			    !(sv = ks_session_vm_state(s, vm)))
				continue;
			sample(vm, ts, t != 0);
			settle_key(vm, &sv->before);
		}
		ks_counters_read_vm(&s->m, s->skel);
		ks_model_for_each_vm(&s->m, i, vm) {
			if (!wanted(vm, only) || (t && vm->settled) ||
			    !(sv = ks_session_vm_state(s, vm)))
				continue;
			settle_key(vm, &after);
			vm->settled = settle_same(vm, &sv->before, &after);
			moved |= !vm->settled;
			if (vm->settled) {
				sv->held_total = vm->total;
				sv->held = true;
			}
		}
	}
	/* A VM that settled before the last try keeps the counters read with
	 * its stats, not those of the later reads. Without the fault program
	 * its faults are those of the last sample. */
	ks_model_for_each_vm(&s->m, i, vm) {
		const struct ks_session_vm *held = ks_vm_side_get(s->vs, s->nvs, sizeof(*s->vs), vm);

		if (held && held->held)
			vm->total = held->held_total;
		if (wanted(vm, only))
			ks_model_stats_faults(&s->m, vm);
	}
	/* The vCPU table after the sample: the VM counters are compared with
	 * the stats read right after them, and nothing may widen that gap. */
	ks_counters_read_vcpu_faults(&s->m, s->skel);
}
