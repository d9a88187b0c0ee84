/* SPDX-License-Identifier: GPL-2.0 */
/* What the running kernel offers the tracer: BTF (vmlinux and the kvm
 * module), traceable functions, tracepoints, KVM itself and privileges.
 * Shared by `kvmscope check`, the loader's choice of programs, and tests. */
#ifndef KS_PROBE_H
#define KS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/vendor.h"

struct btf;

struct ks_probe {
	char release[128];
	struct btf *vmlinux_btf;   /* NULL: no kernel BTF */
	struct btf *kvm_btf;       /* kvm module's split BTF; NULL if built in or absent */
	bool kvm_builtin;          /* KVM compiled into the kernel */
	bool kvm_loaded;           /* /sys/module/kvm exists */
	struct ks_vendor vendor;   /* KVM's vendor module, how it logs dirty pages */
	bool dev_kvm;              /* /dev/kvm exists */
	char *filter_funcs;        /* available_filter_functions, NUL-terminated; NULL if unreadable */
	char tracefs[64];          /* mount point, "" if not mounted */
	int fentry_err;            /* 0: a trivial fentry program loads and attaches;
				    * else the errno the kernel gave */
};

/* Never fails: every missing piece is recorded, for the caller to report. */
void ks_probe_init(struct ks_probe *p);
void ks_probe_free(struct ks_probe *p);
/* Frees the parsed vmlinux and kvm BTF (megabytes) once nothing will look
 * names up in them again; vmlinux_btf reads NULL from then on. */
void ks_probe_release_btf(struct ks_probe *p);

enum ks_func_state {
	KS_FUNC_ABSENT = 0,   /* not in BTF: inlined, renamed or missing */
	KS_FUNC_NOT_TRACEABLE,/* in BTF but ftrace cannot hook it */
	KS_FUNC_FORBIDDEN,    /* present, but fentry/fexit are unusable here */
	KS_FUNC_OK,
};
/* A function fentry/fexit can attach to: in vmlinux or kvm BTF and, when
 * the list is readable, in available_filter_functions. *where gets
 * "vmlinux" or "kvm". */
enum ks_func_state ks_probe_func(const struct ks_probe *p, const char *name,
				 const char **where);
/* A tracepoint a tp_btf program can attach to (btf_trace_<name> typedef). */
bool ks_probe_tracepoint(const struct ks_probe *p, const char *name,
			 const char **where);

/* A struct of that name with a direct member of that name, in kvm or
 * vmlinux BTF (*where as above). */
bool ks_probe_member(const struct ks_probe *p, const char *type, const char *member,
		     const char **where);

/* "fentry/fexit forbidden: ..." style explanation of fentry_err. */
const char *ks_probe_fentry_why(const struct ks_probe *p);

/* Effective capability check (CAP_* number). */
bool ks_has_cap(int cap);
/* Loading tracing programs needs CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN
 * implies both). Attaching to a module's functions or tracepoints needs
 * the module's BTF object, whose id the kernel gives only to CAP_SYS_ADMIN
 * (BPF_BTF_GET_NEXT_ID, BPF_BTF_GET_FD_BY_ID): pass module_btf when KVM
 * is a module and its functions will be traced. Returns 0, or -1 after one
 * line on stderr saying what is missing; checked before libbpf tries,
 * whose failure would be several lines, or look like missing kernel
 * support. */
int ks_require_tracing_privileges(bool module_btf);

#endif
