// SPDX-License-Identifier: GPL-2.0
/*
 * Host memory behind the test memslots, per --backing.  The backing decides
 * the host page size and so whether KVM can map the guest with 2 MiB TDP
 * entries, which is what makes dirty-logging costs differ (huge mappings are
 * write-protected or split when logging starts).
 */
#include "kvmload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

#define HUGEPAGES_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define HUGEPAGES_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The bracketed word of the THP "enabled" knob: always, madvise or never. */
const char *kl_thp_setting(void)
{
	static char word[16];
	char line[128], *l, *r;
	FILE *f = fopen(THP_ENABLED, "r");

	if (!f)
		return "unavailable";
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return "unavailable";
	}
	fclose(f);
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l - 1) >= sizeof(word))
		return "unknown";
	memcpy(word, l + 1, (size_t)(r - l - 1));
	word[r - l - 1] = '\0';
	return word;
}

/*
 * Over-allocate by 2 MiB and trim, because mmap only guarantees page
 * alignment and a THP can only back a 2 MiB aligned virtual range.
 */
static void alloc_aligned_anon(struct kl_memory *m, size_t bytes)
{
	size_t slack = KL_HUGE_SIZE;
	uint8_t *p, *aligned;

	p = mmap(NULL, bytes + slack, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		kl_fail("mmap of %zu MiB of anonymous memory failed: %s",
			bytes >> 20, strerror(errno));
	aligned = (uint8_t *)(((uintptr_t)p + slack - 1) & ~(uintptr_t)(slack - 1));
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	if (aligned + bytes < p + bytes + slack)
		munmap(aligned + bytes, (size_t)(p + bytes + slack - (aligned + bytes)));
	m->base = aligned;
	m->bytes = bytes;
	m->map = aligned;
	m->map_bytes = bytes;
}

static void alloc_hugetlb(struct kl_memory *m, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		       -1, 0);

	if (p == MAP_FAILED) {
		int err = errno;
		long need = (long)(bytes / KL_HUGE_SIZE);
		long free_pages = read_long(HUGEPAGES_2M "free_hugepages");
		long total = read_long(HUGEPAGES_2M "nr_hugepages");

		/* A private hugetlb mapping reserves its pages at mmap time. */
		if (err == ENOMEM || err == EINVAL)
			kl_skip("--backing hugetlb: need %ld free 2 MiB huge pages, %ld of %ld are free; reserve more, e.g. 'echo %ld > /proc/sys/vm/nr_hugepages' (mmap: %s)",
				need, free_pages, total,
				(total > 0 ? total : 0) + need, strerror(err));
		kl_fail("mmap MAP_HUGETLB of %zu MiB failed: %s", bytes >> 20,
			strerror(err));
	}
	m->base = p;
	m->bytes = bytes;
	m->map = p;
	m->map_bytes = bytes;
}

/*
 * 1 GiB pages: the kernel has them only if reserved, in practice on its
 * command line (hugepagesz=1G hugepages=N), since memory that contiguous is
 * rarely free later.  The mapping is 1 GiB aligned, as KVM needs it to map
 * the guest with 1 GiB TDP entries (with a 1 GiB aligned GPA).
 */
static void alloc_hugetlb_1g(struct kl_memory *m, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB,
		       -1, 0);

	if (p == MAP_FAILED) {
		int err = errno;
		long free_pages = read_long(HUGEPAGES_1G "free_hugepages");
		long total = read_long(HUGEPAGES_1G "nr_hugepages");

		if (err == ENOMEM || err == EINVAL)
			kl_skip("--backing hugetlb-1g: need %zu free 1 GiB huge pages, %ld of %ld are free; reserve them at boot (hugepagesz=1G hugepages=N) (mmap: %s)",
				(size_t)(bytes / KL_GIGA_SIZE), free_pages, total, strerror(err));
		kl_fail("mmap MAP_HUGETLB|MAP_HUGE_1GB of %zu MiB failed: %s", bytes >> 20,
			strerror(err));
	}
	m->base = p;
	m->bytes = bytes;
	m->map = p;
	m->map_bytes = bytes;
}

void kl_memory_alloc(struct kl_memory *m, size_t bytes, enum kl_backing b)
{
	switch (b) {
	case KL_BACKING_ANON:
		alloc_aligned_anon(m, bytes);
		/* Force 4 KiB even when THP is "always": the baseline case. */
		if (madvise(m->base, bytes, MADV_NOHUGEPAGE) < 0)
			kl_fail("madvise(MADV_NOHUGEPAGE) failed: %s",
				strerror(errno));
		break;
	case KL_BACKING_THP:
		if (strcmp(kl_thp_setting(), "never") == 0 ||
		    strcmp(kl_thp_setting(), "unavailable") == 0)
			kl_skip("--backing thp: transparent hugepages are %s (" THP_ENABLED ")",
				kl_thp_setting());
		alloc_aligned_anon(m, bytes);
		if (madvise(m->base, bytes, MADV_HUGEPAGE) < 0)
			kl_fail("madvise(MADV_HUGEPAGE) failed: %s",
				strerror(errno));
		break;
	case KL_BACKING_HUGETLB:
		alloc_hugetlb(m, bytes);
		break;
	case KL_BACKING_HUGETLB_1G:
		alloc_hugetlb_1g(m, bytes);
		break;
	}
}

void kl_memory_free(struct kl_memory *m)
{
	if (m->map)
		munmap(m->map, m->map_bytes);
	m->map = NULL;
}

/*
 * How much of the test memory the host backs with huge pages right now,
 * from /proc/self/smaps (AnonHugePages for THP, *_Hugetlb for hugetlbfs).
 * It counts whole VMAs that overlap the range; ours has its own VMA since
 * its madvise flags differ from any neighbour's.  THP is best effort, so
 * this is the only way to know whether huge TDP mappings were possible.
 */
uint64_t kl_memory_huge_bytes(const struct kl_memory *m)
{
	uintptr_t lo = (uintptr_t)m->base, hi = lo + m->bytes;
	bool inside = false;
	uint64_t total = 0;
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		unsigned long long kb;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = start < hi && end > lo;
			continue;
		}
		if (!inside)
			continue;
		if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1 ||
		    sscanf(line, "Private_Hugetlb: %llu kB", &kb) == 1 ||
		    sscanf(line, "Shared_Hugetlb: %llu kB", &kb) == 1)
			total += kb * 1024;
	}
	fclose(f);
	return total;
}
