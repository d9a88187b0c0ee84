// SPDX-License-Identifier: GPL-2.0
/* Chrome trace-event JSON, streamed (tracer/lib/trace_chrome.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include "lib/trace_chrome.h"
#include "lib/json.h"
#include "lib/log.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

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

/*
 * Opens path for writing without following a symbolic link in any of its
 * components (openat2 RESOLVE_NO_SYMLINKS; where the kernel lacks it, the
 * last component only, O_NOFOLLOW): kvmscope runs as root, and a link
 * planted in a shared directory (/tmp), or a directory of one, would have
 * it write wherever the link points. Never blocks (O_NONBLOCK: a FIFO
 * without a reader fails at once).
 */
static int open_nofollow(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW),
		.mode = (flags & O_CREAT) ? 0644 : 0,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = open(path, (int)how.flags, 0644);
	return fd;
}

int ks_trace_open(struct ks_trace *t, const char *path)
{
	char q[96];
	bool created = true;
	struct stat st;
	int fd;
	FILE *f;

	memset(t, 0, sizeof(*t));
	t->closed = true;
	ks_text_escape(path, q, sizeof(q));
	/* A new file, or else the one there, opened without truncating it:
	 * an existing file is emptied only when the run starts
	 * (ks_trace_begin), so a run that fails before leaves it as it was. */
	fd = open_nofollow(path, O_WRONLY | O_CREAT | O_EXCL);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open_nofollow(path, O_WRONLY);
	}
	if (fd < 0)
		return ks_err("--trace %s: %s", q, errno == ELOOP ?
			      "a component of the path is a symbolic link" : errno == ENXIO ?
			      "not a regular file (a FIFO or a device)" : strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0)) {
		close(fd);
		return ks_err("--trace %s: not a regular file (a FIFO, a device or a directory)", q);
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return ks_err("--trace %s: %s", q, strerror(errno));
	}
	t->f = f;
	if (!created) {
		t->pending = true;
		return 0;
	}
	if (ks_trace_begin(t)) {
		ks_err("--trace %s: %s", q, strerror(t->err));
		fclose(f);
		t->f = NULL;
		return -1;
	}
	return 0;
}

int ks_trace_begin(struct ks_trace *t)
{
	FILE *f = t->f;

	/* A new file began at ks_trace_open: a second header would make the
	 * file invalid JSON. */
	if (!f || t->begun)
		return 0;
	if (t->pending && ftruncate(fileno(f), 0)) {
		t->err = errno;
		return -1;
	}
	ks_trace_start(t, f);
	t->begun = true;
	/* Find a full disk or a bad target now, not at the end of the run. */
	return ks_trace_flush(t);
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
	if (t->f && t->pending) {
		/* The run never started: the file stays as it was. */
		fclose(t->f);
		t->f = NULL;
		t->pending = false;
		return 0;
	}
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
