// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "kvm/statsdbg.h"
#include "kvm/vmstats.h"

static void src_init(struct ks_stats_src *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->dbg_dir = -1;
}

static void src_close(struct ks_stats_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dbg_dir >= 0)
		close(s->dbg_dir);
	for (unsigned int i = 0; s->names && i < s->schema.ndesc; i++)
		ks_json_name_free(&s->names[i]);
	free(s->names);
	ks_stats_schema_free(&s->schema);
	free(s->scratch);
	free(s->cur);
	free(s->prev);
	src_init(s);
}

static int src_alloc(struct ks_stats_src *s, char *why, size_t whylen);

/* Turns stats fd sfd (ours) into a stats source. */
static int src_init_fd(struct ks_stats_src *s, int sfd, char *why, size_t whylen)
{
	char err[160];

	s->fd = sfd;
	if (ks_stats_read_schema(sfd, &s->schema, err, sizeof(err))) {
		snprintf(why, whylen, "%s", err);
		src_close(s);
		return -1;
	}
	return src_alloc(s, why, whylen);
}

/* Value arrays of a source whose schema is set. */
static int src_alloc(struct ks_stats_src *s, char *why, size_t whylen)
{
	/* A data block for stats fds; for debugfs, the values of a sample
	 * until all of them were read (a VM destroyed mid-sample must not
	 * leave half a sample behind). */
	size_t staging = s->schema.nvalues * sizeof(uint64_t);

	s->scratch = malloc(s->schema.data_size > staging ? s->schema.data_size :
			    staging ? staging : 1);
	s->cur = calloc(s->schema.nvalues, sizeof(uint64_t));
	s->prev = calloc(s->schema.nvalues, sizeof(uint64_t));
	if (!s->scratch || !s->cur || !s->prev) {
		snprintf(why, whylen, "out of memory");
		src_close(s);
		return -1;
	}
	/* The names as JSON writes them, once: optional (JSON falls back to
	 * escaping them at every sample). */
	s->names = calloc(s->schema.ndesc, sizeof(*s->names));
	for (unsigned int i = 0; s->names && i < s->schema.ndesc; i++) {
		if (ks_json_name_set(&s->names[i], s->schema.desc[i].name)) {
			for (unsigned int k = 0; k < i; k++)
				ks_json_name_free(&s->names[k]);
			free(s->names);
			s->names = NULL;
		}
	}
	return 0;
}

int ks_stats_src_from_fd(struct ks_stats_src *s, int sfd, int vcpu_id, char *why, size_t whylen)
{
	src_init(s);
	s->vcpu_id = vcpu_id;
	return src_init_fd(s, sfd, why, whylen);
}

void ks_stats_src_close(struct ks_stats_src *s)
{
	src_close(s);
}

/*
 * Does the stats id ("kvm-N" for a VM, "kvm-N/vcpu-M" for a vCPU, N the
 * thread that created it) name process pid or one of its threads? A VMM
 * could hold another VMM's stats fd (passed over a socket) and have its
 * numbers shown as its own. 0, or -1 with why set.
 */
