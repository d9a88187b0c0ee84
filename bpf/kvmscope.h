/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by the BPF programs and the tracer. Plain fixed-size types
 * only: this header is compiled both against vmlinux.h (BPF side) and against
 * libc headers (userspace), so it must not depend on either.
 */
#ifndef KVMSCOPE_H
#define KVMSCOPE_H

/* Page-table levels as KVM numbers them: 1 = 4K, 2 = 2M, 3 = 1G. Index 0 is
 * unused so a level indexes the arrays directly. */
#define KS_MAX_LEVEL 4

/* log2 buckets of a latency in ns: bucket i holds [2^i, 2^(i+1)). */
#define KS_LAT_BUCKETS 32

/* VMs the kernel tables hold by default; `--max-vms N` (1 to
 * KS_MAX_VMS_LIMIT) sizes them at load time (tracer/hooks/loader.c). A VM takes
 * up to KS_VM_ENTRIES entries of the VM table (its struct kvm's, and its
 * VMM process's for what the kernel reports without a struct kvm: splits,
 * hypercalls, stats reads) and up to KS_VCPU_ENTRIES of the vCPU table.
 * Counters of a VM that finds the table full are counted in
 * KS_DROP_VM_TABLE_FULL and its VMM is marked in the untracked map: its
 * counters are reported as not tracked, never as zeros or merged into
 * another VM's. */
#define KS_MAX_VMS 512
#define KS_MAX_VMS_LIMIT 2048
#define KS_VM_ENTRIES 2
#define KS_VCPU_ENTRIES 16
/* VMMs remembered as untracked at once (more than kvmscope follows). */
#define KS_MAX_UNTRACKED 512

/* The events ring buffer. Records are sent without a wakeup until a
 * quarter of it is in use; the tracer drains it at least this often
 * (256 KiB hold ~1,400 records, so 100 ms lets through 14,000 a second
 * before the first forced wakeup). */
#define KS_RB_BYTES (256 * 1024)
#define KS_RB_WAKEUP_BYTES (KS_RB_BYTES / 4)
#define KS_RB_DRAIN_MS 100

/* Identity of a VM as seen from the kernel: the VMM process and the struct
 * kvm address (one process may own several VMs). */
struct ks_vm_key {
	unsigned int tgid;
	unsigned int pad;
	unsigned long long kvm;
};

/* Hot-path counters of a VM. The kernel keeps the rare ones (all but the
 * fault fields) per VM and per CPU in the vm_counters hash; the fault
 * fields are summed by the tracer from the fault slots below. */
struct ks_vm_counters {
	unsigned long long wp_gfn_calls[KS_MAX_LEVEL];     /* by min_level */
	unsigned long long wp_gfn_protected[KS_MAX_LEVEL]; /* changed an SPTE */
	unsigned long long faults;                         /* all TDP/shadow faults */
	unsigned long long write_faults;
	unsigned long long fault_ns;                       /* time in fault handler */
	unsigned long long fault_lat[KS_LAT_BUCKETS];      /* log2 ns */
	unsigned long long splits[KS_MAX_LEVEL];           /* by level split from */
	unsigned long long tlb_flushes;
	unsigned long long stats_reads;
	unsigned long long stats_read_bytes;
	unsigned long long hypercalls_map_gpa;
	unsigned long long msr_migration_control;
	/* Series kernels: page-size stats updates summed, by level; signed
	 * values stored as two's complement (pages mapped minus unmapped). */
	unsigned long long page_delta[KS_MAX_LEVEL];
	/* Write-protect faults: write faults on a present mapping (error code
	 * PRESENT and WRITE, not RSVD), i.e. on a write-protected SPTE; under
	 * dirty logging, one per page first written after it was protected. */
	unsigned long long wp_faults;
	/* Pages whose encryption status KVM_HC_MAP_GPA_RANGE hypercalls
	 * changed (the hypercall's npages argument, summed). */
	unsigned long long map_gpa_pages;
	/* Intel PML hosts: PML-full exits, one per 512 pages the guest wrote
	 * (kvm_pml_full; attributed to the VMM process). */
	unsigned long long pml_full;
};

