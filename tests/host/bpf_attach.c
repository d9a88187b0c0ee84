// SPDX-License-Identifier: GPL-2.0
/*
 * Loads, attaches and triggers every BPF program of kvmscope on the running
 * kernel: on the build machine (KVM built in) and in the lab (KVM modules).
 *
 *   bpf_attach [--kvmload PATH] [--all] [--rmap] [--series]
 *
 * --series: the kernel has the kvmscope KVM series, whose tracepoint
 * programs must then load, attach and fire; without it they must not be
 * attachable (a stock kernel).
 *
 * Prints one line per program: "PASS name", "FAIL name: why" or
 * "SKIP name: why". A program is skipped only when the kernel cannot run its
 * kind at all (e.g. fentry forbidden by policy) or lacks its target; --all
 * turns such skips into failures (the lab kernels must run everything).
 * With --kvmload, a workload VM is run and each attached program must have
 * counted or emitted what that workload provably causes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/kvm.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "lib/log.h"
#include "lib/probe.h"
#include "hooks/fault_slots.h"
#include "hooks/hooks.h"
#include "kvmscope.h"
#include "migrate.skel.h"

static int failed;

#define MAX_LINKS 64

#define PASS(...) do { printf("PASS "); printf(__VA_ARGS__); printf("\n"); } while (0)
#define SKIP(...) do { printf("SKIP "); printf(__VA_ARGS__); printf("\n"); } while (0)
#define FAIL(...) do { printf("FAIL "); printf(__VA_ARGS__); printf("\n"); failed++; } while (0)

/* The hook way a program belongs to, from the table in tracer/hooks/hooks.c. */
static const struct ks_way *way_of(const char *prog)
{
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		for (int w = 0; w < KS_MAX_WAYS && ks_hooks[i].ways[w].target; w++)
			for (int k = 0; k < KS_MAX_PROGS; k++)
				if (ks_hooks[i].ways[w].progs[k] &&
				    !strcmp(ks_hooks[i].ways[w].progs[k], prog))
					return &ks_hooks[i].ways[w];
	return NULL;
}

/* Is this one of the programs for the kernel series' tracepoints? */
static bool series_prog(const char *prog)
{
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		for (int w = 0; w < KS_MAX_WAYS && ks_hooks[i].ways[w].target; w++)
			for (int k = 0; k < KS_MAX_PROGS; k++)
				if (ks_hooks[i].ways[w].kind == KS_WAY_NEW_TP &&
				    ks_hooks[i].ways[w].progs[k] &&
				    !strcmp(ks_hooks[i].ways[w].progs[k], prog) &&
				    !strncmp(prog, "tp_", 3))
					return true;
	return false;
}

/* Why this kernel cannot run the program, or NULL if it should. The target
 * comes from the program's own section ("fentry/FUNC", "tp_btf/TP"). */
static const char *unrunnable(const struct ks_probe *p, const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog), *slash = strchr(sec, '/');
	const char *where;

	if (!slash)
		return "program without a target";
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6)) {
		switch (ks_probe_func(p, slash + 1, &where)) {
		case KS_FUNC_ABSENT: return "target function not in kernel BTF";
		case KS_FUNC_NOT_TRACEABLE: return "target function not traceable";
		case KS_FUNC_FORBIDDEN: return ks_probe_fentry_why(p);
		case KS_FUNC_OK: return NULL;
		}
	}
	return ks_probe_tracepoint(p, slash + 1, &where) ? NULL : "tracepoint absent";
}

static unsigned long long events_seen[16];

static unsigned long long actions_seen;

static int on_event(void *ctx, void *data, size_t len)
{
	const struct ks_event *e = data;
	unsigned int tgid = *(unsigned int *)ctx;

	if (len < sizeof(*e) || e->tgid != tgid || e->type >= 16)
		return 0;
	events_seen[e->type]++;
	if (e->type == KS_EV_MEMSLOT_COMMIT && (e->actions & KS_ACT_KNOWN))
		actions_seen++;
	return 0;
}

