// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-logging cost of KVM guests, on stock kernels: fentry/fexit on KVM's
 * global functions and the existing kvm/kvmmmu tracepoints; where fentry
 * is refused, the memslot and dirty-log ioctls decoded at the system call.
 *
 * Hot events (write-protect calls, faults, splits, TLB flushes) are counted
 * in a per-CPU hash per VM; userspace sums the CPUs when it samples, so its
 * cost does not grow with the event rate. Rare events (memslot commits,
 * dirty-log syncs, whole-slot write protection, rmap allocation) go through
 * a ring buffer with their duration. Anything that cannot be recorded is
 * counted in the drops array.
 *
 * Program names are the contract with tracer/hooks/hooks.c: the loader enables
 * only the programs of the way in it chose for each metric.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kvmscope.h"
#include "vcpu_stats.bpf.h"
#include "kvm_lookup.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Configuration, set by the loader before load. 0 = every VMM. */
const volatile unsigned int filter_tgid = 0;
/* enum ks_fault_source: how the dirty-log and memslot events get the VM's
 * fault totals. The verifier prunes the way not taken. */
const volatile unsigned int fault_source = KS_FAULTS_VCPU_STAT;
/* The ioctls the system call programs decode from their arguments
 * (KS_SYS_*: the metrics whose way is the ioctl system call), and whether
 * they also time the events KVM's functions hold (ioctl_time's tracepoint
 * way). */
const volatile unsigned int sys_decode = 0;
const volatile bool sys_time = false;

/* x86 page-fault error code bits: the mapping was present (a protection
 * fault), the access was a write, a reserved bit was set (KVM's MMIO SPTEs). */
#define PFERR_PRESENT_MASK 1ULL
#define PFERR_WRITE_MASK 2ULL
#define PFERR_RSVD_MASK 8ULL
/* KVM_HC_MAP_GPA_RANGE and MSR_KVM_MIGRATION_CONTROL (SEV live migration). */
#define KVM_HC_MAP_GPA_RANGE 12
#define MSR_KVM_MIGRATION_CONTROL 0x4b564d08

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KS_MAX_VMS * KS_VM_ENTRIES);
	__type(key, struct ks_vm_key);
	__type(value, struct ks_vm_counters);
} vm_counters SEC(".maps");

/* Fault slots (bpf/kvmscope.h). Sizes are set by the tracer at load time
 * (tracer/hooks/fault_slots.c): the VM ones to the VM table's size, the latency
 * histograms to one entry unless fault latency is on. The free slots are
 * stacks: a released slot is the next one taken, so VMs coming and going
 * reuse a few slots (and the lab's churn test exercises the generations). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_VMS);
	__type(key, struct ks_vm_key);
	__type(value, struct ks_fault_slot);
} vm_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, KS_MAX_VMS);
	__type(value, __u32);
} free_vm_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_MAX_VMS);
	__type(key, __u32);
	__type(value, struct ks_vm_fault_line);
} vm_faults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_VCPU_ENTRIES);
	__type(key, struct ks_vcpu_key);
	__type(value, struct ks_fault_slot);
} vcpu_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, KS_MAX_VCPU_ENTRIES);
	__type(value, __u32);
} free_vcpu_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KS_MAX_VCPU_ENTRIES);
	__type(key, __u32);
	__type(value, struct ks_vcpu_fault_line);
} vcpu_fault_ctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KS_MAX_VCPU_ENTRIES);
	__type(key, __u32);
	__type(value, struct ks_vcpu_fault_lat);
} vcpu_fault_lat SEC(".maps");

/* The slots of the vCPUs each CPU last counted a fault for, and their
 * faults not yet in their vCPU lines (struct ks_fault_cache_entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_fault_cache);
} fault_cache SEC(".maps");

/* Per CPU: odd while this CPU moves an evicted entry's faults to its vCPU
 * line, bumped again when done. A reader summing lines and entries
 * (tracer/hooks/fault_slots.c) reads it before and after, and reads again if any
 * CPU's count changed or was odd: a fault is then never counted twice (in
 * the entry it read and in the line) nor missed (in neither). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fault_flushes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KS_RB_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Entry timestamps of the timed functions, by hook because the hooks nest
 * (memslot commit calls the whole-slot write protect). H_IOCTL_NIVCSW holds
 * the thread's involuntary context switches at the ioctl's entry, + 1. */
enum hook_id { H_VM_IOCTL, H_GET_LOG, H_CLEAR_LOG, H_SLOT_WP, H_RMAP, H_IOCTL_NIVCSW, H_NR };

/* Write protection inside one dirty-log ioctl: zeroed at the get/clear's
 * entry, counted by the write-protect hooks, copied into the get/clear's
 * event at its exit. */
struct sync_wp {
	__u64 calls[KS_MAX_LEVEL];
	__u64 changed[KS_MAX_LEVEL];
};

/*
 * What a thread's programs pass each other between a function's entry and
 * its exit, in the thread's own task storage: found without a hash lookup,
 * updated without a map update or delete (each takes a lock and, under
 * TCG, microseconds of the VMM's ioctl), freed with the thread.
 */
/* What an ioctl decoded at the system call asked (sys_decode), beside the
 * event its arguments fill: the dirty bitmap's user address, and for a
 * memslot ioctl the slot asked for and the slot as KVM had it. */
struct sys_args {
	__u64 bitmap;
	__u64 nivcsw;			/* the thread's preemptions at entry, + 1 (its own:
					 * ioctl_time's fentry way may time the same call) */
	__u64 new_base_gfn, new_npages;
	__u64 old_base_gfn, old_npages;	/* old_npages 0: there was none */
	__u32 old_flags;
	__u32 pad;
};

struct ks_thread {
	__u64 t0[H_NR];			/* entry times; 0 = entry not seen */
	struct sync_wp wp;
	__u32 wp_on;			/* a get/clear is counting into wp */
	__u32 held;			/* `event` waits for the ioctl's return */
	__u32 memslot_on;		/* `memslot` is a memslot update's start */
	__u32 sys_on;			/* `event` is a decoded ioctl's, `sys` its arguments */
	struct ks_event event;		/* the ioctl's event, sent at its return */
	struct ks_event memslot;	/* the slot as the memslot ioctl found it */
	struct sys_args sys;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ks_thread);
} threads SEC(".maps");

/* Size in pages of every memslot seen, to count dirty bitmaps. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ks_slot_key);
	__type(value, __u64);
} slot_pages SEC(".maps");

/* Zeroed values to create entries from; too big for the BPF stack. */
static const struct ks_vm_counters zero_counters;

static __always_inline void drop(__u32 why)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &why);

	if (n)
		(*n)++;
}

/* VMMs with counters that found the VM table full: tgid -> how many. Their
 * counters are incomplete for the rest of their life, and the tracer says
 * so instead of showing what did fit; it deletes the entry with the VMM. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_UNTRACKED);
	__type(key, __u32);
	__type(value, __u64);
} untracked SEC(".maps");

/* A VM's counters did not fit: counted, and its VMM marked. Cold path. */
static __always_inline void vm_table_full(__u32 tgid)
{
	__u64 one = 1, *n;

	drop(KS_DROP_VM_TABLE_FULL);
	n = bpf_map_lookup_elem(&untracked, &tgid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&untracked, &tgid, &one, BPF_NOEXIST);
}

static __always_inline bool traced(void)
{
	return !filter_tgid || (bpf_get_current_pid_tgid() >> 32) == filter_tgid;
}

static __always_inline struct ks_vm_counters *vm_of_pid(struct kvm *kvm, __u32 tgid)
{
	struct ks_vm_key key = {
		.tgid = tgid,
		.kvm = (__u64)kvm,
	};
	struct ks_vm_counters *c = bpf_map_lookup_elem(&vm_counters, &key);

	if (c)
		return c;
	/* Once untracked, for good: a slot freed later goes to a new VM, not
	 * to one whose counters already have a gap. */
	if (bpf_map_lookup_elem(&untracked, &tgid)) {
		vm_table_full(tgid);
		return NULL;
	}
	if (bpf_map_update_elem(&vm_counters, &key, &zero_counters, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&vm_counters, &key)) {
		vm_table_full(tgid);
		return NULL;
	}
	return bpf_map_lookup_elem(&vm_counters, &key);
}