/* Guest faults of one vCPU (the per-vCPU view of the VM's fault counters),
 * aggregated per CPU like them. vcpu_id as in the vCPU fd's name
 * (anon_inode:kvm-vcpu:N). */
#define KS_MAX_VCPU_ENTRIES (KS_MAX_VMS * KS_VCPU_ENTRIES)
struct ks_vcpu_key {
	unsigned int tgid;
	int vcpu_id;
	unsigned long long kvm;
};

struct ks_vcpu_faults {
	unsigned long long faults;
	unsigned long long wp_faults;
	unsigned long long fault_ns;                       /* 0 without latency */
	unsigned long long fault_lat[KS_LAT_BUCKETS];      /* log2 ns */
	unsigned long long pml_full;                       /* PML-full exits (vcpu_pml) */
};

/* --- fault slots ------------------------------------------------------------
 * Guest faults are the hottest event there is, so they are counted without
 * a hash lookup: each VM and each vCPU gets a small integer slot the first
 * time it faults (a hash from its key to the slot, the slot taken from a
 * stack of free ones that the tracer fills at start and refills when it
 * releases a VM), and each CPU caches the slots of the vCPUs it last ran
 * faults for. A hit is a few loads and stores in array maps. */

/* Value of the vm_slots (key struct ks_vm_key) and vcpu_slots (key struct
 * ks_vcpu_key) hashes: the slot and its generation when it was taken. */
struct ks_fault_slot {
	unsigned int slot;
	unsigned int gen;
};

/* One VM slot's faults on one CPU (vm_faults, a per-CPU array indexed by
 * slot). gen is bumped in every CPU's copy when the slot is released, so a
 * cached slot of a gone VM never counts again. One cache line. */
struct ks_vm_fault_line {
	unsigned long long faults;       /* all TDP/shadow faults */
	unsigned long long write_faults;
	unsigned long long wp_faults;    /* write-protect faults (struct ks_vm_counters) */
	unsigned int gen;
	unsigned int pad;
	unsigned long long pad2[4];
};

/* One vCPU slot's faults (vcpu_fault_ctr, an array indexed by slot; not
 * per CPU, which would cost a line per vCPU slot per CPU). The default
 * fault program counts a vCPU's faults in the CPU's cache entry (below)
 * and adds them here when the entry is evicted (atomically: entries on two
 * CPUs may be flushed at once), so its faults are this line plus every
 * CPU's cache entry with the same slot and generation. With fault latency
 * the exit program counts here directly (one vCPU faults on one thread at
 * a time: KVM holds its mutex in KVM_RUN). One cache line. */
struct ks_vcpu_fault_line {
	unsigned long long faults;
	unsigned long long wp_faults;
	unsigned long long fault_ns;     /* with fault latency only */
	unsigned int gen;
	unsigned int pad;
	unsigned long long pad2[4];
};

/* One vCPU slot's fault latency histogram (vcpu_fault_lat; with fault
 * latency only, else the map has one unused entry). */
struct ks_vcpu_fault_lat {
	unsigned long long lat[KS_LAT_BUCKETS];            /* log2 ns */
};

/* Cached slots per CPU: entry (vcpu_id % KS_FAULT_CACHE_WAYS) of the
 * CPU's fault_cache, so vCPUs sharing a CPU do not evict each other. */
#define KS_FAULT_CACHE_WAYS 4

/* One cached vCPU on one CPU. A vCPU pointer alone is not an identity (KVM
 * frees and reuses them): an entry is used only for the same vCPU, struct
 * kvm and process, and only while its VM slot still has the generation it
 * had when the entry was filled (a VMM's VM and vCPU slots are released
 * together). faults and wp_faults are the vCPU's faults counted on this
 * CPU since the entry was filled, not yet added to its vCPU line: a hit
 * writes no memory outside this CPU's entry and the VM's per-CPU line. */
