/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmload: the kvmscope ground-truth workload.
 *
 * A minimal VMM whose guest dirties a known set of pages per iteration while
 * the VMM runs the dirty-logging protocol of a live migration; every KVM
 * call is timed and reported as a JSON line so a tracer's measurements can
 * be checked against it.  docs/kvmload.md describes options, phases, the
 * output schema and the invariants.
 *
 * This header is shared by all the .c files of tests/workload, which the
 * Makefile links together into one static binary.
 */
#ifndef KVMLOAD_H
#define KVMLOAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#if !defined(__x86_64__)
#error "kvmload's guest is x86 machine code; build it for x86_64"
#endif

/* Exit codes (documented in docs/kvmload.md). */
enum {
	KL_EXIT_OK = 0,
	KL_EXIT_FAIL = 1,	/* KVM error, guest fault, invariant violated */
	KL_EXIT_USAGE = 2,	/* bad command line */
	KL_EXIT_SKIP = 4,	/* host cannot run this configuration (kselftest's KSFT_SKIP) */
};

/* Bump when a record or field changes meaning or disappears. */
#define KL_SCHEMA_VERSION 1

#define KL_PAGE_SIZE	4096ULL
#define KL_PAGE_SHIFT	12
#define KL_HUGE_SIZE	(2ULL << 20)
#define KL_GIGA_SIZE	(1ULL << 30)
#define KL_MIB		(1ULL << 20)

/*
 * Guest physical layout.  The guest runs in 32-bit protected mode without
 * paging, so everything must sit below 4 GiB; the test memory starts at a
 * 2 MiB (indeed 1 GiB) aligned GPA so that huge host pages can be mapped
 * huge in the TDP/NPT tables.
 */
#define KL_CODE_SLOT	0
#define KL_CODE_GPA	0x0ULL
#define KL_CODE_BYTES	0x20000ULL	/* code, per-vCPU parameter blocks, page tables, --nested */
#define KL_CODE_ENTRY	0x1000U		/* guest code, see guest.c */
#define KL_PARAMS_GPA	0x2000U		/* struct kl_guest_params[vcpus] */
#define KL_TEST_GPA	0x40000000ULL
#define KL_TEST_MAX_MIB	2048U
/*
 * --slot-mib: slots larger than the memory the guest writes.  Only the
 * first (test memory / K) of each slot is populated and written; the slots
 * then reach far above 4 GiB, so the guest turns on PAE paging with 2 MiB
 * pages that map its linear test window (KL_TEST_GPA + page * 4 KiB, the
 * same addresses as without the option) onto the populated start of each
 * slot.  The tables live in slot 0 (never logged): a PDPT and four page
 * directories.
 */
#define KL_PDPT_GPA	0xb000U
#define KL_PD_GPA	0xc000U		/* 4 x 4 KiB: linear 0..4 GiB */
#define KL_SLOT_MAX_MIB	(1U << 20)	/* 1 TiB */
#define KL_DONE_PORT	0x7e		/* guest `out` here = phase finished */
#define KL_IO_PORT	0x7d		/* --io-exits: a round trip to the VMM */
#define KL_MAX_IO_EXITS	10000000U

/* Tag written in the first dword of a page: KL_TAG_BASE + generation. */
#define KL_TAG_BASE	0x4b4c0000U	/* "KL" */
#define KL_GEN_POPULATE	0U		/* iteration i uses generation i + 1 */

#define KL_MAX_VCPUS	256U	/* more than 64: two levels of KVM's vcpu_array */
#define KL_MAX_SLOTS	256U
#define KL_MAX_ITERATIONS 65535U	/* generation must fit the tag's low 16 bits */
#define KL_MAX_SLEEP_MS	3600000U
#define KL_MAX_STATS_READS 1000U

enum kl_backing { KL_BACKING_ANON, KL_BACKING_THP, KL_BACKING_HUGETLB,
		  KL_BACKING_HUGETLB_1G };
