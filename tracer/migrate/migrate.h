/* SPDX-License-Identifier: GPL-2.0 */
/* State of `kvmscope migrate`: what it knows of each traced VMM. */
#ifndef KS_MIGRATE_H
#define KS_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "kvmscope.h"
#include "lib/selfcpu.h"
#include "lib/trace_chrome.h"
#include "kvm/vmstats.h"

#define KS_MAX_SLOTS 128
#define KS_MAX_TRACKED 256

#define KS_MAX_KVM_PER_VMM 8

/* One memslot as seen through its dirty-logging lifecycle. */
struct ks_slot {
	bool used;
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
	bool trace_span;                 /* --trace: its logging span is open */
};

/* One vCPU's faults, summed over CPUs: now and at the last interval. */
struct ks_vcpu_stat {
	int id;
	struct ks_vcpu_faults total, last;
	/* Without the fault program: its stats fd's pf_taken and pf_fast when
	 * first read, the zero of its totals (ks_migrate_stats_faults). */
	uint64_t base_faults, base_wp_faults;
};

struct ks_vm {
	bool used, active;
	pid_t pid;
	char comm[64];
	bool have_stats;
	bool stats_baseline;      /* compared from a boundary sampled settled on */
	struct ks_vmstats st;
	uint64_t found_ts, exit_ts;
	struct ks_slot slots[KS_MAX_SLOTS];
	struct ks_vm_counters total, last;  /* counters now, at the last interval */
	/* None of the counters compared with the stats (TLB flushes, faults,
	 * page-size updates) moved between the reads of the counters and of
	 * the stats, now and at the last interval (sample_settled()). */
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
	/* Without the fault program: the VM's faults (pf_taken) and
	 * write-protect faults fixed in KVM's fast path (pf_fast) since its
	 * stats were first read, summed over its vCPUs; known once a sample
	 * was summed (ks_migrate_stats_faults), from the values then. */
	uint64_t stat_faults, stat_wp_faults;
	uint64_t stat_base_faults, stat_base_wp_faults;
	bool stat_faults_known;
	/* Found by the command's first scan of /proc: its VM may have run
	 * before tracing began (else kvmscope saw it from its creation). */
	bool preexisting;
	/* Per vCPU, by vCPU id, as seen in faults (grown as needed). */
	struct ks_vcpu_stat *vcpus;
	int nvcpus, vcpus_alloc;
	bool trace_named;         /* --trace: process and tracks named */
	uint64_t trace_stats_ns;  /* --trace: last stats sample written */
	/* struct kvm addresses its events came from (a VMM may create more
	 * than one VM): the keys of its entries in the kernel maps. */
	uint64_t kvm[KS_MAX_KVM_PER_VMM];
	int nkvm;
	/* Counter events lost because the kernel's VM table was full (the
	 * untracked map); once non-zero its counters are not tracked. */
	uint64_t untracked;
};

struct ks_migrate {
	bool json;
	FILE *out;                /* NULL: keep state, print nothing (export) */
	uint64_t start_ns;
	struct ks_cpu cpu_start;  /* the tracer's CPU at start_ns (loading included) */
	int nvm;
	struct ks_vm vms[KS_MAX_TRACKED];
	uint64_t drops[KS_DROP_MAX];
	int filter_pid;
	bool output_failed;
	/* Faults are counted by a program on the fault path (--fault-program,
	 * --fault-latency, or the fallback where KVM's stats cannot be read);
	 * else from KVM's per-vCPU stats: per event by the dirty-log programs,
	 * per interval from the stats samples. */
	bool fault_program;
	bool fault_latency;       /* faults come through fentry/fexit: timed */
	bool fault_latency_asked; /* --fault-latency was given */
	bool page_stats;          /* page-size stats updates are traced (series) */
	bool gfn_wp;              /* write protection by min_level is traced */
	struct ks_trace *trace;   /* --trace FILE, or NULL */
	/* The loaded programs (NULL without BPF), and the VMs their tables
	 * hold (--max-vms), for the untracked checks. */
	struct migrate_bpf *skel;
	unsigned int max_vms;
	int untracked_vms;        /* VMs whose counters found it full, so far */
};
/* The summary of one VM (vm_summary record, or its text block): printed
 * when the VM goes away, so its slot can be reused. */
