/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A Chrome trace-event JSON writer (the format Perfetto and chrome://tracing
 * open): {"traceEvents":[ ... ],"displayTimeUnit":"ns",...}. Events are
 * streamed as they are produced; ks_trace_close() ends the array and the
 * object, so a run ended by a signal still leaves a valid file. Timestamps
 * are CLOCK_MONOTONIC ns written exactly as us with three decimals, the
 * same instants as the JSON lines' ts_ns.
 *
 * Nothing here knows about KVM: tracer/migrate/sink_trace.c maps migrate's
 * events onto processes, tracks and counters.
 */
#ifndef KS_TRACE_CHROME_H
#define KS_TRACE_CHROME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/json.h"

struct ks_trace {
	FILE *f;
	bool first;        /* nothing in traceEvents yet: no comma before the next */
	bool closed;
	bool pending;      /* an existing file: emptied and written at ks_trace_begin */
	bool begun;        /* the header is written: ks_trace_begin does nothing more */
	int err;           /* errno of the first write failure, 0 if none */
	uint64_t events;   /* events written, metadata included */
};

/* Opens path for the trace: a regular file reached through no symbolic
 * link; a new one gets the header now, an existing one is left as it is
 * until ks_trace_begin. 0, or -1 with a one-line error already printed. */
int ks_trace_open(struct ks_trace *t, const char *path);
/* The run started: an existing file opened by ks_trace_open is emptied and
 * the header written (a new one has it already). 0, or -1 with t->err. */
int ks_trace_begin(struct ks_trace *t);
/* Writes to an already open stream (tests); the caller keeps it. */
void ks_trace_start(struct ks_trace *t, FILE *f);

/*
 * One event. ks_trace_event() writes name, cat, ph, pid, tid and ts (tid
 * and cat left out when 0/NULL, as counters and process metadata do) and
 * leaves j inside the event object for what the phase needs: "dur" (with
 * ks_trace_dur), "id", "args" (ks_json_obj(j, "args") then fields).
 * ks_trace_event_end() closes it.
 */
void ks_trace_event(struct ks_trace *t, struct ks_json *j, char ph, const char *name,
		    const char *cat, int pid, uint64_t tid, uint64_t ts_ns);
void ks_trace_event_end(struct ks_trace *t, struct ks_json *j);
void ks_trace_dur(struct ks_json *j, uint64_t dur_ns);

/* Metadata: names and display order of a process and of a track (thread). */
void ks_trace_process_name(struct ks_trace *t, int pid, const char *name, int sort_index);
void ks_trace_thread_name(struct ks_trace *t, int pid, uint64_t tid, const char *name,
			  int sort_index);
/* A counter track "name" of process pid with one series "series". */
void ks_trace_counter(struct ks_trace *t, int pid, const char *name, const char *series,
		      uint64_t ts_ns, double value);
void ks_trace_counter_u64(struct ks_trace *t, int pid, const char *name, const char *series,
			  uint64_t ts_ns, uint64_t value);

/* Flushes; -1 (t->err set) if the file failed now or before. */
int ks_trace_flush(struct ks_trace *t);
/* Ends the array and the object, flushes and closes the file. -1 if any
 * write failed (t->err). Safe to call twice. */
int ks_trace_close(struct ks_trace *t);

#endif
