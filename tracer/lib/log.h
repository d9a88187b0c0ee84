/* SPDX-License-Identifier: GPL-2.0 */
/* Printing for every kvmscope command: one-line errors on stderr prefixed
 * with the program name, verbose output and libbpf's log behind -v. */
#ifndef KS_LOG_H
#define KS_LOG_H

#include <stdbool.h>
#include <stdarg.h>

extern bool ks_verbose;

void ks_log_init(const char *progname);
/* "kvmscope: <msg>" on stderr. Always returns -1 so error paths can say
 * `return ks_err(...)`. */
int ks_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ks_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void ks_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Routes libbpf's messages: warnings always, debug/info only with -v. */
void ks_libbpf_logging(void);

#endif
