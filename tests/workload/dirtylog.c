// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty-logging protocol of a live migration, one ioctl at a time, each
 * timed in userspace and reported as a ground-truth record.  These are the
 * calls whose kernel-side cost kvmscope measures.
 */
#include "kvmload.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

void kl_enable_manual_protect(struct kl_vm *vm, enum kl_mode mode)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	uint32_t want;
	int have;

	vm->manual_flags = 0;
	if (mode == KL_MODE_GET)
		return;
	want = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	if (mode == KL_MODE_MANUAL_INIT_SET)
		want |= KVM_DIRTY_LOG_INITIALLY_SET;

	/* The capability's value is the mask of flags this KVM accepts. */
	have = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
		     KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (have < 0)
		have = 0;
	if (((uint32_t)have & want) != want)
		kl_skip("--mode %s needs KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 flags 0x%x, KVM offers 0x%x",
			kl_mode_name(mode), want, (uint32_t)have);

	cap.args[0] = want;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		kl_fail("KVM_ENABLE_CAP KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 0x%x failed: %s",
			want, strerror(errno));
	vm->manual_flags = want;
}

/*
 * Turning logging on makes KVM allocate the bitmap and write-protect (or
 * split) the slot's mappings; turning it off lets huge mappings come back.
 * Both are a KVM_SET_USER_MEMORY_REGION with only the flag changed.
 */
void kl_dirty_log_set(const struct kl_vm *vm, struct kl_slot *s, bool on)
{
	uint32_t flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	struct kl_timing tm;

	kl_set_memslot(vm, kl_slot_ioctl_id(s), s->gpa, s->npages * KL_PAGE_SIZE, s->hva, flags, &tm);
	kl_report_memslot_op(on ? "enable_log" : "disable_log", s, &tm, flags);
}

/*
 * KVM_CLEAR_DIRTY_LOG's first_page must be a multiple of 64, and num_pages
 * too unless the range runs to the end of the slot; chunks are multiples of
 * 64 from page 0, so both hold.  Chunks with no reported page are skipped,
 * as a VMM would.
 */
static void clear_reported(const struct kl_vm *vm, struct kl_slot *s,
			   uint64_t chunk, unsigned int iteration)
{
	uint64_t first;

	for (first = 0; first < s->npages; first += chunk) {
		uint64_t n = s->npages - first < chunk ? s->npages - first : chunk;
		uint64_t weight = kl_bitmap_weight(s->dirty, first, n);
		struct kvm_clear_dirty_log c = {
			.slot = kl_slot_ioctl_id(s),
			.num_pages = (uint32_t)n,
			.first_page = first,
			.dirty_bitmap = &s->dirty[first / 64],
		};
		struct kl_timing tm;

		if (!weight)
			continue;
		if (kl_ioctl_timed(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &c, &tm) < 0)
			kl_fail("KVM_CLEAR_DIRTY_LOG slot %u (as %u) pages %llu..%llu iteration %u failed: %s",
				s->id, s->as_id, (unsigned long long)first,
				(unsigned long long)(first + n - 1), iteration,
				strerror(errno));
		s->col.clear_calls++;
		s->col.clear_ns += tm.dur_ns;
		s->col.pages_cleared += weight;
		s->col.end_ns = tm.ts_ns + tm.dur_ns;
		kl_report_clear(s, iteration, &tm, first, n, weight);
	}
}

/*
 * Fetch the slot's dirty bitmap into s->dirty; in manual modes also hand
 * exactly the reported bits back, which re-write-protects those pages.
 */
void kl_dirty_log_collect(const struct kl_vm *vm, struct kl_slot *s,
			  const struct kl_config *cfg, unsigned int iteration)
{
	struct kvm_dirty_log log = { .slot = kl_slot_ioctl_id(s), .dirty_bitmap = s->dirty };
	struct kl_timing tm;

	memset(s->dirty, 0, kl_bitmap_words(s->npages) * sizeof(uint64_t));
	s->col = (struct kl_collect){ 0 };

	if (kl_ioctl_timed(vm->vm_fd, KVM_GET_DIRTY_LOG, &log, &tm) < 0)
		kl_fail("KVM_GET_DIRTY_LOG slot %u (as %u) iteration %u failed: %s",
			s->id, s->as_id, iteration, strerror(errno));
	s->col.ts_ns = tm.ts_ns;
	s->col.end_ns = tm.ts_ns + tm.dur_ns;
	s->col.get_ns = tm.dur_ns;
	s->col.pages_dirty = kl_bitmap_weight(s->dirty, 0, s->npages);
	kl_report_get(s, iteration, &tm, s->col.pages_dirty);

	if (cfg->mode != KL_MODE_GET)
		clear_reported(vm, s, cfg->clear_chunk_pages ?
			       cfg->clear_chunk_pages : s->npages, iteration);
}
