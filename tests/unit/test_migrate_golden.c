/* migrate's and export's outputs for one fixed run, byte for byte: a
 * scripted sequence of ring-buffer events, counter readings, stats samples
 * (replayed from memfds laid out as KVM's stats fds), interval boundaries,
 * VM exits and the end of the run, fed into the tracer's own code; the JSON
 * lines, the text, the Chrome trace and the Prometheus page it produces are
 * compared with tests/unit/golden/. The tracer's own CPU time, the only
 * figure not fixed by the script, is masked.
 * KS_GOLDEN_UPDATE=1 writes the files instead (a deliberate output change). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "unit.h"
#include "export/export.h"
#include "lib/trace_chrome.h"
#include "migrate/sink.h"
#include "session/session.h"

/* ---- fake stats fds ------------------------------------------------- */

#define NAME_SIZE 48
struct desc {
	const char *name;
	unsigned int flags;
	unsigned int size;
};
#define C (KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE)
#define I (KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE)
static const struct desc vm_descs[] = {
	{ "remote_tlb_flush_requests", C, 1 },
	{ "pages_4k", I, 1 }, { "pages_2m", I, 1 }, { "pages_1g", I, 1 },
};
static const struct desc vcpu_descs[] = {
	{ "pf_taken", C, 1 }, { "pf_fast", C, 1 }, { "halt_wait_ns",
	  KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10, 1 },
};

/* A stats source as KVM lays it out; returns the fd, data points into it. */
static int make_source(const char *id, const struct desc *d, unsigned int n, uint64_t **data)
{
	struct kvm_stats_header h = { .name_size = NAME_SIZE, .num_desc = n };
	size_t stride = sizeof(struct kvm_stats_desc) + NAME_SIZE, len;
	unsigned char *blob, *map;
	int fd;

	h.id_offset = sizeof(h);
	h.desc_offset = h.id_offset + NAME_SIZE;
	h.data_offset = h.desc_offset + n * stride;
	len = h.data_offset + n * 8;
	blob = calloc(1, len);
	memcpy(blob, &h, sizeof(h));
	snprintf((char *)blob + h.id_offset, NAME_SIZE, "%s", id);
	for (unsigned int i = 0; i < n; i++) {
		struct kvm_stats_desc kd = { .flags = d[i].flags, .size = (uint16_t)d[i].size,
					     .offset = i * 8 };

		if (!strcmp(d[i].name, "halt_wait_ns"))
			kd.exponent = -9;
		memcpy(blob + h.desc_offset + i * stride, &kd, sizeof(kd));
		snprintf((char *)blob + h.desc_offset + i * stride + sizeof(kd), NAME_SIZE, "%s",
			 d[i].name);
	}
	fd = memfd_create(id, MFD_CLOEXEC);
	if (fd < 0 || pwrite(fd, blob, len, 0) != (ssize_t)len)
		exit(2);
	free(blob);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		exit(2);
	*data = (uint64_t *)(map + h.data_offset);
	return fd;
}

/* One VMM's fake stats: the VM's and two vCPUs'. */
struct fake_stats {
	uint64_t *vm, *vcpu[2];
};

static void open_fake(struct ks_vmstats *st, struct fake_stats *f, pid_t pid)
{
	char id[64], why[200];

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	st->pidfd = -1;
	snprintf(id, sizeof(id), "kvm-%d", (int)pid);
	if (ks_stats_src_from_fd(&st->vm, make_source(id, vm_descs, 4, &f->vm), -1, why,
				 sizeof(why)))
		exit(2);
	st->vcpu = calloc(2, sizeof(*st->vcpu));
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "kvm-%d/vcpu-%d", (int)pid, i);
		if (ks_stats_src_from_fd(&st->vcpu[i], make_source(id, vcpu_descs, 3, &f->vcpu[i]),
					 i, why, sizeof(why)))
			exit(2);
	}
	st->nvcpu = st->vcpus_seen = 2;
}

/* ---- the run's configuration, and the adapter to the tracer's code ---- */

struct cfg {
	const char *name;
	bool json, fault_program, fault_latency, page_stats, gfn_wp, trace, export;
	bool wp_unmeasured;   /* a host whose write-protect faults are not counted (PML) */
	bool pml_host, pml_full;  /* a PML host; its PML-full exits counted */
};

static struct ks_session *S;
static struct ks_model *M;
static struct ks_exporter *X;
static struct ks_trace T;
static FILE *out;

