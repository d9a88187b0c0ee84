/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The migrate model: what kvmscope knows of each traced VMM (VMs, memslots,
 * vCPUs, the kernel's counters, events lost), shared by `migrate` and
 * `export`. It knows nothing of output: applying a ring-buffer event
 * changes it and returns what changed (struct ks_change); closing an
 * interval computes the interval's figures (struct ks_interval) and
 * advances it. Outputs are sinks (sink.h) that read it; the VMM session
 * (session/session.h) drives it.
 *
 *   model.c      VM, memslot and vCPU tables; events applied; faults from
 *                KVM's stats; the figures of a VM's summary
 *   interval.c   an interval closed: counter deltas, the comparisons with
 *                KVM's stats (docs/overhead.md), vCPU time lost
 *   counters.c   the kernel maps' counters folded in; a VMM's entries in
 *                them forgotten (the only part that touches BPF)
 */
#ifndef KS_MODEL_H
#define KS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "kvmscope.h"
#include "lib/selfcpu.h"
#include "kvm/vmstats.h"
#include "hooks/hooks.h"

#define KS_MAX_KVM_PER_VMM 8
/* VMMs tracked at once (docs/reliability.md): a VMM beyond them is not. */
#define KS_MAX_TRACKED 256

/* One memslot as seen through its dirty-logging lifecycle. */
struct ks_slot {
	unsigned int id, as_id;
	uint64_t npages, base_gfn;
	uint32_t flags;
	bool logging;
	uint64_t log_on_ts, log_on_ns;   /* when logging started, cost of the memslot ioctl */
	uint64_t log_off_ts, log_off_ns;
	bool eager_wp;                   /* whole-slot write protect seen at start */
	unsigned int start_actions;      /* KVM's decision at start (KS_ACT_*), 0 if unknown */
	uint64_t eager_wp_ns;
	uint64_t iteration;              /* KVM_GET_DIRTY_LOG calls since logging started */
	uint64_t n_get, get_ns, dirty_pages;
	uint64_t n_clear, clear_ns, cleared_pages;
	uint64_t rmap_allocs, rmap_bytes, rmap_ns;
	uint64_t rmap_avoided_bytes;     /* series kernels: rmaps not allocated */
};

/* One vCPU's faults, summed over CPUs: now and at the last interval. */
struct ks_vcpu_stat {
	int id;
	struct ks_vcpu_faults total, last;
	/* Without the fault program: its stats fd's pf_taken and pf_fast when
	 * first read, the zero of its totals (ks_model_stats_faults). */
	uint64_t base_faults, base_wp_faults;
	/* Faults its intervals reported beyond its count (ks_faults_at_least). */
	uint64_t faults_ahead;
};

struct ks_vm {
	bool used, active;
	/* Its place in the table, and a number no other VM of the run has:
	 * what sinks key their own per-VM state by. */
	int index;
	uint64_t serial;
	pid_t pid;
	char comm[64];
	bool have_stats;
	bool stats_baseline;      /* compared from a boundary sampled settled on */
	struct ks_vmstats st;
	uint64_t found_ts, exit_ts;
	/* Memslots in the order first seen; never removed, grown as needed
	 * (no limit: a VMM with memory hotplug may have hundreds). */
	struct ks_slot *slots;
	int nslots, slots_alloc;
	struct ks_vm_counters total, last;  /* counters now, at the last interval */
	/* None of the counters compared with the stats (TLB flushes, faults,
	 * page-size updates) moved between the reads of the counters and of
	 * the stats, now and at the last interval (ks_session_sample()). */
	bool settled, settled_prev;
	/* host time in dirty-log ioctls, for the overhead figure */
	uint64_t host_ns_interval, host_ns_total;
	uint64_t syncs_interval;
	uint64_t last_report_ns;
	struct ks_cpu cpu_last;   /* the tracer's CPU at that report */
	int vcpus_seen;           /* vCPU fds when last scanned, kept after exit */
	/* Write-protect faults and faults at the VM's last dirty-log or
	 * memslot event (ks_event.wp_faults_total, faults_total) and the
	 * struct kvm they were read from. */
	uint64_t wp_mark, fault_mark, wp_mark_kvm;
	/* Faults its intervals, and its dirty-log and memslot events, reported
	 * beyond its count so far (ks_faults_at_least). */
	uint64_t iv_faults_ahead, ev_faults_ahead;
	/* Without the fault program: the VM's faults (pf_taken) and
	 * write-protect faults fixed in KVM's fast path (pf_fast) since its
	 * stats were first read, summed over its vCPUs; known once a sample
	 * was summed (ks_model_stats_faults), from the values then. */
	uint64_t stat_faults, stat_wp_faults;
	uint64_t stat_base_faults, stat_base_wp_faults;
	bool stat_faults_known;
	/* Found by the command's first scan of /proc: its VM may have run
	 * before tracing began (else kvmscope saw it from its creation). */
	bool preexisting;
	/* Per vCPU, by vCPU id, as seen in faults (grown as needed). */
	struct ks_vcpu_stat *vcpus;
	int nvcpus, vcpus_alloc;
	/* struct kvm addresses its events came from (a VMM may create more
	 * than one VM): the keys of its entries in the kernel maps. */
	uint64_t kvm[KS_MAX_KVM_PER_VMM];
	int nkvm;
	/* Counter events lost because the kernel's VM table was full (the
	 * untracked map); once non-zero its counters are not tracked. */
	uint64_t untracked;
};

struct ks_model {
	uint64_t start_ns;
	struct ks_cpu cpu_start;  /* the tracer's CPU at start_ns (loading included) */
	int vms_seen;             /* VMs tracked since the start */
	/* The VM table, grown as needed up to KS_MAX_TRACKED entries; entries
	 * are reused once a VM is forgotten, their index stays. */
	struct ks_vm **vms;
	int vms_alloc;
	uint64_t next_serial;
	uint64_t drops[KS_DROP_MAX];
	int filter_pid;
	/* Faults are counted by a program on the fault path (--fault-program,
	 * --fault-latency, or the fallback where KVM's stats cannot be read);
	 * else from KVM's per-vCPU stats: per event by the dirty-log programs,
	 * per interval from the stats samples. */
	bool fault_program;
	bool fault_latency;       /* faults come through fentry/fexit: timed */
	bool fault_latency_asked; /* --fault-latency was given */
	bool page_stats;          /* page-size stats updates are traced (series) */
	bool gfn_wp;              /* write protection by min_level is traced */
	/* Metrics with no way in on this kernel (e.g. fentry refused): their
	 * figures are null, never a 0 that reads as measured, and are not
	 * compared with KVM's stats. */
	bool unavailable[KS_NR_METRICS];
	/* Every write-protect fault is counted (ks_caps.wp_faults): false
	 * where this host logs dirty pages without them (PML) or fixes them
	 * where KVM's stats do not look (shadow paging) and no program on the
	 * fault path counts them. Then wp_faults is null, never 0. */
	bool wp_faults_measured;
	/* The host logs dirty pages with PML (then the guest's write cost is
	 * its PML-full exits: pml_full_exits in the JSON lines), and whether
	 * they are counted (else null). */
	bool pml_host;
	bool pml_full;
	unsigned int max_vms;     /* the kernel's VM tables (--max-vms) */
	int untracked_vms;        /* VMs whose counters found them full, so far */
	/* Has this VMM's counters found the kernel's VM table full? Asked
	 * where an event's faults depend on it (counters.c answers; NULL:
	 * what vm->untracked says). */
	bool (*untracked)(struct ks_model *m, struct ks_vm *vm, void *ctx);
	void *untracked_ctx;
};

/* Every VM of the table in use, in table order. */
#define ks_model_for_each_vm(m, i, vm) \
	for (int i = 0; i < (m)->vms_alloc; i++) \
		if (((vm) = (m)->vms[i]) && (vm)->used)

void ks_model_init(struct ks_model *m);
/* What the attached ways give (the loader's caps): fault latency, page
 * stats, write protection by min_level, the metrics unavailable. */
void ks_model_caps(struct ks_model *m, const struct ks_caps *caps);
/* Is metric k traced (it has a way in)? */
bool ks_model_has(const struct ks_model *m, enum ks_metric k);
/* Frees every VM (closing no stats fds: the session does). */
void ks_model_free(struct ks_model *m);
/* The active VM of process pid, or NULL. */
struct ks_vm *ks_model_vm(const struct ks_model *m, pid_t pid);
/* ... added if new (its name read from /proc); NULL if the table is full
 * (KS_MAX_TRACKED) or memory ran out. */
struct ks_vm *ks_model_vm_add(struct ks_model *m, pid_t pid);
/* VMs in the table now. */
int ks_model_live_vms(const struct ks_model *m);
/* Forgets a VM: its entry is free for the next. */
void ks_model_vm_forget(struct ks_model *m, struct ks_vm *vm);
/* State that a sink or the session keeps of each VM, beside the model:
 * an array by VM table index (*arr, *n elements of size bytes), each
 * element starting with a uint64_t, the serial of its VM. Returns vm's
 * element, grown as needed, zeroed (after reset(), if given) if it held
 * another VM's state; NULL if out of memory. */
void *ks_vm_side(void *arr, int *n, size_t size, const struct ks_vm *vm,
		 void (*reset)(void *elem));
/* vm's element if the array holds one, else NULL. */
const void *ks_vm_side_get(const void *arr, int n, size_t size, const struct ks_vm *vm);
/* The vCPU's entry in vm->vcpus, added if new; NULL when out of memory. */
struct ks_vcpu_stat *ks_model_vcpu(struct ks_vm *vm, int id);
/* Notes a struct kvm address a VMM's events came from (its map keys). */
void ks_model_remember_kvm(struct ks_vm *vm, uint64_t kvm);

/* What applying one ring-buffer event changed. */
enum ks_change_kind {
	KS_CH_MEMSLOT = 1,   /* a memslot created/changed/deleted */
	KS_CH_SYNC,          /* KVM_GET_DIRTY_LOG or KVM_CLEAR_DIRTY_LOG */
	KS_CH_SLOT_WP,       /* whole-slot write protect */
	KS_CH_RMAP,          /* rmap arrays allocated */
	KS_CH_RMAP_SKIP,     /* a memslot made without rmaps (series) */
	KS_CH_VM_CREATE,     /* a VM created (nothing else changed) */
	KS_CH_VM_RELEASE,    /* a VM fd released (nothing else changed) */
};
enum ks_logging { KS_LOG_UNCHANGED, KS_LOG_ON, KS_LOG_OFF };

struct ks_change {
	enum ks_change_kind kind;
	const struct ks_event *e;
	struct ks_vm *vm;
	struct ks_slot *slot;     /* NULL for the VM kinds */
	/* KS_CH_SYNC: the dirty-log iteration (GETs since logging started; a
	 * CLEAR belongs to the GET before it). */
	uint64_t iteration;
	/* KS_CH_MEMSLOT and KS_CH_SYNC: write-protect faults and faults since
	 * the VM's previous dirty-log or memslot event (-1 unknown). */
	int64_t wp_faults, faults;
	enum ks_logging logging;  /* KS_CH_MEMSLOT */
	uint64_t rmap_bytes;      /* KS_CH_RMAP */
};

/* Applies one event: false if it changed nothing (another process than
 * the one traced, a release of a VM not tracked, no memory), else true
 * with *c saying what changed. Either way c->vm is the VM of the event's
 * process, if tracked (NULL otherwise). */
bool ks_model_apply(struct ks_model *m, const struct ks_event *e, struct ks_change *c);

/* Without the fault program: sets the VM's fault totals (and its vCPUs')
 * from its last stats sample: pf_taken and pf_fast summed over its vCPUs,
 * less their values at its first sample for a VM found running when
 * tracing began (vm->preexisting; else KVM's counts from the VM's
 * creation are all since tracing began). Values, not deltas: a VMM first
 * read through debugfs (which sums only the vCPUs that existed then) and
 * later through its stats fds loses nothing. Call after each sample. */
void ks_model_stats_faults(struct ks_model *m, struct ks_vm *vm);
/*
 * The faults of a span (an interval, or the iteration a dirty-log event
 * ends), never fewer than its write-protect faults. KVM adds a fault to
 * pf_taken when it starts handling it and to pf_fast when its fast path
 * has fixed it, so a fault under way when the counters are read (one per
 * vCPU at most) is in the faults of the span before and in the
 * write-protect faults of the span after: a span whose every fault was a
 * fast-path fix can show more of those than faults. Such a fault is
 * counted again in the span that fixed it; *ahead keeps how many faults
 * the spans so far reported beyond the counter's, and later spans report
 * up to that many fewer, never below their write-protect faults. Returns
 * the faults to report.
 */
uint64_t ks_faults_at_least(uint64_t faults, uint64_t wp_faults, uint64_t *ahead);
/* Are the VM's fault counts known? (the program's, unless its VM table was
 * full; KVM's stats, once summed). Else they are reported as null. */
bool ks_model_faults_known(const struct ks_model *m, const struct ks_vm *vm);

/* Names of the drop counters (KS_DROP_*), as reported. */
extern const char *const ks_drop_names[];
/* Events lost, all reasons. */
uint64_t ks_model_lost(const struct ks_model *m);

/* A comparison between what the events say and what KVM's own statistics
 * say over the same interval (interval.c says which and how). */
enum ks_relation { KS_REL_EQUAL, KS_REL_WITHIN, KS_REL_INFO, KS_REL_EXACT, KS_REL_SIGNED_INFO };
extern const char *const ks_relation_names[];

struct ks_agreement {
	const char *events;       /* what kvmscope counted */
	const char *stat;         /* the KVM statistic */
	uint64_t seen;            /* KS_REL_EXACT, SIGNED_INFO: signed, two's complement */
	int64_t stat_delta;
	bool found;               /* the stat exists */
	enum ks_relation rel;
	bool agree;
};

#define KS_MAX_AGREEMENTS 12

/* One VM's interval, closed: from now_ns - dt_ns to now_ns. */
struct ks_interval {
	const struct ks_vm *vm;
	uint64_t now_ns, dt_ns;
	struct ks_cpu cpu;        /* the tracer's CPU over it */
	struct ks_vm_counters dc; /* the counters' change */
	uint64_t syncs, host_ns;  /* GETs and time in dirty-log ioctls */
	int nvcpu;                /* vCPU fds when last scanned */
	double lost_pct;          /* vCPU time in faults, of nvcpu vCPUs */
	bool settled;             /* its end was sampled settled */
	struct ks_agreement a[KS_MAX_AGREEMENTS];
	int na;
	/* Per vCPU in id order: its faults' change (NULL if out of memory). */
	struct ks_vcpu_faults *vcpu_delta;
	int *vcpu_id;
	int nvcpus;
};

/* Closes the VM's interval at now_ns (cpu: the tracer's CPU then) into
 * *iv, and starts the next: counters at the last interval become those of
 * now. ks_interval_free() frees what *iv holds. */
void ks_model_close_interval(struct ks_model *m, struct ks_vm *vm, uint64_t now_ns,
			     struct ks_cpu cpu, struct ks_interval *iv);
void ks_interval_free(struct ks_interval *iv);

/* A VM's overhead over its dirty-logging window (docs/overhead.md), for
 * its summary. */
struct ks_overhead {
	uint64_t window;          /* first logging start to last stop (or now/exit) */
	int nvcpu;
	double host_pct;          /* time in dirty-log ioctls over the window */
	double guest_pct;         /* vCPU time in faults over the vCPU time of the window */
};
void ks_model_overhead(const struct ks_vm *vm, uint64_t now_ns, struct ks_overhead *o);

#endif
