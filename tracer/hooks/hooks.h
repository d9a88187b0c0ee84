/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every metric kvmscope reports, and the ways into the kernel that can
 * produce it, best first: the tracepoints of kvmscope's KVM series, then
 * fentry/fexit on KVM functions, then KVM's existing tracepoints or the
 * ioctl system call's (kernels that refuse fentry by policy). The choice
 * is made at load time from what the running kernel has (tracer/lib/probe).
 */
#ifndef KS_HOOKS_H
#define KS_HOOKS_H

#include <stdbool.h>
#include "lib/probe.h"

enum ks_way_kind {
	KS_WAY_NEW_TP,  /* tracepoint added by kernel/patches */
	KS_WAY_FENTRY,  /* fentry/fexit on a KVM function */
	KS_WAY_TP,      /* an existing kvm/kvmmmu tracepoint (tp_btf) */
	KS_WAY_SYSCALL, /* the ioctl decoded from its user arguments at the
			 * system call tracepoints (raw_syscalls sys_enter/
			 * sys_exit): for kernels that refuse fentry */
	KS_WAY_KSTATS,  /* KVM's own per-vCPU stats (struct target), read by
			 * the dirty-log and memslot programs of other hooks
			 * (bpf/vcpu_stats.bpf.h): no program of its own */
};

/* The options that ask for opt-in ways. --fault-latency implies
 * --fault-program (timing faults takes a program on the fault path). */
enum ks_way_opt {
	KS_OPT_FAULT_PROGRAM = 1,  /* --fault-program */
	KS_OPT_FAULT_LATENCY = 2,  /* --fault-latency */
};

#define KS_MAX_WAYS 3
#define KS_MAX_PROGS 3

struct ks_way {
	enum ks_way_kind kind;
	const char *target;                 /* function or tracepoint name */
	const char *progs[KS_MAX_PROGS];    /* programs in migrate.bpf.c; none yet = not implemented */
	const char *limits;                 /* what this way cannot report, or NULL */
};

/* Every metric, in the order of ks_hooks[] (and of check's list, the JSON
 * `attached` record's hooks and export's kvmscope_bpf_metric_available). */
enum ks_metric {
	KS_M_LOG_FLAGS,
	KS_M_SLOT_WRITE_PROTECT,
	KS_M_GFN_WRITE_PROTECT,
	KS_M_GET_DIRTY_LOG,
	KS_M_IOCTL_TIME,
	KS_M_CLEAR_DIRTY_LOG,
	KS_M_FAULTS,
	KS_M_SPLITS,
	KS_M_TLB_FLUSHES,
	KS_M_RMAP_ALLOC,
	KS_M_STATS_READS,
	KS_M_PAGE_STATS,
	KS_M_MAP_GPA_RANGE,
	KS_M_MIGRATION_CONTROL,
	KS_M_VM_CREATE,
	KS_M_VM_RELEASE,
	KS_M_PML_FULL,
	KS_NR_METRICS
};

struct ks_hook {
	const char *metric;                 /* its name in output */
	const char *what;
	bool required;                      /* tracing is pointless without it */
	struct ks_way ways[KS_MAX_WAYS];
};

extern const struct ks_hook ks_hooks[KS_NR_METRICS];

/* Outcome of the choice for one hook. */
struct ks_choice {
	int way;                 /* index into ways[], -1 if none usable */
	const char *why_not[KS_MAX_WAYS]; /* per way: NULL if usable, else why not */
	const char *where[KS_MAX_WAYS];   /* BTF the target was found in */
};

const char *ks_way_kind_name(enum ks_way_kind kind);
/* The option that asks for this way (KS_OPT_*), or 0 for an ordinary way.
 * Without its option an opt-in way is only a fallback for its hook; with
 * it, it goes first. */
unsigned int ks_way_opt_in(const struct ks_way *w);
/* The option's name, for messages ("--fault-latency"). */
const char *ks_way_opt_name(unsigned int opt);
/* Chooses a way for every hook; opts: the KS_OPT_* asked for. Returns the
 * number of required hooks with no usable way (0 = tracing can work). */
int ks_hooks_choose(const struct ks_probe *p, struct ks_choice *choices, unsigned int opts);
/* The required metrics without a usable way, for the one line that says
 * why tracing cannot start: "name (target), name (target): why; ...", each
 * with its last ordinary way, grouped by why that is unusable; cut to len.
 * Returns buf. */
const char *ks_hooks_missing(const struct ks_choice *choices, char *buf, size_t len);
/* The metric called `name` in output, or -1. */
int ks_hook_index(const char *name);
/* Is metric m's chosen way of this kind? */
bool ks_hook_uses(const struct ks_choice *choices, enum ks_metric m, enum ks_way_kind kind);

/* What the ways chosen (and attached) give the commands, computed once
 * from the choices (ks_caps_of) so no command re-derives it. */
struct ks_caps {
	bool have[KS_NR_METRICS];     /* a way of the metric is in use */
	bool fault_program;           /* faults counted by a program on the fault path */
	bool fault_latency;           /* ... through fentry/fexit, so timed */
	bool page_stats;              /* page-size stats updates traced (series) */
	bool gfn_wp;                  /* write protection by min_level traced */
	bool vm_events;               /* VM creation and release both traced */
	bool rmap_avoided;            /* series kernel: rmaps not allocated reported */
	unsigned int sys_decode;      /* KS_SYS_* (bpf/kvmscope.h): the ioctls decoded
				       * from their arguments at the system call */
	/* How this host logs dirty pages (lib/vendor.h), and what that leaves
	 * measured of the guest's cost (hooks/guestcost.h says why). */
	enum ks_dirty_mech dirty;
	bool wp_faults;               /* write-protect faults counted, all of them */
	bool pml_full;                /* PML-full exits counted (PML hosts) */
};
void ks_caps_of(const struct ks_choice *choices, const struct ks_vendor *v,
		struct ks_caps *caps);

#endif
