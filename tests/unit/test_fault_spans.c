/* The faults of a span (an interval, a dirty-log iteration) are never
 * fewer than its write-protect faults (ks_faults_at_least): KVM adds a
 * fault to pf_taken when it starts handling it and to pf_fast when its
 * fast path has fixed it, so a fault under way at a boundary shows in the
 * faults before it and in the write-protect faults after. */
#include "unit.h"
#include "migrate/model.h"

int main(void)
{
	uint64_t ahead = 0, sum = 0, f;
	/* (faults, write-protect faults) of consecutive spans as read: one
	 * fault under way at the first boundary, the second span all fast
	 * fixes (1580 read, 1581 fixed), then spans with slow-path faults. */
	static const uint64_t spans[][2] = { { 2001, 1500 }, { 1580, 1581 }, { 700, 700 },
					     { 900, 890 }, { 50, 10 } };
	uint64_t read = 0;
	int below = 0, unbalanced = 0;

	f = ks_faults_at_least(10, 4, &ahead);
	ASSERT_EQ("more faults than write-protect faults: as read", f, 10);
	ASSERT_EQ("... nothing reported ahead", ahead, 0);
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		f = ks_faults_at_least(spans[i][0], spans[i][1], &ahead);
		if (f < spans[i][1] && !below)
			below = (int)i + 1;
		sum += f;
		read += spans[i][0];
		if (sum != read + ahead && !unbalanced)
			unbalanced = (int)i + 1;
		if (i == 1)
			ASSERT_EQ("the all-fast span: its fix counted as a fault, 1 ahead", ahead, 1);
		if (i == 2)
			ASSERT_EQ("a span with no spare fault keeps it ahead", ahead, 1);
	}
	ASSERT_EQ("no span with fewer faults than write-protect faults (first such, 1-based)", below, 0);
	ASSERT_EQ("after each span: reported = read + ahead (first not, 1-based)", unbalanced, 0);
	ASSERT_EQ("a span with slow-path faults catches up", ahead, 0);
	ASSERT_EQ("the spans add up to the faults read", sum, read);

	ahead = 5;
	ASSERT_EQ("never below the write-protect faults, even far ahead",
		  ks_faults_at_least(3, 2, &ahead), 2);
	ASSERT_EQ("... and ahead goes down by what was given back", ahead, 4);
	ASSERT_EQ("no faults at all", ks_faults_at_least(0, 0, &ahead), 0);
	ASSERT_EQ("... ahead unchanged", ahead, 4);
	return unit_failed != 0;
}
