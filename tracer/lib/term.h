/* SPDX-License-Identifier: GPL-2.0 */
/* Whether a stream may carry terminal control sequences (stats' redraw in
 * place, the progress line while programs load): only a terminal, and
 * only one whose TERM is set and not "dumb". Anything else (a pipe, a
 * file, an editor's shell buffer) gets plain lines. */
#ifndef KS_TERM_H
#define KS_TERM_H

#include <stdbool.h>

bool ks_term_ansi(int fd);

#endif