static __always_inline struct ks_vm_counters *vm_of(struct kvm *kvm)
{
	return vm_of_pid(kvm, bpf_get_current_pid_tgid() >> 32);
}

/* --- a VM's faults so far ------------------------------------------------- *
 * Read at each dirty-log or memslot event, so consecutive events bound the
 * faults taken between them (one dirty-log iteration). Either KVM's own
 * per-vCPU stats (bpf/vcpu_stats.bpf.h: one read per vCPU per such event,
 * nothing per fault), or the fault program's VM slot (one lookup per CPU
 * per such event). */
struct fault_totals {
	long long faults, wp_faults;	/* -1: unknown */
};

struct wp_sum_ctx {
	__u32 slot;
	__u32 gen;
	__u64 faults, wp_faults;
};

static long wp_sum_cpu(__u32 cpu, void *arg)
{
	struct wp_sum_ctx *c = arg;
	struct ks_vm_fault_line *v = bpf_map_lookup_percpu_elem(&vm_faults, &c->slot, cpu);

	/* NULL past the last possible CPU. */
	if (!v)
		return 1;
	if (v->gen == c->gen) {
		c->faults += v->faults;
		c->wp_faults += v->wp_faults;
	}
	return 0;
}

static __always_inline void fault_totals(struct kvm *kvm, struct fault_totals *t)
{
	struct ks_vm_key key = { .kvm = (__u64)kvm };
	struct ks_fault_slot *s;
	struct wp_sum_ctx c = {};

	t->faults = t->wp_faults = -1;
	if (fault_source == KS_FAULTS_VCPU_STAT) {
		struct ks_vcpu_sums sums;

		if (ks_vcpu_sum(kvm, &sums) == KS_WALK_OK) {
			t->faults = sums.pf_taken;
			t->wp_faults = sums.pf_fast;
		}
		return;
	}
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	s = bpf_map_lookup_elem(&vm_slots, &key);
	/* No slot yet: the VM has taken no fault. */
	if (!s) {
		t->faults = t->wp_faults = 0;
		return;
	}
	c.slot = s->slot;
	c.gen = s->gen;
	if (bpf_loop(1 << 16, wp_sum_cpu, &c, 0) < 0)
		return;
	t->faults = c.faults;
	t->wp_faults = c.wp_faults;
}

/* The calling thread's state; created at a function's entry (a thread's
 * first: one allocation), only looked up elsewhere. */
static __always_inline struct ks_thread *thread_new(void)
{
	struct ks_thread *st = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), NULL,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!st)
		drop(KS_DROP_START_TABLE_FULL);
	return st;
}

static __always_inline struct ks_thread *thread(void)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), NULL, 0);
}

static __always_inline __u32 hook_index(enum hook_id hook)
{
	__u32 h = hook;

	asm volatile("" : "+r"(h));
	return h < H_NR ? h : 0;
}

static __always_inline void start(enum hook_id hook)
{
	struct ks_thread *st = thread_new();

	if (st)
		st->t0[hook_index(hook)] = bpf_ktime_get_ns();
}

/* Returns the entry timestamp and forgets it; 0 if the entry was not seen
 * (the program was attached while the function was running). */
static __always_inline __u64 finish(enum hook_id hook)
{
	struct ks_thread *st = thread();
	__u32 h = hook_index(hook);
	__u64 t;

	if (!st)
		return 0;
	t = st->t0[h];
	st->t0[h] = 0;
	return t;
}

/* Sends a record without waking the tracer, unless the ring buffer is
 * filling up: a wakeup from inside the VMM's ioctl would make the VMM pay
 * for the tracer's scheduling (an IPI, or being preempted by it on return).
 * The tracer drains the buffer every KS_RB_DRAIN_MS anyway. */
static __always_inline void submit(struct ks_event *e)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= KS_RB_WAKEUP_BYTES ?
		      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

static __always_inline void event_init(struct ks_event *e, enum ks_event_type type,
				       struct kvm *kvm, __u64 t0)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->kvm = (__u64)kvm;
	e->ts_ns = t0;
	e->dur_ns = bpf_ktime_get_ns() - t0;
	e->slot = -1;
	e->preempted = -1;
}

static __always_inline struct ks_event *event_new(enum ks_event_type type,
						  struct kvm *kvm, __u64 t0)
{
	struct ks_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		drop(KS_DROP_RINGBUF_FULL);
		return NULL;
	}
	event_init(e, type, kvm, t0);
	return e;
}

/* Sends a copy of an event kept in the thread's state (or on the stack). */
static __always_inline void submit_copy(const struct ks_event *kept)
{
	struct ks_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		drop(KS_DROP_RINGBUF_FULL);
		return;
	}
	__builtin_memcpy(e, kept, sizeof(*e));
	submit(e);
}

/* --- whole VM ioctls ------------------------------------------------------ *
 * An event of a dirty-log or memslot ioctl is held in the thread's state
 * (ks_thread.event) until the ioctl system call returns, so its duration is
 * what the VMM paid in the kernel, not only the KVM function inside. */
#define KVM_GET_DIRTY_LOG_NR 0x4010ae42
#define KVM_CLEAR_DIRTY_LOG_NR 0xc018aec0
#define KVM_SET_USER_MEMORY_REGION_NR 0x4020ae46
#define KVM_SET_USER_MEMORY_REGION2_NR 0x4060ae49

static __always_inline void event_slot(struct ks_event *e,
				       const struct kvm_memory_slot *s)
{
	if (!s)
		return;
	e->slot = BPF_CORE_READ(s, id);
	e->as_id = BPF_CORE_READ(s, as_id);
	e->npages = BPF_CORE_READ(s, npages);
	e->base_gfn = BPF_CORE_READ(s, base_gfn);
}

/* An array index the verifier can bound: the compiler drops a plain mask
 * after a range check, so hide the value from it first. */
static __always_inline __u32 level_index(__u32 lvl)
{
	asm volatile("" : "+r"(lvl));
	return lvl & (KS_MAX_LEVEL - 1);
}

/* --- counting set bits of a user bitmap ----------------------------------- *
 * On the VMM's thread, inside its ioctl: every instruction here is time the
 * VMM pays. 256 bytes per read onto the stack (the verifier of 6.1 gives
 * up on a 512-word loop over a bigger buffer), and a zero word, what most
 * of a bitmap is in a migration's later iterations, costs a load and a
 * test instead of a popcount. */

#define BITMAP_CHUNK 256 /* bytes read per step */
struct popcount_ctx {
	const char *ubuf;   /* user address of the bitmap */
	__u64 nbits;
	__u64 tail_bit;     /* first bit after the whole chunks */
	__u64 count;
	int err;
};

static __always_inline __u64 popcount64(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Whole 256-byte chunks: one read each. */
static long popcount_chunk(__u32 i, void *arg)
{
	struct popcount_ctx *c = arg;
	__u64 words[BITMAP_CHUNK / 8];

	if (bpf_probe_read_user(words, sizeof(words), c->ubuf + (__u64)i * BITMAP_CHUNK)) {
		c->err = 1;
		return 1;
	}
	for (int w = 0; w < BITMAP_CHUNK / 8; w++)
		if (words[w])
			c->count += popcount64(words[w]);
	return 0;
}

/* The words after the last whole chunk, one read each: the bitmap may end
 * right at the end of a mapping, so never read past it. */
static long popcount_word(__u32 i, void *arg)
{
	struct popcount_ctx *c = arg;
	__u64 bit0 = c->tail_bit + (__u64)i * 64, v;

	if (bit0 >= c->nbits)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), c->ubuf + bit0 / 8)) {
		c->err = 1;
		return 1;
	}
	/* Bits past the slot's end are not pages. */
	if (c->nbits - bit0 < 64)
		v &= (1ULL << (c->nbits - bit0)) - 1;
	c->count += popcount64(v);
	return 0;
}

