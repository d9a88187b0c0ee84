/* SPDX-License-Identifier: GPL-2.0 */
/* SIGINT/SIGTERM end a run cleanly: handlers only set a flag that the main
 * loop polls, so every command detaches and prints its summary. */
#ifndef KS_SIGNALS_H
#define KS_SIGNALS_H

#include <signal.h>

extern volatile sig_atomic_t ks_stop_signal; /* 0, or the signal received */

/* Installs the handlers (without SA_RESTART, so blocking calls return EINTR)
 * and ignores SIGPIPE so a closed output pipe is an EPIPE error we report. */
int ks_signals_install(void);
/* Exit status convention for a run ended by a signal: 128 + signo. */
int ks_signal_exit_status(void);

#endif
