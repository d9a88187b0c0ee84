// SPDX-License-Identifier: GPL-2.0
/*
 * The guest: a few bytes of hand-assembled 32-bit x86 code, run in flat
 * protected mode with paging off.  Everything is set up through
 * KVM_SET_SREGS, so there are no guest page tables, GDT or IDT: the only
 * guest memory the guest writes is the test memory (dirty-logged) and its
 * parameter block (slot 0, not logged).  That keeps the set of dirtied pages
 * exactly the set the VMM asked for.  Any exception has no IDT to go to and
 * becomes a triple fault, i.e. KVM_EXIT_SHUTDOWN, which vcpu.c reports.
 */
#include "kvmload.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

/*
 * Per phase, with EBX = &params (set once in KVM_SET_REGS):
 *   for (k = 0, p = first; k < count; k++, p++) {
 *           if (p >= npages) p = 0;
 *           addr = base_gpa + p * 4096;
 *           ((u32 *)addr)[0] = tag;  ((u32 *)addr)[1] = addr;
 *   }
 *   params->written = k;
 *   for (n = params->hypercalls; n; n--)      (the SEV page-status hypercall:
 *           params->hypercall_ret = hypercall(KVM_HC_MAP_GPA_RANGE, a0 = &params,
 *                                             a1 = 1 page, a2 = 0);  KVM
 *                                             answers -KVM_ENOSYS unless the
 *                                             VMM asked to handle it)
 *   for (n = params->io_exits; n; n--)
 *           out KL_IO_PORT, al          (a round trip to the VMM, which
 *                                        enters KVM_RUN again at once)
 *   out KL_DONE_PORT, al;  and again from the top
 * The VMM rewrites the parameters between phases; re-entering KVM_RUN after
 * the `out` exit resumes at the jmp, which re-reads them.
 */
static const uint8_t guest_code[] = {
	/* 00 top:    */ 0x8b, 0x3b,		/* mov  edi, [ebx]      base_gpa */
	/* 02         */ 0x8b, 0x73, 0x08,	/* mov  esi, [ebx+8]    first    */
	/* 05         */ 0x8b, 0x4b, 0x0c,	/* mov  ecx, [ebx+12]   count    */
	/* 08         */ 0x8b, 0x43, 0x10,	/* mov  eax, [ebx+16]   tag      */
	/* 0b         */ 0x31, 0xed,		/* xor  ebp, ebp        written  */
	/* 0d         */ 0x85, 0xc9,		/* test ecx, ecx                 */
	/* 0f         */ 0x74, 0x18,		/* jz   done                     */
	/* 11 next:   */ 0x3b, 0x73, 0x04,	/* cmp  esi, [ebx+4]    npages   */
	/* 14         */ 0x72, 0x02,		/* jb   nowrap                   */
	/* 16         */ 0x31, 0xf6,		/* xor  esi, esi                 */
	/* 18 nowrap: */ 0x89, 0xf2,		/* mov  edx, esi                 */
	/* 1a         */ 0xc1, 0xe2, 0x0c,	/* shl  edx, 12                  */
	/* 1d         */ 0x01, 0xfa,		/* add  edx, edi                 */
	/* 1f         */ 0x89, 0x02,		/* mov  [edx], eax              */
	/* 21         */ 0x89, 0x52, 0x04,	/* mov  [edx+4], edx            */
	/* 24         */ 0x46,			/* inc  esi                      */
	/* 25         */ 0x45,			/* inc  ebp                      */
	/* 26         */ 0x49,			/* dec  ecx                      */
	/* 27         */ 0x75, 0xe8,		/* jnz  next                     */
	/* 29 done:   */ 0x89, 0x6b, 0x14,	/* mov  [ebx+20], ebp   written  */
	/* 2c         */ 0x8b, 0x6b, 0x18,	/* mov  ebp, [ebx+24]   hypercalls */
	/* 2f hc:     */ 0x85, 0xed,		/* test ebp, ebp                 */
	/* 31         */ 0x74, 0x17,		/* jz   out                      */
	/* 33         */ 0xb8, 0x0c, 0, 0, 0,	/* mov  eax, 12  KVM_HC_MAP_GPA_RANGE */
	/* 38         */ 0xb9, 0x01, 0, 0, 0,	/* mov  ecx, 1   a1: pages (a0: ebx) */
	/* 3d         */ 0x31, 0xd2,		/* xor  edx, edx  a2: attributes */
	/* 3f         */ 0x31, 0xf6,		/* xor  esi, esi                 */
	/* 41         */ 0x0f, 0x01, 0xd9,	/* vmmcall (KVM fixes it to vmcall on Intel) */
	/* 44         */ 0x89, 0x43, 0x1c,	/* mov  [ebx+28], eax   hypercall_ret */
	/* 47         */ 0x4d,			/* dec  ebp                      */
	/* 48         */ 0xeb, 0xe5,		/* jmp  hc                       */
	/* 4a io:     */ 0x8b, 0x6b, 0x20,	/* mov  ebp, [ebx+32]   io_exits */
	/* 4d ioloop: */ 0x85, 0xed,		/* test ebp, ebp                 */
	/* 4f         */ 0x74, 0x05,		/* jz   out                      */
	/* 51         */ 0xe6, KL_IO_PORT,	/* out  KL_IO_PORT, al           */
	/* 53         */ 0x4d,			/* dec  ebp                      */
	/* 54         */ 0xeb, 0xf7,		/* jmp  ioloop                   */
	/* 56 out:    */ 0xe6, KL_DONE_PORT,	/* out  KL_DONE_PORT, al         */
	/* 58         */ 0xeb, 0xa6,		/* jmp  top                      */
};

