// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kvm, the VM and its memslots: everything that is not a vCPU and not
 * dirty logging.  Missing host support exits 4 (skip) so that CI without
 * KVM can tell "cannot run here" from "KVM misbehaved" (exit 1).
 */
#include "kvmload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* Where KVM on Intel may put its real-mode TSS: top of 4 GiB, no memslot. */
#define KL_TSS_GPA 0xfffbd000UL

static int check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static void need_cap(int fd, long cap, const char *name)
{
	if (check_cap(fd, cap) <= 0)
		kl_skip("KVM lacks %s (KVM_CHECK_EXTENSION returned 0)", name);
}

/* KVM_GET_SUPPORTED_CPUID wants a buffer big enough, else E2BIG. */
static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	unsigned int nent;

	for (nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
					      nent * sizeof(c->entries[0]));

		if (!c)
			kl_fail("out of memory for CPUID table");
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			kl_fail("KVM_GET_SUPPORTED_CPUID failed: %s",
				strerror(errno));
	}
	kl_fail("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

void kl_kvm_open(struct kl_vm *vm, const struct kl_config *cfg)
{
	int max_vcpus, nr_slots, run_size;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV ||
		    errno == EACCES || errno == EPERM)
			kl_skip("cannot open /dev/kvm: %s", strerror(errno));
		kl_fail("open /dev/kvm failed: %s", strerror(errno));
	}
	vm->api_version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (vm->api_version != KVM_API_VERSION)
		kl_fail("KVM_GET_API_VERSION returned %d, expected %d",
			vm->api_version, KVM_API_VERSION);

	need_cap(vm->kvm_fd, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY");
	need_cap(vm->kvm_fd, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID");
	need_cap(vm->kvm_fd, KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR");

	/* KVM_CAP_MAX_VCPUS is the hard limit; older kernels only have NR_VCPUS. */
	max_vcpus = check_cap(vm->kvm_fd, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = check_cap(vm->kvm_fd, KVM_CAP_NR_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = 4;	/* the KVM API documentation's default */
	if (cfg->vcpus > (unsigned int)max_vcpus)
		kl_skip("KVM supports at most %d vCPUs, --vcpus %u requested",
			max_vcpus, cfg->vcpus);

	/* x86 has a second address space (SMM) where KVM is built with it. */
	if (cfg->smm_slots && check_cap(vm->kvm_fd, KVM_CAP_MULTI_ADDRESS_SPACE) < 2)
		kl_skip("--smm-slots: KVM has one address space (KVM_CAP_MULTI_ADDRESS_SPACE < 2)");
	nr_slots = check_cap(vm->kvm_fd, KVM_CAP_NR_MEMSLOTS);
	if (nr_slots > 0 && cfg->slots + 1 > (unsigned int)nr_slots)
		kl_skip("KVM supports %d memslots, %u needed (code slot + --slots %u)",
			nr_slots, cfg->slots + 1, cfg->slots);

	run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		kl_fail("KVM_GET_VCPU_MMAP_SIZE failed: %s",
			run_size < 0 ? strerror(errno) : "size too small");
	vm->run_size = (size_t)run_size;
	vm->cpuid = get_supported_cpuid(vm->kvm_fd);
}

void kl_vm_create(struct kl_vm *vm, const struct kl_config *cfg)
{
	/* KVM_CREATE_VM fails with EINTR if a signal arrives while it sets up. */
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		kl_fail("KVM_CREATE_VM failed: %s", strerror(errno));

	/*
	 * Needed before the first KVM_RUN on Intel hosts without unrestricted
	 * guest; a harmless no-op on AMD.
	 */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KL_TSS_GPA) < 0)
		kl_fail("KVM_SET_TSS_ADDR failed: %s", strerror(errno));

	kl_enable_manual_protect(vm, cfg->mode);
}

/*
 * Times one ioctl around the call itself, and counts the calling thread's
 * involuntary context switches across it (read outside the timed span):
 * a tracer comparing its own timing with ours can tell an ioctl during
 * which this thread was preempted, i.e. waited for a CPU, from one that
 * only ran.
 */
static uint64_t involuntary_switches(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : (uint64_t)ru.ru_nivcsw;
}

int kl_ioctl_timed(int fd, unsigned long req, void *arg, struct kl_timing *tm)
{
	uint64_t sw = involuntary_switches();
	int r;

	tm->ts_ns = kl_now_ns();
	r = ioctl(fd, req, arg);
	tm->dur_ns = kl_now_ns() - tm->ts_ns;
	tm->preempted = involuntary_switches() - sw;
	return r;
}

void kl_set_memslot(const struct kl_vm *vm, uint32_t id, uint64_t gpa,
		    uint64_t bytes, void *hva, uint32_t flags, struct kl_timing *tm)
{
	struct kl_timing untimed;
	struct kvm_userspace_memory_region r = {
		.slot = id,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = bytes,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (kl_ioctl_timed(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r, tm ? tm : &untimed) < 0)
		kl_fail("KVM_SET_USER_MEMORY_REGION slot %u (as %u, gpa 0x%llx, %llu bytes, flags 0x%x) failed: %s",
			id & 0xffff, id >> 16, (unsigned long long)gpa, (unsigned long long)bytes,
			flags, strerror(errno));
}

/* Guest physical address bits the vCPUs get (CPUID 0x80000008 EAX[7:0]). */
static unsigned int guest_phys_bits(const struct kl_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->cpuid->nent; i++)
		if (vm->cpuid->entries[i].function == 0x80000008)
			return vm->cpuid->entries[i].eax & 0xff;
	return 36;
}

uint8_t *kl_page_hva(const struct kl_vm *vm, uint64_t p)
{
	const struct kl_slot *s = kl_page_slot(vm, p);

	return s->hva + (p - s->first_page) * KL_PAGE_SIZE;
}

const struct kl_slot *kl_page_slot(const struct kl_vm *vm, uint64_t p)
{
	return &vm->slots[p / vm->slots[0].pop_pages];
}

/* A test slot's dirty bitmap, and the slot itself, logging off. */
static void slot_add(const struct kl_vm *vm, struct kl_slot *s)
{
	s->dirty = calloc(kl_bitmap_words(s->npages), sizeof(uint64_t));
	if (!s->dirty)
		kl_fail("out of memory for slot %u (as %u)'s dirty bitmap", s->id, s->as_id);
	kl_set_memslot(vm, kl_slot_ioctl_id(s), s->gpa, s->npages * KL_PAGE_SIZE, s->hva, 0, NULL);
}

/*
 * Slot 0 (code) plus the test slots 1..K over one contiguous mapping.
 * With --slot-mib each slot is slot_mib long and only its first
 * (test memory / K) is test memory: the mapping is MAP_NORESERVE and the
 * rest is never touched, so it costs no host memory.
 */
void kl_vm_add_slots(struct kl_vm *vm, const struct kl_config *cfg)
{
	uint64_t slot_pages, pop_pages, test_bytes;
	unsigned int i;

	vm->code_hva = mmap(NULL, KL_CODE_BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->code_hva == MAP_FAILED)
		kl_fail("mmap of %llu bytes for the code slot failed: %s",
			(unsigned long long)KL_CODE_BYTES, strerror(errno));
	kl_guest_install(vm->code_hva);
	kl_set_memslot(vm, KL_CODE_SLOT, KL_CODE_GPA, KL_CODE_BYTES,
		       vm->code_hva, 0, NULL);

	test_bytes = (uint64_t)cfg->vcpus * cfg->mem_per_vcpu_mib * KL_MIB;
	vm->total_pages = test_bytes / KL_PAGE_SIZE;
	pop_pages = vm->total_pages / cfg->slots;
	slot_pages = cfg->slot_mib ? cfg->slot_mib * KL_MIB / KL_PAGE_SIZE : pop_pages;
	vm->paging = slot_pages > pop_pages;
	if (vm->paging) {
		uint64_t end = KL_TEST_GPA + cfg->slots * slot_pages * KL_PAGE_SIZE;
		unsigned int bits = guest_phys_bits(vm);

		if (bits < 64 && end > 1ULL << bits)
			kl_skip("--slots %u x --slot-mib %u end at GPA 0x%llx, above the guest's %u physical address bits",
				cfg->slots, cfg->slot_mib, (unsigned long long)end, bits);
	}
	kl_memory_alloc(&vm->mem, (size_t)(cfg->slots * slot_pages * KL_PAGE_SIZE),
			cfg->backing);
	vm->nslots = cfg->slots;
	/* --smm-slots: the same memory in address space 1 too, as a VMM with
	 * SMM maps it; those slots follow the test slots in one array. */
	vm->nsmm = cfg->smm_slots ? cfg->slots : 0;
	vm->slots = calloc(vm->nslots + vm->nsmm, sizeof(*vm->slots));
	if (!vm->slots)
		kl_fail("out of memory for %u slots", vm->nslots + vm->nsmm);
	vm->smm = vm->nsmm ? vm->slots + vm->nslots : NULL;
	for (i = 0; i < cfg->slots; i++) {
		struct kl_slot *s = &vm->slots[i];

		s->id = i + 1;
		s->first_page = i * pop_pages;
		s->npages = slot_pages;
		s->pop_pages = pop_pages;
		s->gpa = KL_TEST_GPA + i * slot_pages * KL_PAGE_SIZE;
		s->hva = vm->mem.base + i * slot_pages * KL_PAGE_SIZE;
		slot_add(vm, s);
		if (vm->smm) {
			vm->smm[i] = *s;
			vm->smm[i].as_id = 1;
			slot_add(vm, &vm->smm[i]);
		}
	}
	if (vm->paging)
		kl_guest_page_tables(vm);
}

void kl_vm_destroy(struct kl_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++)
		free(vm->slots[i].dirty);
	for (i = 0; i < vm->nsmm; i++)
		free(vm->smm[i].dirty);
	free(vm->slots);	/* the SMM slots too */
	free(vm->cpuid);
	free(vm->stats);
	/* The guest memory goes first, while the VM fd is still open: KVM
	 * zaps its mappings (pages_4k/2m/1g go down, each update traced) in
	 * this thread, before the VM's release tells a tracer to take its
	 * last sample. Unmapped after the close, the zaps would race that
	 * sample (its tracer's copies of the stats fds keep the VM alive). */
	kl_memory_free(&vm->mem);
	munmap(vm->code_hva, KL_CODE_BYTES);
	close(vm->vm_fd);
	close(vm->kvm_fd);
}
