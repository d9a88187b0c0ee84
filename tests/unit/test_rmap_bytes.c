/* The rmap size formula, against sizes worked out by hand. */
#include <stdint.h>
#include "unit.h"
#include "kvm/rmap_bytes.h"

int main(void)
{
	/* 64 MiB at 1 GiB: 16384 4K pages, 32 2M pages, 1 1G page. */
	ASSERT_EQ("64 MiB aligned", ks_rmap_bytes(262144, 16384), (16384 + 32 + 1) * 8);
	/* One page: one head at each size. */
	ASSERT_EQ("one page", ks_rmap_bytes(5, 1), 3 * 8);
	/* 2 pages straddling a 2M boundary (gfn 511, 512): two 2M heads. */
	ASSERT_EQ("straddles 2M", ks_rmap_bytes(511, 2), (2 + 2 + 1) * 8);
	/* Straddling a 1G boundary too (gfn 262143, 262144). */
	ASSERT_EQ("straddles 1G", ks_rmap_bytes(262143, 2), (2 + 2 + 2) * 8);
	ASSERT_EQ("empty slot", ks_rmap_bytes(100, 0), 0);
	/* 0.2% of guest memory, as the seed series says: 8 bytes per 4 KiB. */
	CHECK("about 0.2% of memory", ks_rmap_bytes(0, 262144) * 1000 / (262144ULL * 4096) == 1 ||
	      ks_rmap_bytes(0, 262144) * 1000 / (262144ULL * 4096) == 2, "%llu",
	      (unsigned long long)ks_rmap_bytes(0, 262144));
	UNIT_EXIT();
}
