/* migrate's events as a trace, without a kernel: a VM's dirty-logging
 * lifecycle fed through the same entry points the ring buffer and the
 * interval loop use, then the trace text checked piece by piece. */
#include <stdlib.h>
#include "unit.h"
#include "lib/trace_chrome.h"
#include "migrate/sink.h"
#include "session/session.h"

static struct ks_session S;
static struct ks_model *mp = &S.m;
static long long wp_total;   /* the VM's write-protect faults so far */
static long long faults_total; /* and its faults */

static void feed(unsigned int type, int slot, uint64_t ts, uint64_t dur, unsigned int old_flags,
		 unsigned int new_flags, long long pages)
{
	struct ks_event e = { .type = type, .tgid = 4242, .ts_ns = ts, .dur_ns = dur,
			      .slot = slot, .npages = 512, .old_flags = old_flags,
			      .new_flags = new_flags, .change = 3, .pages = pages,
			      .kvm_ns = dur / 2, .wp_known = 1, .kvm = 0xffff8880c0de0000ULL,
			      .preempted = 1 };

	wp_total += 3;
	e.wp_faults_total = wp_total;
	faults_total += 5;
	e.faults_total = faults_total;

	e.wp_calls[2] = 7;
	e.wp_changed[2] = 5;
	ks_session_event(&S, &e);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

int main(void)
{
	struct ks_trace t;
	char *buf = NULL, *lines = NULL;
	size_t len = 0, llen = 0;
	struct ks_vm *vm;

	FILE *out;
	struct ks_sink sink;

	ks_session_init(&S, 1000000000);
	mp->gfn_wp = true;
	out = open_memstream(&lines, &llen);
	ks_sink_json(&sink, out);
	ks_session_add_sink(&S, sink);
	mp->start_ns = 1000000000;
	ks_trace_start(&t, open_memstream(&buf, &len));
	ks_sink_trace(&sink, &t);
	ks_session_add_sink(&S, sink);

	feed(KS_EV_MEMSLOT_COMMIT, 1, 1100000000, 2000, 0, 0, 0);   /* created: not a logging change */
	feed(KS_EV_MEMSLOT_COMMIT, 1, 1200000000, 3000, 0, 1, 0);   /* logging on */
	feed(KS_EV_GET_DIRTY_LOG, 1, 1300000000, 1500, 0, 0, 40);
	feed(KS_EV_CLEAR_DIRTY_LOG, 1, 1300002000, 2500, 0, 0, 40);
	feed(KS_EV_MEMSLOT_COMMIT, 1, 1400000000, 4000, 1, 0, 0);   /* logging off */
	feed(KS_EV_MEMSLOT_COMMIT, 2, 1500000000, 1000, 0, 1, 0);   /* slot 2 on, never off */
	vm = ks_model_vm(mp, 4242);
	CHECK("VM tracked", vm != NULL, "no VM");
	if (!vm)
		UNIT_EXIT();
	/* As if the stats samples had summed these (KVM's stats: the default). */
	vm->stat_faults_known = true;
	vm->total.faults = 99;
	vm->total.wp_gfn_calls[2] = 7;
	{
		struct ks_vcpu_stat *v = ks_model_vcpu(vm, 1);

		if (v) {
			v->total.faults = 42;
			v->total.wp_faults = 40;
		}
	}
	ks_session_intervals(&S, 1600000000);
	CHECK("trace closes", ks_session_close(&S, 1700000000) == 0, "err %d", t.err);
	fclose(out);

	ASSERT_EQ("process named once", count(buf, "\"process_name\""), 1);
	ASSERT_EQ("memslot create without logging change: no slice", count(buf, "memslot ioctl"), 3);
	CHECK("get slice: exact ts/dur, pages, iteration, preemptions, per-ioctl write protect",
	      strstr(buf, "\"name\":\"KVM_GET_DIRTY_LOG slot 1\",\"cat\":\"dirty_log\",\"ph\":\"X\","
			  "\"pid\":4242,\"tid\":4242001,\"ts\":1300000.000,\"dur\":1.500,\"args\":{\"op\":\"get\","
			  "\"slot\":1,\"as_id\":0,\"iteration\":0,\"kvm_ns\":750,\"preempted\":1,\"wp_faults\":3,"
			  "\"faults\":5,\"pages_dirty\":40,"
			  "\"result\":0,"
			  "\"wp_calls\":{\"4k\":0,\"2m\":7,\"1g\":0},\"wp_changed\":{\"4k\":0,\"2m\":5,\"1g\":0}}}"),
	      "%s", buf);
	ASSERT_CONTAINS("clear slice belongs to the get's iteration", buf,
			"\"op\":\"clear\",\"slot\":1,\"as_id\":0,\"iteration\":0,");
	ASSERT_CONTAINS("span opens at logging on", buf, "\"name\":\"slot 1 dirty logging\",\"cat\":\"memslot\","
			"\"ph\":\"b\",\"pid\":4242,\"tid\":4242001,\"ts\":1200000.000");
	ASSERT_CONTAINS("span closes at the end of the logging-off ioctl", buf,
			"\"ph\":\"e\",\"pid\":4242,\"tid\":4242001,\"ts\":1400004.000,\"id\":\"0x21240001\","
			"\"args\":{\"ended_by\":\"logging off\",\"iterations\":1,\"pages_dirty\":40,"
			"\"pages_cleared\":40}");
	ASSERT_CONTAINS("span still open at the end closes with the trace", buf,
			"\"ts\":1700000.000,\"id\":\"0x21240002\",\"args\":{\"ended_by\":\"end of trace\"");
	CHECK("b/e balanced", count(buf, "\"ph\":\"b\"") == 2 && count(buf, "\"ph\":\"e\"") == 2, "%s", buf);
	CHECK("interval counters at the interval's start",
	      strstr(buf, "\"name\":\"faults\",\"ph\":\"C\",\"pid\":4242,\"ts\":1000000.000,"
			  "\"args\":{\"all\":99}") &&
	      strstr(buf, "\"name\":\"write-protect calls by min_level\",\"ph\":\"C\",\"pid\":4242,"
			  "\"ts\":1000000.000,\"args\":{\"4k\":0,\"2m\":7,\"1g\":0}"), "%s", buf);
	CHECK("per-vCPU fault counters at the interval's start",
	      strstr(buf, "\"name\":\"vCPU 1 faults\",\"ph\":\"C\",\"pid\":4242,\"ts\":1000000.000,"
			  "\"args\":{\"faults\":42}") &&
	      strstr(buf, "\"name\":\"vCPU 1 write-protect faults\",\"ph\":\"C\",\"pid\":4242,"
			  "\"ts\":1000000.000,\"args\":{\"wp_faults\":40}"), "%s", buf);
	CHECK("file ends the array and the object", len > 4 && !strcmp(buf + len - 4, "\n]}\n"), "%s", buf);
	ASSERT_CONTAINS("JSON lines carry the same per-ioctl write protect", lines,
			"\"wp_calls\":{\"4k\":0,\"2m\":7,\"1g\":0}");
	/* KVM's stats count from the VM's creation: the first event of a VM
	 * is a baseline, unknown (-1), never its lifetime count. */
	ASSERT_CONTAINS("KVM stats: a VM's first event has unknown faults", lines,
			"\"logging\":\"unchanged\",\"dur_ns\":2000,\"kvm_ns\":1000,"
			"\"preempted\":1,\"wp_faults\":-1,\"faults\":-1}");
	ASSERT_CONTAINS("KVM stats: the next event has the difference", lines,
			"\"logging\":\"on\",\"dur_ns\":3000,\"kvm_ns\":1500,"
			"\"preempted\":1,\"wp_faults\":3,\"faults\":5}");
	/* Unknown totals (a too-deep vCPU array) stay unknown, and do not
	 * move the mark: the next known total gives the faults since the
	 * last known one. */
	{
		struct ks_event e = { .type = KS_EV_GET_DIRTY_LOG, .tgid = 4242, .slot = 1,
				      .kvm = 0xffff8880c0de0000ULL, .wp_faults_total = -1,
				      .faults_total = -1, .preempted = -1 };
		char *more = NULL;
		size_t mlen = 0;

		/* The JSON lines alone (the trace is closed above). */
		S.nsinks = 1;
		sink.ops->free(sink.self);
		S.sinks[0].ops->free(S.sinks[0].self);
		out = open_memstream(&more, &mlen);
		ks_sink_json(&S.sinks[0], out);
		ks_session_event(&S, &e);
		e.wp_faults_total = wp_total + 10;
		e.faults_total = faults_total + 20;
		ks_session_event(&S, &e);
		fclose(out);
		CHECK("unknown totals: -1, then the difference from the last known",
		      more && strstr(more, "\"wp_faults\":-1,\"faults\":-1,") &&
		      strstr(more, "\"wp_faults\":10,\"faults\":20,"), "%s", more);
		free(more);
	}

	/* A VM that exits: counters back to 0, open span ended by the exit. */
	ks_session_free(&S);
	free(buf);
	buf = NULL;
	free(lines);
	lines = NULL;
	ks_session_init(&S, 1000000000);
	out = open_memstream(&lines, &llen);
	ks_sink_json(&sink, out);
	ks_session_add_sink(&S, sink);
	/* The fault program counts from when tracing began: a VM's first
	 * event has its whole count. */
	mp->fault_program = true;
	mp->start_ns = 1000000000;
	ks_trace_start(&t, open_memstream(&buf, &len));
	ks_sink_trace(&sink, &t);
	ks_session_add_sink(&S, sink);
	feed(KS_EV_MEMSLOT_COMMIT, 3, 1200000000, 3000, 0, 1, 0);
	fflush(out);
	{
		char want[96];

		snprintf(want, sizeof(want), "\"wp_faults\":%lld,\"faults\":%lld}", wp_total, faults_total);
		ASSERT_CONTAINS("fault program: a VM's first event has the faults since tracing began", lines, want);
	}
	vm = ks_model_vm(mp, 4242);
	if (vm && ks_model_vcpu(vm, 0))
		ks_model_vcpu(vm, 0)->total.faults = 5;
	if (vm) {
		vm->exit_ts = 1300000000;
		ks_session_intervals(&S, 1300000000);
		for (int k = 0; k < S.nsinks; k++)
			S.sinks[k].ops->vm(S.sinks[k].self, mp, vm, "exited", 1300000000);
	}
	ks_session_close(&S, 1900000000);
	fclose(out);
	CHECK("VM exit ends its span and zeroes its counters",
	      buf && strstr(buf, "\"ts\":1300000.000,\"id\":\"0x21240003\",\"args\":{\"ended_by\":\"VM exited\"") &&
	      strstr(buf, "\"name\":\"faults\",\"ph\":\"C\",\"pid\":4242,\"ts\":1300000.000,\"args\":{\"all\":0}") &&
	      strstr(buf, "\"name\":\"vCPU 0 faults\",\"ph\":\"C\",\"pid\":4242,\"ts\":1300000.000,"
		     "\"args\":{\"faults\":0}") &&
	      !strstr(buf, "end of trace"), "%s", buf);
	ks_session_free(&S);
	free(buf);
	free(lines);
	UNIT_EXIT();
}
