// SPDX-License-Identifier: GPL-2.0
/*
 * Output: JSON lines (--json) or a short human summary, and the error exit.
 *
 * Records are written whole with one fwrite and flushed at once, so a
 * tracer reading our stdout concurrently sees each event as it happens and
 * never half a line.  Only the main thread reports (vCPU threads hand their
 * errors to it), so there is no locking.
 *
 * The run totals live in this file's one static struct because the error
 * path, reachable from anywhere via kl_fail(), must still print a summary
 * record with them.
 */
#include "kvmload.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static struct {
	const struct kl_config *cfg;
	bool summarised;
	uint64_t t0_ns;
	unsigned int iterations_done;
	uint64_t pages_written, pages_dirty, pages_cleared;
	uint64_t pages_missing, pages_unexpected;
	unsigned int enable_calls, disable_calls, get_calls, clear_calls;
	uint64_t enable_ns, disable_ns, get_ns, clear_ns;
	uint64_t vcpu_run_ns;
	unsigned int stats_reads;
	uint64_t stats_read_bytes;
} R;

/* ---- a minimal JSON line writer ---- */

struct jline {
	FILE *f;
	char *buf;
	size_t len;
};

static void jl_begin(struct jline *j, const char *type, uint64_t ts_ns)
{
	j->buf = NULL;
	j->len = 0;
	j->f = open_memstream(&j->buf, &j->len);
	if (!j->f) {
		fputs("kvmload: out of memory for output\n", stderr);
		_exit(KL_EXIT_FAIL);
	}
	fprintf(j->f, "{\"type\":\"%s\",\"ts_ns\":%llu", type,
		(unsigned long long)ts_ns);
}

static void jl_u64(struct jline *j, const char *key, uint64_t v)
{
	fprintf(j->f, ",\"%s\":%llu", key, (unsigned long long)v);
}

static void jl_int(struct jline *j, const char *key, long long v)
{
	fprintf(j->f, ",\"%s\":%lld", key, v);
}

/* Iterations are numbers; "no iteration" (setup, teardown) is null. */
static void jl_iter(struct jline *j, const char *key, long long v)
{
	if (v < 0)
		fprintf(j->f, ",\"%s\":null", key);
	else
		jl_int(j, key, v);
}

static void jl_bool(struct jline *j, const char *key, bool v)
{
	fprintf(j->f, ",\"%s\":%s", key, v ? "true" : "false");
}

static void jl_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void jl_str(struct jline *j, const char *key, const char *s)
{
	fprintf(j->f, ",\"%s\":", key);
	if (s)
		jl_escaped(j->f, s);
	else
		fputs("null", j->f);
}

