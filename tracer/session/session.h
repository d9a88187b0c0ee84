/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One VMM session, driven by `migrate` and by `export`: VMMs found (a look
 * through /proc, or one process), adopted (stats opened, exit watched,
 * "found" told to the sinks), looked at again, sampled, let go when they
 * exit or close their VM (events drained, a last sample and interval,
 * stats fds closed, kernel map entries forgotten, summary), the run's end.
 * The model (migrate/model.h) holds the state; the sinks (migrate/sink.h)
 * are told. What each command's event loop does differently (epoll on
 * pidfds in migrate, a collector thread in export) stays in the command,
 * through the hooks below.
 *
 *   session.c   find, adopt, look again, exit, forget; events and intervals
 *   sample.c    the settled sampling of counters and stats
 */
#ifndef KS_SESSION_H
#define KS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "migrate/model.h"
#include "migrate/sink.h"

struct migrate_bpf;

#define KS_SESSION_MAX_SINKS 4

struct ks_session_hooks {
	void *ctx;
	/* Watch the VMM's pidfd (vm->st.pidfd) for its exit: 0, or -1 with
	 * errno. NULL: the command polls (ks_session_reap()). */
	int (*watch)(void *ctx, struct ks_vm *vm);
	void (*unwatch)(void *ctx, struct ks_vm *vm);
	/* Takes in the events still in the ring buffer; NULL without BPF. */
	void (*drain)(void *ctx);
};

/* The session's own per-VM state (by VM table index). */
struct ks_settle_key {
	unsigned long long tlb_flushes, faults;
	unsigned long long page_delta[KS_MAX_LEVEL];
};
struct ks_session_vm {
	uint64_t serial;              /* the VM it belongs to */
	bool seen;                    /* found with a VM fd by the current full look */
	bool released;                /* released a VM fd: does it hold another? */
	/* ks_session_sample(): the compared counters before the stats were
	 * read, and the counters of a VM that settled before the last try,
	 * which its stats sample goes with. */
	struct ks_settle_key before;
	bool held;
	struct ks_vm_counters held_total;
};

struct ks_session {
	struct ks_model m;
	struct migrate_bpf *skel;     /* NULL: binary stats only (export) */
	struct ks_sink sinks[KS_SESSION_MAX_SINKS];
	int nsinks;
	struct ks_session_hooks hooks;
	uint64_t rescan_ns;           /* the full look through /proc: paced */
	uint64_t rescan_base_ns;      /* ... from this (1 s, or 10 s with VM events) */
	uint64_t look_cpu_ns;         /* CPU of the last full look */
	uint64_t slack_ns;            /* half an interval: boundaries come a little late */
	uint64_t last_scan, last_sweep, last_known;
	bool first_scan;              /* the look when tracing began is under way */
	/* What the warning that the VM table is full says of the VMMs left
	 * out ("any further ones not traced"); said once. */
	const char *untracked_words;
	bool warned_full;
	struct ks_session_vm *vs;
	int nvs;
};

/* A session reporting every interval_ns, with binary stats only until
 * ks_session_attach(). The model's flags (fault program, ...) are the
 * caller's to set. */
void ks_session_init(struct ks_session *s, uint64_t interval_ns);
/* The loaded programs; vm_events: the kernel reports VMs created and
 * released (hooks vm_create, vm_release), so the full look can be rarer. */
void ks_session_attach(struct ks_session *s, struct migrate_bpf *skel, bool vm_events);
/* Adds a sink (taken over: freed with the session); -1 if full. */
int ks_session_add_sink(struct ks_session *s, struct ks_sink sink);
/* The first look, when tracing begins: VMMs found then may have run
 * before (their faults count from their first sample). */
void ks_session_start(struct ks_session *s, uint64_t now_ns);
/* One ring-buffer event: into the model, to the sinks; a VMM announced by
 * its first memslot is adopted at once. */
void ks_session_event(struct ks_session *s, const struct ks_event *e);
/* VMMs that released a VM fd while living on: looked at at once. */
void ks_session_recheck_released(struct ks_session *s, uint64_t now_ns);
/* An interval boundary: VMMs found, looked at again or let go, strays
 * swept from the kernel maps, every VM sampled (ks_session_sample). */
void ks_session_tick(struct ks_session *s, uint64_t now_ns);
/* Every active VM's interval closed and told to the sinks. */
void ks_session_intervals(struct ks_session *s, uint64_t now_ns);
/* The VM went away: its VMM exited ("exited"), or lives on without it
 * ("closed"). */
void ks_session_vm_exited(struct ks_session *s, struct ks_vm *vm, uint64_t now_ns,
			  const char *why);
/* For a command that does not watch pidfds: every VMM that exited let go
 * (and any that was gone before it could be adopted, forgotten). */
void ks_session_reap(struct ks_session *s, uint64_t now_ns);
/* Counters and stats sampled at the end of an interval, for one VM or
 * (vm NULL) every active VM (sample.c). */
void ks_session_sample(struct ks_session *s, struct ks_vm *only, uint64_t now_ns);
/* The end: events drained, counters read, every VM's summary and the
 * run's told to the sinks. */
void ks_session_summary(struct ks_session *s, uint64_t now_ns);
/* Ends every sink's output: -1 if one failed. */
int ks_session_close(struct ks_session *s, uint64_t now_ns);
/* Has a sink's output failed? */
bool ks_session_failed(const struct ks_session *s);
/* Closes every stats fd, frees the model and the sinks. */
void ks_session_free(struct ks_session *s);

/* For sample.c: the session's state of vm (NULL if out of memory). */
struct ks_session_vm *ks_session_vm_state(struct ks_session *s, const struct ks_vm *vm);

#endif