/* Set bits among the first nbits of a user bitmap; -1 if unreadable. */
static __always_inline long long count_bits(const void *ubuf, __u64 nbits)
{
	struct popcount_ctx c = { .ubuf = ubuf, .nbits = nbits };
	__u32 chunks = nbits / (BITMAP_CHUNK * 8);

	/* 1M chunks = a 2 GiB bitmap = a 64 TiB slot of 4K pages. */
	if (!ubuf || chunks > (1U << 20))
		return -1;
	bpf_loop(chunks, popcount_chunk, &c, 0);
	c.tail_bit = (__u64)chunks * BITMAP_CHUNK * 8;
	if (!c.err && c.tail_bit < nbits)
		bpf_loop(BITMAP_CHUNK / 8, popcount_word, &c, 0);
	return c.err ? -1 : (long long)c.count;
}

static __always_inline __u64 slot_npages(struct kvm *kvm, __u32 slot)
{
	struct ks_slot_key k = { .kvm = (__u64)kvm, .slot = slot };
	__u64 *n = bpf_map_lookup_elem(&slot_pages, &k);

	return n ? *n : 0;
}

/* floor(log2(v)), 0 for v < 2, at most KS_LAT_BUCKETS - 1: a binary
 * search, six tests rather than a loop of up to 31. */
static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	if (v >> 32) { v >>= 32; b += 32; }
	if (v >> 16) { v >>= 16; b += 16; }
	if (v >> 8) { v >>= 8; b += 8; }
	if (v >> 4) { v >>= 4; b += 4; }
	if (v >> 2) { v >>= 2; b += 2; }
	if (v >> 1) b += 1;
	return b < KS_LAT_BUCKETS ? b : KS_LAT_BUCKETS - 1;
}

/* --- write protection by min_level --------------------------------------- */

static __always_inline void sync_wp_begin(void)
{
	struct ks_thread *st = thread_new();

	if (!st)
		return;
	__builtin_memset(&st->wp, 0, sizeof(st->wp));
	st->wp_on = 1;
}

static __always_inline void sync_wp_count(__u32 lvl, bool changed)
{
	struct ks_thread *st = thread();

	if (!st || !st->wp_on)
		return;
	st->wp.calls[level_index(lvl)]++;
	if (changed)
		st->wp.changed[level_index(lvl)]++;
}

/* Copies the ioctl's counts into e (wp_known) and stops counting. */
static __always_inline void sync_wp_end(struct ks_thread *st, struct ks_event *e)
{
	if (!st || !st->wp_on)
		return;
	if (e) {
		__builtin_memcpy(e->wp_calls, st->wp.calls, sizeof(e->wp_calls));
		__builtin_memcpy(e->wp_changed, st->wp.changed, sizeof(e->wp_changed));
		e->wp_known = 1;
	}
	st->wp_on = 0;
}

SEC("fexit/kvm_mmu_slot_gfn_write_protect")
int BPF_PROG(fexit_gfn_write_protect, struct kvm *kvm,
	     struct kvm_memory_slot *slot, u64 gfn, int min_level, bool ret)
{
	struct ks_vm_counters *c;
	__u32 lvl = min_level;

	if (!traced() || lvl >= KS_MAX_LEVEL)
		return 0;
	c = vm_of(kvm);
	if (!c)
		return 0;
	c->wp_gfn_calls[level_index(lvl)]++;
	if (ret)
		c->wp_gfn_protected[level_index(lvl)]++;
	sync_wp_count(lvl, ret);
	return 0;
}

SEC("fentry/kvm_mmu_slot_remove_write_access")
int BPF_PROG(fentry_slot_write_protect)
{
	if (traced())
		start(H_SLOT_WP);
	return 0;
}

SEC("fexit/kvm_mmu_slot_remove_write_access")
int BPF_PROG(fexit_slot_write_protect, struct kvm *kvm,
	     const struct kvm_memory_slot *memslot, int start_level)
{
	struct ks_event *e;
	__u64 t0;

	if (!traced() || !(t0 = finish(H_SLOT_WP)))
		return 0;
	e = event_new(KS_EV_SLOT_WRITE_PROTECT, kvm, t0);
	if (!e)
		return 0;
	event_slot(e, memslot);
	e->level = start_level;
	submit(e);
	return 0;
}

/* --- memslot changes: dirty logging on/off ------------------------------- */

/* The slot as the memslot ioctl found it is kept in the thread's state
 * (ks_thread.memslot) from entry to exit: at exit the old slot may already
 * be freed (delete, move, flags change). */
static __always_inline struct ks_event *memslot_pending(void)
{
	struct ks_thread *st = thread();

	return st && st->memslot_on ? &st->memslot : NULL;
}

/* Remembers the size of the slot a successful memslot update e made (or
 * forgets a deleted one), for counting its dirty bitmaps. */
static __always_inline void slot_pages_note(const struct ks_event *e, __u32 change)
{
	struct ks_slot_key k = { .kvm = e->kvm, .slot = e->as_id << 16 | (__u16)e->slot };

	if (e->slot < 0)
		return;
	if (change == KVM_MR_DELETE)
		bpf_map_delete_elem(&slot_pages, &k);
	else
		bpf_map_update_elem(&slot_pages, &k, &e->npages, BPF_ANY);
}

/* kvm_set_memslot() is the whole memslot update of KVM_SET_USER_MEMORY_REGION
 * (prepare, install, arch commit, free): its duration is what the VMM pays
 * to turn dirty logging on or off. */
SEC("fentry/kvm_set_memslot")
int BPF_PROG(fentry_set_memslot, struct kvm *kvm, struct kvm_memory_slot *old,
	     struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	struct ks_thread *st;
	struct ks_event *e;

	if (!traced() || !(st = thread_new()))
		return 0;
	e = &st->memslot;
	event_init(e, KS_EV_MEMSLOT_COMMIT, kvm, bpf_ktime_get_ns());
	/* A deleted slot has no new; describe it by the old one. */
	event_slot(e, new ? new : old);
	e->old_flags = old ? BPF_CORE_READ(old, flags) : 0;
	e->new_flags = new ? BPF_CORE_READ(new, flags) : 0;
	e->change = change;
	st->memslot_on = 1;
	return 0;
}

SEC("fexit/kvm_set_memslot")
int BPF_PROG(fexit_set_memslot, struct kvm *kvm, struct kvm_memory_slot *old,
	     struct kvm_memory_slot *new, enum kvm_mr_change change, int ret)
{
	struct ks_thread *st;
	struct ks_event *pending;
	struct fault_totals ft;

	if (!traced() || !(st = thread()) || !st->memslot_on)
		return 0;
	pending = &st->memslot;
	pending->dur_ns = bpf_ktime_get_ns() - pending->ts_ns;
	pending->kvm_ns = pending->dur_ns;
	pending->result = ret;
	fault_totals(kvm, &ft);
	pending->wp_faults_total = ft.wp_faults;
	pending->faults_total = ft.faults;
	if (st->t0[H_VM_IOCTL]) {
		/* Sent when the ioctl returns (ioctl_done). */
		__builtin_memcpy(&st->event, pending, sizeof(st->event));
		st->held = 1;
	} else {
		submit_copy(pending);
	}
	if (!ret)
		slot_pages_note(pending, change);
	st->memslot_on = 0;
	return 0;
}

/* --- dirty-log syncs ------------------------------------------------------ */

SEC("fentry/kvm_get_dirty_log_protect")
int BPF_PROG(fentry_get_dirty_log)
{
	if (traced()) {
		start(H_GET_LOG);
		sync_wp_begin();
	}
	return 0;
}

/* What a get/clear event says beyond its start: from the ioctl's arguments
 * (fexit) or from KVM's own tracepoint (memslot set: patched kernels). */