enum kl_mode { KL_MODE_GET, KL_MODE_MANUAL, KL_MODE_MANUAL_INIT_SET };
/* --inject-fault: fake a failure in the last iteration to test the checks. */
enum kl_fault { KL_FAULT_NONE, KL_FAULT_LOST_DIRTY, KL_FAULT_EXTRA_DIRTY,
		KL_FAULT_BAD_VALUE, KL_FAULT_HANG };

struct kl_config {
	unsigned int vcpus;
	unsigned int mem_per_vcpu_mib;
	unsigned int slots;
	unsigned int slot_mib;	/* --slot-mib: 0 = test memory / slots */
	enum kl_backing backing;
	unsigned int iterations;
	unsigned int write_percent;
	enum kl_mode mode;
	bool json;
	bool no_stats_fd;	/* --no-stats-fd */
	unsigned int stats_reads;	/* --stats-reads: data reads per point */
	unsigned int map_gpa_calls;	/* --map-gpa-calls: per vCPU and iteration */
	unsigned int io_exits;		/* --io-exits: per vCPU and iteration */
	unsigned int pause_ms;
	unsigned int hold_ms;
	unsigned int stats_fd_delay_ms;	/* --stats-fd-delay-ms */
	uint64_t clear_chunk_pages;	/* 0: one KVM_CLEAR_DIRTY_LOG per slot */
	enum kl_fault inject;
	bool nested;		/* --nested: run a nested guest once (nested.c) */
	bool smm_slots;		/* --smm-slots: each test slot in address space 1 too */
	unsigned int phase_timeout_s;	/* --phase-timeout: 0 = wait forever */
};

/*
 * Parameter block shared between VMM and one vCPU, in guest memory slot 0.
 * The guest reads it at the start of every phase and writes `written` back,
 * which gives an independent count to check our own bookkeeping against.
 */
struct kl_guest_params {
	uint32_t base_gpa;	/* first byte of this vCPU's share */
	uint32_t npages;	/* pages in the share */
	uint32_t first;		/* window start, page index within the share */
	uint32_t count;		/* pages to write, wrapping at npages */
	uint32_t tag;		/* value for dword 0 of each page */
	uint32_t written;	/* guest -> VMM: pages it wrote */
	uint32_t hypercalls;	/* KVM_HC_MAP_GPA_RANGE calls to make after writing */
	uint32_t hypercall_ret;	/* guest -> VMM: what the last one returned */
	uint32_t io_exits;	/* `out KL_IO_PORT` exits to make after that */
	uint32_t reserved[7];
};
_Static_assert(sizeof(struct kl_guest_params) == 64, "guest ABI");

/* Anonymous memory backing the test slots. */
struct kl_memory {
	uint8_t *base;		/* 2 MiB aligned start of the test memory */
	size_t bytes;
	void *map;		/* what to munmap */
	size_t map_bytes;
};

/* Outcome of collecting one slot's dirty log in one iteration. */
struct kl_collect {
	uint64_t ts_ns;		/* KVM_GET_DIRTY_LOG entry */
	uint64_t end_ns;	/* last ioctl of the slot returned */
	uint64_t get_ns;
	uint64_t clear_ns;
	uint64_t pages_dirty;
	uint64_t pages_cleared;
	unsigned int clear_calls;
};

struct kl_slot {
	uint32_t id;
	uint32_t as_id;		/* address space: 0, or 1 (x86 SMM) with --smm-slots */
	uint64_t gpa;
	uint64_t npages;	/* pages in the memslot */
	uint64_t pop_pages;	/* its first pop_pages are test memory (all of
				 * them without --slot-mib); the rest is never
				 * touched */
	uint64_t first_page;	/* index of its first page in the test memory */
	uint8_t *hva;
	uint64_t *dirty;	/* bitmap as returned by KVM_GET_DIRTY_LOG */
	struct kl_collect col;
};

struct kl_stats_layout;

