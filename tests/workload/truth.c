// SPDX-License-Identifier: GPL-2.0
/*
 * The ground truth: which pages the guest is told to write in each phase,
 * and the checks of KVM's dirty bitmap and of guest memory against it.
 *
 * Each vCPU writes a window of count = ceil(share * P / 100) pages of its
 * share, starting at (iteration * count) mod share and wrapping, so that
 * consecutive iterations touch different pages when P < 100 and a page
 * written now is usually clean in KVM's eyes, which is the case that costs.
 */
#include "kvmload.h"

#include <linux/kvm_para.h>
#include <stdlib.h>
#include <string.h>

struct kl_truth {
	uint64_t total_pages;
	uint64_t *written;	/* pages written in the current phase */
	/* Pages KVM was asked to write-protect (logging enabled without
	 * initially-set, or handed back by a GET in get mode or a CLEAR) and
	 * not written since: a guest write to one costs a write-protect fault. */
	uint64_t *protected;
	uint64_t *written_protected; /* written in this phase while protected */
	uint32_t *tag;		/* tag each page must hold now */
};

struct kl_truth *kl_truth_new(uint64_t total_pages)
{
	struct kl_truth *t = calloc(1, sizeof(*t));

	if (!t)
		kl_fail("out of memory for bookkeeping");
	t->total_pages = total_pages;
	t->written = calloc(kl_bitmap_words(total_pages), sizeof(uint64_t));
	t->tag = calloc(total_pages, sizeof(uint32_t));
	t->protected = calloc(kl_bitmap_words(total_pages), sizeof(uint64_t));
	t->written_protected = calloc(kl_bitmap_words(total_pages), sizeof(uint64_t));
	if (!t->written || !t->tag || !t->protected || !t->written_protected)
		kl_fail("out of memory for bookkeeping of %llu pages",
			(unsigned long long)total_pages);
	return t;
}

void kl_truth_free(struct kl_truth *t)
{
	free(t->written);
	free(t->protected);
	free(t->written_protected);
	free(t->tag);
	free(t);
}

/* Fill every vCPU's parameter block for the phase and record the plan. */
uint64_t kl_truth_plan(struct kl_truth *t, struct kl_vcpu *vcpus, unsigned int n,
		       const struct kl_phase *ph, unsigned int write_percent,
		       unsigned int hypercalls, unsigned int io_exits)
{
	uint32_t tag = kl_guest_tag(ph->generation);
	uint64_t total = 0;
	unsigned int i;

	memset(t->written, 0, kl_bitmap_words(t->total_pages) * sizeof(uint64_t));
	for (i = 0; i < n; i++) {
		struct kl_vcpu *v = &vcpus[i];
		uint64_t share = v->share_npages, first, count, k;

		if (ph->iteration < 0) {
			first = 0;
			count = share;
		} else {
			count = (share * write_percent + 99) / 100;
			first = ((uint64_t)ph->iteration * count) % share;
		}
		for (k = 0; k < count; k++) {
			uint64_t page = v->share_first_page + (first + k) % share;

			kl_bit_set(t->written, page);
			t->tag[page] = tag;
		}
		v->params->first = (uint32_t)first;
		v->params->count = (uint32_t)count;
		v->params->tag = tag;
		v->params->written = UINT32_MAX;	/* the guest must overwrite it */
		v->params->hypercalls = hypercalls;
		v->params->hypercall_ret = 0;
		v->params->io_exits = io_exits;
		total += count;
	}
	/* The guest's first write to a protected page makes it writable. */
	for (i = 0; i < kl_bitmap_words(t->total_pages); i++) {
		t->written_protected[i] = t->written[i] & t->protected[i];
		t->protected[i] &= ~t->written[i];
	}
	return total;
}

/* KVM write-protects the slot's pages whose bit is set in bits (NULL: all
 * of them). Slots start on a bitmap word (whole 2 MiB). */