static int id_belongs(const char *id, pid_t pid, bool vcpu, char *why, size_t whylen)
{
	char path[64], q[64], *end;
	long n;

	if (strncmp(id, "kvm-", 4))
		goto bad;
	n = strtol(id + 4, &end, 10);
	if (end == id + 4 || n <= 0 || (vcpu ? strncmp(end, "/vcpu-", 6) : *end != '\0'))
		goto bad;
	if (n == pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%ld", (int)pid, n);
	if (!access(path, F_OK))
		return 0;
	snprintf(why, whylen, "the stats fd belongs to a VM of PID %ld, not of PID %d", n, (int)pid);
	return -1;
bad:
	ks_text_escape(id, q, sizeof(q));
	snprintf(why, whylen, "stats id '%s' is not KVM's", q);
	return -1;
}

/*
 * A stats source from the VMM's fd number `fd` of kind `kind`: a stats fd
 * the VMM opened is copied and read directly; a VM or vCPU fd is copied
 * and asked for KVM_GET_STATS_FD, which KVM grants only to the VMM's own
 * process (-EIO here) on every kernel so far, but costs nothing to try.
 * Every copy is checked before it is read (ks_take_fd), and the stats it
 * gives must be of the VMM's own VM (id_belongs).
 */
static int src_open(struct ks_stats_src *s, pid_t pid, int fd, enum ks_kvm_fd_kind kind,
		    int vcpu_id, char *why, size_t whylen)
{
	bool vcpu = kind == KS_FD_VCPU || kind == KS_FD_VCPU_STATS;
	int copy, sfd;

	src_init(s);
	s->vcpu_id = vcpu_id;
	copy = ks_take_fd(pid, fd, kind, NULL, why, whylen);
	if (copy < 0)
		return -1;
	if (kind == KS_FD_VM_STATS || kind == KS_FD_VCPU_STATS) {
		sfd = copy;
	} else {
		sfd = ioctl(copy, KVM_GET_STATS_FD, NULL);
		close(copy);
		if (sfd < 0) {
			snprintf(why, whylen, "%s", errno == EIO ?
				 "the VMM holds no binary stats fd, and KVM answers KVM_GET_STATS_FD "
				 "only to the VMM's own process" : strerror(errno));
			return -1;
		}
	}
	if (src_init_fd(s, sfd, why, whylen))
		return -1;
	if (id_belongs(s->schema.id, pid, vcpu, why, whylen)) {
		src_close(s);
		s->vcpu_id = vcpu_id;
		return -1;
	}
	return 0;
}

/* vCPU id from a vCPU stats id string "kvm-PID/vcpu-N". */
static int vcpu_id_of(const char *id)
{
	const char *p = strstr(id, "/vcpu-");

	return p ? atoi(p + 6) : -1;
}

/*
 * The VMM holds no stats fd (QEMU opens them only while answering
 * query-stats): the same statistics from debugfs, the VM's and the sums of
 * its vCPUs' (statsdbg.h). 0, or -1 leaving vs->why as it was.
 */
static int open_debugfs(struct ks_vmstats *vs, const struct ks_vmm *v)
{
	char err[200];

	vs->vm.dbg_dir = ks_statsdbg_open(v->pid, v->vm_fd, false, &vs->vm.schema, err, sizeof(err));
	if (vs->vm.dbg_dir < 0 || src_alloc(&vs->vm, err, sizeof(err)))
		return -1;
	if (!v->nvcpu)
		return 0;
	vs->vcpu = calloc(1, sizeof(*vs->vcpu));
	if (!vs->vcpu)
		return 0;
	src_init(&vs->vcpu[0]);
	vs->vcpu[0].vcpu_id = -1;
	vs->vcpu[0].dbg_dir = ks_statsdbg_open(v->pid, v->vm_fd, true, &vs->vcpu[0].schema,
					       err, sizeof(err));
	if (vs->vcpu[0].dbg_dir < 0 || src_alloc(&vs->vcpu[0], err, sizeof(err)))
		return 0; /* VM statistics without the vCPUs' */
	vs->vcpu[0].vcpus_summed = v->nvcpu;
	vs->nvcpu = 1;
	return 0;
}

int ks_vmstats_open(struct ks_vmstats *vs, const struct ks_vmm *v)
{
	memset(vs, 0, sizeof(*vs));
	vs->pid = v->pid;
	snprintf(vs->comm, sizeof(vs->comm), "%s", v->comm);
	src_init(&vs->vm);
	/* The pidfd alone needs no ptrace permission: keep the VMM tracked
	 * even if its stats are out of reach. */
	vs->pidfd = ks_pidfd_open(v->pid);
	if (vs->pidfd < 0)
		return -1;
	vs->vcpus_seen = v->nvcpu;
	if (v->vm_stats_fd >= 0 ?
	    src_open(&vs->vm, v->pid, v->vm_stats_fd, KS_FD_VM_STATS, -1, vs->why, sizeof(vs->why)) :
	    src_open(&vs->vm, v->pid, v->vm_fd, KS_FD_VM, -1, vs->why, sizeof(vs->why))) {
		if (v->vm_stats_fd >= 0 || open_debugfs(vs, v))
			return 1;
		vs->why[0] = '\0';
		return 0;
	}
	vs->vcpu = calloc(v->nvcpu + v->nvcpu_stats + 1, sizeof(*vs->vcpu));
	if (!vs->vcpu) {
		snprintf(vs->why, sizeof(vs->why), "out of memory");
		return 1;
	}
	/* vCPU stats fds the VMM holds, else (normally in vain) its vCPU fds. */
	for (int i = 0; i < v->nvcpu_stats; i++) {
		char why[160];
		struct ks_stats_src *src = &vs->vcpu[vs->nvcpu];

		if (src_open(src, v->pid, v->vcpu_stats_fd[i], KS_FD_VCPU_STATS, -1, why, sizeof(why)) == 0) {
			src->vcpu_id = vcpu_id_of(src->schema.id);
			vs->nvcpu++;
		} else if (!vs->why[0]) {
			snprintf(vs->why, sizeof(vs->why), "vCPU stats: %.160s", why);
		}
	}
	for (int i = 0; !v->nvcpu_stats && i < v->nvcpu; i++) {
		char why[160];

		if (src_open(&vs->vcpu[vs->nvcpu], v->pid, v->vcpu_fd[i], KS_FD_VCPU, v->vcpu_id[i],
			     why, sizeof(why)) == 0)
			vs->nvcpu++;
		else if (!vs->why[0])
			snprintf(vs->why, sizeof(vs->why), "vCPU %d: %.160s", v->vcpu_id[i], why);
	}
	return 0;
}

/* One sample into values, written only if the whole sample was read. */
static int src_read(struct ks_stats_src *s, uint64_t *values)
{
	char err[160];

	if (s->fd >= 0)
		return ks_stats_sample(s->fd, &s->schema, s->scratch, values, err, sizeof(err));
	if (ks_statsdbg_sample(s->dbg_dir, &s->schema, s->scratch, err, sizeof(err)))
		return -1;
	memcpy(values, s->scratch, s->schema.nvalues * sizeof(uint64_t));
	return 0;
}

static int src_sample(struct ks_stats_src *s, uint64_t now_ns)
{
	uint64_t *t;

	if (!ks_stats_src_ok(s))
		return -1;
	if (src_read(s, s->prev)) {
		/* The last good sample stays the current one, and no delta is
		 * known until two good samples in a row (ks_vmstats_delta). */
		s->delta_ok = false;
		s->last_failed = true;
		return -1;
	}
	t = s->prev;
	s->prev = s->cur;
	s->cur = t;
	s->prev_ns = s->cur_ns;
	s->delta_ok = !s->last_failed;
	s->last_failed = false;
	s->cur_ns = now_ns;
	if (!s->prev_ns)
		memcpy(s->prev, s->cur, s->schema.nvalues * sizeof(uint64_t));
	return 0;
}

/* Reads the current sample again, in place: prev stays the last one. The
 * values are only written when the read succeeded. */
static void src_resample(struct ks_stats_src *s, uint64_t now_ns)
{
	if (ks_stats_src_ok(s) && !src_read(s, s->cur))
		s->cur_ns = now_ns;
}

void ks_vmstats_resample(struct ks_vmstats *vs, uint64_t now_ns)
{
	src_resample(&vs->vm, now_ns);
	for (int i = 0; i < vs->nvcpu; i++)
		src_resample(&vs->vcpu[i], now_ns);
}

int ks_vmstats_sample(struct ks_vmstats *vs, uint64_t now_ns)
{
	int rc = src_sample(&vs->vm, now_ns);

	for (int i = 0; i < vs->nvcpu; i++)
		src_sample(&vs->vcpu[i], now_ns);
	return rc;
}

void ks_vmstats_close(struct ks_vmstats *vs)
{
	src_close(&vs->vm);
	for (int i = 0; i < vs->nvcpu; i++)
		src_close(&vs->vcpu[i]);
	free(vs->vcpu);
	if (vs->pidfd >= 0)
		close(vs->pidfd);
	memset(vs, 0, sizeof(*vs));
	vs->pidfd = -1;
}

static int64_t src_get(const struct ks_stats_src *s, const char *name, bool delta, bool *found)
{
	int i;
	const struct ks_stat_desc *d;

	if (!ks_stats_src_ok(s))
		return 0;
	i = ks_stats_find(&s->schema, name);
	if (i < 0)
		return 0;
	d = &s->schema.desc[i];
	*found = true;
	if (!delta)
		return (int64_t)s->cur[d->index];
	return (int64_t)(s->cur[d->index] - s->prev[d->index]);
}

int64_t ks_vmstats_delta(const struct ks_vmstats *vs, bool vcpus, const char *name, bool *found)
{
	int64_t sum = 0;

	*found = false;
	if (!vcpus)
		return vs->vm.delta_ok ? src_get(&vs->vm, name, true, found) : 0;
	/* A sum with a vCPU missing would be no sum at all. */
	for (int i = 0; i < vs->nvcpu; i++)
		if (!vs->vcpu[i].delta_ok)
			return 0;
	for (int i = 0; i < vs->nvcpu; i++)
		sum += src_get(&vs->vcpu[i], name, true, found);
	return sum;
}

uint64_t ks_stats_src_value(const struct ks_stats_src *s, const char *name)
{
	bool found = false;

	return (uint64_t)src_get(s, name, false, &found);
}

uint64_t ks_vmstats_value(const struct ks_vmstats *vs, bool vcpus, const char *name, bool *found)
{
	uint64_t sum = 0;

	*found = false;
	if (!vcpus)
		return (uint64_t)src_get(&vs->vm, name, false, found);
	for (int i = 0; i < vs->nvcpu; i++)
		sum += (uint64_t)src_get(&vs->vcpu[i], name, false, found);
	return sum;
}
