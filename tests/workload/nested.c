// SPDX-License-Identifier: GPL-2.0
/*
 * --nested: the guest runs a nested guest of its own, with nested paging.
 *
 * With the TDP MMU, KVM allocates the rmaps of a VM's memslots only when
 * the VM's first shadow root appears (mmu_first_shadow_root_alloc).  On an
 * AMD host with NPT, the usual way to get one is a guest that is itself a
 * hypervisor using nested paging: KVM must then shadow the guest's nested
 * page table.  This file makes kvmload's VM such a guest, once, on an extra
 * vCPU the main thread runs to completion:
 *
 *   L1 (the extra vCPU, 64-bit long mode set up through KVM_SET_SREGS)
 *     sets EFER.SVME, points VM_HSAVE_PA at a page, and VMRUNs a VMCB that
 *     enables nested paging with an nCR3 table identity-mapping the code
 *     slot (4 KiB pages);
 *   L2 writes a marker into the code slot and executes VMMCALL;
 *   L1 gets the #VMEXIT, executes STGI and tells the VMM with an `out`.
 *
 * The VMM then checks the exit code KVM wrote into the VMCB (VMMCALL) and
 * L2's marker, and reports the span of the KVM_RUN that did it: the rmap
 * allocation must fall inside it.  Everything lives in the code slot
 * (slot 0, never dirty-logged) above the parameter blocks, so the test
 * memory and its ground truth are untouched.  docs/kvmload.md, "--nested".
 */
#include "kvmload.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guest physical layout in the code slot (0 .. KL_CODE_BYTES), in its
 * upper 64 KiB: the lower holds the code, the parameter blocks of up to
 * KL_MAX_VCPUS vCPUs and --slot-mib's page tables. */
#define N_L1_PML4	0x14000U	/* L1's own page tables: 0..2 MiB, one 2 MiB page */
#define N_L1_PDPT	0x15000U
#define N_L1_PD		0x16000U
#define N_NPT_PML4	0x17000U	/* nCR3: the code slot, 4 KiB pages */
#define N_NPT_PDPT	0x18000U
#define N_NPT_PD	0x19000U
#define N_NPT_PT	0x1a000U
#define N_VMCB		0x1b000U	/* L1's VMCB for L2 */
#define N_HSAVE		0x1c000U	/* VM_HSAVE_PA */
#define N_L2_DATA	0x1d000U	/* L2 writes its marker here */
#define N_L1_CODE	0x1e000U
#define N_L2_CODE	0x1e800U

#define N_MARKER	0x21324c4bU	/* "KL2!" */

/* x86 page-table entry bits: present, writable, user (NPT wants U), 2 MiB. */
#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_US		0x4ULL
#define PTE_PS		0x80ULL
#define PTE_TABLE	(PTE_P | PTE_RW | PTE_US)

#define CR0_PE		0x1ULL
#define CR0_ET		0x10ULL
#define CR0_NE		0x20ULL
#define CR0_PG		0x80000000ULL
#define CR4_PAE		0x20ULL
#define EFER_LME	0x100ULL
#define EFER_LMA	0x400ULL
#define EFER_SVME	0x1000ULL

/* VMCB offsets (AMD APM vol. 2, appendix B). */
#define VMCB_INTERCEPT_EXC	0x008	/* exception vectors */
#define VMCB_INTERCEPT_MISC1	0x00c
#define VMCB_INTERCEPT_MISC2	0x010
#define VMCB_IOPM_BASE		0x040
#define VMCB_MSRPM_BASE		0x048
#define VMCB_ASID		0x058
#define VMCB_EXIT_CODE		0x070
#define VMCB_EXIT_INFO1		0x078
#define VMCB_EXIT_INFO2		0x080
#define VMCB_NESTED_CTL		0x090
#define VMCB_NESTED_CR3		0x0b0
#define VMCB_SAVE		0x400
#define VMCB_ES			(VMCB_SAVE + 0x000)
#define VMCB_CS			(VMCB_SAVE + 0x010)
#define VMCB_SS			(VMCB_SAVE + 0x020)
#define VMCB_DS			(VMCB_SAVE + 0x030)
#define VMCB_CPL		(VMCB_SAVE + 0x0cb)
#define VMCB_EFER		(VMCB_SAVE + 0x0d0)
#define VMCB_CR4		(VMCB_SAVE + 0x148)
#define VMCB_CR3		(VMCB_SAVE + 0x150)
#define VMCB_CR0		(VMCB_SAVE + 0x158)
#define VMCB_DR7		(VMCB_SAVE + 0x160)
#define VMCB_DR6		(VMCB_SAVE + 0x168)
#define VMCB_RFLAGS		(VMCB_SAVE + 0x170)
#define VMCB_RIP		(VMCB_SAVE + 0x178)
#define VMCB_G_PAT		(VMCB_SAVE + 0x268)