void kl_guest_install(uint8_t *code_hva)
{
	memcpy(code_hva + KL_CODE_ENTRY, guest_code, sizeof(guest_code));
}

struct kl_guest_params *kl_guest_params(uint8_t *code_hva, unsigned int index)
{
	return (struct kl_guest_params *)(code_hva + KL_PARAMS_GPA) + index;
}

uint32_t kl_guest_tag(uint32_t generation)
{
	return KL_TAG_BASE + generation;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,	/* 32-bit default operand size */
		.s = 1,		/* code/data, not system */
		.l = 0,
		.g = 1,
	};
}

/*
 * --slot-mib: PAE paging with 2 MiB pages.  Linear 0..1 GiB is identity
 * mapped (slot 0); linear KL_TEST_GPA + j * 2 MiB, for each 2 MiB chunk j
 * of the test memory, maps the chunk's place in its slot.  Everything else
 * is not present.  The tables are in slot 0, which is never logged.
 */
void kl_guest_page_tables(const struct kl_vm *vm)
{
	uint64_t *pdpt = (uint64_t *)(vm->code_hva + KL_PDPT_GPA);
	uint64_t *pd = (uint64_t *)(vm->code_hva + KL_PD_GPA);
	uint64_t j, chunks = vm->total_pages * KL_PAGE_SIZE / KL_HUGE_SIZE;
	unsigned int i;

	_Static_assert(KL_PD_GPA + 4 * 4096 <= KL_CODE_BYTES, "page tables fit in slot 0");
	_Static_assert(KL_PARAMS_GPA + KL_MAX_VCPUS * sizeof(struct kl_guest_params) <=
		       KL_PDPT_GPA, "parameter blocks end below the page tables");
	memset(pdpt, 0, 32);
	memset(pd, 0, 4 * 4096);
	/* PAE PDPTEs: present only (RW/US are reserved there). */
	for (i = 0; i < 4; i++)
		pdpt[i] = (KL_PD_GPA + i * 4096ULL) | 1;
	/* P | RW | PS, and accessed + dirty set in advance (0x60): the
	 * vCPUs' page walks never write the tables. */
	for (i = 0; i < 512; i++)
		pd[i] = (uint64_t)i * KL_HUGE_SIZE | 0xe3;
	for (j = 0; j < chunks; j++) {
		uint64_t page = j * (KL_HUGE_SIZE / KL_PAGE_SIZE);
		const struct kl_slot *s = kl_page_slot(vm, page);
		uint64_t gpa = s->gpa + (page - s->first_page) * KL_PAGE_SIZE;

		pd[KL_TEST_GPA / KL_HUGE_SIZE + j] = gpa | 0xe3;
	}
}

void kl_guest_setup_vcpu(int vcpu_fd, unsigned int index, bool paging)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	_Static_assert(KL_PARAMS_GPA + KL_MAX_VCPUS *
		       sizeof(struct kl_guest_params) <= KL_CODE_BYTES,
		       "parameter blocks fit in slot 0");
	_Static_assert(KL_CODE_ENTRY + sizeof(guest_code) <= KL_PARAMS_GPA,
		       "code fits below the parameter blocks");

	/* Start from KVM's reset state so APIC base etc. stay sane. */
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		kl_fail("vCPU %u: KVM_GET_SREGS failed: %s", index,
			strerror(errno));
	sregs.cs = flat_segment(0x08, 0xb);	/* execute/read, accessed */
	sregs.ds = flat_segment(0x10, 0x3);	/* read/write, accessed */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	/* VMX entry checks want a usable busy TSS and tolerate no LDT. */
	sregs.tr = (struct kvm_segment){
		.selector = 0x18, .limit = 0x67, .type = 0xb, .present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	sregs.gdt.base = 0;
	sregs.gdt.limit = 0;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;	/* any exception -> triple fault -> SHUTDOWN */
	sregs.cr0 = 0x1 | 0x10 | 0x20;	/* PE | ET | NE; PG off */
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (paging) {	/* --slot-mib: PAE, tables from kl_guest_page_tables */
		sregs.cr0 |= 0x80000000UL;	/* PG */
		sregs.cr4 = 0x20;		/* PAE */
		sregs.cr3 = KL_PDPT_GPA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		kl_fail("vCPU %u: KVM_SET_SREGS failed: %s", index,
			strerror(errno));

	memset(&regs, 0, sizeof(regs));
	regs.rip = KL_CODE_ENTRY;
	regs.rflags = 0x2;	/* reserved bit 1; IF clear: no interrupts */
	regs.rbx = KL_PARAMS_GPA + index * sizeof(struct kl_guest_params);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		kl_fail("vCPU %u: KVM_SET_REGS failed: %s", index,
			strerror(errno));
}
