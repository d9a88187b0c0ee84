// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the guest that QEMU live-migrates in the lab (tests/lab/qemu/):
 * fills a region with data once, then keeps rewriting a smaller working set
 * so every dirty-log iteration finds pages to send. Static, no libc files
 * needed: it is the only file of its initramfs.
 *
 * Sizes are fixed and small on purpose: under the lab's software emulation
 * the guest is nested twice, and a migration of 128 MiB must end in seconds.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define FILL_MB 48      /* written once: pages QEMU must send as data */
#define WORK_MB 4       /* rewritten in a loop: pages dirtied every iteration */
#define PAUSE_MS 20     /* between passes over the working set: a bounded rate */

static int out = 2;

static void say(const char *msg)
{
	if (write(out, msg, strlen(msg)) < 0)
		return;
}

int main(void)
{
	uint64_t pass = 0, *mem;
	struct timespec pause = { 0, PAUSE_MS * 1000000L };
	char line[96];

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	out = open("/dev/ttyS0", O_WRONLY | O_NOCTTY);
	if (out < 0)
		out = 2;
	mem = mmap(NULL, FILL_MB << 20, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		say("dirtier: mmap failed\n");
		for (;;)
			pause.tv_sec = 1, nanosleep(&pause, NULL);
	}
	/* Every word differs, so no page is a zero page. */
	for (uint64_t i = 0; i < (FILL_MB << 20) / 8; i++)
		mem[i] = i * 0x9e3779b97f4a7c15ULL + 1;
	say("dirtier: running\n");
	for (;;) {
		pass++;
		for (uint64_t p = 0; p < (WORK_MB << 20) / PAGE; p++)
			mem[p * (PAGE / 8)] = pass;
		if (pass % 100 == 0) {
			snprintf(line, sizeof(line), "dirtier: pass %llu\n", (unsigned long long)pass);
			say(line);
		}
		nanosleep(&pause, NULL);
	}
}
