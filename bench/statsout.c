// SPDX-License-Identifier: GPL-2.0
/*
 * bench/statsout [SAMPLES] [OUT] [WAY,...]: what `kvmscope stats` spends per VM
 * sample besides the kernel's side, on stats replayed from memory: a VM
 * and 2 vCPUs with the descriptors of Linux 6.12 on x86 (15 VM statistics;
 * 45 per vCPU, 138 values with the histograms), every counter moving
 * between samples. Runs no VM, so it also runs on a machine without KVM.
 *   read   one sample of the 3 stats sources (tracer/kvm/vmstats.c: a pread of
 *          each data block from a memfd standing in for the stats fd)
 *   json   read + the 3 JSON records of `stats --json` (tracer/stats/stats_output.c)
 *          written to OUT (default /dev/null)
 *   text   read + the table of `stats` to OUT
 *   scan   one look through /proc for VMMs (tracer/kvm/vmfind.c), as `stats`
 *          makes every second to find new VMs
 * CPU time (user + system) per operation from getrusage, the median of 5
 * rounds that alternate the ways (all, or those named: for a profiler);
 * bytes written per sample.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "stats/stats_output.h"
#include "kvm/vmfind.h"
#include "kvm/vmstats.h"
#include "median.h"

#define ROUNDS 5
#define NAME_SIZE 48
#define NVCPU 2

struct desc {
	const char *name;
	unsigned int flags;
	int exponent;
	unsigned int size;
};

#define C(u) (KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_##u)
#define I(u) (KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_##u)
#define P(u) (KVM_STATS_TYPE_PEAK | KVM_STATS_UNIT_##u)
#define H(u) (KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_##u)

/* As `kvmscope stats` printed them (stats_schema) in the lab, stock 6.12. */
static const struct desc vm_descs[] = {
	{ "remote_tlb_flush", C(NONE), 0, 1 },
	{ "remote_tlb_flush_requests", C(NONE), 0, 1 },
	{ "mmu_shadow_zapped", C(NONE), 0, 1 },
	{ "mmu_pte_write", C(NONE), 0, 1 },
	{ "mmu_pde_zapped", C(NONE), 0, 1 },
	{ "mmu_flooded", C(NONE), 0, 1 },
	{ "mmu_recycled", C(NONE), 0, 1 },
	{ "mmu_cache_miss", C(NONE), 0, 1 },
	{ "mmu_unsync", I(NONE), 0, 1 },
	{ "pages_4k", I(NONE), 0, 1 },
	{ "pages_2m", I(NONE), 0, 1 },
	{ "pages_1g", I(NONE), 0, 1 },
	{ "nx_lpage_splits", I(NONE), 0, 1 },
	{ "max_mmu_rmap_size", P(NONE), 0, 1 },
	{ "max_mmu_page_hash_collisions", P(NONE), 0, 1 },
};

static const struct desc vcpu_descs[] = {
	{ "halt_successful_poll", C(NONE), 0, 1 },
	{ "halt_attempted_poll", C(NONE), 0, 1 },
	{ "halt_poll_invalid", C(NONE), 0, 1 },
	{ "halt_wakeup", C(NONE), 0, 1 },
	{ "halt_poll_success_ns", C(SECONDS), -9, 1 },
	{ "halt_poll_fail_ns", C(SECONDS), -9, 1 },
	{ "halt_wait_ns", C(SECONDS), -9, 1 },
	{ "halt_poll_success_hist", H(SECONDS), -9, 32 },
	{ "halt_poll_fail_hist", H(SECONDS), -9, 32 },
	{ "halt_wait_hist", H(SECONDS), -9, 32 },
	{ "blocking", I(BOOLEAN), 0, 1 },
	{ "pf_taken", C(NONE), 0, 1 },
	{ "pf_fixed", C(NONE), 0, 1 },
	{ "pf_emulate", C(NONE), 0, 1 },
	{ "pf_spurious", C(NONE), 0, 1 },
	{ "pf_fast", C(NONE), 0, 1 },
	{ "pf_mmio_spte_created", C(NONE), 0, 1 },
	{ "pf_guest", C(NONE), 0, 1 },
	{ "tlb_flush", C(NONE), 0, 1 },
	{ "invlpg", C(NONE), 0, 1 },
	{ "exits", C(NONE), 0, 1 },
	{ "io_exits", C(NONE), 0, 1 },
	{ "mmio_exits", C(NONE), 0, 1 },
	{ "signal_exits", C(NONE), 0, 1 },
	{ "irq_window_exits", C(NONE), 0, 1 },
	{ "nmi_window_exits", C(NONE), 0, 1 },
	{ "l1d_flush", C(NONE), 0, 1 },
	{ "halt_exits", C(NONE), 0, 1 },
	{ "request_irq_exits", C(NONE), 0, 1 },
	{ "irq_exits", C(NONE), 0, 1 },
	{ "host_state_reload", C(NONE), 0, 1 },
	{ "fpu_reload", C(NONE), 0, 1 },
	{ "insn_emulation", C(NONE), 0, 1 },
	{ "insn_emulation_fail", C(NONE), 0, 1 },
	{ "hypercalls", C(NONE), 0, 1 },
	{ "irq_injections", C(NONE), 0, 1 },
	{ "nmi_injections", C(NONE), 0, 1 },
	{ "req_event", C(NONE), 0, 1 },
	{ "nested_run", C(NONE), 0, 1 },
	{ "directed_yield_attempted", C(NONE), 0, 1 },
	{ "directed_yield_successful", C(NONE), 0, 1 },
	{ "preemption_reported", C(NONE), 0, 1 },
	{ "preemption_other", C(NONE), 0, 1 },
	{ "guest_mode", I(BOOLEAN), 0, 1 },
	{ "notify_window_exits", C(NONE), 0, 1 },
};

