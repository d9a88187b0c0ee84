// SPDX-License-Identifier: GPL-2.0
/*
 * Binary stats fds held open, as a VMM that exports its stats does (QEMU
 * keeps them after its first query-stats). KVM serves KVM_GET_STATS_FD only
 * to the VMM's own process, so these fds are how a tool outside the VMM,
 * such as kvmscope, reads the VM's statistics.
 *
 * With --stats-reads N kvmload also reads them itself, a known number of
 * times, and reports every read (fd, offset, size, result) as ground truth
 * for the kvm_stats_read tracepoint; its reads of the VM's data block carry
 * pages_4k/2m/1g, the ground truth for the page-size stats updates, and
 * its reads of each vCPU's carry pf_taken and pf_fast (x86), the ground
 * truth for fault counts read elsewhere (bench/vcpustat).
 * Reads: the header and the descriptors of each fd once, when opened; then
 * at each point (after populate, after each iteration, after logging is
 * disabled; vCPUs are stopped) N rounds of: the VM's data block, then each
 * vCPU's, in vCPU order. All with pread(2) at explicit offsets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "kvmload.h"

struct kl_stats_layout {
	int fd;
	int vcpu;			/* -1: the VM */
	struct kvm_stats_header hdr;
	uint64_t data_size;		/* bytes of the data block */
	/* byte offsets in the data block of pages_4k/2m/1g (VM only), or -1 */
	long long pages_off[3];
	/* byte offsets of pf_taken and pf_fast (vCPUs on x86), or -1 */
	long long pf_off[2];
};

static uint64_t stats_pread(const struct kl_stats_layout *l, void *buf, uint64_t size,
			    uint64_t offset, const char *part, const char *phase,
			    long long iteration, struct kl_stats_read *r)
{
	ssize_t n;

	*r = (struct kl_stats_read){ .vcpu = l->vcpu, .part = part, .phase = phase,
				     .iteration = iteration, .offset = offset, .size = size };
	r->ts_ns = kl_now_ns();
	n = pread(l->fd, buf, size, (off_t)offset);
	r->dur_ns = kl_now_ns() - r->ts_ns;
	r->ret = n < 0 ? -errno : n;
	if (n < 0 || (uint64_t)n != size) {
		kl_report_stats_read(r);
		kl_fail("reading the %s stats fd (%s at offset %llu, %llu bytes): %s",
			l->vcpu < 0 ? "VM" : "vCPU", part, (unsigned long long)offset,
			(unsigned long long)size, n < 0 ? strerror(errno) : "short read");
	}
	return (uint64_t)n;
}

/* Reads the header and the descriptors: the data block's size and, for the
 * VM, where pages_4k/2m/1g are in it. */
static void stats_layout(struct kl_stats_layout *l)
{
	static const char *const pages[3] = { "pages_4k", "pages_2m", "pages_1g" };
	static const char *const pf[2] = { "pf_taken", "pf_fast" };
	struct kl_stats_read r;
	size_t dsize;
	char *descs;

	stats_pread(l, &l->hdr, sizeof(l->hdr), 0, "header", "setup", -1, &r);
	kl_report_stats_read(&r);
	dsize = sizeof(struct kvm_stats_desc) + l->hdr.name_size;
	descs = calloc(l->hdr.num_desc ? l->hdr.num_desc : 1, dsize);
	if (!descs)
		kl_fail("out of memory for %u stats descriptors", l->hdr.num_desc);
	stats_pread(l, descs, (uint64_t)l->hdr.num_desc * dsize, l->hdr.desc_offset,
		    "descriptors", "setup", -1, &r);
	kl_report_stats_read(&r);
	l->pages_off[0] = l->pages_off[1] = l->pages_off[2] = -1;
	l->pf_off[0] = l->pf_off[1] = -1;
	for (uint32_t i = 0; i < l->hdr.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * dsize);
		uint64_t end = d->offset + (uint64_t)d->size * sizeof(uint64_t);

		if (end > l->data_size)
			l->data_size = end;
		for (int k = 0; k < 3 && l->vcpu < 0; k++)
			if (d->size == 1 && !strncmp(d->name, pages[k], l->hdr.name_size))
				l->pages_off[k] = d->offset;
		for (int k = 0; k < 2 && l->vcpu >= 0; k++)
			if (d->size == 1 && !strncmp(d->name, pf[k], l->hdr.name_size))
				l->pf_off[k] = d->offset;
	}
	free(descs);
}

