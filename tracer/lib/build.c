// SPDX-License-Identifier: GPL-2.0
#include "lib/build.h"

struct ks_build ks_build = { "unknown", "unknown" };
