// SPDX-License-Identifier: GPL-2.0
/*
 * kvmload's phases, in the order a live migration goes through them:
 * set up and populate the VM, (hold), enable dirty logging, iterate
 * "guest dirties pages / VMM collects the log", disable dirty logging.
 */
#include "kvmload.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void report_vcpus(const struct kl_vcpu *vcpus, unsigned int n,
			 const struct kl_phase *ph)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		kl_report_vcpu(&vcpus[i], ph);
}

/*
 * Write every page once with logging off, so the TDP/NPT mappings (huge
 * ones where the backing allows) exist before logging starts and the first
 * iteration measures dirty tracking, not first-touch faults.
 */
static void populate(struct kl_vm *vm, struct kl_vcpu *vcpus,
		     struct kl_phase_ctl *ctl, struct kl_truth *truth,
		     const struct kl_config *cfg)
{
	const struct kl_phase ph = { .name = "populate", .iteration = -1,
				     .generation = KL_GEN_POPULATE };
	uint64_t pages, t0, t1;

	pages = kl_truth_plan(truth, vcpus, cfg->vcpus, &ph, 100, 0, 0);
	t0 = kl_now_ns();
	kl_vcpus_run_phase(ctl, &ph);
	t1 = kl_now_ns();
	kl_truth_check_guest_counts(vcpus, cfg->vcpus, &ph);
	kl_truth_check_memory(truth, vm, &ph);
	report_vcpus(vcpus, cfg->vcpus, &ph);
	kl_report_populate(t0, t1 - t0, pages, kl_memory_huge_bytes(&vm->mem));
	kl_stats_read_all(vm, cfg->vcpus, cfg->stats_reads, "populate", -1);
}

static void iterate(struct kl_vm *vm, struct kl_vcpu *vcpus,
		    struct kl_phase_ctl *ctl, struct kl_truth *truth,
		    const struct kl_config *cfg, unsigned int it)
{
	const struct kl_phase ph = { .name = "iteration", .iteration = it,
				     .generation = it + 1 };
	/* KVM_DIRTY_LOG_INITIALLY_SET: the first GET reports every page. */
	bool initially_set = cfg->mode == KL_MODE_MANUAL_INIT_SET && it == 0;
	uint64_t written = 0, written_protected = 0, dirty = 0, cleared = 0;
	uint64_t t_go, t_guest, t_collect, t_end;
	unsigned int i;

	kl_truth_plan(truth, vcpus, cfg->vcpus, &ph, cfg->write_percent, cfg->map_gpa_calls,
		      cfg->io_exits);
	/* --inject-fault hang: a last iteration the guest never finishes in
	 * practice (4G page writes), for the phase watchdog to end. */
	if (cfg->inject == KL_FAULT_HANG && it == cfg->iterations - 1)
		for (i = 0; i < cfg->vcpus; i++)
			vcpus[i].params->count = UINT32_MAX;
	t_go = kl_now_ns();
	kl_vcpus_run_phase(ctl, &ph);
	t_guest = kl_now_ns();
	report_vcpus(vcpus, cfg->vcpus, &ph);

	/* Collect all slots back to back, as a VMM would (both address
	 * spaces, as QEMU does); check afterwards. */
	for (i = 0; i < vm->nslots; i++)
		kl_dirty_log_collect(vm, &vm->slots[i], cfg, it);
	for (i = 0; i < vm->nsmm; i++)
		kl_dirty_log_collect(vm, &vm->smm[i], cfg, it);
	t_collect = kl_now_ns();
	/* The GET (get mode) or the CLEAR of exactly the reported bits
	 * (manual modes) write-protected the reported pages again. */
	for (i = 0; i < vm->nslots; i++)
		kl_truth_protect(truth, &vm->slots[i], vm->slots[i].dirty);
	if (it == cfg->iterations - 1)
		kl_truth_inject(truth, vm, cfg->inject);

	kl_truth_check_guest_counts(vcpus, cfg->vcpus, &ph);
	kl_truth_check_memory(truth, vm, &ph);
	for (i = 0; i < vm->nslots; i++) {
		const struct kl_slot *s = &vm->slots[i];
		struct kl_slot_check chk;

		kl_truth_check_slot(truth, s, &chk);
		kl_report_slot(s, it, &chk, initially_set);
		if (initially_set && s->col.pages_dirty != s->npages)
			kl_fail("slot %u iteration 0: KVM_DIRTY_LOG_INITIALLY_SET but KVM_GET_DIRTY_LOG reported %llu of %llu pages dirty",
				s->id, (unsigned long long)s->col.pages_dirty,
				(unsigned long long)s->npages);
		kl_truth_enforce_slot(s, it, &chk, initially_set);
		written += chk.pages_written;
		written_protected += chk.pages_written_protected;
		dirty += s->col.pages_dirty;
		cleared += s->col.pages_cleared;
	}
	for (i = 0; i < vm->nsmm; i++) {
		const struct kl_slot *s = &vm->smm[i];
		struct kl_slot_check chk;

		kl_truth_check_smm_slot(s, it, initially_set, &chk);
		kl_report_slot(s, it, &chk, initially_set);
		dirty += s->col.pages_dirty;
		cleared += s->col.pages_cleared;
	}
	t_end = kl_now_ns();
	kl_report_iteration(it, t_go, t_end, t_guest - t_go, t_collect - t_guest,
			    t_end - t_collect, written, written_protected, dirty, cleared);
	kl_stats_read_all(vm, cfg->vcpus, cfg->stats_reads, "iteration", it);
}

