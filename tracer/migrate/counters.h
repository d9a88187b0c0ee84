/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel maps' side of the migrate model (counters.c): the only part
 * of it that touches BPF. */
#ifndef KS_COUNTERS_H
#define KS_COUNTERS_H

#include "migrate/model.h"

struct migrate_bpf;

/* Sums the per-CPU VM and vCPU counters of the kernel maps into each
 * active VM's totals, and the drop counters into m->drops. */
void ks_counters_read(struct ks_model *m, struct migrate_bpf *skel);
/* Its two halves: the VM counters and drops; the vCPU fault counters. */
void ks_counters_read_vm(struct ks_model *m, struct migrate_bpf *skel);
void ks_counters_read_vcpu_faults(struct ks_model *m, struct migrate_bpf *skel);
/* Has this VMM's counters found the kernel's VM table full? Looks it up
 * (once it is, it stays so) and says so once on stderr. */
bool ks_counters_untracked(struct ks_model *m, struct migrate_bpf *skel, struct ks_vm *vm);
/* Deletes a VMM's entries from the kernel maps so they do not fill up. */
void ks_counters_forget(struct migrate_bpf *skel, struct ks_vm *vm);
/* Deletes the entries of processes that are no traced VMM (nor one about
 * to be adopted), and gives back the fault slots of untraced ones gone. */
void ks_counters_sweep_strays(const struct ks_model *m, struct migrate_bpf *skel);

#endif
