/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every metric kvmscope reports, and the ways into the kernel that can
 * produce it, best first: the tracepoints of kvmscope's KVM series, then
 * fentry/fexit on KVM functions, then KVM's existing tracepoints. The choice
 * is made at load time from what the running kernel has (tracer/common/probe).
 */
#ifndef KS_HOOKS_H
#define KS_HOOKS_H

#include <stdbool.h>
#include "lib/probe.h"

enum ks_way_kind {
	KS_WAY_NEW_TP,  /* tracepoint added by kernel/patches */
	KS_WAY_FENTRY,  /* fentry/fexit on a KVM function */
	KS_WAY_TP,      /* an existing kvm/kvmmmu tracepoint (tp_btf) */
	KS_WAY_KSTATS,  /* KVM's own per-vCPU stats (struct target), read by
			 * the dirty-log and memslot programs of other hooks
			 * (bpf/vcpu_stats.bpf.h): no program of its own */
};

#define KS_MAX_WAYS 3
#define KS_MAX_PROGS 3

struct ks_way {
	enum ks_way_kind kind;
	const char *target;                 /* function or tracepoint name */
	const char *progs[KS_MAX_PROGS];    /* programs in migrate.bpf.c; none yet = not implemented */
	const char *limits;                 /* what this way cannot report, or NULL */
};

struct ks_hook {
	const char *metric;
	const char *what;
	bool required;                      /* tracing is pointless without it */
	struct ks_way ways[KS_MAX_WAYS];
};

extern const struct ks_hook ks_hooks[];
extern const unsigned int ks_nr_hooks;

/* Outcome of the choice for one hook. */
struct ks_choice {
	int way;                 /* index into ways[], -1 if none usable */
	const char *why_not[KS_MAX_WAYS]; /* per way: NULL if usable, else why not */
	const char *where[KS_MAX_WAYS];   /* BTF the target was found in */
};

const char *ks_way_kind_name(enum ks_way_kind kind);
/* The options that ask for opt-in ways. --fault-latency implies
 * --fault-program (timing faults takes a program on the fault path). */
enum ks_way_opt {
	KS_OPT_FAULT_PROGRAM = 1,  /* --fault-program */
	KS_OPT_FAULT_LATENCY = 2,  /* --fault-latency */
};
/* The option that asks for this way (KS_OPT_*), or 0 for an ordinary way.
 * Without its option an opt-in way is only a fallback for its hook; with
 * it, it goes first. */
unsigned int ks_way_opt_in(const struct ks_way *w);
/* The option's name, for messages ("--fault-latency"). */
const char *ks_way_opt_name(unsigned int opt);
/* Chooses a way for every hook; opts: the KS_OPT_* asked for. Returns the
 * number of required hooks with no usable way (0 = tracing can work). */
int ks_hooks_choose(const struct ks_probe *p, struct ks_choice *choices, unsigned int opts);
/* The choice for metric `name` (its index in ks_hooks, or -1), and whether
 * its chosen way is of this kind. */
int ks_hook_index(const char *name);
bool ks_hook_uses(const struct ks_choice *choices, const char *name, enum ks_way_kind kind);

#endif