struct kl_vm {
	int kvm_fd;
	int vm_fd;
	int api_version;
	size_t run_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	uint32_t manual_flags;		/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 args[0] */
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID, given to every vCPU */
	uint8_t *code_hva;		/* slot 0 */
	struct kl_memory mem;
	uint64_t total_pages;		/* test memory (populated) pages */
	bool paging;			/* --slot-mib: the guest pages (PAE) */
	unsigned int nslots;
	struct kl_slot *slots;
	/* --smm-slots: test slot i again in address space 1 (x86's SMM
	 * space, as QEMU's q35 maps RAM there too), same id, GPA and memory;
	 * nsmm is 0 or nslots, smm points into slots' allocation, after them. */
	unsigned int nsmm;
	struct kl_slot *smm;
	int stats_fd;			/* VM binary stats fd, -1 if not held */
	unsigned int vcpu_stats_fds;	/* vCPU stats fds held */
	struct kl_stats_layout *stats;	/* --stats-reads: VM, then each vCPU */
};

/* Per-vCPU timing of one phase, filled by its thread. */
struct kl_vcpu_stats {
	uint64_t ts_ns;		/* first KVM_RUN entry */
	uint64_t end_ns;	/* KVM_RUN returned with the done exit */
	uint64_t run_ns;	/* sum of time spent inside KVM_RUN */
	unsigned int run_calls;
	unsigned int io_exits;	/* KL_IO_PORT exits handled */
};

struct kl_phase_ctl;

struct kl_vcpu {
	unsigned int index;
	int fd;
	int stats_fd;		/* binary stats fd, -1 if not held */
	pid_t tid;
	struct kvm_run *run;
	pthread_t thread;
	struct kl_guest_params *params;	/* host view of its parameter block */
	uint64_t share_first_page;	/* in the test memory */
	uint64_t share_npages;
	struct kl_phase_ctl *ctl;
	struct kl_vcpu_stats stats;
	unsigned long done_seq;		/* last phase it finished (ctl->lock) */
	char error[512];		/* non-empty: the thread failed */
};

/* One phase of guest work: populate, or iteration N. */
struct kl_phase {
	const char *name;	/* "populate" | "iteration" */
	int64_t iteration;	/* -1 for populate */
	uint32_t generation;
};

/* options.c */
void kl_parse_options(int argc, char **argv, struct kl_config *cfg);
const char *kl_backing_name(enum kl_backing b);
const char *kl_mode_name(enum kl_mode m);
const char *kl_fault_name(enum kl_fault f);

/* kvm.c */
void kl_kvm_open(struct kl_vm *vm, const struct kl_config *cfg);
void kl_vm_create(struct kl_vm *vm, const struct kl_config *cfg);
/* One dirty-log ioctl as its caller saw it. */
struct kl_timing {
	uint64_t ts_ns, dur_ns;
	uint64_t preempted;	/* involuntary context switches of the thread during it */
};
int kl_ioctl_timed(int fd, unsigned long req, void *arg, struct kl_timing *tm);
/* tm: where to put the ioctl's timing, or NULL */
void kl_set_memslot(const struct kl_vm *vm, uint32_t id, uint64_t gpa,
		    uint64_t bytes, void *hva, uint32_t flags, struct kl_timing *tm);
void kl_vm_add_slots(struct kl_vm *vm, const struct kl_config *cfg);
/* The slot number the memslot ioctls take: address space << 16 | id. */
static inline uint32_t kl_slot_ioctl_id(const struct kl_slot *s)
{
	return s->as_id << 16 | s->id;
}
void kl_vm_destroy(struct kl_vm *vm);
/* Host address of page p of the test memory. */
uint8_t *kl_page_hva(const struct kl_vm *vm, uint64_t p);
/* The slot holding page p of the test memory. */
const struct kl_slot *kl_page_slot(const struct kl_vm *vm, uint64_t p);

/* memory.c */
void kl_memory_alloc(struct kl_memory *m, size_t bytes, enum kl_backing b);
void kl_memory_free(struct kl_memory *m);
uint64_t kl_memory_huge_bytes(const struct kl_memory *m);
const char *kl_thp_setting(void);