void ks_migrate_report_vm_summary(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns);

struct migrate_bpf;

struct ks_vm *ks_migrate_vm(struct ks_migrate *m, pid_t pid, bool create);
/* The vCPU's entry in vm->vcpus, added if new; NULL when out of memory. */
struct ks_vcpu_stat *ks_migrate_vcpu(struct ks_vm *vm, int id);
void ks_migrate_vm_free(struct ks_vm *vm);
/* Sums the per-CPU VM and vCPU counters of the kernel maps into each
 * active VM's totals, and the drop counters into m->drops
 * (tracer/migrate_counters.c). */
void ks_migrate_read_counters(struct ks_migrate *m, struct migrate_bpf *skel);
/* Without the fault program: sets the VM's fault totals (and its vCPUs')
 * from its last stats sample: pf_taken and pf_fast summed over its vCPUs,
 * less their values at its first sample for a VM found running when
 * tracing began (vm->preexisting; else KVM's counts from the VM's
 * creation are all since tracing began). Values, not deltas: a VMM first
 * read through debugfs (which sums only the vCPUs that existed then) and
 * later through its stats fds loses nothing. Call after each sample. */
void ks_migrate_stats_faults(struct ks_migrate *m, struct ks_vm *vm);
/* Are the VM's fault counts known? (the program's, unless its VM table was
 * full; KVM's stats, once summed). Else they are reported as null. */
bool ks_migrate_faults_known(const struct ks_migrate *m, const struct ks_vm *vm);
/* Its two halves: the VM counters and drops; the vCPU fault counters. */
void ks_migrate_read_vm_counters(struct ks_migrate *m, struct migrate_bpf *skel);
void ks_migrate_read_vcpu_faults(struct ks_migrate *m, struct migrate_bpf *skel);
/* Names of the drop counters (KS_DROP_*), as reported (migrate_report.c). */
extern const char *const ks_drop_names[];
/* Has this VMM's counters found the kernel's VM table full? Looks it up
 * (once it is, it stays so) and says so once on stderr. */
bool ks_migrate_untracked(struct ks_migrate *m, struct ks_vm *vm);
/* Deletes a VMM's entries from the kernel maps so they do not fill up. */
void ks_migrate_forget_in_kernel(struct migrate_bpf *skel, struct ks_vm *vm);
/* Notes a struct kvm address a VMM's events came from (its map keys). */
void ks_migrate_remember_kvm(struct ks_vm *vm, uint64_t kvm);
/* Handles one ring-buffer event (memslot, sync, write protect, rmap). */
void ks_migrate_event(struct ks_migrate *m, const struct ks_event *e);
/* Prints one interval (each active VM) and the final summary. */
void ks_migrate_report_interval(struct ks_migrate *m, uint64_t now_ns);
void ks_migrate_report_vm_interval(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns);
void ks_migrate_report_vm(struct ks_migrate *m, struct ks_vm *vm, const char *what, uint64_t now_ns);
void ks_migrate_report_summary(struct ks_migrate *m, uint64_t now_ns);
struct ks_json;
/* key: {"4k": v[1], "2m": v[2], "1g": v[3]} */
void ks_migrate_json_levels(struct ks_json *j, const char *key, const unsigned long long *v);
/* A get/clear's fields, shared by its JSON line and its trace slice: op,
 * slot, iteration, KVM's time, write-protect faults and faults, pages, result, and
 * write protection by min_level (null if not counted). */
void ks_migrate_json_sync(struct ks_json *j, const struct ks_migrate *m, const struct ks_slot *s,
			  const struct ks_event *e, uint64_t iteration, int64_t wp_faults,
			  int64_t faults);

#endif