static void a_start(const struct cfg *c, FILE *o, FILE *trace)
{
	struct ks_sink sink;

	if (c->export) {
		X = calloc(1, sizeof(*X));
		if (ks_export_init(X, 1000000000, 0))
			exit(2);
		S = &X->s;
		X->bpf = true;
		X->l.fault_program = c->fault_program;
		for (unsigned int i = 0; i < KS_NR_METRICS; i++)
			X->l.caps.have[i] = i != KS_M_MAP_GPA_RANGE;
		X->l.caps.fault_latency = c->fault_latency;
		X->l.caps.page_stats = c->page_stats;
		X->l.caps.rmap_avoided = true;
		/* The lab's host, or an Intel one with PML. */
		X->l.caps.dirty = c->pml_host ? KS_DIRTY_PML : KS_DIRTY_WP_TDP;
		X->l.caps.wp_faults = !c->wp_unmeasured;
		X->l.caps.pml_full = c->pml_full;
		X->l.caps.have[KS_M_FAULTS] = true;
		snprintf(X->l.vendor.module, sizeof(X->l.vendor.module), "%s",
			 c->pml_host ? "kvm_intel" : "kvm_amd");
	} else {
		S = calloc(1, sizeof(*S));
		ks_session_init(S, 1000000000);
		if ((c->json ? ks_sink_json(&sink, o) : ks_sink_text(&sink, o)) ||
		    ks_session_add_sink(S, sink))
			exit(2);
	}
	M = &S->m;
	out = o;
	M->fault_program = c->fault_program;
	M->fault_latency = c->fault_latency;
	M->fault_latency_asked = c->fault_latency;
	M->page_stats = c->page_stats;
	M->gfn_wp = c->gfn_wp;
	M->wp_faults_measured = !c->wp_unmeasured;
	M->pml_host = c->pml_host;
	M->pml_full = c->pml_full;
	M->max_vms = 512;
	M->start_ns = 1000000000;
	if (trace) {
		ks_trace_start(&T, trace);
		if (ks_sink_trace(&sink, &T) || ks_session_add_sink(S, sink))
			exit(2);
	}
}

static struct ks_vm *a_vm(pid_t pid)
{
	return ks_model_vm(M, pid);
}

/* A VMM found in /proc: with fake stats (f) or none. */
static void a_found(pid_t pid, const char *comm, struct fake_stats *f, uint64_t ts)
{
	struct ks_vm *vm = ks_model_vm_add(M, pid);

	snprintf(vm->comm, sizeof(vm->comm), "%s", comm);
	if (f) {
		open_fake(&vm->st, f, pid);
		vm->have_stats = true;
		vm->vcpus_seen = 2;
	} else {
		/* As ks_vmstats_open leaves a VMM whose stats are out of reach. */
		vm->st.vm.fd = vm->st.vm.dbg_dir = -1;
		snprintf(vm->st.why, sizeof(vm->st.why), "no permission");
		vm->vcpus_seen = 1;
	}
	vm->found_ts = ts;
	vm->preexisting = true;
	if (vm->have_stats) {
		ks_vmstats_sample(&vm->st, ts);
		ks_model_stats_faults(M, vm);
	}
	for (int k = 0; k < S->nsinks; k++)
		if (S->sinks[k].ops->vm)
			S->sinks[k].ops->vm(S->sinks[k].self, M, vm, "found", ts);
}

static void a_event(const struct ks_event *e)
{
	ks_session_event(S, e);
}

/* The end of an interval's sampling: stats read, settled or not. */
static void a_sample(pid_t pid, uint64_t ts, bool settled)
{
	struct ks_vm *vm = a_vm(pid);

	if (vm->have_stats) {
		ks_vmstats_sample(&vm->st, ts);
		vm->settled = settled;
		ks_model_stats_faults(M, vm);
	}
}

static void a_interval(uint64_t ts)
{
	if (!X)
		ks_session_intervals(S, ts);
}

static void a_exit(pid_t pid, uint64_t ts)
{
	ks_session_vm_exited(S, a_vm(pid), ts, "exited");
}

