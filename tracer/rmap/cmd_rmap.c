// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope rmap: what lazy rmap allocation saved, per VM and memslot.
 *
 * With the TDP MMU, KVM allocates a memslot's rmap arrays (8 bytes per gfn
 * per page size) only once a shadow root exists (nested guests, shadow
 * paging). At start, a task_file iterator (bpf/rmap.bpf.c) reads every
 * existing VM's memslots and whether their rmaps exist; then the migrate
 * programs report memslots and rmap allocations live. docs/rmap.md has the
 * formula and the states.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "lib/help.h"
#include "hooks/loader.h"
#include "migrate.skel.h"
#include "rmap.skel.h"
#include "kvmscope.h"
#include "kvm/rmap_bytes.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/runopts.h"
#include "lib/signals.h"

#define MAX_SLOTS 4096

struct rmap_args {
	struct ks_run_opts run;  /* -i is not offered */
	bool once;
};

enum slot_state {
	ST_NONE,          /* no rmaps: the TDP MMU needs none */
	ST_AT_CREATE,     /* allocated with the memslot */
	ST_LAZY,          /* allocated at the VM's first shadow root */
	ST_BEFORE_START,  /* allocated before kvmscope started; reason inferred */
	ST_FAILED,        /* allocation failed */
	ST_UNKNOWN,       /* created while watching on a kernel where rmap
			   * allocation cannot be traced (kvmscope check) */
};
static const char *const state_names[] = {
	"never (TDP MMU needs none)", "at memslot creation", "lazily, at first shadow root",
	"before start", "allocation failed",
	"not known (rmap allocation not traceable on this kernel; --once reads it)" };
static const char *const state_keys[] = { "never", "at_create", "lazy", "before_start", "failed",
					  "unknown" };

struct slot {
	bool used, deleted;
	unsigned int tgid, as_id;
	int id;
	uint64_t base_gfn, npages;
	enum slot_state state;
	uint64_t alloc_ts, alloc_ns;
	bool shadow_root;        /* VM had a shadow root when read at start */
};

struct rmap_run {
	const struct rmap_args *a;
	struct slot slots[MAX_SLOTS];
	int tdp_mmu;             /* 1 yes, 0 no, -1 unknown */
	bool rmap_traced;        /* rmap allocations have a way in (live mode) */
	uint64_t start_ns;
	uint64_t lost;
	uint64_t unknown;        /* memslots of state ST_UNKNOWN at the report */
};