struct ks_fault_cache_entry {
	unsigned long long vcpu;         /* struct kvm_vcpu *; 0 = empty */
	unsigned long long kvm;
	unsigned int tgid;
	unsigned int vm_slot;
	unsigned int vcpu_slot;
	unsigned int vm_gen;
	unsigned int vcpu_gen;
	unsigned int pad;
	unsigned long long faults;
	unsigned long long wp_faults;
	unsigned long long pad2;
};

/* The value of fault_cache (a per-CPU array of one element), so a reader
 * gets every CPU's entries in one lookup. */
struct ks_fault_cache {
	struct ks_fault_cache_entry way[KS_FAULT_CACHE_WAYS];
};

/* Rare events, one ring-buffer record each. */
enum ks_event_type {
	KS_EV_MEMSLOT_COMMIT = 1, /* memslot created/changed/deleted */
	KS_EV_GET_DIRTY_LOG,      /* KVM_GET_DIRTY_LOG */
	KS_EV_CLEAR_DIRTY_LOG,    /* KVM_CLEAR_DIRTY_LOG */
	KS_EV_SLOT_WRITE_PROTECT, /* whole-slot write protect at log start */
	KS_EV_RMAP_ALLOC,         /* memslot rmap arrays allocated */
	KS_EV_RMAP_SKIP,          /* memslot created without rmaps (series tracepoint) */
	KS_EV_VM_CREATE,          /* KVM_CREATE_VM returned a VM fd (result) */
	KS_EV_VM_RELEASE,         /* a VM fd's file was released (last close) */
};

/* What KVM did when dirty logging flags changed, from the series'
 * kvm_mmu_slot_apply_flags tracepoint (enum kvm_mmu_log_dirty_action). */
#define KS_ACT_START 0x1
#define KS_ACT_STOP 0x2
#define KS_ACT_LAZY 0x4          /* initially-set: no write protect now */
#define KS_ACT_SPLIT 0x8         /* eager huge page split */
#define KS_ACT_CLEAR_DIRTY 0x10
#define KS_ACT_WRPROT_4K 0x20
#define KS_ACT_WRPROT_2M 0x40
#define KS_ACT_COLLAPSE 0x80
#define KS_ACT_KNOWN 0x80000000  /* actions were reported (patched kernel) */

struct ks_event {
	unsigned int type;
	unsigned int tgid;
	unsigned long long kvm;
	unsigned long long ts_ns;    /* CLOCK_MONOTONIC at entry */
	unsigned long long dur_ns;
	long long result;            /* return value / errno where there is one */
	int slot;                    /* memslot id, -1 if none */
	unsigned int as_id;
	unsigned long long npages;
	unsigned long long base_gfn;
	unsigned int old_flags;
	unsigned int new_flags;
	unsigned int change;         /* enum kvm_mr_change for memslot commits */
	unsigned int level;          /* start level for slot write protect */
	unsigned long long first_page; /* CLEAR_DIRTY_LOG range */
	unsigned long long num_pages;
	/* GET: pages reported dirty; CLEAR: pages asked to be re-protected.
	 * Counted from the bitmap the ioctl returned/took; -1 if unknown (the
	 * slot's size was not seen, or the bitmap could not be read). */
	long long pages;
	unsigned int actions;        /* KS_ACT_* for memslot events, 0 if unknown */
	unsigned int wp_known;       /* get/clear: wp_calls/wp_changed were counted */
	unsigned long long bytes;    /* rmap bytes (series tracepoints) */
	/* For ioctl events: time in KVM's function proper (the dirty-log or
	 * memslot work); dur_ns is then the whole ioctl when it could be
	 * timed (the ioctl system call, or kvm_vm_ioctl), else equal to kvm_ns.
	 * KS_NS_UNKNOWN for ioctls decoded at the system call boundary only
	 * (no program inside KVM). */
	unsigned long long kvm_ns;
	/* The VM's write-protect faults so far, read when the KVM work of
	 * this dirty-log or memslot event ended; -1 if unknown. Consecutive
	 * events' difference is the faults between them: with syncs as
	 * boundaries, the faults of one dirty-log iteration. By default
	 * (KS_FAULTS_VCPU_STAT) KVM's own pf_fast summed over the VM's vCPUs:
	 * write-protect faults fixed in KVM's fast path; with the fault
	 * program (KS_FAULTS_PROGRAM), its count of faults on present,
	 * write-protected mappings, fast or slow path. */
	long long wp_faults_total;
	/* Get/clear: write-protect calls by min_level made inside this ioctl
	 * (KVM re-protecting what it reported or was asked to clear), and
	 * those that changed a mapping; valid when wp_known. */
	unsigned long long wp_calls[KS_MAX_LEVEL];
	unsigned long long wp_changed[KS_MAX_LEVEL];
	/* Ioctl events timed at the ioctl's boundary: involuntary context
	 * switches of the calling thread during it (dur_ns includes waiting
	 * for a CPU that many times); -1 otherwise. */
	long long preempted;
	/* The VM's guest faults so far, read with wp_faults_total; -1 if
	 * unknown: KVM's pf_taken summed over its vCPUs, or the fault
	 * program's count of every fault. */
	long long faults_total;
};

