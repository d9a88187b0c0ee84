/* The Chrome trace writer: exact output, exact timestamps, hostile names,
 * a file that is valid after close whatever was written, write failures. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "unit.h"
#include "lib/trace_chrome.h"

static const char header[] =
	"{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"kvmscope migrate\","
	"\"clock\":\"CLOCK_MONOTONIC\"},\"traceEvents\":[\n";

int main(void)
{
	struct ks_trace t;
	struct ks_json j;
	char *buf = NULL, want[2048];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ks_trace_start(&t, f);
	ks_trace_process_name(&t, 42, "qemu \"x\"\n\xff", 42);
	ks_trace_event(&t, &j, 'X', "KVM_GET_DIRTY_LOG slot 1", "dirty_log", 42, 42001,
		       1234567890123ULL);
	ks_trace_dur(&j, 999);
	ks_json_obj(&j, "args");
	ks_json_i64(&j, "pages_dirty", -1);
	ks_trace_event_end(&t, &j);
	ks_trace_counter(&t, 42, "vCPU time in faults", "pct", 5, 12.5);
	ks_trace_counter_u64(&t, 42, "faults", "all", 1000, 18446744073709551615ULL);
	ASSERT_EQ("events counted", t.events, 5);
	CHECK("close ok", ks_trace_close(&t) == 0, "err %d", t.err);
	CHECK("close twice is harmless", ks_trace_close(&t) == 0, "err %d", t.err);
	snprintf(want, sizeof(want), "%s%s", header,
		 "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":42,"
		 "\"args\":{\"name\":\"qemu \\\"x\\\"\\n\\u00ff\"}},\n"
		 "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":42,\"args\":{\"sort_index\":42}},\n"
		 "{\"name\":\"KVM_GET_DIRTY_LOG slot 1\",\"cat\":\"dirty_log\",\"ph\":\"X\",\"pid\":42,"
		 "\"tid\":42001,\"ts\":1234567890.123,\"dur\":0.999,\"args\":{\"pages_dirty\":-1}},\n"
		 "{\"name\":\"vCPU time in faults\",\"ph\":\"C\",\"pid\":42,\"ts\":0.005,"
		 "\"args\":{\"pct\":12.5}},\n"
		 "{\"name\":\"faults\",\"ph\":\"C\",\"pid\":42,\"ts\":1.000,"
		 "\"args\":{\"all\":18446744073709551615}}\n]}\n");
	ASSERT_STREQ("exact output: escaped names, ns written as exact us, array closed", buf, want);
	free(buf);

	/* Nothing but the header and the close: still a valid (empty) trace. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	ks_trace_start(&t, f);
	ks_trace_close(&t);
	snprintf(want, sizeof(want), "%s\n]}\n", header);
	ASSERT_STREQ("empty trace is valid", buf, want);
	free(buf);

	/* Nested args close with the event. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	ks_trace_start(&t, f);
	ks_trace_event(&t, &j, 'b', "slot 1 dirty logging", "memslot", 7, 7001, 0);
	ks_json_str(&j, "id", "0xe0001");
	ks_json_obj(&j, "args");
	ks_json_obj(&j, "deeper");
	ks_trace_event_end(&t, &j);
	ks_trace_close(&t);
	ASSERT_CONTAINS("open levels closed by event end", buf,
			"\"ts\":0.000,\"id\":\"0xe0001\",\"args\":{\"deeper\":{}}}\n]}");
	free(buf);

	/* A full disk: the first flush says so, close reports it too. */
	f = fopen("/dev/full", "w");
	REQUIRE(f != NULL, "cannot open /dev/full");
	if (f) {
		ks_trace_start(&t, f);
		ks_trace_counter_u64(&t, 1, "c", "v", 1, 1);
	}
	CHECK("write failure detected at flush", ks_trace_flush(&t) == -1 && t.err == ENOSPC,
	      "err %d", t.err);
	CHECK("write failure reported by close", ks_trace_close(&t) == -1, "err %d", t.err);
	REQUIRE_END();
	/* ks_trace_open: a path that cannot be created, and one that works. */
	ASSERT_EQ("open of a missing directory fails", ks_trace_open(&t, "/nonexistent-kvmscope-dir/x.json"), -1);
	CHECK("close after failed open is harmless", ks_trace_close(&t) == 0, "err %d", t.err);
	{
		char path[] = "/tmp/kvmscope-trace-XXXXXX";
		int fd = mkstemp(path);
		char got[512] = "";
		FILE *r;

		/* An existing file: left as it is until the run starts. */
		if (fd >= 0 && write(fd, "keep", 4) != 4)
			fd = -1;
		if (fd >= 0)
			close(fd);
		CHECK("an existing file is untouched by open and close before the run starts",
		      fd >= 0 && ks_trace_open(&t, path) == 0 && ks_trace_close(&t) == 0 &&
		      (r = fopen(path, "r")) && fread(got, 1, sizeof(got) - 1, r) == 4 && !fclose(r) &&
		      !strcmp(got, "keep"), "got %s", got);
		memset(got, 0, sizeof(got));
		CHECK("begin empties it and writes the header", ks_trace_open(&t, path) == 0 &&
		      ks_trace_begin(&t) == 0 && ks_trace_close(&t) == 0 && (r = fopen(path, "r")) &&
		      fread(got, 1, sizeof(got) - 1, r) > 0 && !fclose(r) &&
		      !strncmp(got, header, strlen(header)) && !strstr(got, "keep"), "got %s", got);
		unlink(path);
		memset(got, 0, sizeof(got));
		CHECK("a new file gets the header at open", ks_trace_open(&t, path) == 0 &&
		      ks_trace_close(&t) == 0 && (r = fopen(path, "r")) &&
		      fread(got, 1, sizeof(got) - 1, r) > 0 && !fclose(r) &&
		      !strncmp(got, header, strlen(header)), "got %s", got);
		unlink(path);
		memset(got, 0, sizeof(got));
		/* As migrate does: open, then begin when the run starts. */
		CHECK("a new file begun once more still has one header", ks_trace_open(&t, path) == 0 &&
		      ks_trace_begin(&t) == 0 && ks_trace_close(&t) == 0 && (r = fopen(path, "r")) &&
		      fread(got, 1, sizeof(got) - 1, r) > 0 && !fclose(r) &&
		      !strncmp(got, header, strlen(header)) && !strstr(got + 1, header),
		      "got %s", got);
		unlink(path);
	}
	UNIT_EXIT();
}
