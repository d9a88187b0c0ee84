// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "kvm/statsdbg.h"

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

/* The schema of a stats fd of ours: the VM's (vcpus false) or vCPU 0's. */
static int ref_schema(bool vcpus, struct ks_stats_schema *s, char *err, size_t errlen)
{
	int kvm, vm = -1, vcpu = -1, sfd = -1, rc = -1;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail(err, errlen, "reference VM for the stats schema: /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fail(err, errlen, "reference VM for the stats schema: KVM_CREATE_VM");
		goto out;
	}
	if (vcpus) {
		vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
		if (vcpu < 0) {
			fail(err, errlen, "reference VM for the stats schema: KVM_CREATE_VCPU");
			goto out;
		}
	}
	sfd = ioctl(vcpus ? vcpu : vm, KVM_GET_STATS_FD, NULL);
	if (sfd < 0) {
		fail(err, errlen, "reference VM for the stats schema: KVM_GET_STATS_FD");
		goto out;
	}
	rc = ks_stats_read_schema(sfd, s, err, errlen);
out:
	if (sfd >= 0)
		close(sfd);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return rc;
}

/* The reference schemas, made once per process (a VM each time would be
 * wasteful, and they are the same for every VM of this kernel). */
static int cached_schema(bool vcpus, const struct ks_stats_schema **out, char *err, size_t errlen)
{
	static struct ks_stats_schema ref[2];
	static bool have[2];

	if (!have[vcpus]) {
		if (ref_schema(vcpus, &ref[vcpus], err, errlen))
			return -1;
		have[vcpus] = true;
	}
	*out = &ref[vcpus];
	return 0;
}

int ks_statsdbg_open(pid_t pid, int vm_fd, bool vcpus, struct ks_stats_schema *s,
		     char *err, size_t errlen)
{
	const struct ks_stats_schema *ref;
	char dir[96];
	unsigned int n = 0;
	int dfd;

	memset(s, 0, sizeof(*s));
	snprintf(dir, sizeof(dir), KS_DEBUGFS_KVM "/%d-%d", (int)pid, vm_fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(err, errlen, dir);
	if (cached_schema(vcpus, &ref, err, errlen))
		goto fail;
	s->desc = calloc(ref->ndesc, sizeof(*s->desc));
	s->value_offset = calloc(ref->ndesc, sizeof(*s->value_offset));
	if (!s->desc || !s->value_offset) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned int i = 0; i < ref->ndesc; i++) {
		const struct ks_stat_desc *d = &ref->desc[i];

		if (d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST)
			continue;
		if (faccessat(dfd, d->name, R_OK, 0)) {
			char what[200];

			snprintf(what, sizeof(what), "%.90s/%.100s", dir, d->name);
			fail(err, errlen, what);
			goto fail;
		}
		s->desc[n] = *d;
		s->desc[n].size = 1;
		s->desc[n].index = n;
		n++;
	}
	s->ndesc = s->nvalues = n;
	snprintf(s->id, sizeof(s->id), "kvm-%d%s", (int)pid, vcpus ? "/vcpus" : "");
	return dfd;
fail:
	ks_stats_schema_free(s);
	close(dfd);
	return -1;
}

/* One statistic's file: values[i]. 0 or -1 (err set). */
static int read_one(int dir, const struct ks_stats_schema *s, unsigned int i, uint64_t *values,
		    char *err, size_t errlen)
{
	char buf[32], *end;
	/* The files are not seekable: a fresh open formats the value. */
	int fd = openat(dir, s->desc[i].name, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0) {
		snprintf(err, errlen, "debugfs %s: %s", s->desc[i].name, strerror(errno));
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0) {
		snprintf(err, errlen, "debugfs %s: %s", s->desc[i].name,
			 len ? strerror(errno) : "empty");
		return -1;
	}
	buf[len] = '\0';
	errno = 0;
	values[i] = strtoull(buf, &end, 10);
	if (errno || end == buf) {
		snprintf(err, errlen, "debugfs %s: not a number: '%.20s'", s->desc[i].name, buf);
		return -1;
	}
	return 0;
}

/*
 * Read first, back to back and in this order: each file is read at its
 * own moment while the vCPUs run, and KVM adds a fault to pf_taken before
 * its fast path adds it to pf_fast. Read pf_fast first and pf_taken right
 * after, a sample never holds more fast-path faults than faults, and the
 * two are as close to one moment as debugfs allows.
 */
static const char *const read_first[] = { "pf_fast", "pf_taken" };
#define NFIRST (sizeof(read_first) / sizeof(read_first[0]))

int ks_statsdbg_sample(int dir, const struct ks_stats_schema *s, uint64_t *values,
		       char *err, size_t errlen)
{
	unsigned int first[NFIRST], n = 0;

	for (unsigned int k = 0; k < NFIRST; k++)
		for (unsigned int i = 0; i < s->ndesc; i++)
			if (!strcmp(s->desc[i].name, read_first[k])) {
				if (read_one(dir, s, i, values, err, errlen))
					return -1;
				first[n++] = i;
				break;
			}
	for (unsigned int i = 0; i < s->ndesc; i++) {
		bool done = false;

		for (unsigned int k = 0; k < n; k++)
			done |= first[k] == i;
		if (!done && read_one(dir, s, i, values, err, errlen))
			return -1;
	}
	return 0;
}
