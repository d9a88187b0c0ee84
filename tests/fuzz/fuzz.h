/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzz targets (tests/fuzz/<target>.c). Each target defines
 * LLVMFuzzerTestOneInput; built with -fsanitize=fuzzer it is a libFuzzer
 * binary (`make fuzz`), linked with replay.c it replays a corpus as a
 * regression test (`make check`). A violated property aborts, so both
 * report it as a crash with the input that caused it.
 */
#ifndef KS_FUZZ_H
#define KS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...) do {                                        \
	if (!(cond)) {                                                     \
		fprintf(stderr, "fuzz property failed: %s (%s:%d): ", #cond, \
			__FILE__, __LINE__);                               \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		abort();                                                   \
	}                                                                  \
} while (0)

/* The input as a NUL-terminated string in its own allocation, so reading
 * one byte past it is caught by ASan. Stops at the first NUL of data. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An error message must be one non-empty line (it goes to stderr as is). */
static inline void fuzz_one_line(const char *err)
{
	FUZZ_ASSERT(err[0], "empty error message");
	FUZZ_ASSERT(!strpbrk(err, "\n\r"), "error message spans lines: %s", err);
}

#endif
