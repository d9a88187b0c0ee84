// SPDX-License-Identifier: GPL-2.0
/*
 * Command line parsing.  Every value is range-checked here so that the rest
 * of kvmload can trust struct kl_config; bad input exits 2 with one line.
 */
#include "kvmload.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"Usage: kvmload [OPTION]...\n"
"Run a small VM whose vCPUs dirty known pages while the VMM performs KVM\n"
"dirty logging, and report every dirty-log ioctl as ground truth.\n"
"\n"
"  --vcpus N              vCPUs, one thread each (1..256, default 1)\n"
"  --mem-per-vcpu MIB     test memory per vCPU in MiB (default 64;\n"
"                         vcpus * MIB at most 2048)\n"
"  --slots K              split the test memory into K memslots of equal\n"
"                         size (1..256, default 1): each a whole number of\n"
"                         2 MiB, or with --backing anon of 64 pages\n"
"  --slot-mib MIB         make each slot MIB long (2..1048576, even, at\n"
"                         least its share of the test memory, which must\n"
"                         then be whole 2 MiB): only the share at its\n"
"                         start is populated and written, the rest is\n"
"                         never touched (anon or thp backing)\n"
"  --backing TYPE         anon | thp | hugetlb | hugetlb-1g (default anon;\n"
"                         hugetlb-1g: 1 GiB pages, test memory a whole\n"
"                         number of GiB)\n"
"  --iterations I         dirty-log iterations (1..65535, default 3)\n"
"  --write-percent P      share of its pages each vCPU writes per\n"
"                         iteration (1..100, default 100)\n"
"  --mode MODE            get | manual | manual-init-set (default get)\n"
"  --clear-chunk-pages N  manual modes: pages per KVM_CLEAR_DIRTY_LOG, a\n"
"                         multiple of 64 (default: whole slot at once)\n"
"  --pause-ms MS          sleep between iterations (default 0)\n"
"  --hold-ms MS           sleep after populating, before dirty logging is\n"
"                         enabled, so a tracer can attach (default 0)\n"
"  --no-stats-fd          do not hold binary stats fds (by default the VM's\n"
"                         and every vCPU's KVM_GET_STATS_FD stay open, as in\n"
"                         a VMM that exports stats, so tools can read them)\n"
"  --stats-fd-delay-ms MS open the stats fds this long after the VM and its\n"
"                         vCPUs exist (0..60000, default 0): a VMM that\n"
"                         opens them late, as QEMU does on its first\n"
"                         query-stats\n"
"  --stats-reads N        read the VM's and every vCPU's stats fd N times\n"
"                         after populating, after each iteration and after\n"
"                         logging is disabled (0..1000, default 0)\n"
"  --map-gpa-calls N      each vCPU makes N KVM_HC_MAP_GPA_RANGE hypercalls\n"
"                         per iteration, one page each (0..100000,\n"
"                         default 0): the SEV page-status interface\n"
"  --nested               once, after populating (and --hold-ms), run a\n"
"                         nested guest with nested paging on an extra\n"
"                         vCPU: KVM's first shadow root for this VM (AMD\n"
"                         hosts with nested SVM; docs/kvmload.md)\n"
"  --smm-slots            map each test slot in address space 1 (x86 SMM)\n"
"                         too, same slot number, GPA and memory, as QEMU's\n"
"                         q35 does, and log it like the test slots: the\n"
"                         guest never enters SMM, so KVM reports none of its\n"
"                         pages dirty (all of them in initially-set's first\n"
"                         GET)\n"
"  --io-exits N           each vCPU then makes N port I/O exits to the VMM\n"
"                         per iteration (0..10000000, default 0): KVM_RUN\n"
"                         round trips\n"
"  --phase-timeout SEC    fail, naming the vCPUs still in KVM_RUN and where\n"
"                         their guests are, if a phase (populate, one\n"
"                         iteration) takes longer (0..86400, 0 = no limit,\n"
"                         default 120): a hang becomes an error\n"
"  --json                 JSON lines ground truth on stdout\n"
"  --inject-fault KIND    test the checks: in the last iteration pretend\n"
"                         lost-dirty | extra-dirty | bad-value | hang\n"
"                         (a guest that never finishes: --phase-timeout\n"
"                         ends it) (exits 1)\n"
"  --help                 show this help\n"
"\n"
"Exit status: 0 ok, 1 failure (KVM error, guest fault, invariant\n"
"violated), 2 usage error, 4 host cannot run this (no /dev/kvm, missing\n"
"capability, no hugepages).  See docs/kvmload.md.\n";

