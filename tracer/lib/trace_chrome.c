// SPDX-License-Identifier: GPL-2.0
/* Chrome trace-event JSON, streamed (tracer/lib/trace_chrome.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "lib/trace_chrome.h"
#include "lib/log.h"

static void header(struct ks_trace *t)
{
	/* displayTimeUnit only sets how the viewers print times; "ts" and
	 * "dur" are us by the format's definition (Perfetto reads them so
	 * since 2022, as chrome://tracing always did). */
	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"kvmscope migrate\","
	      "\"clock\":\"CLOCK_MONOTONIC\"},\"traceEvents\":[\n", t->f);
}

void ks_trace_start(struct ks_trace *t, FILE *f)
{
	memset(t, 0, sizeof(*t));
	t->f = f;
	t->first = true;
	header(t);
}

int ks_trace_open(struct ks_trace *t, const char *path)
{
	/* Never through a symlink: kvmscope runs as root, and a link planted
	 * in a shared directory (/tmp) would have it truncate any file. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
	FILE *f;

	memset(t, 0, sizeof(*t));
	t->closed = true;
	if (fd < 0)
		return ks_err("--trace %s: %s", path, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return ks_err("--trace %s: %s", path, strerror(errno));
	}
	ks_trace_start(t, f);
	/* Find a full disk or a bad target now, not at the end of the run. */
	if (ks_trace_flush(t)) {
		ks_err("--trace %s: %s", path, strerror(t->err));
		fclose(f);
		t->f = NULL;
		return -1;
	}
	return 0;
}

void ks_trace_event(struct ks_trace *t, struct ks_json *j, char ph, const char *name,
		    const char *cat, int pid, uint64_t tid, uint64_t ts_ns)
{
	char phs[2] = { ph, '\0' };

	/* Key order matters to streaming readers: Perfetto's tokenizer finds
	 * "ts" by scanning the keys before it and gives up at an array, so
	 * the fixed scalar keys come first and "args" last. */

	if (!t->first)
		fputs(",\n", t->f);
	t->first = false;
	ks_json_open(j, t->f);
	ks_json_str(j, "name", name);
	if (cat)
		ks_json_str(j, "cat", cat);
	ks_json_str(j, "ph", phs);
	ks_json_i64(j, "pid", pid);
	if (tid)
		ks_json_u64(j, "tid", tid);
	if (ph != 'M')
		ks_json_milli(j, "ts", ts_ns);
}

void ks_trace_event_end(struct ks_trace *t, struct ks_json *j)
{
	ks_json_finish(j);
	t->events++;
	if (!t->err && ferror(t->f))
		t->err = errno ? errno : EIO;
}

void ks_trace_dur(struct ks_json *j, uint64_t dur_ns)
{
	ks_json_milli(j, "dur", dur_ns);
}

static void metadata(struct ks_trace *t, const char *what, int pid, uint64_t tid,
		     const char *key, const char *str, int num)
{
	struct ks_json j;

	ks_trace_event(t, &j, 'M', what, NULL, pid, tid, 0);
	ks_json_obj(&j, "args");
	if (str)
		ks_json_str(&j, key, str);
	else
		ks_json_i64(&j, key, num);
	ks_trace_event_end(t, &j);
}

void ks_trace_process_name(struct ks_trace *t, int pid, const char *name, int sort_index)
{
	metadata(t, "process_name", pid, 0, "name", name, 0);
	metadata(t, "process_sort_index", pid, 0, "sort_index", NULL, sort_index);
}

void ks_trace_thread_name(struct ks_trace *t, int pid, uint64_t tid, const char *name,
			  int sort_index)
{
	metadata(t, "thread_name", pid, tid, "name", name, 0);
	metadata(t, "thread_sort_index", pid, tid, "sort_index", NULL, sort_index);
}

void ks_trace_counter(struct ks_trace *t, int pid, const char *name, const char *series,
		      uint64_t ts_ns, double value)
{
	struct ks_json j;

	ks_trace_event(t, &j, 'C', name, NULL, pid, 0, ts_ns);
	ks_json_obj(&j, "args");
	ks_json_double(&j, series, value);
	ks_trace_event_end(t, &j);
}

void ks_trace_counter_u64(struct ks_trace *t, int pid, const char *name, const char *series,
			  uint64_t ts_ns, uint64_t value)
{
	struct ks_json j;

	ks_trace_event(t, &j, 'C', name, NULL, pid, 0, ts_ns);
	ks_json_obj(&j, "args");
	ks_json_u64(&j, series, value);
	ks_trace_event_end(t, &j);
}

int ks_trace_flush(struct ks_trace *t)
{
	if (!t->f)
		return t->err ? -1 : 0;
	errno = 0;
	if ((fflush(t->f) || ferror(t->f)) && !t->err)
		t->err = errno ? errno : EIO;
	return t->err ? -1 : 0;
}

int ks_trace_close(struct ks_trace *t)
{
	if (!t->f || t->closed)
		return t->err ? -1 : 0;
	t->closed = true;
	fputs("\n]}\n", t->f);
	ks_trace_flush(t);
	if (fclose(t->f) && !t->err)
		t->err = errno ? errno : EIO;
	t->f = NULL;
	return t->err ? -1 : 0;
}