static void a_render(void)
{
	struct ks_prom w = { 0 };
	struct ks_buf b = { 0 };

	X->collections++;
	ks_export_render(X, &w);
	if (!ks_prom_render(&w, KS_PROM_TEXT, &b))
		fwrite(b.p, 1, b.len, out);
	ks_buf_free(&b);
	b = (struct ks_buf){ 0 };
	if (!ks_prom_render(&w, KS_PROM_OPENMETRICS, &b))
		fwrite(b.p, 1, b.len, out);
	ks_buf_free(&b);
	ks_prom_free(&w);
}

static void a_end(uint64_t ts)
{
	ks_session_summary(S, ts);
	ks_session_close(S, ts + 1000);
	ks_session_free(S);
	free(X ? (void *)X : (void *)S);
	X = NULL;
	S = NULL;
	M = NULL;
}

/* ---- the script ---------------------------------------------------- */

#define VM_A 3000001
#define VM_B 3000002
#define KVM_A 0xffff8880c0de0000ULL
#define KVM_B 0xffff8880beef0000ULL
static long long wp_a, faults_a;

static void ev(unsigned int type, pid_t pid, int slot, unsigned int as_id, uint64_t ts,
	       uint64_t dur, unsigned int old_flags, unsigned int new_flags, long long pages,
	       unsigned int actions)
{
	struct ks_event e = { .type = type, .tgid = (uint32_t)pid, .ts_ns = ts, .dur_ns = dur,
			      .slot = slot, .as_id = as_id, .npages = 512 * (slot + 1),
			      .base_gfn = 0x100000ULL * (slot + 1),
			      .old_flags = old_flags, .new_flags = new_flags, .change = 3,
			      .pages = pages, .kvm_ns = dur / 2, .wp_known = 1,
			      .kvm = pid == VM_A ? KVM_A : KVM_B, .preempted = slot % 2 ? 1 : -1,
			      .actions = actions };

	if (pid == VM_A) {
		wp_a += 3 + slot;
		faults_a += 5 + 2 * slot;
		e.wp_faults_total = wp_a;
		e.faults_total = faults_a;
	} else {
		e.wp_faults_total = -1;
		e.faults_total = -1;
	}
	e.wp_calls[1] = 2 + slot;
	e.wp_calls[2] = 7;
	e.wp_changed[2] = 5;
	if (type == KS_EV_CLEAR_DIRTY_LOG) {
		e.first_page = 64;
		e.num_pages = 128;
	}
	a_event(&e);
}

static void ev_misc(unsigned int type, pid_t pid, int slot, uint64_t ts, uint64_t dur,
		    unsigned int level, uint64_t bytes, int result)
{
	struct ks_event e = { .type = type, .tgid = (uint32_t)pid, .ts_ns = ts, .dur_ns = dur,
			      .slot = slot, .npages = 1024, .base_gfn = 0x40000, .level = level,
			      .bytes = bytes, .result = result, .preempted = -1,
			      .kvm = pid == VM_A ? KVM_A : KVM_B };

	a_event(&e);
}

static void counters(pid_t pid, unsigned int k)
{
	struct ks_vm *vm = a_vm(pid);
	struct ks_vm_counters *c = &vm->total;

	c->tlb_flushes = 10 * k;
	c->wp_gfn_calls[1] = 100 * k;
	c->wp_gfn_calls[2] = 7 * k;
	c->wp_gfn_protected[1] = 90 * k;
	c->wp_gfn_protected[2] = 5 * k;
	c->splits[2] = 3 * k;
	c->splits[3] = k / 2;
	c->page_delta[1] = (unsigned long long)(1536 * (long long)k);
	c->page_delta[2] = (unsigned long long)(-3 * (long long)k);
	c->stats_reads = 4 * k;
	c->stats_read_bytes = 4096 * k;
	c->hypercalls_map_gpa = k > 1 ? 2 : 0;
	c->map_gpa_pages = k > 1 ? 64 : 0;
	c->msr_migration_control = k > 2 ? 1 : 0;
	if (M->pml_full) {
		c->pml_full = 6 * k;
		for (int v = 0; v < 2; v++)
			ks_model_vcpu(vm, v)->total.pml_full = 3 * k + v;
	}
	if (M->fault_program) {
		c->faults = 400 * k;
		c->write_faults = 300 * k;
		c->wp_faults = 250 * k;
		if (M->fault_latency) {
			c->fault_ns = 123456 * k;
			c->fault_lat[10] = 300 * k;
			c->fault_lat[12] = 100 * k;
		}
		for (int v = 0; v < 2; v++) {
			struct ks_vcpu_stat *s = ks_model_vcpu(vm, v);

			s->total.faults = 200 * k + v;
			s->total.wp_faults = 125 * k;
			s->total.fault_ns = 60000 * k;
			s->total.fault_lat[10] = 150 * k;
		}
	}
}