/* Sums one VM table's per-CPU counters over every VM of the process. */
static int sum_counters(struct migrate_bpf *skel, unsigned int tgid,
			struct ks_vm_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(skel->maps.vm_counters);
	struct ks_vm_key key, next, *prev = NULL;
	struct ks_vm_counters *vals;

	if (ncpu <= 0)
		return -1;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -1;
	memset(sum, 0, sizeof(*sum));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != tgid || bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int c = 0; c < ncpu; c++) {
			unsigned long long *d = (unsigned long long *)sum;
			const unsigned long long *s = (const unsigned long long *)&vals[c];

			for (size_t i = 0; i < sizeof(*sum) / sizeof(*d); i++)
				d[i] += s[i];
		}
	}
	free(vals);
	/* Faults are counted in the fault slots, not in vm_counters. */
	fd = bpf_map__fd(skel->maps.vm_slots);
	prev = NULL;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct ks_fault_slot s;

		key = next;
		prev = &key;
		if (key.tgid == tgid && !bpf_map_lookup_elem(fd, &key, &s))
			ks_fault_vm_read(skel, &s, &sum->faults, &sum->write_faults, &sum->wp_faults);
	}
	return 0;
}

/* Reads the binary stats header of a fresh VM: exercises kvm_stats_read. */
static int read_own_stats(void)
{
	struct kvm_stats_header hdr;
	int kvm, vm, sfd, ok = -1;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -1;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0) {
		sfd = ioctl(vm, KVM_GET_STATS_FD, NULL);
		if (sfd >= 0) {
			if (pread(sfd, &hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr))
				ok = 0;
			close(sfd);
		}
		close(vm);
	}
	close(kvm);
	return ok;
}

static pid_t run_kvmload(const char *path, const char *mode, int *status)
{
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execl(path, "kvmload", "--vcpus", "1", "--mem-per-vcpu", "16",
		      "--backing", "thp", "--iterations", "2", "--mode", mode,
		      "--map-gpa-calls", "2", "--json", (char *)NULL);
		fprintf(stderr, "bpf_attach: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, status, 0) != pid)
		return -1;
	return pid;
}

/* 1 if the kernel refuses to load one of our fentry programs, 0 if it
 * loads it, -1 on another error. */
static int fentry_refused(const struct ks_probe *p)
{
	struct migrate_bpf *s = migrate_bpf__open();
	struct bpf_program *prog;
	int err;

	(void)p;
	if (!s)
		return -1;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, !strcmp(bpf_program__name(prog), "fexit_gfn_write_protect"));
	/* libbpf would print the refusal as a warning: it is expected here. */
	libbpf_set_print(NULL);
	err = migrate_bpf__load(s);
	ks_libbpf_logging();
	migrate_bpf__destroy(s);
	return err ? 1 : 0;
}

/* The syscall way (kernels that refuse fentry; the loader's rodata
 * sys_decode): the pair of system call programs decoding every memslot and
 * dirty-log ioctl must load and attach on this kernel, whatever else it
 * allows, and with kvmload decode each of its syncs. Loaded apart: the
 * main object's copy of the pair, with the default rodata, only times. */