struct dl_fields {
	const struct kvm_memory_slot *memslot;
	__u32 slot;		/* the ioctl's: address space in the top 16 bits */
	__u64 npages;
	long long pages;
	__u64 first_page;
	__u64 num_pages;
	int ret;
	struct fault_totals ft;
};

static __always_inline void dirty_log_fill(struct ks_event *e, struct ks_thread *st,
					   enum ks_event_type type, struct kvm *kvm, __u64 t0,
					   const struct dl_fields *f)
{
	event_init(e, type, kvm, t0);
	sync_wp_end(st, e);
	if (f->memslot) {
		event_slot(e, f->memslot);
	} else {
		e->slot = f->slot & 0xffff;
		e->as_id = f->slot >> 16;
		e->npages = f->npages;
	}
	e->result = f->ret;
	e->pages = f->pages;
	e->first_page = f->first_page;
	e->num_pages = f->num_pages;
	e->wp_faults_total = f->ft.wp_faults;
	e->faults_total = f->ft.faults;
	e->kvm_ns = e->dur_ns;
}

/*
 * Inside a timed ioctl (the usual case) the event is built in the thread's
 * held slot and copied once into the ring buffer when the ioctl returns
 * (ioctl_done); otherwise it is a ring buffer record sent now. No map
 * update, no reserve-then-discard on the VMM's thread.
 */
static __always_inline void dirty_log_event(enum ks_event_type type, enum hook_id hook,
					    struct kvm *kvm, struct dl_fields *f)
{
	struct ks_thread *st = thread();
	struct ks_event *e;
	__u64 t0;

	if (!st)
		return;
	t0 = finish(hook);
	if (!t0) {
		sync_wp_end(st, NULL);
		return;
	}
	fault_totals(kvm, &f->ft);
	if (st->t0[H_VM_IOCTL]) {
		dirty_log_fill(&st->event, st, type, kvm, t0, f);
		st->held = 1;
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		drop(KS_DROP_RINGBUF_FULL);
		sync_wp_end(st, NULL);
		return;
	}
	dirty_log_fill(e, st, type, kvm, t0, f);
	submit(e);
}

SEC("fexit/kvm_get_dirty_log_protect")
int BPF_PROG(fexit_get_dirty_log, struct kvm *kvm, struct kvm_dirty_log *log,
	     int ret)
{
	struct dl_fields f = { .ret = ret };

	if (!traced())
		return 0;
	f.slot = BPF_CORE_READ(log, slot);
	f.npages = slot_npages(kvm, f.slot);
	/* The bitmap KVM just copied out is what the VMM sees as dirty. */
	f.pages = ret || !f.npages ? -1 : count_bits(BPF_CORE_READ(log, dirty_bitmap), f.npages);
	dirty_log_event(KS_EV_GET_DIRTY_LOG, H_GET_LOG, kvm, &f);
	return 0;
}

SEC("fentry/kvm_clear_dirty_log_protect")
int BPF_PROG(fentry_clear_dirty_log)
{
	if (traced()) {
		start(H_CLEAR_LOG);
		sync_wp_begin();
	}
	return 0;
}

SEC("fexit/kvm_clear_dirty_log_protect")
int BPF_PROG(fexit_clear_dirty_log, struct kvm *kvm,
	     struct kvm_clear_dirty_log *log, int ret)
{
	struct dl_fields f = { .ret = ret };

	if (!traced())
		return 0;
	f.slot = BPF_CORE_READ(log, slot);
	f.num_pages = BPF_CORE_READ(log, num_pages);
	f.first_page = BPF_CORE_READ(log, first_page);
	f.npages = slot_npages(kvm, f.slot);
	f.pages = ret ? -1 : count_bits(BPF_CORE_READ(log, dirty_bitmap), f.num_pages);
	dirty_log_event(KS_EV_CLEAR_DIRTY_LOG, H_CLEAR_LOG, kvm, &f);
	return 0;
}

/* With the series' kvm_dirty_log_get / kvm_dirty_log_clear tracepoints
 * (patched kernels), KVM has counted the pages itself (the dirty bitmap it
 * copied out; the bits the VMM handed back), so the event is made there,
 * with no bitmap read in BPF and no fexit trampoline around the KVM
 * function: its entry (fentry above) still gives the start. The records
 * are the same as the fexit programs'. */

/* (A tracepoint's pointer arguments may be NULL for the verifier.) */
SEC("tp_btf/kvm_dirty_log_get")
int BPF_PROG(tp_dirty_log_get, struct kvm *kvm, const struct kvm_memory_slot *memslot,
	     unsigned long dirty, unsigned long reprotected, bool flush, int ret)
{
	struct dl_fields f = { .memslot = memslot, .ret = ret,
			       .pages = ret ? -1 : (long long)dirty };

	if (kvm && memslot && traced())
		dirty_log_event(KS_EV_GET_DIRTY_LOG, H_GET_LOG, kvm, &f);
	return 0;
}

SEC("tp_btf/kvm_dirty_log_clear")
int BPF_PROG(tp_dirty_log_clear, struct kvm *kvm, const struct kvm_memory_slot *memslot,
	     u64 first_page, u32 num_pages, unsigned long requested,
	     unsigned long cleared, bool flush, int ret)
{
	struct dl_fields f = { .memslot = memslot, .ret = ret,
			       .pages = ret ? -1 : (long long)requested,
			       .first_page = first_page, .num_pages = num_pages };

	if (kvm && memslot && traced())
		dirty_log_event(KS_EV_CLEAR_DIRTY_LOG, H_CLEAR_LOG, kvm, &f);
	return 0;
}

/* --- lazy rmap allocation ------------------------------------------------- */

SEC("fentry/memslot_rmap_alloc")
int BPF_PROG(fentry_rmap_alloc)
{
	if (traced())
		start(H_RMAP);
	return 0;
}

SEC("fexit/memslot_rmap_alloc")
int BPF_PROG(fexit_rmap_alloc, struct kvm_memory_slot *slot,
	     unsigned long npages, int ret)
{
	struct ks_event *e;
	__u64 t0;

	if (!traced() || !(t0 = finish(H_RMAP)))
		return 0;
	/* No struct kvm here: the VM is identified by the VMM process. */
	e = event_new(KS_EV_RMAP_ALLOC, NULL, t0);
	if (!e)
		return 0;
	event_slot(e, slot);
	e->npages = npages;
	e->result = ret;
	/* Inside a memslot update: rmaps were needed when the slot was made;
	 * otherwise this is the lazy allocation at the first shadow root. */
	e->change = memslot_pending() ? KS_RMAP_MEMSLOT_CREATE : KS_RMAP_FIRST_SHADOW_ROOT;
	submit(e);
	return 0;
}

/* --- VMs coming and going --------------------------------------------------- *
 * The tracer finds VMMs by looking through /proc, which costs it
 * milliseconds of CPU per look. These two rare events tell it at once that
 * a process made a VM or let one go, so it needs to look only now and
 * then, for what happened before it attached. */

#define KS_KVM_CREATE_VM 0xAE01 /* _IO(KVMIO, 0x01) */

SEC("fexit/kvm_dev_ioctl")
int BPF_PROG(fexit_dev_ioctl, struct file *filp, unsigned int ioctl, unsigned long arg,
	     long ret)
{
	struct ks_event *e;

	if (ioctl != KS_KVM_CREATE_VM || ret < 0 || !traced())
		return 0;
	e = event_new(KS_EV_VM_CREATE, NULL, bpf_ktime_get_ns());
	if (!e)
		return 0;
	e->result = ret;
	submit(e);
	return 0;
}

#define KS_PF_EXITING 0x00000004 /* include/linux/sched.h */

SEC("fentry/kvm_vm_release")
int BPF_PROG(fentry_vm_release, struct inode *inode, struct file *filp)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ks_event *e;

	/* A VMM that exits closes its VM fds on the way out: its pidfd tells
	 * the tracer of that ("exited"); only a VM closed by a process that
	 * lives on is news. */
	if (!traced() || (task->flags & KS_PF_EXITING))
		return 0;
	e = event_new(KS_EV_VM_RELEASE, BPF_CORE_READ(filp, private_data), bpf_ktime_get_ns());
	if (e)
		submit(e);
	return 0;
}

