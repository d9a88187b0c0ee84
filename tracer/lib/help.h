/* SPDX-License-Identifier: GPL-2.0 */
/* -h, as -? and --help: argp reserves only those two, and every other tool
 * a user knows takes -h. A hidden option of a child parser that the argp of
 * kvmscope and of each command lists in its children. */
#ifndef KS_HELP_H
#define KS_HELP_H

#include <argp.h>

extern const struct argp_child ks_help_children[];

#endif