static void syscall_way(const char *kvmload)
{
	struct migrate_bpf *s = migrate_bpf__open();
	struct bpf_link *l[2] = { NULL, NULL };
	struct ring_buffer *rb = NULL;
	struct bpf_program *prog;
	unsigned int tgid;
	int status = 0, n = 0;
	pid_t pid;

	if (!s) {
		FAIL("syscall way: cannot open the BPF object");
		return;
	}
	s->rodata->sys_decode = KS_SYS_MEMSLOT | KS_SYS_GET | KS_SYS_CLEAR;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, !strncmp(bpf_program__name(prog), "tp_sys_", 7));
	if (migrate_bpf__load(s) ||
	    !(l[n++] = bpf_program__attach(s->progs.tp_sys_enter_ioctl)) ||
	    !(l[n++] = bpf_program__attach(s->progs.tp_sys_exit_ioctl))) {
		FAIL("syscall way: the ioctl-decoding programs do not load and attach: %s", strerror(errno));
		goto out;
	}
	PASS("syscall way: tp_sys_enter_ioctl and tp_sys_exit_ioctl decoding the ioctls load and attach");
	if (!kvmload)
		goto out;
	memset(events_seen, 0, sizeof(events_seen));
	pid = run_kvmload(kvmload, "manual-init-set", &status);
	tgid = pid;
	rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_event, &tgid, NULL);
	if (pid < 0 || status || !rb || ring_buffer__consume(rb) < 0)
		FAIL("trigger syscall way: kvmload run failed (status %d)", status);
	else if (events_seen[KS_EV_GET_DIRTY_LOG] == 2 && events_seen[KS_EV_CLEAR_DIRTY_LOG] &&
		 events_seen[KS_EV_MEMSLOT_COMMIT])
		PASS("trigger syscall way: kvmload's %llu memslot updates, 2 KVM_GET_DIRTY_LOG and %llu "
		     "KVM_CLEAR_DIRTY_LOG decoded", events_seen[KS_EV_MEMSLOT_COMMIT],
		     events_seen[KS_EV_CLEAR_DIRTY_LOG]);
	else
		FAIL("trigger syscall way: %llu memslot updates, %llu GET (expected 2), %llu CLEAR decoded",
		     events_seen[KS_EV_MEMSLOT_COMMIT], events_seen[KS_EV_GET_DIRTY_LOG],
		     events_seen[KS_EV_CLEAR_DIRTY_LOG]);
out:
	ring_buffer__free(rb);
	while (n > 0)
		bpf_link__destroy(l[--n]);
	migrate_bpf__destroy(s);
}

