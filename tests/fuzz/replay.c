// SPDX-License-Identifier: GPL-2.0
/*
 * replay TARGET DIR...: runs a fuzz target's entry point over every file of
 * its corpus directories, without libFuzzer, as a regression test: each
 * input runs in a child process, so one crash names its file and the rest
 * still run. Prints "PASS fuzz/TARGET: N inputs" or one "FAIL" line per
 * crashing input (its stderr stays in the test log).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_one(const char *path)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Exactly st_size bytes, in an allocation of that size (ASan). */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		return 1;
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int inputs = 0, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s TARGET CORPUS-DIR...\n", argv[0]);
		return 2;
	}
	for (int a = 2; a < argc; a++) {
		struct dirent **names;
		int n = scandir(argv[a], &names, NULL, alphasort);

		if (n < 0) {
			printf("FAIL fuzz/%s: cannot read corpus %s: %s\n", argv[1], argv[a], strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			char path[4096];
			struct stat st;
			pid_t pid;
			int status;

			snprintf(path, sizeof(path), "%s/%s", argv[a], names[i]->d_name);
			free(names[i]);
			if (stat(path, &st) || !S_ISREG(st.st_mode))
				continue;
			fflush(stdout);
			pid = fork();
			if (pid < 0) {
				printf("FAIL fuzz/%s: fork: %s\n", argv[1], strerror(errno));
				return 1;
			}
			if (pid == 0)
				_exit(run_one(path));
			inputs++;
			if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
				printf("FAIL fuzz/%s: input %s crashed (%s %d)\n", argv[1], path,
				       WIFSIGNALED(status) ? "signal" : "status",
				       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				failed++;
			}
		}
		free(names);
	}
	if (!inputs) {
		printf("FAIL fuzz/%s: empty corpus\n", argv[1]);
		return 1;
	}
	if (!failed)
		printf("PASS fuzz/%s: %d inputs replayed\n", argv[1], inputs);
	return failed ? 1 : 0;
}