/* --- guest faults ----------------------------------------------------------- */

/* A write to a present, write-protected SPTE (fast or slow path, and a
 * huge SPTE split on fault): what write protection for dirty logging costs
 * the guest. MMIO SPTEs fault with RSVD set. */
static __always_inline bool wp_fault(__u64 error_code)
{
	return (error_code & (PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_RSVD_MASK)) ==
	       (PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
}

/* A slot for key: the one it has, or a free one taken now. NULL (and
 * the drop counted) when none is free. Only on a cache miss. */
static __always_inline struct ks_fault_slot *vm_slot_get(struct ks_vm_key *key)
{
	struct ks_fault_slot *s = bpf_map_lookup_elem(&vm_slots, key), n = {};
	struct ks_vm_fault_line *l;

	if (s)
		return s;
	/* A VMM whose counters already found the VM tables full stays
	 * untracked (as in vm_of_pid()); one that finds no free slot now
	 * becomes so, and is reported. */
	if (bpf_map_lookup_elem(&untracked, &key->tgid) ||
	    bpf_map_pop_elem(&free_vm_slots, &n.slot)) {
		vm_table_full(key->tgid);
		return NULL;
	}
	/* Every CPU's copy has the same generation. */
	l = bpf_map_lookup_elem(&vm_faults, &n.slot);
	if (l)
		n.gen = l->gen;
	/* Another CPU may have given the VM a slot meanwhile: keep that one. */
	if (!l || bpf_map_update_elem(&vm_slots, key, &n, BPF_NOEXIST))
		bpf_map_push_elem(&free_vm_slots, &n.slot, 0);
	return bpf_map_lookup_elem(&vm_slots, key);
}

static __always_inline struct ks_fault_slot *vcpu_slot_get(struct ks_vcpu_key *key)
{
	struct ks_fault_slot *s = bpf_map_lookup_elem(&vcpu_slots, key), n = {};
	struct ks_vcpu_fault_line *l;

	if (s)
		return s;
	if (bpf_map_pop_elem(&free_vcpu_slots, &n.slot)) {
		drop(KS_DROP_VCPU_TABLE_FULL);
		return NULL;
	}
	l = bpf_map_lookup_elem(&vcpu_fault_ctr, &n.slot);
	if (l)
		n.gen = l->gen;
	if (!l || bpf_map_update_elem(&vcpu_slots, key, &n, BPF_NOEXIST))
		bpf_map_push_elem(&free_vcpu_slots, &n.slot, 0);
	return bpf_map_lookup_elem(&vcpu_slots, key);
}

/* Empties a cache entry: its faults go to its vCPU's line (if the slot
 * was not released meanwhile: then the VMM is gone and they with it), in
 * the order fault_flushes' readers rely on. Only this CPU writes the entry
 * (the tracepoint runs with preemption off); the line may be flushed to
 * from another CPU at the same time, hence the atomic adds. */
static __always_inline void fault_cache_evict(struct ks_fault_cache_entry *e)
{
	struct ks_vcpu_fault_line *cl;
	__u32 zero = 0, ck = e->vcpu_slot;
	__u64 *flushes;

	if (e->vcpu && (e->faults || e->wp_faults)) {
		flushes = bpf_map_lookup_elem(&fault_flushes, &zero);
		/* Atomic: a full barrier, so the generation below is read
		 * after the count is odd (tracer/hooks/fault_slots.c relies on it). */
		if (flushes)
			__sync_fetch_and_add(flushes, 1);
		barrier();
		cl = bpf_map_lookup_elem(&vcpu_fault_ctr, &ck);
		if (cl && cl->gen == e->vcpu_gen) {
			__sync_fetch_and_add(&cl->faults, e->faults);
			__sync_fetch_and_add(&cl->wp_faults, e->wp_faults);
		}
		barrier();
		e->faults = 0;
		e->wp_faults = 0;
		barrier();
		if (flushes)
			__sync_fetch_and_add(flushes, 1);
	}
	/* Counts are zero here already: an entry is filled with none. */
	e->vcpu = 0;
}

/* The slow path, on a cache miss: finds or takes the VM's and the vCPU's
 * slots and caches them in e. Returns false if the VM has none; a VM with
 * a slot but a vCPU without one (vCPU table full) is counted here, uncached. */
static __noinline bool fault_cache_fill(struct ks_fault_cache_entry *e, struct kvm_vcpu *vcpu,
					struct kvm *kvm, __u32 tgid, __u64 error_code)
{
	struct ks_vm_key vkey = { .tgid = tgid, .kvm = (__u64)kvm };
	struct ks_vcpu_key ckey = { .tgid = tgid, .vcpu_id = vcpu->vcpu_id, .kvm = (__u64)kvm };
	struct ks_fault_slot *vs, *cs;
	struct ks_vm_fault_line *l;
	__u32 vm_slot, vm_gen;

	if (!e)
		return false;
	fault_cache_evict(e);
	vs = vm_slot_get(&vkey);
	if (!vs)
		return false;
	vm_slot = vs->slot;
	vm_gen = vs->gen;
	cs = vcpu_slot_get(&ckey);
	if (!cs) {
		l = bpf_map_lookup_elem(&vm_faults, &vm_slot);
		if (l && l->gen == vm_gen) {
			l->faults++;
			if (error_code & PFERR_WRITE_MASK)
				l->write_faults++;
			if (wp_fault(error_code))
				l->wp_faults++;
		}
		return false;
	}
	e->vm_slot = vm_slot;
	e->vm_gen = vm_gen;
	e->vcpu_slot = cs->slot;
	e->vcpu_gen = cs->gen;
	e->kvm = (__u64)kvm;
	e->tgid = tgid;
	e->vcpu = (__u64)vcpu;
	return true;
}

/* Counts one fault of vcpu; d = its latency in ns, 0 if not timed. The
 * common case (this CPU counted this vCPU's last fault) touches the cache
 * entry and the VM's line on this CPU, both per CPU: no hash lookup, and
 * the vCPU's faults stay in the entry (struct ks_fault_cache_entry).
 * vCPU fields are read directly (BTF pointers), not with probe-read calls.
 * The tracepoint runs with preemption off, so nothing else touches this
 * CPU's entry and lines meanwhile. The fexit program (--fault-latency) can
 * be preempted on a fully preemptible kernel, where a fault of another
 * vCPU on the same CPU could interleave, as with the per-CPU hash before:
 * it counts the vCPU in its line directly and leaves the entry's counts at
 * zero, so an interleaved eviction has nothing to move. */
static __always_inline void count_fault(struct kvm_vcpu *vcpu, __u64 error_code, __u64 d)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct kvm *kvm = vcpu->kvm;
	__u32 way = vcpu->vcpu_id & (KS_FAULT_CACHE_WAYS - 1), zero = 0;
	struct ks_fault_cache *c;
	struct ks_fault_cache_entry *e;
	struct ks_vm_fault_line *vl = NULL;
	struct ks_vcpu_fault_line *cl = NULL;
	__u32 vk, ck;

	if (filter_tgid && tgid != filter_tgid)
		return;
	c = bpf_map_lookup_elem(&fault_cache, &zero);
	if (!c)
		return;
	e = &c->way[way];
	if (e->vcpu == (__u64)vcpu && e->kvm == (__u64)kvm && e->tgid == tgid) {
		vk = e->vm_slot;
		vl = bpf_map_lookup_elem(&vm_faults, &vk);
	}
	if (!vl || vl->gen != e->vm_gen) {
		/* Miss, or the VMM's slots released since: look them up again. */
		if (!fault_cache_fill(e, vcpu, kvm, tgid, error_code))
			return;
		vk = e->vm_slot;
		vl = bpf_map_lookup_elem(&vm_faults, &vk);
		if (!vl || vl->gen != e->vm_gen)
			return;
	}
	vl->faults++;
	if (error_code & PFERR_WRITE_MASK)
		vl->write_faults++;
	if (!d) {
		e->faults++;
		if (wp_fault(error_code)) {
			vl->wp_faults++;
			e->wp_faults++;
		}
		return;
	}
	/* Timed (--fault-latency): the vCPU's line directly. */
	if (wp_fault(error_code))
		vl->wp_faults++;
	ck = e->vcpu_slot;
	cl = bpf_map_lookup_elem(&vcpu_fault_ctr, &ck);
	if (!cl || cl->gen != e->vcpu_gen)
		return;
	{
		struct ks_vcpu_fault_lat *h = bpf_map_lookup_elem(&vcpu_fault_lat, &ck);

		cl->faults++;
		if (wp_fault(error_code))
			cl->wp_faults++;
		cl->fault_ns += d;
		if (h)
			h->lat[log2_bucket(d) & (KS_LAT_BUCKETS - 1)]++;
	}
}