void kl_stats_fds_open(struct kl_vm *vm, struct kl_vcpu *vcpus, unsigned int n,
		       unsigned int stats_reads)
{
	for (unsigned int i = 0; i < n; i++)
		vcpus[i].stats_fd = -1;
	/* Kernels before 5.14 lack the ioctl: run without, the start record
	 * says so. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0) {
		if (stats_reads)
			kl_skip("--stats-reads: this KVM has no binary stats fd (KVM_CAP_BINARY_STATS_FD)");
		return;
	}
	vm->stats_fd = ioctl(vm->vm_fd, KVM_GET_STATS_FD, NULL);
	if (vm->stats_fd < 0)
		kl_fail("KVM_GET_STATS_FD on the VM failed: %s", strerror(errno));
	for (unsigned int i = 0; i < n; i++) {
		/* Held until exit: the process's fd table is the interface. */
		vcpus[i].stats_fd = ioctl(vcpus[i].fd, KVM_GET_STATS_FD, NULL);
		if (vcpus[i].stats_fd < 0)
			kl_fail("KVM_GET_STATS_FD on vCPU %u failed: %s", i, strerror(errno));
		vm->vcpu_stats_fds++;
	}
}

/* --stats-reads: reads each fd's header and descriptors once (after the
 * start record, so the ground truth has every read). */
void kl_stats_prepare(struct kl_vm *vm, const struct kl_vcpu *vcpus, unsigned int n,
		      unsigned int stats_reads)
{
	if (!stats_reads || vm->stats_fd < 0)
		return;
	vm->stats = calloc(n + 1, sizeof(*vm->stats));
	if (!vm->stats)
		kl_fail("out of memory for stats layouts");
	for (unsigned int i = 0; i <= n; i++) {
		vm->stats[i].fd = i ? vcpus[i - 1].stats_fd : vm->stats_fd;
		vm->stats[i].vcpu = (int)i - 1;
		stats_layout(&vm->stats[i]);
	}
}

/* TIMES rounds of reading every data block; vCPUs must be stopped so the
 * VM's pages_* are those of the moment (no fault in flight). */
void kl_stats_read_all(const struct kl_vm *vm, unsigned int n, unsigned int times,
		       const char *phase, long long iteration)
{
	struct kl_stats_read r;

	if (!vm->stats)
		return;
	for (unsigned int t = 0; t < times; t++) {
		for (unsigned int i = 0; i <= n; i++) {
			const struct kl_stats_layout *l = &vm->stats[i];
			uint64_t *data = calloc(1, l->data_size ? l->data_size : 8);

			if (!data)
				kl_fail("out of memory for a stats data block");
			stats_pread(l, data, l->data_size, l->hdr.data_offset, "data", phase,
				    iteration, &r);
			if (l->vcpu < 0) {
				uint64_t *p[3] = { &r.pages_4k, &r.pages_2m, &r.pages_1g };

				r.pages = l->pages_off[0] >= 0 && l->pages_off[1] >= 0;
				for (int k = 0; k < 3; k++)
					*p[k] = l->pages_off[k] >= 0 ?
						data[l->pages_off[k] / sizeof(uint64_t)] : 0;
			} else if (l->pf_off[0] >= 0 && l->pf_off[1] >= 0) {
				r.pf = true;
				r.pf_taken = data[l->pf_off[0] / sizeof(uint64_t)];
				r.pf_fast = data[l->pf_off[1] / sizeof(uint64_t)];
			}
			kl_report_stats_read(&r);
			free(data);
		}
	}
}
