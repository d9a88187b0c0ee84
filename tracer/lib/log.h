/* SPDX-License-Identifier: GPL-2.0 */
/* Printing for every kvmscope command: one-line errors on stderr prefixed
 * with the command ("kvmscope stats: ..."), verbose output and libbpf's log
 * behind -v, and a progress line while a command gets ready. */
#ifndef KS_LOG_H
#define KS_LOG_H

#include <stdbool.h>
#include <stdarg.h>

extern bool ks_verbose;

/* The prefix of every line: "kvmscope", or "kvmscope CMD" once a command
 * runs (a path's directories are dropped). */
void ks_log_init(const char *progname);
/* "kvmscope CMD: <msg>" on stderr. Always returns -1 so error paths can say
 * `return ks_err(...)`. */
int ks_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last ks_err message, without the prefix (NULL if none): for reports
 * that carry the error themselves (check --json). */
const char *ks_last_error(void);
void ks_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void ks_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "kvmscope CMD: <what>" on stderr while a slow step runs (probing,
 * loading and attaching take seconds on a large kernel or under
 * emulation), each call replacing the last. Only on a terminal that takes
 * control sequences (ks_term_ansi) and without -v. Any other line on
 * stderr erases it first; ks_progress_end erases it, and so does the
 * process's exit. Call it before writing to stdout, which may be the same
 * terminal. */
void ks_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ks_progress_end(void);
/* Routes libbpf's messages: warnings always, debug/info only with -v. */
void ks_libbpf_logging(void);

#endif