/* The default way in: KVM's kvm_page_fault tracepoint fires once per
 * guest page fault exit it hands to its MMU (NPF/EPT violation, or #PF
 * with shadow paging), with the error code. One program per fault, and
 * no latency: that needs the pair below (--fault-latency). */
SEC("tp_btf/kvm_page_fault")
int BPF_PROG(tp_page_fault, struct kvm_vcpu *vcpu, u64 fault_address,
	     u64 error_code)
{
	/* tp_btf pointer arguments may be NULL as far as the verifier knows. */
	if (vcpu)
		count_fault(vcpu, error_code, 0);
	return 0;
}

/* With --fault-latency: the fault handler timed from entry to exit. Its
 * entry timestamp is in the vCPU task's local storage (not per CPU: the
 * handler may sleep and move), which costs what a second program on the
 * hook costs and more: opt-in (docs/performance.md). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} fault_start SEC(".maps");

SEC("fentry/kvm_mmu_page_fault")
int BPF_PROG(fentry_page_fault)
{
	__u64 *ts;

	if (!traced())
		return 0;
	ts = bpf_task_storage_get(&fault_start, bpf_get_current_task_btf(), NULL,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	else
		drop(KS_DROP_START_TABLE_FULL);
	return 0;
}

SEC("fexit/kvm_mmu_page_fault")
int BPF_PROG(fexit_page_fault, struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa,
	     u64 error_code)
{
	__u64 t0, *ts;

	if (!traced())
		return 0;
	/* 0: the entry was not seen (attached while the handler ran). */
	ts = bpf_task_storage_get(&fault_start, bpf_get_current_task_btf(), NULL, 0);
	if (!ts || !(t0 = *ts))
		return 0;
	*ts = 0;
	count_fault(vcpu, error_code, bpf_ktime_get_ns() - t0 ?: 1);
	return 0;
}

/* --- huge page splits, TLB flushes --------------------------------------- */

/* The tracepoint has no struct kvm: attribute it to the VMM process, whose
 * thread (vCPU or ioctl caller) does the split. */
SEC("tp_btf/kvm_mmu_split_huge_page")
int BPF_PROG(tp_split_huge_page, u64 gfn, u64 spte, int level, int errno)
{
	struct ks_vm_counters *c;
	__u32 lvl = level;

	if (!traced() || errno || lvl >= KS_MAX_LEVEL)
		return 0;
	c = vm_of(NULL);
	if (c)
		c->splits[level_index(lvl)]++;
	return 0;
}

/* --- PML-full exits (Intel PML hosts) ------------------------------------ *
 * With PML the guest takes no fault per page it writes: the CPU logs the
 * page, and every 512 pages the full log makes a VM exit. That exit is the
 * guest's cost of dirty logging, and this tracepoint fires once per such
 * exit (in handle_pml_full), so the program runs once per 512 pages, not
 * once per page or per exit. It gives only the vCPU id: counted for the VMM
 * process, like the splits, and per vCPU id in vcpu_pml. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KS_MAX_VCPU_ENTRIES);
	__type(key, struct ks_vcpu_key);
	__type(value, __u64);
} vcpu_pml SEC(".maps");

SEC("tp_btf/kvm_pml_full")
int BPF_PROG(tp_pml_full, unsigned int vcpu_id)
{
	struct ks_vcpu_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .vcpu_id = vcpu_id };
	struct ks_vm_counters *c;
	__u64 one = 1, *n;

	if (!traced())
		return 0;
	c = vm_of(NULL);
	if (c)
		c->pml_full++;
	n = bpf_map_lookup_elem(&vcpu_pml, &key);
	if (n) {
		/* One vCPU runs on one thread at a time: no other CPU adds
		 * to its entry meanwhile. */
		(*n)++;
		return 0;
	}
	/* Counted for its VM above either way. */
	if (bpf_map_update_elem(&vcpu_pml, &key, &one, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&vcpu_pml, &key))
		drop(KS_DROP_VCPU_TABLE_FULL);
	return 0;
}

SEC("fentry/kvm_flush_remote_tlbs")
int BPF_PROG(fentry_flush_remote_tlbs, struct kvm *kvm)
{
	struct ks_vm_counters *c;

	if (!traced())
		return 0;
	c = vm_of(kvm);
	if (c)
		c->tlb_flushes++;
	return 0;
}

/* --- binary stats reads ---------------------------------------------------- */

static __always_inline void count_stats_read(ssize_t ret)
{
	struct ks_vm_counters *c;

	if (!traced())
		return;
	/* Reads come from any process; attribute them to the reader. */
	c = vm_of(NULL);
	if (!c)
		return;
	c->stats_reads++;
	if (ret > 0)
		c->stats_read_bytes += ret;
}

/* The VM and vCPU read() handlers rather than their common helper
 * kvm_stats_read(): it has 8 arguments, more than the BPF trampoline of
 * 6.1 kernels can pass to fexit. */
SEC("fexit/kvm_vm_stats_read")
int BPF_PROG(fexit_vm_stats_read, struct file *file, char *user_buffer,
	     size_t size, loff_t *offset, ssize_t ret)
{
	count_stats_read(ret);
	return 0;
}

SEC("fexit/kvm_vcpu_stats_read")
int BPF_PROG(fexit_vcpu_stats_read, struct file *file, char *user_buffer,
	     size_t size, loff_t *offset, ssize_t ret)
{
	count_stats_read(ret);
	return 0;
}

/* --- SEV live-migration guest interface ---------------------------------- */

SEC("tp_btf/kvm_hypercall")
int BPF_PROG(tp_hypercall, unsigned long nr, unsigned long a0,
	     unsigned long a1, unsigned long a2, unsigned long a3)
{
	struct ks_vm_counters *c;

	if (!traced() || nr != KVM_HC_MAP_GPA_RANGE)
		return 0;
	c = vm_of(NULL);
	if (c) {
		c->hypercalls_map_gpa++;
		c->map_gpa_pages += a1; /* a0 = gpa, a1 = npages, a2 = attributes */
	}
	return 0;
}

SEC("tp_btf/kvm_msr")
int BPF_PROG(tp_msr, unsigned int write, u32 ecx, u64 data, bool exception)
{
	struct ks_vm_counters *c;

	if (!traced() || !write || ecx != MSR_KVM_MIGRATION_CONTROL || exception)
		return 0;
	c = vm_of(NULL);
	if (c)
		c->msr_migration_control++;
	return 0;
}

/* --- the kvmscope KVM series' tracepoints (patched kernels) --------------- *
 * tp_btf pointer arguments may be NULL as far as the verifier knows: every
 * one is checked before use. */

/* KVM's decision when logging starts or stops, added to the memslot event
 * that kvm_set_memslot's fexit emits (the tracepoint fires inside it). */
SEC("tp_btf/kvm_mmu_slot_apply_flags")
int BPF_PROG(tp_apply_flags, struct kvm *kvm, const struct kvm_memory_slot *old,
	     const struct kvm_memory_slot *new, enum kvm_mr_change change, unsigned int actions)
{
	struct ks_event *pending;

	if (!traced())
		return 0;
	pending = memslot_pending();
	if (pending)
		pending->actions = actions | KS_ACT_KNOWN;
	return 0;
}