void kl_truth_protect(struct kl_truth *t, const struct kl_slot *s, const uint64_t *bits)
{
	uint64_t *p = &t->protected[s->first_page / 64];
	size_t i, words = kl_bitmap_words(s->pop_pages);

	/* Only the populated start of a slot is test memory (--slot-mib). */
	for (i = 0; i < words; i++) {
		uint64_t m = bits ? bits[i] : ~0ULL;

		if (i == words - 1 && s->pop_pages % 64)
			m &= (1ULL << (s->pop_pages % 64)) - 1;
		p[i] |= m;
	}
}

void kl_truth_check_guest_counts(const struct kl_vcpu *vcpus, unsigned int n,
				 const struct kl_phase *ph)
{

	char label[48];
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct kl_guest_params *p = vcpus[i].params;

		if (p->written != p->count)
			kl_fail("vCPU %u: guest reports %u pages written during %s, VMM asked for %u",
				i, p->written,
				kl_phase_label(ph, label, sizeof(label)), p->count);
		/* KVM answers KVM_HC_MAP_GPA_RANGE itself unless the VMM enabled
		 * KVM_CAP_EXIT_HYPERCALL for it, which kvmload does not. */
		if (p->hypercalls && p->hypercall_ret != (uint32_t)-KVM_ENOSYS)
			kl_fail("vCPU %u: KVM_HC_MAP_GPA_RANGE returned 0x%x to the guest during %s, expected -KVM_ENOSYS",
				i, p->hypercall_ret, kl_phase_label(ph, label, sizeof(label)));
	}
}

/* Compare KVM's bitmap for one slot with what the guest was told to write. */
void kl_truth_check_slot(const struct kl_truth *t, const struct kl_slot *s,
			 struct kl_slot_check *out)
{
	/* Slots are whole 2 MiB, so a slot starts on a bitmap word. */
	const uint64_t *w = &t->written[s->first_page / 64];
	const uint64_t *wp = &t->written_protected[s->first_page / 64];
	size_t i, words = kl_bitmap_words(s->npages);
	size_t pop_words = kl_bitmap_words(s->pop_pages);

	*out = (struct kl_slot_check){ 0 };
	/* Past the populated start (--slot-mib) nothing is ever written. */
	for (i = 0; i < words; i++) {
		uint64_t wi = i < pop_words ? w[i] : 0;
		uint64_t wpi = i < pop_words ? wp[i] : 0;
		uint64_t missing = wi & ~s->dirty[i];
		uint64_t unexpected = s->dirty[i] & ~wi;

		out->pages_written += (uint64_t)__builtin_popcountll(wi);
		out->pages_written_protected += (uint64_t)__builtin_popcountll(wpi);
		if (missing && !out->pages_missing)
			out->first_missing = i * 64 + (uint64_t)__builtin_ctzll(missing);
		if (unexpected && !out->pages_unexpected)
			out->first_unexpected = i * 64 +
						(uint64_t)__builtin_ctzll(unexpected);
		out->pages_missing += (uint64_t)__builtin_popcountll(missing);
		out->pages_unexpected += (uint64_t)__builtin_popcountll(unexpected);
	}
}

void kl_truth_enforce_slot(const struct kl_slot *s, unsigned int iteration,
			   const struct kl_slot_check *chk, bool allow_unexpected)
{
	if (chk->pages_missing)
		kl_fail("slot %u iteration %u page %llu (gpa 0x%llx): written by the guest but not reported dirty by KVM_GET_DIRTY_LOG (%llu such pages in the slot)",
			s->id, iteration, (unsigned long long)chk->first_missing,
			(unsigned long long)(s->gpa + chk->first_missing * KL_PAGE_SIZE),
			(unsigned long long)chk->pages_missing);
	if (chk->pages_unexpected && !allow_unexpected)
		kl_fail("slot %u iteration %u page %llu (gpa 0x%llx): reported dirty by KVM_GET_DIRTY_LOG but not written by the guest in this iteration (%llu such pages in the slot)",
			s->id, iteration, (unsigned long long)chk->first_unexpected,
			(unsigned long long)(s->gpa + chk->first_unexpected * KL_PAGE_SIZE),
			(unsigned long long)chk->pages_unexpected);
}

