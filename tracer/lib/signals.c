// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "lib/signals.h"
#include "lib/log.h"

volatile sig_atomic_t ks_stop_signal;

static void on_stop(int sig)
{
	ks_stop_signal = sig;
}

int ks_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* A closed terminal (SIGHUP) and Ctrl-\\ (SIGQUIT) end a run as
	 * SIGINT and SIGTERM do: summary written, trace completed; not
	 * killed half-way with a trace left unterminated. */
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL) || sigaction(SIGQUIT, &sa, NULL))
		return ks_err("cannot install signal handlers");
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return ks_err("cannot ignore SIGPIPE");
	return 0;
}

int ks_signal_exit_status(void)
{
	return ks_stop_signal ? 128 + ks_stop_signal : 0;
}