static void stats_step(struct fake_stats *f, unsigned int k, bool agree)
{
	/* pf_taken: at the first boundary each vCPU has a fault under way (in
	 * pf_taken, not yet in pf_fast), and every fault of the second
	 * interval is a fast-path fix: that interval shows 119 faults and 120
	 * write-protect faults per vCPU as read (ks_faults_at_least). */
	static const uint64_t taken[] = { 5000, 5196, 5315, 5510 };

	f->vm[0] = 10 * k + (agree ? 0 : 7);   /* remote_tlb_flush_requests */
	f->vm[1] = 1000 + 1536 * k;            /* pages_4k */
	f->vm[2] = 50 - 3 * k + (agree ? 0 : 1);
	f->vm[3] = 0;
	for (int v = 0; v < 2; v++) {
		f->vcpu[v][0] = taken[k];          /* pf_taken */
		f->vcpu[v][1] = 3000 + 120 * k;    /* pf_fast */
		f->vcpu[v][2] = 1000000000ULL * k + 7;
	}
}

static void run(const struct cfg *c, FILE *o, FILE *trace)
{
	struct fake_stats fa;
	uint64_t s = 1000000000ULL;
	const unsigned int LAZY = KS_ACT_KNOWN | KS_ACT_START | KS_ACT_LAZY;
	const unsigned int EAGER = KS_ACT_KNOWN | KS_ACT_START | KS_ACT_SPLIT | KS_ACT_WRPROT_4K;

	wp_a = faults_a = 0;
	a_start(c, o, trace);
	memset(&fa, 0, sizeof(fa));
	a_found(VM_A, "qemu-kvm\x1b[1m", &fa, s + 1000);
	stats_step(&fa, 0, true);
	a_found(VM_B, "kvmload", NULL, s + 2000);
	/* VM A: slot 1 created, then logging on (lazy), whole-slot write
	 * protect, two iterations; rmap allocations; slot 2 of address space
	 * 1 on, eager, and slot 1 of address space 1 (the same number as
	 * address space 0's slot 1, as QEMU's SMM space has), lazy. VM B: one
	 * slot on, a get and a clear, unknown faults. */
	ev(KS_EV_MEMSLOT_COMMIT, VM_A, 1, 0, s + 100000000, 2000, 0, 0, 0, 0);
	ev(KS_EV_MEMSLOT_COMMIT, VM_A, 1, 0, s + 200000000, 3000, 0, 1, 0, LAZY);
	ev_misc(KS_EV_SLOT_WRITE_PROTECT, VM_A, 1, s + 200001000, 900, 1, 0, 0);
	ev(KS_EV_GET_DIRTY_LOG, VM_A, 1, 0, s + 300000000, 1500, 0, 0, 40, 0);
	ev(KS_EV_CLEAR_DIRTY_LOG, VM_A, 1, 0, s + 300002000, 2500, 0, 0, 40, 0);
	ev_misc(KS_EV_RMAP_ALLOC, VM_A, 1, s + 310000000, 700, 0, 0, 0);
	ev_misc(KS_EV_RMAP_ALLOC, VM_A, 4, s + 310001000, 800, 0, 16384, 0);
	ev_misc(KS_EV_RMAP_ALLOC, VM_A, 5, s + 310002000, 100, 0, 0, -12);
	ev_misc(KS_EV_RMAP_SKIP, VM_A, 6, s + 310003000, 0, 0, 32768, 0);
	ev(KS_EV_MEMSLOT_COMMIT, VM_A, 2, 1, s + 320000000, 5000, 0, 1, 0, EAGER);
	ev(KS_EV_MEMSLOT_COMMIT, VM_A, 1, 1, s + 325000000, 4500, 0, 1, 0, LAZY);
	ev(KS_EV_MEMSLOT_COMMIT, VM_B, 0, 0, s + 330000000, 1000, 0, 1, 0, 0);
	ev(KS_EV_GET_DIRTY_LOG, VM_B, 0, 0, s + 340000000, 800, 0, 0, 12, 0);
	ev(KS_EV_CLEAR_DIRTY_LOG, VM_B, 0, 0, s + 340001000, 900, 0, 0, -1, 0);
	/* First boundary: A sampled settled. */
	counters(VM_A, 1);
	counters(VM_B, 1);
	stats_step(&fa, 1, true);
	a_sample(VM_A, s + 1000000000, true);
	a_interval(s + 1000000000);
	if (c->export)
		a_render();
	/* Second interval: another iteration of A; B idle. */
	ev(KS_EV_GET_DIRTY_LOG, VM_A, 1, 0, s + 1300000000, 1600, 0, 0, 33, 0);
	ev(KS_EV_CLEAR_DIRTY_LOG, VM_A, 1, 0, s + 1300003000, 2600, 0, 0, 33, 0);
	ev(KS_EV_GET_DIRTY_LOG, VM_A, 2, 1, s + 1400000000, 4100, 0, 0, 1000, 0);
	ev(KS_EV_GET_DIRTY_LOG, VM_A, 1, 1, s + 1400010000, 900, 0, 0, 2, 0);
	counters(VM_A, 2);
	stats_step(&fa, 2, true);
	a_sample(VM_A, s + 2000000000, true);
	a_interval(s + 2000000000);
	if (c->export)
		a_render();
	/* Third: stats that disagree; A's slot 1 logging off; B exits. */
	ev(KS_EV_MEMSLOT_COMMIT, VM_A, 1, 0, s + 2100000000, 4000, 1, 0, 0, 0);
	ev(KS_EV_GET_DIRTY_LOG, VM_B, 0, 0, s + 2200000000, 700, 0, 0, 5, 0);
	ev_misc(KS_EV_VM_RELEASE, VM_B, 0, s + 2300000000, 0, 0, 0, 0);
	a_exit(VM_B, s + 2300000500);
	counters(VM_A, 3);
	stats_step(&fa, 3, false);
	a_sample(VM_A, s + 3000000000, true);
	a_interval(s + 3000000000);
	if (c->export)
		a_render();
	M->drops[KS_DROP_RINGBUF_FULL] = 3;
	M->drops[KS_DROP_VCPU_TABLE_FULL] = 1;
	/* Fourth: A's counters lost to a full kernel VM table. */
	a_vm(VM_A)->untracked = 2;
	counters(VM_A, 4);
	a_sample(VM_A, s + 3500000000, false);
	a_interval(s + 3500000000);
	if (c->export)
		a_render();
	a_end(s + 4000000000);
}