/* A stats source as KVM lays it out (header, id, descriptors, data), in a
 * memfd whose data block stays mapped so counters can move cheaply. */
struct fake {
	int fd;
	uint64_t *data;
	unsigned int nvalues;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct fake make_source(const char *id, const struct desc *d, unsigned int n)
{
	struct kvm_stats_header h = { .name_size = NAME_SIZE, .num_desc = n };
	size_t stride = sizeof(struct kvm_stats_desc) + NAME_SIZE, len;
	unsigned int nvalues = 0;
	unsigned char *blob;
	struct fake f;

	for (unsigned int i = 0; i < n; i++)
		nvalues += d[i].size;
	h.id_offset = sizeof(h);
	h.desc_offset = h.id_offset + NAME_SIZE;
	h.data_offset = h.desc_offset + n * stride;
	len = h.data_offset + nvalues * 8;
	blob = calloc(1, len);
	if (!blob)
		die("calloc");
	memcpy(blob, &h, sizeof(h));
	snprintf((char *)blob + h.id_offset, NAME_SIZE, "%s", id);
	for (unsigned int i = 0, off = 0; i < n; i++) {
		struct kvm_stats_desc kd = { .flags = d[i].flags, .exponent = (int16_t)d[i].exponent,
					     .size = (uint16_t)d[i].size, .offset = off };

		memcpy(blob + h.desc_offset + i * stride, &kd, sizeof(kd));
		snprintf((char *)blob + h.desc_offset + i * stride + sizeof(kd), NAME_SIZE, "%s",
			 d[i].name);
		off += d[i].size * 8;
	}
	f.fd = memfd_create(id, MFD_CLOEXEC);
	if (f.fd < 0 || pwrite(f.fd, blob, len, 0) != (ssize_t)len)
		die("memfd");
	free(blob);
	f.data = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
	if (f.data == MAP_FAILED)
		die("mmap");
	f.data = (uint64_t *)((unsigned char *)f.data + h.data_offset);
	f.nvalues = nvalues;
	return f;
}

/* Counters of a VM that has run a while: large (nanoseconds above all). */
static void start(struct fake *f)
{
	for (unsigned int i = 0; i < f->nvalues; i++)
		f->data[i] = 1000003ull * (i + 1) * (i + 7) * (i % 5 ? 1 : 100000);
}

/* Every counter moves between samples, by varied amounts (the worst case:
 * in an idle VM at 10 ms most stay put). */
static void move(struct fake *f, unsigned int step)
{
	for (unsigned int i = 0; i < f->nvalues; i++)
		f->data[i] += (i * 7919u + step * 104729u) % 5000u + 1;
}

static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

static void json_sample(const struct ks_stats_out *o, struct ks_vmstats *st, uint64_t ts)
{
	ks_stats_json_src(o, st, &st->vm, ts);
	for (int i = 0; i < st->nvcpu; i++)
		ks_stats_json_src(o, st, &st->vcpu[i], ts);
}

enum way { READ, JSON, TEXT, SCAN, NWAYS };
static const char *const way_name[] = { "read", "json", "text", "scan" };

int main(int argc, char **argv)
{
	int samples = argc > 1 ? atoi(argv[1]) : 2000;
	const char *path = argc > 2 ? argv[2] : "/dev/null";
	bool run[NWAYS];
	struct fake src[NVCPU + 1];
	struct ks_vmstats st = { .pid = 4242, .comm = "kvmload", .pidfd = -1 };
	struct ks_stats_out o = { 0 };
	double t[NWAYS][ROUNDS], bytes[NWAYS] = { 0 };
	unsigned int step = 0;
	int procs = 0;
	char why[200];

	if (samples < 1) {
		fprintf(stderr, "statsout: SAMPLES must be at least 1\n");
		return 2;
	}
	for (int w = 0; w < NWAYS; w++)
		run[w] = argc <= 3 || strstr(argv[3], way_name[w]);
	o.f = fopen(path, "w");
	if (!o.f)
		die(path);
	src[0] = make_source("kvm-4242", vm_descs, sizeof(vm_descs) / sizeof(vm_descs[0]));
	st.vcpu = calloc(NVCPU, sizeof(*st.vcpu));
	if (!st.vcpu)
		die("calloc");
	if (ks_stats_src_from_fd(&st.vm, src[0].fd, -1, why, sizeof(why)))
		return fprintf(stderr, "statsout: %s\n", why), 1;
	for (int i = 0; i < NVCPU; i++) {
		char id[32];

		snprintf(id, sizeof(id), "kvm-4242/vcpu-%d", i);
		src[i + 1] = make_source(id, vcpu_descs, sizeof(vcpu_descs) / sizeof(vcpu_descs[0]));
		if (ks_stats_src_from_fd(&st.vcpu[i], src[i + 1].fd, i, why, sizeof(why)))
			return fprintf(stderr, "statsout: %s\n", why), 1;
	}
	st.nvcpu = st.vcpus_seen = NVCPU;
	for (int i = 0; i <= NVCPU; i++)
		start(&src[i]);
	ks_vmstats_sample(&st, 1);

	for (int r = 0; r < ROUNDS; r++) {
		for (int w = 0; w < NWAYS; w++) {
			int n = !run[w] ? 0 : w == SCAN ? samples / 100 + 1 : samples;
			long before = ftell(o.f);
			double c0 = cpu_us();

			for (int k = 0; k < n; k++) {
				uint64_t ts = 1000000000ull + step * 10000000ull;

				if (w == SCAN) {
					procs = ks_vmm_scan_all(NULL, NULL);
					continue;
				}
				for (int i = 0; i <= NVCPU; i++)
					move(&src[i], ++step);
				ks_vmstats_sample(&st, ts);
				if (w == JSON)
					json_sample(&o, &st, ts);
				else if (w == TEXT)
					ks_stats_text_vm(&o, &st);
				/* As kvmscope stats: one flush per sample. */
				if (w == JSON || w == TEXT)
					fflush(o.f);
			}
			fflush(o.f);
			t[w][r] = n ? (cpu_us() - c0) / n : 0;
			if (before >= 0 && ftell(o.f) >= before)
				bytes[w] = (double)(ftell(o.f) - before) / n;
			/* Keep OUT from growing without end. */
			if (ftruncate(fileno(o.f), 0) == 0)
				rewind(o.f);
		}
		printf("round %d:", r);
		for (int w = 0; w < NWAYS; w++)
			printf(" %s %.1f us", way_name[w], t[w][r]);
		printf("\n");
	}
	for (int w = 0; w < NWAYS; w++) {
		double m = median(t[w], ROUNDS);

		if (!run[w])
			continue;
		if (w == SCAN)
			printf("median %s: %.1f us of CPU per look through /proc (%d VMMs found)\n",
			       way_name[w], m, procs);
		else
			printf("median %s: %.1f us of CPU per VM sample (VM + %d vCPUs), %.0f bytes\n",
			       way_name[w], m, NVCPU, bytes[w]);
	}
	/* One sample of each way left in OUT, to look at. */
	for (int i = 0; i <= NVCPU; i++)
		move(&src[i], ++step);
	ks_vmstats_sample(&st, 1000000000ull + step * 10000000ull);
	if (run[JSON])
		json_sample(&o, &st, 1000000000ull + step * 10000000ull);
	if (run[TEXT])
		ks_stats_text_vm(&o, &st);
	for (int i = 0; i < NVCPU; i++)
		ks_stats_src_close(&st.vcpu[i]);
	ks_stats_src_close(&st.vm);
	free(st.vcpu);
	fclose(o.f);
	return 0;
}