/* guest.c */
void kl_guest_install(uint8_t *code_hva);
void kl_guest_setup_vcpu(int vcpu_fd, unsigned int index, bool paging);
void kl_guest_page_tables(const struct kl_vm *vm);
struct kl_guest_params *kl_guest_params(uint8_t *code_hva, unsigned int index);
uint32_t kl_guest_tag(uint32_t generation);

/* vcpu.c */
/* stats.c: hold the VM's and vCPUs' binary stats fds open. */
void kl_stats_fds_open(struct kl_vm *vm, struct kl_vcpu *vcpus, unsigned int n,
		       unsigned int stats_reads);
void kl_stats_prepare(struct kl_vm *vm, const struct kl_vcpu *vcpus, unsigned int n,
		      unsigned int stats_reads);
void kl_stats_read_all(const struct kl_vm *vm, unsigned int n, unsigned int times,
		       const char *phase, long long iteration);

/* One read(2) of a binary stats fd, as reported in a stats_read record. */
struct kl_stats_read {
	int vcpu;		/* -1: the VM's fd */
	const char *part;	/* "header" | "descriptors" | "data" */
	const char *phase;	/* "setup" | "populate" | "iteration" | "disable" */
	long long iteration;	/* -1: none */
	uint64_t ts_ns, dur_ns;
	uint64_t offset, size;
	long long ret;		/* bytes read or -errno */
	bool pages;		/* pages_4k/2m/1g below were decoded (VM data) */
	uint64_t pages_4k, pages_2m, pages_1g;
	bool pf;		/* pf_taken/pf_fast below were decoded (vCPU data) */
	uint64_t pf_taken, pf_fast;
};

struct kl_phase_ctl *kl_vcpus_start(struct kl_vm *vm, struct kl_vcpu *vcpus,
				    unsigned int n, unsigned int timeout_s);
void kl_vcpus_run_phase(struct kl_phase_ctl *ctl, const struct kl_phase *ph);
void kl_vcpus_stop(struct kl_phase_ctl *ctl);

/* dirtylog.c */
void kl_enable_manual_protect(struct kl_vm *vm, enum kl_mode mode);
void kl_dirty_log_set(const struct kl_vm *vm, struct kl_slot *s, bool on);
void kl_dirty_log_collect(const struct kl_vm *vm, struct kl_slot *s,
			  const struct kl_config *cfg, unsigned int iteration);

/* truth.c: what the guest was told to write, and checks against it */
struct kl_truth;
struct kl_slot_check {
	uint64_t pages_written;		/* guest wrote them this iteration */
	uint64_t pages_written_protected; /* ... and they were write-protected */
	uint64_t pages_missing;		/* written but not reported dirty */
	uint64_t pages_unexpected;	/* reported dirty but not written */
	uint64_t first_missing;		/* page index in slot, if any */
	uint64_t first_unexpected;
};
struct kl_truth *kl_truth_new(uint64_t total_pages);
void kl_truth_free(struct kl_truth *t);
uint64_t kl_truth_plan(struct kl_truth *t, struct kl_vcpu *vcpus, unsigned int n,
		       const struct kl_phase *ph, unsigned int write_percent,
		       unsigned int hypercalls, unsigned int io_exits);
void kl_truth_protect(struct kl_truth *t, const struct kl_slot *s, const uint64_t *bits);
void kl_truth_check_guest_counts(const struct kl_vcpu *vcpus, unsigned int n,
				 const struct kl_phase *ph);
void kl_truth_check_slot(const struct kl_truth *t, const struct kl_slot *s,
			 struct kl_slot_check *out);
void kl_truth_enforce_slot(const struct kl_slot *s, unsigned int iteration,
			   const struct kl_slot_check *chk, bool allow_unexpected);
void kl_truth_check_memory(const struct kl_truth *t, const struct kl_vm *vm,
			   const struct kl_phase *ph);
void kl_truth_inject(struct kl_truth *t, struct kl_vm *vm, enum kl_fault f);
/* An SMM slot (--smm-slots): the guest never runs in SMM, so KVM reports
 * none of its pages dirty, but every one at the first GET of
 * initially-set; fills chk accordingly and fails otherwise. */