/* ---- comparison ----------------------------------------------------- */

/* The tracer's own CPU: "tracer_user_ns":N, "tracer_sys_ns":N, and the
 * text summary's "own CPU ..." to the end of its line. */
static void mask(char *b)
{
	static const char *const keys[] = { "\"tracer_user_ns\":", "\"tracer_sys_ns\":" };
	char *p, *q;

	for (size_t k = 0; k < 2; k++)
		for (p = b; (p = strstr(p, keys[k])); ) {
			p += strlen(keys[k]);
			for (q = p; *q >= '0' && *q <= '9'; q++)
				;
			*p++ = 'N';
			memmove(p, q, strlen(q) + 1);
		}
	for (p = b; (p = strstr(p, "own CPU ")); ) {
		p += 8;
		for (q = p; *q && *q != '\n'; q++)
			;
		*p++ = 'N';
		memmove(p, q, strlen(q) + 1);
	}
}

static char golden_dir[PATH_MAX + 32];

/* Where write-protect faults are not measured, no output may show a
 * number for them: null, "not measured", or no trace track at all. */
static void no_wp_numbers(const char *cfg, const char *o, const char *t)
{
	static const char *const keys[] = { "\"wp_faults\":", "write-protect faults\"",
					    "wp fast", "(write-protect ",
					    "kvmscope_write_protect_faults" };
	char name[128];

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (const char *s = o; s; s = s == o ? t : NULL) {
			const char *hit = s;
			bool bad = false;

			while (hit && (hit = strstr(hit, keys[k]))) {
				hit += strlen(keys[k]);
				bad |= strncmp(hit, "null", 4) && strncmp(hit, "not measured", 12);
			}
			if (s == o || t) {
				snprintf(name, sizeof(name), "%s: %s %s never a number", cfg,
					 s == o ? "output" : "trace", keys[k]);
				CHECK(name, !bad, "a measured-looking value follows %s", keys[k]);
			}
		}
}

static void find_golden(void)
{
	unit_find_dir("tests/unit/golden", golden_dir, sizeof(golden_dir));
}