static void jl_end(struct jline *j)
{
	fputs("}\n", j->f);
	fclose(j->f);
	fwrite(j->buf, 1, j->len, stdout);
	fflush(stdout);
	free(j->buf);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* ---- records ---- */

void kl_report_init(const struct kl_config *cfg)
{
	R.cfg = cfg;
	R.t0_ns = kl_now_ns();
}

void kl_report_start(const struct kl_vm *vm, const struct kl_vcpu *vcpus)
{
	const struct kl_config *c = R.cfg;
	struct utsname u;
	struct jline j;
	unsigned int i;

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	if (!c->json) {
		printf("kvmload: %u vCPU(s) x %u MiB in %u slot(s), backing %s, mode %s, %u iteration(s) writing %u%%, kernel %s\n",
		       c->vcpus, c->mem_per_vcpu_mib, c->slots,
		       kl_backing_name(c->backing), kl_mode_name(c->mode),
		       c->iterations, c->write_percent, u.release);
		fflush(stdout);
		return;
	}
	jl_begin(&j, "start", kl_now_ns());
	jl_int(&j, "version", KL_SCHEMA_VERSION);
	jl_int(&j, "pid", getpid());
	jl_str(&j, "kernel_release", u.release);
	jl_int(&j, "kvm_api_version", vm->api_version);
	jl_int(&j, "kvm_fd", vm->kvm_fd);
	jl_int(&j, "vm_fd", vm->vm_fd);
	jl_u64(&j, "page_size", KL_PAGE_SIZE);
	jl_u64(&j, "vcpus", c->vcpus);
	jl_u64(&j, "mem_per_vcpu_mib", c->mem_per_vcpu_mib);
	jl_str(&j, "backing", kl_backing_name(c->backing));
	jl_str(&j, "thp_enabled", kl_thp_setting());
	jl_str(&j, "mode", kl_mode_name(c->mode));
	jl_u64(&j, "manual_protect_flags", vm->manual_flags);
	jl_u64(&j, "iterations", c->iterations);
	jl_u64(&j, "write_percent", c->write_percent);
	jl_u64(&j, "clear_chunk_pages", c->clear_chunk_pages);
	jl_u64(&j, "pause_ms", c->pause_ms);
	jl_u64(&j, "hold_ms", c->hold_ms);
	jl_u64(&j, "stats_fd_delay_ms", c->stats_fd_delay_ms);
	jl_u64(&j, "map_gpa_calls", c->map_gpa_calls);
	jl_u64(&j, "io_exits", c->io_exits);
	jl_u64(&j, "slot_mib", c->slot_mib);
	jl_bool(&j, "guest_paging", vm->paging);
	jl_bool(&j, "stats_fd", vm->stats_fd >= 0);
	jl_u64(&j, "vcpu_stats_fds", vm->vcpu_stats_fds);
	jl_u64(&j, "stats_reads", R.cfg->stats_reads);
	jl_str(&j, "inject_fault", kl_fault_name(c->inject));
	jl_bool(&j, "nested", c->nested);
	jl_bool(&j, "smm_slots", c->smm_slots);
	jl_u64(&j, "tag_base", KL_TAG_BASE);
	jl_u64(&j, "test_gpa", KL_TEST_GPA);
	jl_u64(&j, "test_bytes", vm->total_pages * KL_PAGE_SIZE);
	jl_u64(&j, "test_hva", (uint64_t)(uintptr_t)vm->mem.base);
	fprintf(j.f, ",\"code_slot\":{\"id\":%u,\"gpa\":%llu,\"bytes\":%llu,\"hva\":%llu}",
		(unsigned int)KL_CODE_SLOT, (unsigned long long)KL_CODE_GPA,
		(unsigned long long)KL_CODE_BYTES,
		(unsigned long long)(uintptr_t)vm->code_hva);
	fputs(",\"slots\":[", j.f);
	for (i = 0; i < vm->nslots + vm->nsmm; i++) {
		const struct kl_slot *s = i < vm->nslots ? &vm->slots[i] : &vm->smm[i - vm->nslots];

		fprintf(j.f, "%s{\"id\":%u,\"as_id\":%u,\"gpa\":%llu,\"npages\":%llu,\"bytes\":%llu,\"hva\":%llu,\"populated_pages\":%llu}",
			i ? "," : "", s->id, s->as_id, (unsigned long long)s->gpa,
			(unsigned long long)s->npages,
			(unsigned long long)(s->npages * KL_PAGE_SIZE),
			(unsigned long long)(uintptr_t)s->hva,
			(unsigned long long)s->pop_pages);
	}
	fputs("],\"vcpu_threads\":[", j.f);
	for (i = 0; i < c->vcpus; i++) {
		const struct kl_vcpu *v = &vcpus[i];

		fprintf(j.f, "%s{\"vcpu\":%u,\"tid\":%d,\"fd\":%d,\"gpa\":%llu,\"npages\":%llu}",
			i ? "," : "", v->index, (int)v->tid, v->fd,
			(unsigned long long)(KL_TEST_GPA +
					     v->share_first_page * KL_PAGE_SIZE),
			(unsigned long long)v->share_npages);
	}
	fputc(']', j.f);
	jl_end(&j);
}

void kl_report_populate(uint64_t ts_ns, uint64_t dur_ns, uint64_t pages,
			uint64_t huge_bytes)
{
	struct jline j;

	if (!R.cfg->json) {
		printf("populate: %llu pages in %.3f ms, %llu MiB host huge pages\n",
		       (unsigned long long)pages, ms(dur_ns),
		       (unsigned long long)(huge_bytes >> 20));
		fflush(stdout);
		return;
	}
	jl_begin(&j, "populate", ts_ns);
	jl_u64(&j, "dur_ns", dur_ns);
	jl_u64(&j, "pages_written", pages);
	jl_u64(&j, "host_huge_bytes", huge_bytes);
	jl_end(&j);
}

void kl_report_hold(uint64_t ts_ns, unsigned int hold_ms)
{
	struct jline j;

	if (!R.cfg->json) {
		printf("hold: sleeping %u ms before dirty logging (pid %d)\n",
		       hold_ms, (int)getpid());
		fflush(stdout);
		return;
	}
	jl_begin(&j, "hold", ts_ns);
	jl_u64(&j, "hold_ms", hold_ms);
	jl_int(&j, "pid", getpid());
	jl_end(&j);
}

static void dirty_log_begin(struct jline *j, const char *op, const struct kl_slot *s,
			    long long iteration, const struct kl_timing *tm)
{
	jl_begin(j, "dirty_log", tm->ts_ns);
	jl_str(j, "op", op);
	jl_u64(j, "slot", s->id);
	jl_u64(j, "as_id", s->as_id);
	jl_iter(j, "iteration", iteration);
	jl_u64(j, "dur_ns", tm->dur_ns);
	jl_u64(j, "preempted", tm->preempted);
}

void kl_report_memslot_op(const char *op, const struct kl_slot *s, const struct kl_timing *tm,
			  uint32_t flags)
{
	uint64_t dur_ns = tm->dur_ns;
	struct jline j;

	if (flags & KVM_MEM_LOG_DIRTY_PAGES) {
		R.enable_calls++;
		R.enable_ns += dur_ns;
	} else {
		R.disable_calls++;
		R.disable_ns += dur_ns;
	}
	if (!R.cfg->json)
		return;
	dirty_log_begin(&j, op, s, -1, tm);
	jl_u64(&j, "flags", flags);
	jl_end(&j);
}

void kl_report_get(const struct kl_slot *s, unsigned int iteration, const struct kl_timing *tm,
		   uint64_t pages_dirty)
{
	struct jline j;

	R.get_calls++;
	R.get_ns += tm->dur_ns;
	if (!R.cfg->json)
		return;
	dirty_log_begin(&j, "get_dirty_log", s, iteration, tm);
	jl_u64(&j, "pages_dirty", pages_dirty);
	jl_end(&j);
}

void kl_report_clear(const struct kl_slot *s, unsigned int iteration, const struct kl_timing *tm,
		     uint64_t first_page, uint64_t num_pages, uint64_t pages_cleared)
{
	struct jline j;

	R.clear_calls++;
	R.clear_ns += tm->dur_ns;
	if (!R.cfg->json)
		return;
	dirty_log_begin(&j, "clear_dirty_log", s, iteration, tm);
	jl_u64(&j, "first_page", first_page);
	jl_u64(&j, "num_pages", num_pages);
	jl_u64(&j, "pages_cleared", pages_cleared);
	jl_end(&j);
}

void kl_report_vcpu(const struct kl_vcpu *v, const struct kl_phase *ph)
{
	struct jline j;

	if (ph->iteration >= 0)
		R.vcpu_run_ns += v->stats.run_ns;
	if (!R.cfg->json)
		return;
	jl_begin(&j, "vcpu", v->stats.ts_ns);
	jl_str(&j, "phase", ph->name);
	jl_iter(&j, "iteration", ph->iteration);
	jl_u64(&j, "vcpu", v->index);
	jl_int(&j, "tid", v->tid);
	jl_u64(&j, "dur_ns", v->stats.end_ns - v->stats.ts_ns);
	jl_u64(&j, "run_ns", v->stats.run_ns);
	jl_u64(&j, "run_calls", v->stats.run_calls);
	jl_u64(&j, "first_page", v->params->first);
	jl_u64(&j, "pages_written", v->params->written);
	jl_u64(&j, "map_gpa_calls", v->params->hypercalls);
	jl_u64(&j, "io_exits", v->stats.io_exits);
	jl_end(&j);
}

void kl_report_slot(const struct kl_slot *s, unsigned int iteration,
		    const struct kl_slot_check *chk, bool initially_set)
{
	struct jline j;

	R.pages_written += chk->pages_written;
	R.pages_dirty += s->col.pages_dirty;
	R.pages_cleared += s->col.pages_cleared;
	R.pages_missing += chk->pages_missing;
	R.pages_unexpected += chk->pages_unexpected;
	if (!R.cfg->json)
		return;
	jl_begin(&j, "slot", s->col.ts_ns);
	jl_u64(&j, "slot", s->id);
	jl_u64(&j, "as_id", s->as_id);
	jl_u64(&j, "iteration", iteration);
	jl_u64(&j, "dur_ns", s->col.end_ns - s->col.ts_ns);
	jl_u64(&j, "npages", s->npages);
	jl_u64(&j, "pages_written", chk->pages_written);
	jl_u64(&j, "pages_written_protected", chk->pages_written_protected);
	jl_u64(&j, "pages_dirty", s->col.pages_dirty);
	jl_u64(&j, "pages_missing", chk->pages_missing);
	jl_u64(&j, "pages_unexpected", chk->pages_unexpected);
	jl_bool(&j, "initially_set", initially_set);
	jl_u64(&j, "pages_cleared", s->col.pages_cleared);
	jl_u64(&j, "get_ns", s->col.get_ns);
	jl_u64(&j, "clear_calls", s->col.clear_calls);
	jl_u64(&j, "clear_ns", s->col.clear_ns);
	jl_end(&j);
}

void kl_report_iteration(unsigned int iteration, uint64_t ts_ns, uint64_t end_ns,
			 uint64_t guest_ns, uint64_t collect_ns, uint64_t verify_ns,
			 uint64_t pages_written, uint64_t pages_written_protected,
			 uint64_t pages_dirty, uint64_t pages_cleared)
{
	struct jline j;

	R.iterations_done = iteration + 1;
	if (!R.cfg->json) {
		printf("iteration %u: %llu pages written, %llu reported dirty, %llu cleared; guest %.3f ms, dirty log %.3f ms\n",
		       iteration, (unsigned long long)pages_written,
		       (unsigned long long)pages_dirty,
		       (unsigned long long)pages_cleared, ms(guest_ns),
		       ms(collect_ns));
		fflush(stdout);
		return;
	}
	jl_begin(&j, "iteration", ts_ns);
	jl_u64(&j, "iteration", iteration);
	jl_u64(&j, "dur_ns", end_ns - ts_ns);
	jl_u64(&j, "guest_ns", guest_ns);
	jl_u64(&j, "collect_ns", collect_ns);
	jl_u64(&j, "verify_ns", verify_ns);
	jl_u64(&j, "pages_written", pages_written);
	jl_u64(&j, "pages_written_protected", pages_written_protected);
	jl_u64(&j, "pages_dirty", pages_dirty);
	jl_u64(&j, "pages_cleared", pages_cleared);
	jl_end(&j);
}

static void summary(int exit_code, const char *error)
{
	uint64_t now = kl_now_ns();
	struct jline j;

	if (R.summarised || !R.cfg)
		return;
	R.summarised = true;
	if (!R.cfg->json) {
		if (exit_code == KL_EXIT_OK)
			printf("ok: %u iteration(s), %llu pages written, %llu reported dirty; KVM_GET_DIRTY_LOG %u x %.3f ms, KVM_CLEAR_DIRTY_LOG %u x %.3f ms, vCPU run %.3f ms\n",
			       R.iterations_done,
			       (unsigned long long)R.pages_written,
			       (unsigned long long)R.pages_dirty, R.get_calls,
			       ms(R.get_ns), R.clear_calls, ms(R.clear_ns),
			       ms(R.vcpu_run_ns));
		fflush(stdout);
		return;
	}
	jl_begin(&j, "summary", now);
	jl_bool(&j, "ok", exit_code == KL_EXIT_OK);
	jl_int(&j, "exit_code", exit_code);
	jl_str(&j, "error", error);
	jl_u64(&j, "wall_ns", now - R.t0_ns);
	jl_u64(&j, "iterations_done", R.iterations_done);
	jl_u64(&j, "pages_written", R.pages_written);
	jl_u64(&j, "pages_dirty", R.pages_dirty);
	jl_u64(&j, "pages_cleared", R.pages_cleared);
	jl_u64(&j, "pages_missing", R.pages_missing);
	jl_u64(&j, "pages_unexpected", R.pages_unexpected);
	jl_u64(&j, "enable_log_calls", R.enable_calls);
	jl_u64(&j, "enable_log_ns", R.enable_ns);
	jl_u64(&j, "get_dirty_log_calls", R.get_calls);
	jl_u64(&j, "get_dirty_log_ns", R.get_ns);
	jl_u64(&j, "clear_dirty_log_calls", R.clear_calls);
	jl_u64(&j, "clear_dirty_log_ns", R.clear_ns);
	jl_u64(&j, "disable_log_calls", R.disable_calls);
	jl_u64(&j, "disable_log_ns", R.disable_ns);
	jl_u64(&j, "vcpu_run_ns", R.vcpu_run_ns);
	jl_u64(&j, "stats_reads", R.stats_reads);
	jl_u64(&j, "stats_read_bytes", R.stats_read_bytes);
	jl_end(&j);
}

void kl_report_stats_read(const struct kl_stats_read *r)
{
	struct jline j;

	R.stats_reads++;
	if (r->ret > 0)
		R.stats_read_bytes += (uint64_t)r->ret;
	if (!R.cfg->json)
		return;
	jl_begin(&j, "stats_read", r->ts_ns);
	jl_str(&j, "fd", r->vcpu < 0 ? "vm" : "vcpu");
	jl_iter(&j, "vcpu", r->vcpu);
	jl_str(&j, "part", r->part);
	jl_str(&j, "phase", r->phase);
	jl_iter(&j, "iteration", r->iteration);
	jl_u64(&j, "dur_ns", r->dur_ns);
	jl_u64(&j, "offset", r->offset);
	jl_u64(&j, "size", r->size);
	jl_int(&j, "ret", r->ret);
	if (r->pages) {
		jl_u64(&j, "pages_4k", r->pages_4k);
		jl_u64(&j, "pages_2m", r->pages_2m);
		jl_u64(&j, "pages_1g", r->pages_1g);
	}
	if (r->pf) {
		jl_u64(&j, "pf_taken", r->pf_taken);
		jl_u64(&j, "pf_fast", r->pf_fast);
	}
	jl_end(&j);
}

void kl_report_nested(const struct kl_nested_result *n)
{
	struct jline j;

	if (!R.cfg->json) {
		printf("nested: L2 ran on vCPU %u in %.3f ms (%u KVM_RUN), exit code 0x%llx, marker %s\n",
		       n->vcpu, ms(n->end_ns - n->ts_ns), n->run_calls,
		       (unsigned long long)n->exit_code, n->l2_marker ? "written" : "missing");
		fflush(stdout);
		return;
	}
	jl_begin(&j, "nested", n->ts_ns);
	jl_u64(&j, "end_ns", n->end_ns);
	jl_u64(&j, "dur_ns", n->end_ns - n->ts_ns);
	jl_u64(&j, "vcpu", n->vcpu);
	jl_int(&j, "tid", n->tid);
	jl_u64(&j, "run_calls", n->run_calls);
	jl_u64(&j, "exit_code", n->exit_code);
	jl_u64(&j, "exit_info_1", n->exit_info_1);
	jl_u64(&j, "exit_info_2", n->exit_info_2);
	jl_bool(&j, "l2_marker", n->l2_marker);
	jl_end(&j);
}

void kl_report_summary_ok(void)
{
	summary(KL_EXIT_OK, NULL);
}

void kl_exit_error(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kvmload: %s%s\n", code == KL_EXIT_SKIP ? "cannot run: " : "",
		msg);
	fflush(stderr);
	summary(code, msg);
	exit(code);
}