void kl_truth_check_smm_slot(const struct kl_slot *s, unsigned int iteration,
			     bool initially_set, struct kl_slot_check *chk)
{
	uint64_t want = initially_set ? s->npages : 0;

	/* Nothing is written through it: every page it reports is unexpected. */
	*chk = (struct kl_slot_check){ .pages_unexpected = s->col.pages_dirty };
	if (s->col.pages_dirty != want)
		kl_fail("slot %u (as %u) iteration %u: KVM_GET_DIRTY_LOG reported %llu pages dirty, expected %llu (the guest never runs in SMM)",
			s->id, s->as_id, iteration, (unsigned long long)s->col.pages_dirty,
			(unsigned long long)want);
}

/*
 * Every page must carry the tag of the last phase that wrote it and its own
 * GPA, as seen through the host mapping: proves the guest's writes landed
 * in the memory the memslots point at, and nowhere else.
 */
void kl_truth_check_memory(const struct kl_truth *t, const struct kl_vm *vm,
			   const struct kl_phase *ph)
{
	uint64_t p;

	/* dword 1 holds the address the guest wrote through: the GPA, or
	 * with --slot-mib the linear address its page tables map. */
	for (p = 0; p < t->total_pages; p++) {
		const volatile uint32_t *hdr =
			(const volatile uint32_t *)kl_page_hva(vm, p);
		uint32_t gpa = (uint32_t)(KL_TEST_GPA + p * KL_PAGE_SIZE);
		uint32_t tag = hdr[0], addr = hdr[1];

		if (tag != t->tag[p] || addr != gpa) {
			const struct kl_slot *s = kl_page_slot(vm, p);

			char label[48];

			kl_fail("slot %u %s page %llu (gpa 0x%x): host memory holds tag 0x%08x addr 0x%08x, expected tag 0x%08x addr 0x%08x",
				s->id, kl_phase_label(ph, label, sizeof(label)),
				(unsigned long long)(p - s->first_page), gpa,
				tag, addr, t->tag[p], gpa);
		}
	}
}

static uint64_t first_set_bit(const uint64_t *map, uint64_t nbits)
{
	size_t i;

	for (i = 0; i < kl_bitmap_words(nbits); i++)
		if (map[i])
			return i * 64 + (uint64_t)__builtin_ctzll(map[i]);
	return nbits;
}

/*
 * Pretend KVM or the guest misbehaved, after the dirty logs were collected
 * and before they are checked, so tests can see each check fire.
 */
void kl_truth_inject(struct kl_truth *t, struct kl_vm *vm, enum kl_fault f)
{
	uint64_t page = first_set_bit(t->written, t->total_pages);
	unsigned int i;

	switch (f) {
	case KL_FAULT_NONE:
		break;
	case KL_FAULT_LOST_DIRTY:	/* KVM forgets one reported page */
		for (i = 0; i < vm->nslots; i++) {
			struct kl_slot *s = &vm->slots[i];
			uint64_t bit = first_set_bit(s->dirty, s->npages);

			if (bit < s->npages) {
				s->dirty[bit / 64] &= ~(1ULL << (bit % 64));
				break;
			}
		}
		break;
	case KL_FAULT_EXTRA_DIRTY:	/* KVM reports a page nobody wrote */
		if (page < t->total_pages)
			t->written[page / 64] &= ~(1ULL << (page % 64));
		break;
	case KL_FAULT_BAD_VALUE:	/* a guest write that did not land */
		if (page < t->total_pages)
			*(volatile uint32_t *)kl_page_hva(vm, page) ^= 0xffff;
		break;
	case KL_FAULT_HANG:		/* before the guest ran: iterate() */
		break;
	}
}