/* A duration that was not measured (ks_event.kvm_ns): reported as null. */
#define KS_NS_UNKNOWN (~0ULL)

/* The ioctls the system call tracepoints decode from their user arguments
 * (rodata sys_decode of migrate.bpf.c): those whose metric's chosen way is
 * the ioctl system call (tracer/hooks/hooks.c, KS_WAY_SYSCALL). */
#define KS_SYS_MEMSLOT 0x1   /* KVM_SET_USER_MEMORY_REGION(2): log_flags */
#define KS_SYS_GET 0x2       /* KVM_GET_DIRTY_LOG: get_dirty_log */
#define KS_SYS_CLEAR 0x4     /* KVM_CLEAR_DIRTY_LOG: clear_dirty_log */

/* Where the fault counts come from (rodata fault_source of migrate.bpf.c). */
enum ks_fault_source {
	KS_FAULTS_VCPU_STAT = 0, /* KVM's per-vCPU stats, read at each dirty-log
				  * and memslot event: no program on the fault path */
	KS_FAULTS_PROGRAM = 1,   /* the fault program's slots (tp_page_fault, or
				  * the fentry/fexit pair with --fault-latency) */
};

/* What the BPF side remembers of a memslot to count its bitmaps. */
struct ks_slot_key {
	unsigned long long kvm;
	unsigned int slot;     /* as_id << 16 | id, as in the dirty-log ioctls */
	unsigned int pad;
};

/* Indexes of the drop counters; userspace reports each non-zero one. */
enum ks_drop {
	KS_DROP_RINGBUF_FULL = 0, /* ring buffer had no room for an event */
	KS_DROP_VM_TABLE_FULL,    /* a new VM did not fit in the VM table */
	KS_DROP_START_TABLE_FULL, /* an entry timestamp could not be stored */
	KS_DROP_VCPU_TABLE_FULL,  /* a vCPU's faults did not fit in the vCPU table */
	KS_DROP_MAX,
};

/* One memslot of a VM found by the task_file iterator (bpf/rmap.bpf.c):
 * the state of existing VMs, read when kvmscope starts. slot = -1 for a VM
 * without memslots. */
struct ks_slot_rec {
	unsigned int tgid;
	int fd;                      /* the VM fd in the VMM */
	unsigned long long kvm;
	int slot;
	unsigned int as_id;
	unsigned long long base_gfn;
	unsigned long long npages;
	unsigned int flags;
	unsigned char shadow_root_allocated; /* the VM has had a shadow root */
	unsigned char rmap_allocated;        /* this slot's rmaps exist */
	unsigned char pad[2];
};

/* Why an rmap allocation happened (ks_event.change for KS_EV_RMAP_ALLOC). */
enum ks_rmap_reason {
	KS_RMAP_FIRST_SHADOW_ROOT = 0, /* lazily, for all slots at the first shadow root */
	KS_RMAP_MEMSLOT_CREATE = 1,    /* with a new memslot, rmaps already needed */
};

#endif /* KVMSCOPE_H */
