/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VMM's binary stats, taken from outside: its VM fd and vCPU fds are
 * copied with pidfd_getfd, each asked for KVM_GET_STATS_FD, the schemas
 * parsed once; every sample is one pread per fd. The pidfd tells when the
 * VMM exits, so the stats fds (which pin the VM in the kernel) are closed
 * promptly. Shared by `migrate` and `stats`.
 */
#ifndef KS_VMSTATS_H
#define KS_VMSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include "kvm/statsfd.h"
#include "kvm/vmfind.h"
#include "lib/json.h"

struct ks_stats_src {
	int fd;                       /* stats fd, -1 if none */
	int dbg_dir;                  /* else the VM's debugfs directory, -1 if none (statsdbg.h) */
	int vcpus_summed;             /* debugfs vCPU source: vCPUs it sums */
	struct ks_stats_schema schema;
	void *scratch;                /* one data block */
	uint64_t *cur, *prev;         /* values of the last two samples */
	uint64_t cur_ns, prev_ns;     /* CLOCK_MONOTONIC of those samples */
	/* cur - prev spans the last sampling period: false after a failed
	 * sample (the VM went away mid-read) until two good ones in a row. */
	bool delta_ok, last_failed;
	struct ks_json_name *names;   /* per descriptor, escaped once for JSON; NULL if none */
	int vcpu_id;                  /* -1 for the VM */
};

struct ks_vmstats {
	pid_t pid;
	char comm[64];
	int pidfd;                    /* readable when the VMM exits */
	struct ks_stats_src vm;
	int nvcpu;                    /* vCPUs with stats */
	int vcpus_seen;               /* vCPU fds in the VMM */
	struct ks_stats_src *vcpu;
	char why[200];                /* why stats are missing, if they are */
};

/*
 * Opens the stats of VMM v. Returns 0 with stats, 1 without them (VMM
 * still tracked by its pidfd; vs->why says why: ptrace permission, ...),
 * or -1 if the process is gone.
 */
int ks_vmstats_open(struct ks_vmstats *vs, const struct ks_vmm *v);
/* Does this source have statistics (a stats fd or debugfs files)? */
static inline bool ks_stats_src_ok(const struct ks_stats_src *s)
{
	return s->fd >= 0 || s->dbg_dir >= 0;
}

/* vCPUs covered: those with a source each, or those a debugfs source sums. */
static inline int ks_vmstats_vcpus(const struct ks_vmstats *vs)
{
	return vs->nvcpu == 1 && vs->vcpu[0].vcpus_summed ? vs->vcpu[0].vcpus_summed : vs->nvcpu;
}

/*
 * Whether a tracked VMM's stats are worth opening again, at a scan that
 * found it as v (one rule for every command that follows VMMs). KVM
 * serves KVM_GET_STATS_FD only to the VMM itself, so a VMM found between
 * creating its VM and opening its stats fds (QEMU opens them on its first
 * query-stats) is read through debugfs, or not at all:
 *  - without stats: look again at every scan (a pidfd and a few system
 *    calls, only for such VMMs);
 *  - through debugfs, which sums the vCPUs that existed when it was
 *    opened: once the VMM has other vCPUs, or holds a stats fd;
 *  - through stats fds: once the VMM holds more vCPU stats fds than were
 *    opened (a VMM found right after KVM_CREATE_VM, before its vCPUs, or
 *    one that added vCPUs).
 */
static inline bool ks_vmstats_stale(const struct ks_vmstats *vs, bool have_stats,
				    const struct ks_vmm *v)
{
	if (!have_stats)
		return true;
	if (vs->vm.dbg_dir >= 0)
		return ks_vmstats_vcpus(vs) != v->nvcpu || v->vm_stats_fd >= 0;
	return v->nvcpu_stats > vs->nvcpu;
}

/* Where the VM's stats come from, for reports: "fd" or "debugfs". */
static inline const char *ks_vmstats_source(const struct ks_vmstats *vs)
{
	return vs->vm.dbg_dir >= 0 ? "debugfs" : "fd";
}

/* A source from a stats fd of ours (taken over: closed with the source),
 * for a vCPU (vcpu_id) or the VM (-1): 0, or -1 with why set and sfd
 * closed. For bench/statsout, which replays stats from a memfd. */
int ks_stats_src_from_fd(struct ks_stats_src *s, int sfd, int vcpu_id, char *why, size_t whylen);
void ks_stats_src_close(struct ks_stats_src *s);

/* Samples every fd (cur becomes prev). -1 if the VM fd could not be read. */
int ks_vmstats_sample(struct ks_vmstats *vs, uint64_t now_ns);
/* Takes the current sample again (a retry of the same sample point). */
void ks_vmstats_resample(struct ks_vmstats *vs, uint64_t now_ns);
void ks_vmstats_close(struct ks_vmstats *vs);

/* Delta of a cumulative stat or current value of others, by name, summed
 * over the VM or over all vCPUs. *found = false if no such stat. */
int64_t ks_vmstats_delta(const struct ks_vmstats *vs, bool vcpus, const char *name, bool *found);
/* One source's value of stat name in its last sample (0 if it has none). */
uint64_t ks_stats_src_value(const struct ks_stats_src *s, const char *name);
uint64_t ks_vmstats_value(const struct ks_vmstats *vs, bool vcpus, const char *name, bool *found);

#endif