static struct slot *slot_of(struct rmap_run *r, unsigned int tgid, unsigned int as_id, int id,
			    bool create)
{
	struct slot *free_slot = NULL;

	for (int i = 0; i < MAX_SLOTS; i++) {
		struct slot *s = &r->slots[i];

		if (s->used && !s->deleted && s->tgid == tgid && s->as_id == as_id && s->id == id)
			return s;
		if (!s->used && !free_slot)
			free_slot = s;
	}
	if (!create)
		return NULL;
	if (!free_slot) {
		r->lost++;
		return NULL;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->tgid = tgid;
	free_slot->as_id = as_id;
	free_slot->id = id;
	return free_slot;
}

static int read_tdp_mmu(void)
{
	FILE *f = fopen("/sys/module/kvm/parameters/tdp_mmu", "r");
	int c;

	if (!f)
		return -1;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
}

/* The state of every existing VM, from the task_file iterator. */
static int read_existing(struct rmap_run *r)
{
	struct rmap_bpf *skel = rmap_bpf__open();
	struct bpf_link *link = NULL;
	struct ks_slot_rec rec;
	int fd = -1, err = -1;
	ssize_t n;

	if (!skel)
		return ks_err("cannot open the iterator program: %s", strerror(errno));
	skel->rodata->filter_tgid = (unsigned int)r->a->run.pid;
	if (rmap_bpf__load(skel)) {
		ks_err("cannot load the memslot iterator (needs BTF and BPF iterators, kernel 5.8+): %s",
		       strerror(errno));
		goto out;
	}
	link = bpf_program__attach_iter(skel->progs.kvm_vm_slots, NULL);
	if (!link) {
		ks_err("cannot attach the memslot iterator: %s", strerror(errno));
		goto out;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		ks_err("cannot run the memslot iterator: %s", strerror(errno));
		goto out;
	}
	while ((n = read(fd, &rec, sizeof(rec))) == (ssize_t)sizeof(rec)) {
		struct slot *s;

		if (rec.slot < 0)
			continue; /* a VM without memslots */
		s = slot_of(r, rec.tgid, rec.as_id, rec.slot, true);
		if (!s)
			continue;
		s->base_gfn = rec.base_gfn;
		s->npages = rec.npages;
		s->shadow_root = rec.shadow_root_allocated;
		s->state = rec.rmap_allocated ? ST_BEFORE_START : ST_NONE;
	}
	if (n < 0) {
		ks_err("reading the memslot iterator: %s", strerror(errno));
		goto out;
	}
	r->lost += skel->bss->slots_lost;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	rmap_bpf__destroy(skel);
	return err;
}

static void print_event(struct rmap_run *r, const struct slot *s, const char *what,
			uint64_t ts, uint64_t dur)
{
	struct ks_json j;

	if (r->a->run.json) {
		ks_json_begin(&j, stdout, "rmap_event", ts);
		ks_json_str(&j, "event", what);
		ks_json_u64(&j, "pid", s->tgid);
		ks_json_i64(&j, "slot", s->id);
		ks_json_u64(&j, "as_id", s->as_id);
		ks_json_u64(&j, "npages", s->npages);
		ks_json_u64(&j, "bytes", ks_rmap_bytes(s->base_gfn, s->npages));
		ks_json_u64(&j, "dur_ns", dur);
		ks_json_end(&j);
		return;
	}
	printf("%10.3fs  pid %-7u slot %d: %s (%llu pages, rmaps %llu bytes%s)\n",
	       (ts - r->start_ns) / 1e9, s->tgid, s->id, what, (unsigned long long)s->npages,
	       (unsigned long long)ks_rmap_bytes(s->base_gfn, s->npages),
	       !strcmp(what, "memslot created") ? (s->state == ST_NONE ? ", not allocated" :
					       s->state == ST_UNKNOWN ? "" : ", allocated") : "");
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct rmap_run *r = ctx;
	const struct ks_event *e = data;
	struct slot *s;

	if (len < sizeof(*e))
		return 0;
	ks_debug("event type %u pid %u slot %d change %u result %lld", e->type, e->tgid, e->slot,
		 e->change, e->result);
	if (e->slot < 0)
		return 0;
	if (r->a->run.pid && (int)e->tgid != r->a->run.pid)
		return 0;
	if (e->type == KS_EV_RMAP_ALLOC) {
		s = slot_of(r, e->tgid, e->as_id, e->slot, true);
		if (!s)
			return 0;
		s->base_gfn = e->base_gfn;
		s->npages = e->npages;
		s->alloc_ts = e->ts_ns;
		s->alloc_ns = e->dur_ns;
		s->state = e->result ? ST_FAILED :
			   e->change == KS_RMAP_MEMSLOT_CREATE ? ST_AT_CREATE : ST_LAZY;
		if (s->state == ST_LAZY)
			print_event(r, s, "rmaps allocated lazily", e->ts_ns, e->dur_ns);
	} else if (e->type == KS_EV_MEMSLOT_COMMIT && e->result == 0) {
		if (e->change == 0) { /* create: the rmap event, if any, came first */
			s = slot_of(r, e->tgid, e->as_id, e->slot, true);
			if (!s)
				return 0;
			s->base_gfn = e->base_gfn;
			s->npages = e->npages;
			/* No allocation event before it: none, if they can be
			 * seen at all. */
			if (s->state != ST_AT_CREATE && s->state != ST_FAILED)
				s->state = r->rmap_traced ? ST_NONE : ST_UNKNOWN;
			print_event(r, s, "memslot created", e->ts_ns, e->dur_ns);
		} else if (e->change == 1) { /* delete */
			s = slot_of(r, e->tgid, e->as_id, e->slot, false);
			if (s) {
				print_event(r, s, "memslot deleted", e->ts_ns, e->dur_ns);
				s->deleted = true;
			}
		}
	}
	return 0;
}

static void report(struct rmap_run *r)
{
	uint64_t ts = ks_now_ns();
	unsigned int last_tgid = 0;
	uint64_t alloc = 0, avoided = 0;
	struct ks_json j;

	for (int pass = 0; pass < 1; pass++) {
		for (int i = 0; i < MAX_SLOTS; i++) {
			const struct slot *s = &r->slots[i];
			uint64_t bytes;

			if (!s->used || s->deleted)
				continue;
			bytes = ks_rmap_bytes(s->base_gfn, s->npages);
			if (s->state == ST_NONE)
				avoided += bytes;
			else if (s->state == ST_UNKNOWN)
				r->unknown++;
			else if (s->state != ST_FAILED)
				alloc += bytes;
			if (r->a->run.json) {
				ks_json_begin(&j, stdout, "rmap_slot", ts);
				ks_json_u64(&j, "pid", s->tgid);
				ks_json_i64(&j, "slot", s->id);
				ks_json_u64(&j, "as_id", s->as_id);
				ks_json_u64(&j, "base_gfn", s->base_gfn);
				ks_json_u64(&j, "npages", s->npages);
				ks_json_str(&j, "state", state_keys[s->state]);
				if (s->state == ST_UNKNOWN) {
					ks_json_null(&j, "bytes_allocated");
					ks_json_null(&j, "bytes_avoided");
				} else {
					ks_json_u64(&j, "bytes_allocated",
						    s->state == ST_NONE || s->state == ST_FAILED ? 0 : bytes);
					ks_json_u64(&j, "bytes_avoided", s->state == ST_NONE ? bytes : 0);
				}
				if (s->alloc_ts) {
					ks_json_u64(&j, "alloc_ts_ns", s->alloc_ts);
					ks_json_u64(&j, "alloc_ns", s->alloc_ns);
				}
				ks_json_end(&j);
				continue;
			}
			if (s->tgid != last_tgid) {
				printf("\nVM pid %u  (TDP MMU %s%s)\n", s->tgid,
				       r->tdp_mmu == 1 ? "on" : r->tdp_mmu == 0 ? "off" : "unknown",
				       s->shadow_root ? ", has had a shadow root" : "");
				printf("  %5s %3s %12s %12s %14s %14s  %s\n", "slot", "as", "pages", "rmap bytes",
				       "allocated", "avoided", "rmaps");
				last_tgid = s->tgid;
			}
			if (s->state == ST_UNKNOWN)
				printf("  %5d %3u %12llu %12llu %14s %14s  %s",
				       s->id, s->as_id, (unsigned long long)s->npages,
				       (unsigned long long)bytes, "-", "-", state_names[s->state]);
			else
				printf("  %5d %3u %12llu %12llu %14llu %14llu  %s",
				       s->id, s->as_id, (unsigned long long)s->npages, (unsigned long long)bytes,
				       (unsigned long long)(s->state == ST_NONE || s->state == ST_FAILED ? 0 : bytes),
				       (unsigned long long)(s->state == ST_NONE ? bytes : 0), state_names[s->state]);
			if (s->alloc_ts)
				printf(" (+%.3f s, %.3f ms)", (s->alloc_ts - r->start_ns) / 1e9, s->alloc_ns / 1e6);
			printf("\n");
		}
	}
	if (r->a->run.json) {
		ks_json_begin(&j, stdout, "rmap_summary", ts);
		ks_json_u64(&j, "bytes_allocated", alloc);
		ks_json_u64(&j, "bytes_avoided", avoided);
		ks_json_i64(&j, "tdp_mmu", r->tdp_mmu);
		ks_json_u64(&j, "lost", r->lost);
		ks_json_u64(&j, "slots_unknown", r->unknown);
		ks_json_end(&j);
	} else {
		printf("\nrmap bytes allocated %llu, avoided %llu%s\n", (unsigned long long)alloc,
		       (unsigned long long)avoided, r->lost ? " (some memslots could not be tracked)" : "");
		if (r->unknown)
			printf("not known: %llu memslots created while watching (rmap allocation cannot be "
			       "traced on this kernel)\n", (unsigned long long)r->unknown);
		if (r->lost)
			printf("lost: %llu memslots\n", (unsigned long long)r->lost);
	}
	fflush(stdout);
}

static const struct argp_option rmap_options[] = {
	{ "pid", 'p', "PID", 0, "Only the VMM with this process id", 0 },
	{ "duration", 'd', "DURATION", 0, "Watch live for DURATION, then report (default: until SIGINT, SIGTERM, SIGHUP or SIGQUIT)", 0 },
	{ "once", 'o', NULL, 0, "Report the current state of existing VMs and exit", 0 },
	{ "json", 'j', NULL, 0, "JSON lines (docs/json.md)", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	{ 0 },
};

static error_t parse_rmap(int key, char *arg, struct argp_state *state)
{
	struct rmap_args *a = state->input;

	if (key == 'o') {
		a->once = true;
		return 0;
	}
	return ks_parse_run_opt(key, arg, state, &a->run);
}

const struct argp ks_rmap_argp = { rmap_options, parse_rmap, NULL,
	"Show, per VM and memslot, whether KVM allocated rmaps, when and why, and the "
	"bytes lazy rmap allocation avoided (docs/rmap.md).",
	ks_help_children, NULL, NULL };

int cmd_rmap(int argc, char **argv)
{
	struct rmap_args a = { 0 };
	struct ks_loader_opts lo = { 0 };
	struct ring_buffer *rb = NULL;
	struct ks_loader l;
	struct ks_probe p;
	struct rmap_run *r;
	int status = KS_EXIT_FAIL;
	uint64_t end;

	if (argp_parse(&ks_rmap_argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	if (a.run.pid && kill(a.run.pid, 0) && errno == ESRCH)
		return ks_err("no process with PID %d", a.run.pid), KS_EXIT_FAIL;
	if (ks_signals_install())
		return KS_EXIT_FAIL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ks_err("out of memory"), KS_EXIT_FAIL;
	r->a = &a;
	r->tdp_mmu = read_tdp_mmu();
	ks_libbpf_logging();
	memset(&l, 0, sizeof(l));
	ks_progress("probing the kernel...");
	ks_probe_init(&p);
	/* The memslot iterator needs no module BTF; live mode's loader
	 * checks for that itself. */
	if (ks_require_tracing_privileges(false))
		goto out;
	/* Live events first, so nothing happens between the snapshot and them. */
	if (!a.once) {
		lo.filter_tgid = (unsigned int)a.run.pid;
		if (ks_loader_start(&l, &p, &lo))
			goto out;
		r->rmap_traced = l.caps.have[KS_M_RMAP_ALLOC];
		if (!r->rmap_traced)
			ks_warn("rmap allocations cannot be traced on this kernel (see 'kvmscope check'): "
				"memslots created while watching are reported as not known");
		rb = ring_buffer__new(bpf_map__fd(l.skel->maps.events), on_event, r, NULL);
		if (!rb) {
			ks_err("cannot read the ring buffer: %s", strerror(errno));
			goto out;
		}
	}
	r->start_ns = ks_now_ns();
	ks_progress("reading the memslots of existing VMs...");
	if (read_existing(r))
		goto out;
	ks_progress_end();
	if (!a.once && !a.run.json)
		printf("kvmscope rmap: watching memslots and rmap allocations%s. Ctrl-C ends.\n",
		       a.run.duration_ns ? " for the duration given" : "");
	if (!a.once && a.run.json) {
		struct ks_json j;

		ks_json_begin(&j, stdout, "attached", r->start_ns);
		ks_json_u64(&j, "programs", l.nr_progs);
		ks_json_i64(&j, "filter_pid", a.run.pid);
		ks_json_end(&j);
	}
	fflush(stdout); /* a script waiting for this line must see it now */
	end = a.run.duration_ns ? r->start_ns + a.run.duration_ns : UINT64_MAX;
	while (!a.once && !ks_stop_signal && ks_now_ns() < end) {
		/* BPF sends without a wakeup until the buffer fills: drain it
		 * every KS_RB_DRAIN_MS whether woken or not. */
		int n = ring_buffer__poll(rb, KS_RB_DRAIN_MS);

		if (n >= 0)
			n = ring_buffer__consume(rb);

		if (n < 0 && n != -EINTR) {
			ks_err("reading events: %s", strerror(-n));
			goto out;
		}
	}
	if (rb)
		ring_buffer__consume(rb);
	report(r);
	status = KS_EXIT_OK;
out:
	ring_buffer__free(rb);
	ks_loader_destroy(&l);
	ks_probe_free(&p);
	free(r);
	return status;
}