void kl_truth_check_smm_slot(const struct kl_slot *s, unsigned int iteration,
			     bool initially_set, struct kl_slot_check *chk);

/* nested.c: --nested, an L2 guest with nested paging on an extra vCPU */
struct kl_nested_result {
	unsigned int vcpu;	/* its vCPU id: the workload's vCPUs come first */
	pid_t tid;		/* the thread that ran it (kvmload's main thread) */
	uint64_t ts_ns;		/* first KVM_RUN entry */
	uint64_t end_ns;	/* KVM_RUN returned with L1's done exit */
	unsigned int run_calls;
	uint64_t exit_code;	/* L2's #VMEXIT as KVM wrote it into L1's VMCB */
	uint64_t exit_info_1, exit_info_2;
	bool l2_marker;		/* L2's write reached the code slot */
};
void kl_nested_run(struct kl_vm *vm, const struct kl_config *cfg);

/* report.c: JSON lines / human output, and the failure path */
void kl_report_init(const struct kl_config *cfg);
void kl_report_start(const struct kl_vm *vm, const struct kl_vcpu *vcpus);
void kl_report_populate(uint64_t ts_ns, uint64_t dur_ns, uint64_t pages,
			uint64_t huge_bytes);
void kl_report_hold(uint64_t ts_ns, unsigned int hold_ms);
void kl_report_memslot_op(const char *op, const struct kl_slot *s, const struct kl_timing *tm,
			  uint32_t flags);
void kl_report_get(const struct kl_slot *s, unsigned int iteration, const struct kl_timing *tm,
		   uint64_t pages_dirty);
void kl_report_clear(const struct kl_slot *s, unsigned int iteration, const struct kl_timing *tm,
		     uint64_t first_page, uint64_t num_pages, uint64_t pages_cleared);
void kl_report_vcpu(const struct kl_vcpu *v, const struct kl_phase *ph);
void kl_report_slot(const struct kl_slot *s, unsigned int iteration,
		    const struct kl_slot_check *chk, bool initially_set);
void kl_report_iteration(unsigned int iteration, uint64_t ts_ns, uint64_t end_ns,
			 uint64_t guest_ns, uint64_t collect_ns, uint64_t verify_ns,
			 uint64_t pages_written, uint64_t pages_written_protected,
			 uint64_t pages_dirty,
			 uint64_t pages_cleared);
void kl_report_stats_read(const struct kl_stats_read *r);
void kl_report_nested(const struct kl_nested_result *n);
void kl_report_summary_ok(void);

__attribute__((noreturn, format(printf, 2, 3)))
void kl_exit_error(int code, const char *fmt, ...);
#define kl_fail(...) kl_exit_error(KL_EXIT_FAIL, __VA_ARGS__)
#define kl_skip(...) kl_exit_error(KL_EXIT_SKIP, __VA_ARGS__)

/* Small helpers used everywhere. */
static inline const char *kl_phase_label(const struct kl_phase *ph, char *buf,
					 size_t size)
{
	if (ph->iteration < 0)
		snprintf(buf, size, "%s", ph->name);
	else
		snprintf(buf, size, "%s %lld", ph->name, (long long)ph->iteration);
	return buf;
}

static inline uint64_t kl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline size_t kl_bitmap_words(uint64_t nbits)
{
	return (size_t)((nbits + 63) / 64);
}

static inline void kl_bit_set(uint64_t *map, uint64_t bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

static inline bool kl_bit_test(const uint64_t *map, uint64_t bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

/* Set bits in [first, first + n); first is a multiple of 64. */
static inline uint64_t kl_bitmap_weight(const uint64_t *map, uint64_t first,
					uint64_t n)
{
	uint64_t w = 0, i;

	for (i = first / 64; i < kl_bitmap_words(first + n); i++) {
		uint64_t word = map[i];
		uint64_t lo = i * 64;

		if (lo + 64 > first + n)
			word &= (1ULL << ((first + n) - lo)) - 1;
		w += (uint64_t)__builtin_popcountll(word);
	}
	return w;
}

#endif /* KVMLOAD_H */