static void compare(const char *name, char *got, size_t len)
{
	char path[PATH_MAX + 64], test[128];
	FILE *f;
	char *want = NULL;
	size_t wlen = 0, n;

	mask(got);
	len = strlen(got);
	snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
	snprintf(test, sizeof(test), "golden %s", name);
	if (getenv("KS_GOLDEN_UPDATE")) {
		f = fopen(path, "w");
		CHECK(test, f && fwrite(got, 1, len, f) == len && !fclose(f), "cannot write %s", path);
		return;
	}
	f = fopen(path, "r");
	if (f) {
		char buf[4096];

		FILE *m = open_memstream(&want, &wlen);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
		fclose(f);
	}
	if (want && wlen == len && !memcmp(want, got, len)) {
		CHECK(test, 1, "%s", "");
	} else {
		size_t i = 0;

		while (want && i < wlen && i < len && want[i] == got[i])
			i++;
		CHECK(test, 0, "differs from %s at byte %zu (%zu vs %zu bytes): got \"%.200s\"",
		      path, i, len, wlen, got + (i > 40 ? i - 40 : 0));
	}
	free(want);
}

/* A VMM with more memslots than the tracer once held (128): every one is
 * kept, none dropped (a QEMU with memory hotplug may have hundreds). */
static void many_slots(void)
{
	struct ks_session s;
	struct ks_vm *vm;
	int on = 0;

	ks_session_init(&s, 1000000000);
	for (int i = 0; i < 300; i++) {
		struct ks_event e = { .type = KS_EV_MEMSLOT_COMMIT, .tgid = VM_A, .slot = i,
				      .as_id = i % 2, .npages = 512, .new_flags = 1, .change = 0,
				      .wp_faults_total = -1, .faults_total = -1, .preempted = -1,
				      .ts_ns = 1000000000ULL + i };

		ks_session_event(&s, &e);
	}
	vm = ks_model_vm(&s.m, VM_A);
	for (int i = 0; vm && i < vm->nslots; i++)
		on += vm->slots[i].logging;
	CHECK("300 memslots: all kept, all logging", vm && vm->nslots == 300 && on == 300,
	      "%d slots, %d logging", vm ? vm->nslots : -1, on);
	ks_session_free(&s);
}

int main(void)
{
	static const struct cfg cfgs[] = {
		{ "stats-json", .json = true, .page_stats = true, .gfn_wp = true, .trace = true },
		{ "stats-text", .page_stats = true, .gfn_wp = true },
		{ "program-json", .json = true, .fault_program = true, .trace = true },
		{ "latency-json", .json = true, .fault_program = true, .fault_latency = true,
		  .page_stats = true, .gfn_wp = true, .trace = true },
		{ "latency-text", .fault_program = true, .fault_latency = true, .page_stats = true },
		{ "program-text", .fault_program = true },
		{ "export-stats", .export = true, .page_stats = true, .gfn_wp = true },
		{ "export-latency", .export = true, .fault_program = true, .fault_latency = true },
		{ "pml-json", .json = true, .gfn_wp = true, .trace = true, .wp_unmeasured = true,
		  .pml_host = true, .pml_full = true },
		{ "pml-text", .gfn_wp = true, .wp_unmeasured = true, .pml_host = true },
		{ "pml-export", .export = true, .gfn_wp = true, .wp_unmeasured = true,
		  .pml_host = true, .pml_full = true },
	};

	many_slots();
	find_golden();
	if (!golden_dir[0]) {
		CHECK("golden files found", 0, "no tests/unit/golden above the binary");
		UNIT_EXIT();
	}
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		const struct cfg *c = &cfgs[i];
		char *o = NULL, *t = NULL, name[96];
		size_t olen = 0, tlen = 0;
		FILE *of = open_memstream(&o, &olen);
		FILE *tf = c->trace ? open_memstream(&t, &tlen) : NULL;

		run(c, of, tf);
		fclose(of);
		if (c->wp_unmeasured)
			no_wp_numbers(c->name, o, t);
		snprintf(name, sizeof(name), "%s.%s", c->name,
			 c->export ? "prom" : c->json ? "jsonl" : "txt");
		compare(name, o, olen);
		if (tf) {
			snprintf(name, sizeof(name), "%s.trace.json", c->name);
			compare(name, t, tlen);
		}
		free(o);
		free(t);
	}
	UNIT_EXIT();
}