SEC("tp_btf/kvm_mmu_gfn_write_protect")
int BPF_PROG(tp_gfn_write_protect, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     u64 gfn, int min_level, bool rmap_wp, bool tdp_wp)
{
	struct ks_vm_counters *c;
	__u32 lvl = min_level;

	if (!traced() || !kvm || lvl >= KS_MAX_LEVEL)
		return 0;
	c = vm_of(kvm);
	if (!c)
		return 0;
	c->wp_gfn_calls[level_index(lvl)]++;
	if (rmap_wp || tdp_wp)
		c->wp_gfn_protected[level_index(lvl)]++;
	sync_wp_count(lvl, rmap_wp || tdp_wp);
	return 0;
}

SEC("tp_btf/kvm_mmu_slot_write_protect")
int BPF_PROG(tp_slot_write_protect, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     int start_level, bool rmap_wp, bool tdp_wp)
{
	struct ks_event *e;

	if (!traced() || !kvm || !slot)
		return 0;
	/* The tracepoint fires once the slot is done: no duration. */
	e = event_new(KS_EV_SLOT_WRITE_PROTECT, kvm, bpf_ktime_get_ns());
	if (!e)
		return 0;
	event_slot(e, slot);
	e->level = start_level;
	e->result = rmap_wp || tdp_wp;
	submit(e);
	return 0;
}

static __always_inline int rmap_tp(enum ks_event_type type, struct kvm *kvm,
				   const struct kvm_memory_slot *slot,
				   enum kvm_mmu_rmap_reason reason, unsigned long bytes, int ret)
{
	struct ks_event *e;

	if (!traced() || !kvm || !slot)
		return 0;
	e = event_new(type, kvm, bpf_ktime_get_ns());
	if (!e)
		return 0;
	event_slot(e, slot);
	e->bytes = bytes;
	e->result = ret;
	e->change = reason == KVM_RMAP_SHADOW_ROOT ? KS_RMAP_FIRST_SHADOW_ROOT : KS_RMAP_MEMSLOT_CREATE;
	submit(e);
	return 0;
}

SEC("tp_btf/kvm_mmu_rmap_alloc")
int BPF_PROG(tp_rmap_alloc, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     enum kvm_mmu_rmap_reason reason, unsigned long bytes, int ret)
{
	return rmap_tp(KS_EV_RMAP_ALLOC, kvm, slot, reason, bytes, ret);
}

SEC("tp_btf/kvm_mmu_rmap_skip")
int BPF_PROG(tp_rmap_skip, struct kvm *kvm, const struct kvm_memory_slot *slot,
	     enum kvm_mmu_rmap_reason reason, unsigned long bytes, int ret)
{
	return rmap_tp(KS_EV_RMAP_SKIP, kvm, slot, reason, bytes, ret);
}

SEC("tp_btf/kvm_stats_read")
int BPF_PROG(tp_stats_read, struct kvm *kvm, struct kvm_vcpu *vcpu, loff_t pos,
	     size_t size, ssize_t ret)
{
	count_stats_read(ret);
	return 0;
}

/* --- whole VM ioctls: the outer timing ------------------------------------- *
 * One of three ways (tracer/hooks/hooks.c): the ioctl system call (fentry, or the
 * raw_syscalls tracepoints), or kvm_vm_ioctl. */

static __always_inline bool timed_ioctl(unsigned int ioctl)
{
	return ioctl == KVM_GET_DIRTY_LOG_NR || ioctl == KVM_CLEAR_DIRTY_LOG_NR ||
	       ioctl == KVM_SET_USER_MEMORY_REGION_NR || ioctl == KVM_SET_USER_MEMORY_REGION2_NR;
}

/* The calling thread's involuntary context switches so far: those during
 * an ioctl mean its duration includes waiting for a CPU (the VMM's own
 * timing of the call can then be compared with ours only if it was not
 * preempted outside of it). */
static __always_inline __u64 nivcsw(void)
{
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), nivcsw);
}

/* A timed ioctl starts: its entry time, and the thread's preemptions so
 * far (+ 1: finish() says 0 for "not seen"). */
static __always_inline void ioctl_start(void)
{
	struct ks_thread *st = thread_new();

	if (!st)
		return;
	st->t0[H_IOCTL_NIVCSW] = nivcsw() + 1;
	st->held = 0;
	st->t0[H_VM_IOCTL] = bpf_ktime_get_ns();
}

SEC("fentry/kvm_vm_ioctl")
int BPF_PROG(fentry_vm_ioctl, struct file *filp, unsigned int ioctl, unsigned long arg)
{
	if (timed_ioctl(ioctl) && traced())
		ioctl_start();
	return 0;
}

/* The ioctl returns: the held event gets the whole ioctl's start and
 * duration, and goes out. */
static __always_inline void ioctl_done(void)
{
	struct ks_thread *st = thread();
	__u64 t0, n0;

	if (!st)
		return;
	t0 = st->t0[H_VM_IOCTL];
	n0 = st->t0[H_IOCTL_NIVCSW];
	st->t0[H_VM_IOCTL] = st->t0[H_IOCTL_NIVCSW] = 0;
	if (!st->held)
		return;
	st->held = 0;
	/* held is set only inside a timed ioctl: t0 and n0 are known. */
	st->event.ts_ns = t0;
	st->event.dur_ns = bpf_ktime_get_ns() - t0;
	st->event.preempted = (long long)(nivcsw() + 1 - n0);
	submit_copy(&st->event);
}

SEC("fexit/kvm_vm_ioctl")
int BPF_PROG(fexit_vm_ioctl, struct file *filp, unsigned int ioctl, unsigned long arg, long ret)
{
	if (timed_ioctl(ioctl) && traced())
		ioctl_done();
	return 0;
}

/* The same at the system call boundary (raw_syscalls), closer to what the
 * VMM measures around its ioctl(): adds the syscall's dispatch, the file
 * lookup and the LSM hook to the time. x86-64 syscall numbers; 32-bit
 * VMMs are not timed this way. */
#define NR_IOCTL 16

/* These run on every ioctl of the host (every KVM_RUN return included) or,
 * with the tracepoints, on every system call: the command is read from the
 * BTF-typed regs with a plain load (no helper call) and tested first, so
 * anything else costs a load and a few compares. */
static __always_inline unsigned int ioctl_cmd(const struct pt_regs *regs)
{
	return (unsigned int)regs->si;
}

SEC("fentry/__x64_sys_ioctl")
int BPF_PROG(fentry_sys_ioctl, const struct pt_regs *regs)
{
	if (regs && timed_ioctl(ioctl_cmd(regs)) && traced())
		ioctl_start();
	return 0;
}

SEC("fexit/__x64_sys_ioctl")
int BPF_PROG(fexit_sys_ioctl, const struct pt_regs *regs, long ret)
{
	if (regs && timed_ioctl(ioctl_cmd(regs)) && traced())
		ioctl_done();
	return 0;
}

/* --- the ioctls decoded from their arguments --------------------------------- *
 * Where fentry is refused (a kernel's policy: lockdown, an LSM) but the
 * system call tracepoints attach, the memslot and dirty-log ioctls are
 * decoded from what the VMM hands the kernel: the VM from its fd, slot and
 * bitmap from the struct its argument points to, the memslot as it was from
 * KVM's memslots, the outcome from the return value and the bitmap. No
 * program runs inside KVM, so what only its functions tell is missing: the
 * time inside KVM (kvm_ns), write protection by min_level, KVM's lazy/eager
 * decision (tracer/hooks/hooks.c says so for each way). The event is built
 * in the thread's state (ks_thread.event, its arguments in .sys) and copied
 * to the ring buffer once, at the return. */