__attribute__((noreturn, format(printf, 1, 2)))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kvmload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(KL_EXIT_USAGE);
}

/*
 * strtoul() alone accepts " -1" (wrapping it), "12abc" and "" silently;
 * only plain decimal digits are accepted here.
 */
static uint64_t parse_uint(const char *opt, const char *s, uint64_t min,
			   uint64_t max)
{
	unsigned long long v;
	char *end;

	if (s[0] == '-')
		usage_error("%s: '%s' is negative (expected %llu..%llu)", opt, s,
			    (unsigned long long)min, (unsigned long long)max);
	if (s[0] < '0' || s[0] > '9')
		usage_error("%s: '%s' is not a number (expected %llu..%llu)",
			    opt, s, (unsigned long long)min,
			    (unsigned long long)max);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		usage_error("%s: '%s' is not a number (expected %llu..%llu)",
			    opt, s, (unsigned long long)min,
			    (unsigned long long)max);
	if (errno == ERANGE || v < min || v > max)
		usage_error("%s: %s is out of range (expected %llu..%llu)",
			    opt, s, (unsigned long long)min,
			    (unsigned long long)max);
	return v;
}

/* For the many options whose range fits an unsigned int. */
static unsigned int parse_small(const char *opt, const char *s,
				unsigned int min, unsigned int max)
{
	return (unsigned int)parse_uint(opt, s, min, max);
}

static const char *const backing_names[] = {
	[KL_BACKING_ANON] = "anon",
	[KL_BACKING_THP] = "thp",
	[KL_BACKING_HUGETLB] = "hugetlb",
	[KL_BACKING_HUGETLB_1G] = "hugetlb-1g",
};

static const char *const mode_names[] = {
	[KL_MODE_GET] = "get",
	[KL_MODE_MANUAL] = "manual",
	[KL_MODE_MANUAL_INIT_SET] = "manual-init-set",
};

static const char *const fault_names[] = {
	[KL_FAULT_LOST_DIRTY - 1] = "lost-dirty",
	[KL_FAULT_EXTRA_DIRTY - 1] = "extra-dirty",
	[KL_FAULT_BAD_VALUE - 1] = "bad-value",
	[KL_FAULT_HANG - 1] = "hang",
};

const char *kl_backing_name(enum kl_backing b)
{
	return backing_names[b];
}

const char *kl_mode_name(enum kl_mode m)
{
	return mode_names[m];
}

const char *kl_fault_name(enum kl_fault f)
{
	return f == KL_FAULT_NONE ? NULL : fault_names[f - 1];
}

static unsigned int parse_enum(const char *opt, const char *s,
			       const char *const *names, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (n == 3)
		usage_error("%s: unknown value '%s' (expected %s, %s or %s)",
			    opt, s, names[0], names[1], names[2]);
	if (n == 4)
		usage_error("%s: unknown value '%s' (expected %s, %s, %s or %s)",
			    opt, s, names[0], names[1], names[2], names[3]);
	usage_error("%s: unknown value '%s'", opt, s);
}

enum {
	OPT_VCPUS = 256, OPT_MEM, OPT_SLOTS, OPT_BACKING, OPT_ITERATIONS,
	OPT_WRITE_PERCENT, OPT_MODE, OPT_CLEAR_CHUNK, OPT_PAUSE, OPT_HOLD,
	OPT_JSON, OPT_INJECT, OPT_HELP, OPT_NO_STATS_FD, OPT_STATS_READS,
	OPT_MAP_GPA_CALLS, OPT_STATS_FD_DELAY, OPT_NESTED, OPT_SLOT_MIB, OPT_IO_EXITS,
	OPT_PHASE_TIMEOUT, OPT_SMM_SLOTS,
};