int main(int argc, char **argv)
{
	struct kl_config cfg;
	struct kl_vm vm = { .kvm_fd = -1, .vm_fd = -1, .stats_fd = -1 };
	struct kl_vcpu *vcpus;
	struct kl_phase_ctl *ctl;
	struct kl_truth *truth;
	unsigned int i, it;

	kl_parse_options(argc, argv, &cfg);
	kl_report_init(&cfg);

	kl_kvm_open(&vm, &cfg);
	kl_vm_create(&vm, &cfg);
	kl_vm_add_slots(&vm, &cfg);
	vcpus = calloc(cfg.vcpus, sizeof(*vcpus));
	if (!vcpus)
		kl_fail("out of memory for %u vCPUs", cfg.vcpus);
	truth = kl_truth_new(vm.total_pages);
	ctl = kl_vcpus_start(&vm, vcpus, cfg.vcpus, cfg.phase_timeout_s);
	/* A VMM that opens its stats fds late: a tracer that found it
	 * before then reads it through debugfs until it holds them. */
	if (cfg.stats_fd_delay_ms)
		sleep_ms(cfg.stats_fd_delay_ms);
	if (!cfg.no_stats_fd)
		kl_stats_fds_open(&vm, vcpus, cfg.vcpus, cfg.stats_reads);
	kl_report_start(&vm, vcpus);
	kl_stats_prepare(&vm, vcpus, cfg.vcpus, cfg.stats_reads);

	populate(&vm, vcpus, ctl, truth, &cfg);
	if (cfg.hold_ms) {
		kl_report_hold(kl_now_ns(), cfg.hold_ms);
		sleep_ms(cfg.hold_ms);
	}
	if (cfg.nested)
		kl_nested_run(&vm, &cfg);

	for (i = 0; i < vm.nslots; i++) {
		kl_dirty_log_set(&vm, &vm.slots[i], true);
		/* Initially-set: nothing is protected until the first CLEAR. */
		if (cfg.mode != KL_MODE_MANUAL_INIT_SET)
			kl_truth_protect(truth, &vm.slots[i], NULL);
	}
	for (i = 0; i < vm.nsmm; i++)
		kl_dirty_log_set(&vm, &vm.smm[i], true);
	for (it = 0; it < cfg.iterations; it++) {
		if (it && cfg.pause_ms)
			sleep_ms(cfg.pause_ms);
		iterate(&vm, vcpus, ctl, truth, &cfg, it);
	}
	for (i = 0; i < vm.nslots; i++)
		kl_dirty_log_set(&vm, &vm.slots[i], false);
	for (i = 0; i < vm.nsmm; i++)
		kl_dirty_log_set(&vm, &vm.smm[i], false);
	kl_stats_read_all(&vm, cfg.vcpus, cfg.stats_reads, "disable", -1);

	kl_vcpus_stop(ctl);
	kl_truth_free(truth);
	free(vcpus);
	kl_vm_destroy(&vm);
	kl_report_summary_ok();
	return KL_EXIT_OK;
}