#define MISC1_HLT		(1U << 24)
#define MISC1_SHUTDOWN		(1U << 31)
#define MISC2_VMRUN		(1U << 0)
#define MISC2_VMMCALL		(1U << 1)
#define NESTED_CTL_NP_ENABLE	1ULL

#define SVM_EXIT_VMMCALL	0x81ULL
#define SVM_EXIT_ERR		0xffffffffffffffffULL

/* SVM segment attributes: type, S, DPL 0, P, L, DB, G. */
#define SEG_CODE64	(0xbU | 0x10U | 0x80U | 0x200U | 0x800U)
#define SEG_DATA	(0x3U | 0x10U | 0x80U | 0x400U | 0x800U)

/*
 * L1, 64-bit:
 *   mov ecx, MSR_EFER; rdmsr; or eax, EFER.SVME; wrmsr
 *   mov ecx, MSR_VM_HSAVE_PA; mov eax, N_HSAVE; xor edx, edx; wrmsr
 *   mov eax, N_VMCB; vmrun          (rax: the VMCB's physical address)
 *   stgi                            (#VMEXIT cleared GIF)
 *   out KL_DONE_PORT, al; hlt       (never resumed)
 */
static const uint8_t l1_code[] = {
	0xb9, 0x80, 0x00, 0x00, 0xc0,			/* mov ecx, 0xc0000080 */
	0x0f, 0x32,					/* rdmsr               */
	0x0d, 0x00, 0x10, 0x00, 0x00,			/* or eax, 0x1000      */
	0x0f, 0x30,					/* wrmsr               */
	0xb9, 0x17, 0x01, 0x01, 0xc0,			/* mov ecx, 0xc0010117 */
	0xb8, N_HSAVE & 0xff, (N_HSAVE >> 8) & 0xff, (N_HSAVE >> 16) & 0xff, 0, /* mov eax, N_HSAVE */
	0x31, 0xd2,					/* xor edx, edx        */
	0x0f, 0x30,					/* wrmsr               */
	0xb8, N_VMCB & 0xff, (N_VMCB >> 8) & 0xff, (N_VMCB >> 16) & 0xff, 0, /* mov eax, N_VMCB   */
	0x0f, 0x01, 0xd8,				/* vmrun               */
	0x0f, 0x01, 0xdc,				/* stgi                */
	0xe6, KL_DONE_PORT,				/* out KL_DONE_PORT, al */
	0xf4,						/* hlt                 */
};

/* L2, 64-bit: mov dword [N_L2_DATA], N_MARKER; vmmcall; hlt */
static const uint8_t l2_code[] = {
	0xc7, 0x04, 0x25,
	N_L2_DATA & 0xff, (N_L2_DATA >> 8) & 0xff, (N_L2_DATA >> 16) & 0xff, 0,
	N_MARKER & 0xff, (N_MARKER >> 8) & 0xff, (N_MARKER >> 16) & 0xff, N_MARKER >> 24,
	0x0f, 0x01, 0xd9,				/* vmmcall             */
	0xf4,						/* hlt                 */
};

_Static_assert(N_L2_CODE + sizeof(l2_code) <= KL_CODE_BYTES, "nested layout fits the code slot");
_Static_assert(N_L1_CODE + sizeof(l1_code) <= N_L2_CODE, "L1 code before L2 code");
_Static_assert(KL_PARAMS_GPA + KL_MAX_VCPUS * sizeof(struct kl_guest_params) <= N_L1_PML4 &&
	       KL_PD_GPA + 4 * 4096 <= N_L1_PML4,
	       "nested structures above the parameter blocks and --slot-mib's page tables");
_Static_assert(N_L2_DATA < (1U << 24) && N_VMCB < (1U << 24) && N_HSAVE < (1U << 24),
	       "the code above encodes these addresses in 24 bits");

static void put64(uint8_t *base, uint32_t off, uint64_t v)
{
	memcpy(base + off, &v, sizeof(v));
}