struct expectation {
	const char *prog;
	const char *what;
	unsigned long long got;
	bool tdp_only;   /* only the TDP MMU causes it: not checked with --rmap */
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kvmload", required_argument, NULL, 'k' },
		{ "all", no_argument, NULL, 'a' },
		{ "rmap", no_argument, NULL, 'r' },
		{ "series", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kvmload = NULL;
	bool all = false, rmap = false, series = false;
	struct migrate_bpf *skel;
	struct bpf_program *prog;
	struct ks_probe p;
	struct bpf_link *links[MAX_LINKS];
	int opt, err, nlinks = 0, fentry_skipped = 0, series_absent = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'k': kvmload = optarg; break;
		case 'a': all = true; break;
		case 'r': rmap = true; break;
		case 's': series = true; break;
		default:
			fprintf(stderr, "usage: bpf_attach [--kvmload PATH] [--all] [--rmap] [--series]\n");
			return 2;
		}
	}
	ks_log_init("bpf_attach");
	ks_libbpf_logging();
	ks_probe_init(&p);

	skel = migrate_bpf__open();
	if (!skel) {
		FAIL("open: %s", strerror(errno));
		goto out;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		const struct ks_way *w = way_of(name);
		const char *why = w ? unrunnable(&p, prog) : "program not listed in tracer/hooks/hooks.c";

		if (!w) {
			FAIL("%s: %s", name, why);
			bpf_program__set_autoload(prog, false);
		} else if (why && series_prog(name) && !series) {
			/* A stock kernel has none of the series' tracepoints. */
			series_absent++;
			bpf_program__set_autoload(prog, false);
		} else if (why) {
			if (all)
				FAIL("%s: %s", name, why);
			else if (!strncmp(bpf_program__section_name(prog), "f", 1) && p.fentry_err)
				fentry_skipped++; /* one line for them all, below */
			else
				SKIP("%s: %s", name, why);
			bpf_program__set_autoload(prog, false);
		} else if (series_prog(name) && !series) {
			FAIL("%s: the series tracepoint exists on a kernel said to be stock", name);
			bpf_program__set_autoload(prog, false);
		}
	}
	if (series_absent)
		PASS("stock kernel: none of the %d series tracepoint programs can attach, as expected",
		     series_absent);
	if (fentry_skipped) {
		/* The probe said fentry is refused here: prove it with one of
		 * our own programs, so a wrong probe cannot hide programs. */
		int rc = fentry_refused(&p);

		if (rc > 0)
			PASS("%d fentry/fexit programs left out: %s, and the kernel refuses ours too "
			     "(the lab tier runs them)", fentry_skipped, ks_probe_fentry_why(&p));
		else if (rc == 0)
			FAIL("fentry probe says '%s', but fexit_gfn_write_protect loads",
			     ks_probe_fentry_why(&p));
		else
			FAIL("cannot open a second copy of the BPF object");
	}
	/* Both ways in for faults are loaded: latency histograms too. */
	if (ks_fault_slots_size(skel, 0, true, true, true)) {
		FAIL("sizing the fault slot maps");
		goto out;
	}
	err = migrate_bpf__load(skel);
	if (err) {
		FAIL("load: %s (libbpf's log above)", strerror(-err));
		goto out;
	}
	if (ks_fault_slots_init(skel)) {
		FAIL("filling the free fault slot queues");
		goto out;
	}
	/* Attach one by one so each program gets its own verdict; the links
	 * stay up for the trigger phase and go in one place at the end. */
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			FAIL("%s: attach: %s", bpf_program__name(prog), strerror(errno));
			continue;
		}
		if (nlinks < MAX_LINKS)
			links[nlinks++] = link;
		PASS("load+attach %s", bpf_program__name(prog));
	}

	/* Its own kvmload run: events and counters are told apart by tgid. */
	syscall_way(kvmload);
	if (kvmload) {
		struct ring_buffer *rb = NULL;
		struct ks_vm_counters c;
		unsigned int tgid = 0;
		int status = 0;
		pid_t pid;

		pid = run_kvmload(kvmload, "manual-init-set", &status);
		if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			FAIL("trigger: kvmload failed (status %d)", status);
			goto out;
		}
		tgid = pid;
		rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &tgid, NULL);
		if (!rb || ring_buffer__consume(rb) < 0 || sum_counters(skel, tgid, &c)) {
			FAIL("trigger: cannot read results");
			ring_buffer__free(rb);
			goto out;
		}
		ring_buffer__free(rb);

		/* Each line: what this workload provably causes through the program. */
		const struct expectation ex[] = {
			{ "fexit_set_memslot", "memslot updates (create + log on/off)", events_seen[KS_EV_MEMSLOT_COMMIT], false },
			{ "fexit_get_dirty_log", "KVM_GET_DIRTY_LOG calls", events_seen[KS_EV_GET_DIRTY_LOG], false },
			{ "fexit_clear_dirty_log", "KVM_CLEAR_DIRTY_LOG calls", events_seen[KS_EV_CLEAR_DIRTY_LOG], false },
			{ "fexit_gfn_write_protect", "2M write-protects at clear (initially-set, THP)", c.wp_gfn_calls[2], false },
			{ "fexit_page_fault", "guest write faults", c.write_faults, false },
			{ "tp_page_fault", "guest write faults", c.write_faults, false },
			{ "fentry_flush_remote_tlbs", "remote TLB flushes", c.tlb_flushes, false },
			{ "tp_hypercall", "KVM_HC_MAP_GPA_RANGE hypercalls (kvmload --map-gpa-calls)", c.hypercalls_map_gpa, false },
			/* Shadow paging (--rmap runs) splits no TDP huge pages
			 * and skips no rmaps: those two are TDP-only. */
			{ "tp_split_huge_page", "huge page splits (THP, dirty logging)", c.splits[2] + c.splits[3], true },
			{ "tp_gfn_write_protect", "2M write-protects at clear (initially-set, THP)", c.wp_gfn_calls[2], false },
			{ "tp_apply_flags", "memslot updates carrying KVM's decision", actions_seen, false },
			{ "tp_rmap_skip", "memslots created without rmaps (TDP MMU)", events_seen[KS_EV_RMAP_SKIP], true },
		};
		for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
			struct bpf_program *pr = bpf_object__find_program_by_name(skel->obj, ex[i].prog);

			if (!pr || !bpf_program__autoload(pr) || (ex[i].tdp_only && rmap))
				continue;
			if (ex[i].got)
				PASS("trigger %s: %llu %s", ex[i].prog, ex[i].got, ex[i].what);
			else
				FAIL("trigger %s: no %s seen", ex[i].prog, ex[i].what);
		}

		/* kvmload makes one VM and closes its VM fd before it exits:
		 * exactly one of each (a release at exit would not be sent). */
		{
			static const struct {
				const char *prog, *what;
				int type;
			} once[] = {
				{ "fexit_dev_ioctl", "KVM_CREATE_VM", KS_EV_VM_CREATE },
				{ "fentry_vm_release", "VM fd released", KS_EV_VM_RELEASE },
			};

			for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
				struct bpf_program *pr = bpf_object__find_program_by_name(skel->obj, once[i].prog);
				unsigned long long n = events_seen[once[i].type];

				if (!pr || !bpf_program__autoload(pr))
					continue;
				if (n == 1)
					PASS("trigger %s: 1 %s by kvmload", once[i].prog, once[i].what);
				else
					FAIL("trigger %s: %llu %s by kvmload (expected 1)", once[i].prog, n,
					     once[i].what);
			}
		}

		/* Lazy rmaps: with the TDP MMU no memslot gets rmaps; with shadow
		 * paging (--rmap: lab booted with kvm_amd.npt=0) every slot does. */
		{
			struct bpf_program *pr = bpf_object__find_program_by_name(skel->obj, "fexit_rmap_alloc");
			unsigned long long n = events_seen[KS_EV_RMAP_ALLOC];

			if (pr && bpf_program__autoload(pr)) {
				if (rmap == (n > 0))
					PASS("trigger fexit_rmap_alloc: %llu rmap allocations (%s)", n,
					     rmap ? "shadow paging" : "TDP MMU: none expected");
				else
					FAIL("trigger fexit_rmap_alloc: %llu rmap allocations with %s", n,
					     rmap ? "shadow paging (expected some)" : "the TDP MMU (expected none)");
			}
		}

		/* Whole-slot write protect happens in get mode (eager), not with
		 * initially-set: check both halves of that decision. */
		{
			struct bpf_program *pr = bpf_object__find_program_by_name(skel->obj, "fexit_slot_write_protect");

			if (pr && bpf_program__autoload(pr)) {
				if (events_seen[KS_EV_SLOT_WRITE_PROTECT])
					FAIL("trigger fexit_slot_write_protect: %llu whole-slot write protects with initially-set (expected none)",
					     events_seen[KS_EV_SLOT_WRITE_PROTECT]);
				memset(events_seen, 0, sizeof(events_seen));
				pid = run_kvmload(kvmload, "get", &status);
				tgid = pid;
				rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &tgid, NULL);
				if (pid < 0 || status || !rb || ring_buffer__consume(rb) < 0)
					FAIL("trigger fexit_slot_write_protect: get-mode kvmload run failed");
				else if (events_seen[KS_EV_SLOT_WRITE_PROTECT])
					PASS("trigger fexit_slot_write_protect: %llu whole-slot write protects in get mode, none with initially-set",
					     events_seen[KS_EV_SLOT_WRITE_PROTECT]);
				else
					FAIL("trigger fexit_slot_write_protect: none in get mode");
				ring_buffer__free(rb);
			}
		}
	}

	/* kvm_stats_read: read a stats fd ourselves. */
	{
		struct bpf_program *pr = bpf_object__find_program_by_name(skel->obj, "fexit_vm_stats_read");

		if (pr && bpf_program__autoload(pr) && p.dev_kvm) {
			struct ks_vm_counters c;

			if (read_own_stats() ||
			    sum_counters(skel, getpid(), &c))
				FAIL("trigger fexit_vm_stats_read: cannot read a stats fd");
			else if (c.stats_reads)
				PASS("trigger fexit_vm_stats_read: %llu reads, %llu bytes",
				     c.stats_reads, c.stats_read_bytes);
			else
				FAIL("trigger fexit_vm_stats_read: read not seen");
		}
	}
out:
	while (nlinks > 0)
		bpf_link__destroy(links[--nlinks]);
	migrate_bpf__destroy(skel);
	ks_probe_free(&p);
	return failed ? 1 : 0;
}