/* KS_SYS_* of an ioctl timed_ioctl() accepted. */
static __always_inline unsigned int sys_kind(unsigned int cmd)
{
	return cmd == KVM_GET_DIRTY_LOG_NR ? KS_SYS_GET :
	       cmd == KVM_CLEAR_DIRTY_LOG_NR ? KS_SYS_CLEAR : KS_SYS_MEMSLOT;
}

/* The user struct the argument points to, into the thread's state; false
 * if unreadable. */
static __always_inline bool sys_ioctl_args(struct ks_thread *st, unsigned int kind,
					   const void *uarg, __u32 *slot)
{
	struct ks_event *e = &st->event;

	if (kind == KS_SYS_MEMSLOT) {
		/* The first five fields of kvm_userspace_memory_region2 are these. */
		struct kvm_userspace_memory_region r;

		if (bpf_probe_read_user(&r, sizeof(r), uarg))
			return false;
		e->type = KS_EV_MEMSLOT_COMMIT;
		*slot = r.slot;
		e->new_flags = r.flags;
		st->sys.new_base_gfn = r.guest_phys_addr >> 12;
		st->sys.new_npages = r.memory_size >> 12;
	} else if (kind == KS_SYS_GET) {
		struct kvm_dirty_log l;

		if (bpf_probe_read_user(&l, sizeof(l), uarg))
			return false;
		e->type = KS_EV_GET_DIRTY_LOG;
		*slot = l.slot;
		st->sys.bitmap = (__u64)l.dirty_bitmap;
	} else {
		struct kvm_clear_dirty_log l;

		if (bpf_probe_read_user(&l, sizeof(l), uarg))
			return false;
		e->type = KS_EV_CLEAR_DIRTY_LOG;
		*slot = l.slot;
		e->first_page = l.first_page;
		e->num_pages = l.num_pages;
		st->sys.bitmap = (__u64)l.dirty_bitmap;
	}
	return true;
}

/* Entry of a decoded ioctl on a VM fd: what it asks, kept until it returns. */
static __always_inline void sys_ioctl_enter(unsigned int kind, int fd, const void *uarg)
{
	struct kvm *kvm = ks_vm_of_fd(fd);
	struct kvm_memory_slot *ms;
	struct ks_thread *st;
	struct ks_event *e;
	__u32 slot = 0;

	if (!kvm || !(st = thread_new()))
		return;
	e = &st->event;
	st->sys_on = 0;
	event_init(e, KS_EV_MEMSLOT_COMMIT, kvm, 0);
	__builtin_memset(&st->sys, 0, sizeof(st->sys));
	if (!sys_ioctl_args(st, kind, uarg, &slot))
		return;
	e->slot = slot & 0xffff;
	e->as_id = slot >> 16;
	e->kvm_ns = KS_NS_UNKNOWN;
	/* The slot as KVM has it now: its size, for a memslot ioctl what it
	 * changes (KVM's own test of old against new, at exit). */
	ms = ks_memslot_find(kvm, slot >> 16, slot & 0xffff);
	if (ms) {
		st->sys.old_npages = BPF_CORE_READ(ms, npages);
		st->sys.old_base_gfn = BPF_CORE_READ(ms, base_gfn);
		st->sys.old_flags = BPF_CORE_READ(ms, flags);
	}
	e->npages = st->sys.old_npages;
	st->sys.nivcsw = nivcsw() + 1;
	st->sys_on = 1;
	/* Last: the decoding above is kvmscope's time, not the ioctl's. */
	e->ts_ns = bpf_ktime_get_ns();
}

/* What a successful memslot ioctl changed, as kvm_set_memory_region()
 * decides it; false if nothing (KVM then calls no kvm_set_memslot(), and
 * the fentry way sees no update either). */
static __always_inline bool sys_memslot_change(struct ks_event *e, const struct sys_args *a)
{
	if (!a->new_npages) {
		e->change = KVM_MR_DELETE;
		e->new_flags = 0;
		e->old_flags = a->old_flags;
		/* A deleted slot is described by what it was. */
		return a->old_npages != 0;
	}
	e->npages = a->new_npages;
	e->base_gfn = a->new_base_gfn;
	if (!a->old_npages) {
		e->change = KVM_MR_CREATE;
		return true;
	}
	e->old_flags = a->old_flags;
	if (a->new_base_gfn != a->old_base_gfn)
		e->change = KVM_MR_MOVE;
	else if (e->new_flags != a->old_flags)
		e->change = KVM_MR_FLAGS_ONLY;
	else
		return false;
	return true;
}

/* The decoded ioctl returns: its event, with the pages of its bitmap. */
static __always_inline void sys_ioctl_exit(long ret)
{
	__u64 t1 = bpf_ktime_get_ns(), n1 = nivcsw() + 1, nbits;
	struct ks_thread *st = thread();
	struct fault_totals ft;
	struct ks_event *e;
	long long pages = -1;

	if (!st || !st->sys_on)
		return;
	st->sys_on = 0;
	e = &st->event;
	if (e->type == KS_EV_MEMSLOT_COMMIT) {
		/* A failed update changed nothing (and most failures are
		 * KVM's checks of the arguments, before any update). */
		if (ret || !sys_memslot_change(e, &st->sys))
			return;
		slot_pages_note(e, e->change);
		pages = 0;
	} else if (!ret) {
		/* GET: the bitmap KVM just copied out, what the VMM sees as
		 * dirty; CLEAR: the pages it handed back to re-protect. */
		nbits = e->type == KS_EV_GET_DIRTY_LOG ? e->npages : e->num_pages;
		if (nbits)
			pages = count_bits((const void *)st->sys.bitmap, nbits);
	}
	fault_totals((struct kvm *)e->kvm, &ft);
	e->dur_ns = t1 - e->ts_ns;
	e->result = ret;
	e->pages = pages;
	e->preempted = (long long)(n1 - st->sys.nivcsw);
	e->wp_faults_total = ft.wp_faults;
	e->faults_total = ft.faults;
	submit_copy(e);
}

/* The ioctl system call's two ends, through the raw_syscalls tracepoints
 * (they fire for every system call of the host: anything but an ioctl
 * costs a compare). They decode the ioctls of sys_decode, and with
 * sys_time time the events KVM's functions held (ioctl_time). */
SEC("tp_btf/sys_enter")
int BPF_PROG(tp_sys_enter_ioctl, struct pt_regs *regs, long id)
{
	unsigned int cmd;

	if (id != NR_IOCTL || !regs)
		return 0;
	cmd = ioctl_cmd(regs);
	if (!timed_ioctl(cmd) || !traced())
		return 0;
	if (sys_decode & sys_kind(cmd))
		sys_ioctl_enter(sys_kind(cmd), (int)regs->di, (const void *)regs->dx);
	else if (sys_time)
		ioctl_start();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tp_sys_exit_ioctl, struct pt_regs *regs, long ret)
{
	unsigned int cmd;

	if (!regs || regs->orig_ax != NR_IOCTL)
		return 0;
	cmd = ioctl_cmd(regs);
	if (!timed_ioctl(cmd) || !traced())
		return 0;
	if (sys_decode & sys_kind(cmd))
		sys_ioctl_exit(ret);
	else if (sys_time)
		ioctl_done();
	return 0;
}

/* Page-size statistics updates: summed, they must equal pages_4k/2m/1g.
 * Zapping can run in a kernel worker, so the VM is named by the process
 * that created it (kvm->userspace_pid), not by the current task. */
SEC("tp_btf/kvm_mmu_page_stats")
int BPF_PROG(tp_page_stats, struct kvm *kvm, int level, int delta)
{
	struct ks_vm_counters *c;
	__u32 lvl = level;

	if (!kvm || lvl >= KS_MAX_LEVEL)
		return 0;
	if (filter_tgid && BPF_CORE_READ(kvm, userspace_pid) != filter_tgid)
		return 0;
	c = vm_of_pid(kvm, BPF_CORE_READ(kvm, userspace_pid));
	if (c)
		c->page_delta[level_index(lvl)] += (__u64)(__s64)delta;
	return 0;
}
