/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one BPF lifecycle of kvmscope: open the skeleton, configure rodata
 * and autoload from the hook choices, load, attach; destroy on every path.
 */
#ifndef KS_LOADER_H
#define KS_LOADER_H

#include <argp.h>
#include "hooks/hooks.h"

struct migrate_bpf;

#define KS_LOADER_MAX_LINKS 64

struct ks_loader {
	struct migrate_bpf *skel;
	struct ks_choice choices[KS_NR_METRICS];
	struct ks_caps caps;        /* what the attached ways give (once started) */
	struct ks_vendor vendor;    /* the probe's KVM vendor module (once started) */
	/* The faults metric's chosen way puts a program on the fault path
	 * (rodata fault_source KS_FAULTS_PROGRAM; the fault slots in use). */
	bool fault_program;
	unsigned int nr_progs;      /* programs loaded and attached */
	struct bpf_link *links[KS_LOADER_MAX_LINKS];
	/* Why a way that the probe found usable failed to attach anyway. */
	char attach_why[KS_NR_METRICS][KS_MAX_WAYS][96];
};

struct ks_loader_opts {
	unsigned int filter_tgid;   /* 0 = every VMM */
	unsigned int fault_opts;    /* KS_OPT_FAULT_* (hooks.h): the opt-in fault ways */
	unsigned int max_vms;       /* --max-vms; 0 = KS_MAX_VMS */
};

/* --max-vms N, shared by the commands that load the programs (migrate,
 * export): the option, and its parser (argp_error, exit 2, for a value
 * outside [1, KS_MAX_VMS_LIMIT]). */
#define KS_OPT_MAX_VMS 0x4d56
#define KS_LOADER_OPTION_MAX_VMS \
	{ "max-vms", KS_OPT_MAX_VMS, "N", 0, "Size the kernel's VM tables for N VMs " \
	  "(default 512, at most 2048); counters of VMs beyond them are reported as not tracked", 0 }
error_t ks_loader_parse_max_vms(const char *arg, struct argp_state *state,
				struct ks_loader_opts *o);
/* --fault-program and --fault-latency, shared the same way: a program on
 * the guest fault path (off by default: KVM's own per-vCPU stats count the
 * faults), and timing every fault (implies the program). */
#define KS_OPT_FAULT_PROGRAM_KEY 0x4650
#define KS_OPT_FAULT_LATENCY_KEY 0x464c
#define KS_LOADER_OPTIONS_FAULTS \
	{ "fault-program", KS_OPT_FAULT_PROGRAM_KEY, NULL, 0, "Count guest faults with a program " \
	  "on KVM's fault path (also sees write-protect faults KVM fixes in its slow path: huge " \
	  "pages without eager splitting, KVM_DIRTY_LOG_INITIALLY_SET, shadow paging); costs the " \
	  "guest per fault, off by default", 0 }, \
	{ "fault-latency", KS_OPT_FAULT_LATENCY_KEY, NULL, 0, "Also time every guest fault " \
	  "(latency histograms, vCPU time lost); implies --fault-program and costs the guest " \
	  "more per fault, off by default", 0 }
/* Handles those two keys (0), or returns ARGP_ERR_UNKNOWN for others. */
error_t ks_loader_parse_fault_opt(int key, struct ks_loader_opts *o);
/* The VMs the tables are sized for under these options. */
unsigned int ks_loader_max_vms(const struct ks_loader_opts *o);

/* Chooses the hooks from the probe, then loads and attaches. A way that
 * loads but cannot attach (e.g. fexit on a function with more arguments
 * than the kernel's trampoline takes) is dropped for the next way of its
 * hook, and everything is loaded again. On failure prints one clear line,
 * destroys what was built and returns -1. Once the hooks are chosen the
 * probe's parsed BTF is released (ks_probe_release_btf), before libbpf parses
 * its own copy to load: the two would otherwise set the tracer's peak
 * memory. */
int ks_loader_start(struct ks_loader *l, struct ks_probe *p,
		    const struct ks_loader_opts *o);
void ks_loader_destroy(struct ks_loader *l);

#endif