static void put32(uint8_t *base, uint32_t off, uint32_t v)
{
	memcpy(base + off, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *base, uint32_t off)
{
	uint64_t v;

	memcpy(&v, base + off, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *base, uint32_t off)
{
	uint32_t v;

	memcpy(&v, base + off, sizeof(v));
	return v;
}

/* One VMCB segment: selector, attributes, limit, base. */
static void vmcb_seg(uint8_t *vmcb, uint32_t off, uint16_t sel, uint16_t attrib)
{
	memcpy(vmcb + off, &sel, 2);
	memcpy(vmcb + off + 2, &attrib, 2);
	put32(vmcb, off + 4, 0xffffffffU);
	put64(vmcb, off + 8, 0);
}

/* Page tables, VMCB and code, written by the VMM before L1 runs. */
static void build_guest_structures(uint8_t *g)
{
	uint8_t *vmcb = g + N_VMCB;
	uint32_t i;

	memset(g + N_L1_PML4, 0, KL_CODE_BYTES - N_L1_PML4);
	/* L1: identity map of 0..2 MiB with one large page. */
	put64(g, N_L1_PML4, N_L1_PDPT | PTE_TABLE);
	put64(g, N_L1_PDPT, N_L1_PD | PTE_TABLE);
	put64(g, N_L1_PD, 0 | PTE_TABLE | PTE_PS);
	/* nCR3: L2's guest-physical = L1's, the code slot only, 4 KiB pages. */
	put64(g, N_NPT_PML4, N_NPT_PDPT | PTE_TABLE);
	put64(g, N_NPT_PDPT, N_NPT_PD | PTE_TABLE);
	put64(g, N_NPT_PD, N_NPT_PT | PTE_TABLE);
	for (i = 0; i < KL_CODE_BYTES / KL_PAGE_SIZE; i++)
		put64(g, N_NPT_PT + i * 8, (uint64_t)i * KL_PAGE_SIZE | PTE_TABLE);

	memcpy(g + N_L1_CODE, l1_code, sizeof(l1_code));
	memcpy(g + N_L2_CODE, l2_code, sizeof(l2_code));

	/* Control area: intercepts KVM requires (VMRUN) or we wait for. */
	put32(vmcb, VMCB_INTERCEPT_EXC, (1U << 6) | (1U << 8) | (1U << 13) | (1U << 14));
	put32(vmcb, VMCB_INTERCEPT_MISC1, MISC1_HLT | MISC1_SHUTDOWN);
	put32(vmcb, VMCB_INTERCEPT_MISC2, MISC2_VMRUN | MISC2_VMMCALL);
	/* Neither IOIO_PROT nor MSR_PROT is intercepted, so the bitmaps are
	 * never read; their addresses need only be legal. */
	put64(vmcb, VMCB_IOPM_BASE, 0);
	put64(vmcb, VMCB_MSRPM_BASE, 0);
	put32(vmcb, VMCB_ASID, 1);
	put64(vmcb, VMCB_NESTED_CTL, NESTED_CTL_NP_ENABLE);
	put64(vmcb, VMCB_NESTED_CR3, N_NPT_PML4);
	/* Save area: L2 in long mode with L1's own page tables. */
	vmcb_seg(vmcb, VMCB_ES, 0x10, SEG_DATA);
	vmcb_seg(vmcb, VMCB_CS, 0x08, SEG_CODE64);
	vmcb_seg(vmcb, VMCB_SS, 0x10, SEG_DATA);
	vmcb_seg(vmcb, VMCB_DS, 0x10, SEG_DATA);
	vmcb[VMCB_CPL] = 0;
	put64(vmcb, VMCB_EFER, EFER_LME | EFER_LMA | EFER_SVME);
	put64(vmcb, VMCB_CR4, CR4_PAE);
	put64(vmcb, VMCB_CR3, N_L1_PML4);
	put64(vmcb, VMCB_CR0, CR0_PE | CR0_ET | CR0_NE | CR0_PG);
	put64(vmcb, VMCB_DR7, 0x400);
	put64(vmcb, VMCB_DR6, 0xffff0ff0);
	put64(vmcb, VMCB_RFLAGS, 0x2);
	put64(vmcb, VMCB_RIP, N_L2_CODE);
	put64(vmcb, VMCB_G_PAT, 0x0007040600070406ULL);
}

/* Does KVM offer SVM to guests (CPUID 0x80000001 ECX bit 2)? */
static bool cpuid_has_svm(const struct kvm_cpuid2 *c)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0x80000001)
			return c->entries[i].ecx & (1U << 2);
	return false;
}

