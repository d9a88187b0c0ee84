/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's statistics from debugfs, for VMMs that hold no binary stats fd.
 *
 * KVM answers KVM_GET_STATS_FD only to the VMM's own process, and a VMM
 * may open its stats fds only while it queries them (QEMU 7.2 does: open,
 * read, close per query-stats). Root can still read the same counters in
 * /sys/kernel/debug/kvm/PID-FD/: one file per statistic, vCPU statistics
 * summed over the VM's vCPUs. Debugfs has no descriptors, so the schema
 * (types, units, exponents) comes from a reference VM kvmscope creates once
 * and closes at once; histograms are left out (debugfs shows only their
 * first bucket). KVM's debugfs files cannot be re-read in place (no
 * seeking), so a sample opens, reads and closes one file per statistic,
 * where a stats fd costs one pread per VM: bench/ measures the difference.
 */
#ifndef KS_STATSDBG_H
#define KS_STATSDBG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "kvm/statsfd.h"

#define KS_DEBUGFS_KVM "/sys/kernel/debug/kvm"

/*
 * Opens the debugfs statistics of the VM whose fd number in PID is vm_fd:
 * its VM statistics (vcpus false) or the sums of its vCPU statistics (vcpus
 * true). Fills s (non-histogram statistics, one value each; id
 * "kvm-PID" or "kvm-PID/vcpus"). Returns the VM's debugfs directory, open,
 * or -1 with a one-line reason in err.
 */
int ks_statsdbg_open(pid_t pid, int vm_fd, bool vcpus, struct ks_stats_schema *s,
		     char *err, size_t errlen);
/* One sample: values[i] of every statistic of s from directory dir. 0 or
 * -1 (err set). */
int ks_statsdbg_sample(int dir, const struct ks_stats_schema *s, uint64_t *values,
		       char *err, size_t errlen);

#endif
