/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `kvmscope check` found, gathered once (cmd_check.c) and then written
 * as the text report (check_text.c) or as one JSON record (check_json.c,
 * docs/json.md): the two cannot disagree.
 */
#ifndef KS_CHECK_H
#define KS_CHECK_H

#include <stdbool.h>
#include "hooks/loader.h"
#include "lib/probe.h"

struct ks_check_privileges {
	bool root;
	bool bpf, perfmon, admin, ptrace, dac;   /* CAP_BPF (or CAP_SYS_ADMIN), ... */
	bool module;             /* KVM is a module: attaching needs CAP_SYS_ADMIN */
	bool ok;                 /* programs can be loaded and attached */
	bool all_vmms;           /* VMMs of other users can be sampled too */
};

struct ks_check {
	struct ks_probe p;       /* its BTF released by the load test: see btf */
	bool btf;                /* the kernel has BTF (/sys/kernel/btf/vmlinux) */
	bool kvm_btf;            /* the kvm module has BTF */
	bool kvm_ok;             /* loaded, and built in or with module BTF */
	struct ks_check_privileges priv;
	struct ks_loader l;      /* the choice (l.choices), after the load test */
	struct ks_caps caps;     /* what that choice gives on this host */
	bool load_ran, load_ok;
	unsigned int nr_progs;   /* loaded and attached by the load test */
	char load_error[256];    /* why the load test failed */
	int problems;            /* each makes tracing impossible here */
};

void ks_check_text(const struct ks_check *c);
/* 0, or -1 if stdout failed. */
int ks_check_json(const struct ks_check *c);

#endif