static const struct option long_options[] = {
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "mem-per-vcpu", required_argument, NULL, OPT_MEM },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "slot-mib", required_argument, NULL, OPT_SLOT_MIB },
	{ "io-exits", required_argument, NULL, OPT_IO_EXITS },
	{ "backing", required_argument, NULL, OPT_BACKING },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "write-percent", required_argument, NULL, OPT_WRITE_PERCENT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "clear-chunk-pages", required_argument, NULL, OPT_CLEAR_CHUNK },
	{ "pause-ms", required_argument, NULL, OPT_PAUSE },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-stats-fd", no_argument, NULL, OPT_NO_STATS_FD },
	{ "stats-reads", required_argument, NULL, OPT_STATS_READS },
	{ "stats-fd-delay-ms", required_argument, NULL, OPT_STATS_FD_DELAY },
	{ "map-gpa-calls", required_argument, NULL, OPT_MAP_GPA_CALLS },
	{ "inject-fault", required_argument, NULL, OPT_INJECT },
	{ "nested", no_argument, NULL, OPT_NESTED },
	{ "smm-slots", no_argument, NULL, OPT_SMM_SLOTS },
	{ "phase-timeout", required_argument, NULL, OPT_PHASE_TIMEOUT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Checks that involve more than one option. */
static void check_combination(const struct kl_config *c)
{
	uint64_t total_mib = (uint64_t)c->vcpus * c->mem_per_vcpu_mib;
	uint64_t slot_pages;

	if (total_mib > KL_TEST_MAX_MIB)
		usage_error("--vcpus %u x --mem-per-vcpu %u = %llu MiB exceeds the %u MiB the 32-bit guest can address",
			    c->vcpus, c->mem_per_vcpu_mib,
			    (unsigned long long)total_mib, KL_TEST_MAX_MIB);
	if (total_mib % 2)
		usage_error("--vcpus %u x --mem-per-vcpu %u = %llu MiB is not a whole number of 2 MiB",
			    c->vcpus, c->mem_per_vcpu_mib,
			    (unsigned long long)total_mib);
	/*
	 * Whole 2 MiB slots keep GPA and HVA huge-page aligned in every slot.
	 * 4 KiB backing needs no more than whole 64-page words of the dirty
	 * bitmap (KVM_CLEAR_DIRTY_LOG works on them): many small slots, as a
	 * VMM with memory hotplug has.
	 */
	if (c->backing == KL_BACKING_ANON) {
		uint64_t pages = total_mib * (KL_MIB / KL_PAGE_SIZE);

		if (pages % c->slots || (pages / c->slots) % 64)
			usage_error("--slots %u: %llu MiB of test memory does not split into %u slots of a whole number of 64 pages each",
				    c->slots, (unsigned long long)total_mib, c->slots);
	} else if (total_mib % (2ULL * c->slots) != 0) {
		usage_error("--slots %u: %llu MiB of test memory does not split into %u slots of a whole number of 2 MiB each",
			    c->slots, (unsigned long long)total_mib, c->slots);
	}
	if (c->backing == KL_BACKING_HUGETLB_1G && total_mib % 1024)
		usage_error("--backing hugetlb-1g: %llu MiB of test memory is not a whole number of 1 GiB pages",
			    (unsigned long long)total_mib);
	slot_pages = total_mib * (KL_MIB / KL_PAGE_SIZE) / c->slots;
	if (c->slot_mib) {
		uint64_t share_mib = total_mib / c->slots;

		/* Slots laid out in whole MiB: each one's share as well. */
		if (total_mib % (2ULL * c->slots) != 0)
			usage_error("--slot-mib needs slots whose share of the test memory is a whole number of 2 MiB (--slots %u of %llu MiB)",
				    c->slots, (unsigned long long)total_mib);
		if (c->slot_mib % 2)
			usage_error("--slot-mib %u is not a whole number of 2 MiB", c->slot_mib);
		if (c->slot_mib < share_mib)
			usage_error("--slot-mib %u is smaller than a slot's share of the test memory (%llu MiB)",
				    c->slot_mib, (unsigned long long)share_mib);
		if (c->slot_mib > share_mib &&
		    (c->backing == KL_BACKING_HUGETLB || c->backing == KL_BACKING_HUGETLB_1G))
			usage_error("--slot-mib larger than the test memory's share needs --backing anon or thp (hugetlb reserves the whole mapping)");
		if ((uint64_t)c->slots * c->slot_mib > KL_SLOT_MAX_MIB)
			usage_error("--slots %u x --slot-mib %u exceeds %u MiB of guest physical memory",
				    c->slots, c->slot_mib, KL_SLOT_MAX_MIB);
		slot_pages = (uint64_t)c->slot_mib * (KL_MIB / KL_PAGE_SIZE);
	}
	if (c->stats_reads && c->no_stats_fd)
		usage_error("--stats-reads needs the stats fds that --no-stats-fd gives up");
	if (c->stats_fd_delay_ms && c->no_stats_fd)
		usage_error("--stats-fd-delay-ms delays the stats fds that --no-stats-fd gives up");
	if (c->clear_chunk_pages && c->mode == KL_MODE_GET)
		usage_error("--clear-chunk-pages only applies to --mode manual or manual-init-set");
	if (c->clear_chunk_pages > slot_pages)
		usage_error("--clear-chunk-pages %llu is larger than a slot (%llu pages)",
			    (unsigned long long)c->clear_chunk_pages,
			    (unsigned long long)slot_pages);
}

void kl_parse_options(int argc, char **argv, struct kl_config *c)
{
	int opt;

	*c = (struct kl_config){
		.vcpus = 1,
		.mem_per_vcpu_mib = 64,
		.slots = 1,
		.backing = KL_BACKING_ANON,
		.iterations = 3,
		.phase_timeout_s = 120,
		.write_percent = 100,
		.mode = KL_MODE_GET,
	};

	opterr = 0;	/* our own messages, one line, exit 2 */
	/* The leading ':' makes a missing value return ':' rather than '?'. */
	while ((opt = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_VCPUS:
			c->vcpus = parse_small("--vcpus", optarg, 1, KL_MAX_VCPUS);
			break;
		case OPT_MEM:
			c->mem_per_vcpu_mib = parse_small("--mem-per-vcpu", optarg,
							 1, KL_TEST_MAX_MIB);
			break;
		case OPT_SLOTS:
			c->slots = parse_small("--slots", optarg, 1, KL_MAX_SLOTS);
			break;
		case OPT_BACKING:
			c->backing = parse_enum("--backing", optarg, backing_names, 4);
			break;
		case OPT_ITERATIONS:
			c->iterations = parse_small("--iterations", optarg, 1,
						   KL_MAX_ITERATIONS);
			break;
		case OPT_WRITE_PERCENT:
			c->write_percent = parse_small("--write-percent", optarg,
						      1, 100);
			break;
		case OPT_MODE:
			c->mode = parse_enum("--mode", optarg, mode_names, 3);
			break;
		case OPT_CLEAR_CHUNK:
			c->clear_chunk_pages = parse_uint("--clear-chunk-pages",
							  optarg, 64, 1ULL << 30);
			if (c->clear_chunk_pages % 64)
				usage_error("--clear-chunk-pages: %s is not a multiple of 64 (KVM_CLEAR_DIRTY_LOG works on 64-page words)",
					    optarg);
			break;
		case OPT_PAUSE:
			c->pause_ms = parse_small("--pause-ms", optarg, 0,
						 KL_MAX_SLEEP_MS);
			break;
		case OPT_HOLD:
			c->hold_ms = parse_small("--hold-ms", optarg, 0,
						KL_MAX_SLEEP_MS);
			break;
		case OPT_SLOT_MIB:
			c->slot_mib = parse_small("--slot-mib", optarg, 2, KL_SLOT_MAX_MIB);
			break;
		case OPT_IO_EXITS:
			c->io_exits = parse_small("--io-exits", optarg, 0, KL_MAX_IO_EXITS);
			break;
		case OPT_PHASE_TIMEOUT:
			c->phase_timeout_s = parse_small("--phase-timeout", optarg, 0, 86400);
			break;
		case OPT_MAP_GPA_CALLS:
			c->map_gpa_calls = parse_small("--map-gpa-calls", optarg, 0, 100000);
			break;
		case OPT_NO_STATS_FD:
			c->no_stats_fd = true;
			break;
		case OPT_STATS_FD_DELAY:
			c->stats_fd_delay_ms = parse_small("--stats-fd-delay-ms", optarg, 0, 60000);
			break;
		case OPT_STATS_READS:
			c->stats_reads = parse_small("--stats-reads", optarg, 0,
						    KL_MAX_STATS_READS);
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_NESTED:
			c->nested = true;
			break;
		case OPT_SMM_SLOTS:
			c->smm_slots = true;
			break;
		case OPT_INJECT:
			c->inject = 1 + parse_enum("--inject-fault", optarg,
						   fault_names, 4);
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(KL_EXIT_OK);
		case ':':
			usage_error("option %s needs a value", argv[optind - 1]);
		default:
			/*
			 * Short options: optopt is the letter.  Long ones:
			 * optopt is 0 (unknown/ambiguous) or the option's val
			 * (value given to a flag); argv[optind - 1] names it.
			 */
			if (optopt > 0 && optopt < 128)
				usage_error("unknown option '-%c'", optopt);
			usage_error("invalid option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	check_combination(c);
}