static struct kvm_segment seg64(uint16_t selector, uint8_t type, bool code)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = !code, .s = 1, .l = code, .g = 1,
	};
}

static void setup_l1(int fd, unsigned int index)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		kl_fail("nested vCPU %u: KVM_GET_SREGS failed: %s", index, strerror(errno));
	sregs.cs = seg64(0x08, 0xb, true);
	sregs.ds = seg64(0x10, 0x3, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.selector = 0x18, .limit = 0x67, .type = 0xb, .present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	sregs.gdt.base = 0;
	sregs.gdt.limit = 0;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;	/* any exception in L1 -> triple fault */
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = N_L1_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;	/* L1 sets SVME itself */
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		kl_fail("nested vCPU %u: KVM_SET_SREGS (long mode) failed: %s", index,
			strerror(errno));
	memset(&regs, 0, sizeof(regs));
	regs.rip = N_L1_CODE;
	regs.rflags = 0x2;
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		kl_fail("nested vCPU %u: KVM_SET_REGS failed: %s", index, strerror(errno));
}

void kl_nested_run(struct kl_vm *vm, const struct kl_config *cfg)
{
	unsigned int index = cfg->vcpus;	/* after the workload's vCPUs */
	const uint8_t *vmcb = vm->code_hva + N_VMCB;
	struct kl_nested_result res = { .vcpu = index, .tid = gettid() };
	struct kvm_run *run;
	int fd;

	if (!cpuid_has_svm(vm->cpuid))
		kl_skip("--nested: KVM does not offer SVM to guests (an AMD host with kvm_amd nested=1 is needed)");
	build_guest_structures(vm->code_hva);

	fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (fd < 0)
		kl_fail("--nested: KVM_CREATE_VCPU %u failed: %s", index, strerror(errno));
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED)
		kl_fail("nested vCPU %u: mmap of kvm_run failed: %s", index, strerror(errno));
	if (ioctl(fd, KVM_SET_CPUID2, vm->cpuid) < 0)
		kl_fail("nested vCPU %u: KVM_SET_CPUID2 failed: %s", index, strerror(errno));
	setup_l1(fd, index);

	for (;;) {
		uint64_t t0 = kl_now_ns(), t1;
		int r = ioctl(fd, KVM_RUN, 0);
		int err = errno;

		t1 = kl_now_ns();
		if (!res.run_calls)
			res.ts_ns = t0;
		res.run_calls++;
		res.end_ns = t1;
		if (r < 0) {
			if (err == EINTR || err == EAGAIN)
				continue;
			kl_fail("nested vCPU %u: KVM_RUN failed: %s", index, strerror(err));
		}
		if (run->exit_reason == KVM_EXIT_INTR)
			continue;
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
		    run->io.port == KL_DONE_PORT)
			break;
		kl_fail("nested vCPU %u: unexpected exit reason %u%s (the VMCB's exit code 0x%llx)",
			index, run->exit_reason,
			run->exit_reason == KVM_EXIT_SHUTDOWN ? " (L1 triple fault)" : "",
			(unsigned long long)get64(vmcb, VMCB_EXIT_CODE));
	}
	res.exit_code = get64(vmcb, VMCB_EXIT_CODE);
	res.exit_info_1 = get64(vmcb, VMCB_EXIT_INFO1);
	res.exit_info_2 = get64(vmcb, VMCB_EXIT_INFO2);
	res.l2_marker = get32(vm->code_hva, N_L2_DATA) == N_MARKER;
	munmap(run, vm->run_size);
	close(fd);	/* the vCPU itself lives as long as the VM */
	kl_report_nested(&res);
	if (res.exit_code == SVM_EXIT_ERR)
		kl_fail("--nested: KVM refused L1's VMRUN (exit code SVM_EXIT_ERR: the VMCB failed its consistency checks)");
	if (res.exit_code != SVM_EXIT_VMMCALL || !res.l2_marker)
		kl_fail("--nested: L2 did not finish as expected: exit code 0x%llx (info 0x%llx 0x%llx), marker %s",
			(unsigned long long)res.exit_code, (unsigned long long)res.exit_info_1,
			(unsigned long long)res.exit_info_2, res.l2_marker ? "written" : "missing");
}
