// SPDX-License-Identifier: GPL-2.0
/*
 * bench/startup RUNS CMD [ARGS...]: time from exec of CMD (a kvmscope
 * command with --json) to its "attached" record, RUNS times; prints each
 * run with the program count the record gives, then the median. CMD is
 * stopped with SIGINT after each run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[1]) : 0;
	double t[64];

	if (runs < 1 || runs > 64) {
		fprintf(stderr, "usage: startup RUNS(1..64) CMD [ARGS...]\n");
		return 2;
	}
	for (int r = 0; r < runs; r++) {
		int p[2], status;
		char line[4096], *prog;
		double t0 = now_ms();
		pid_t pid;
		FILE *f;

		if (pipe(p))
			return perror("pipe"), 1;
		pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		close(p[1]);
		f = fdopen(p[0], "r");
		t[r] = -1;
		while (fgets(line, sizeof(line), f)) {
			if (strstr(line, "\"type\":\"attached\"")) {
				t[r] = now_ms() - t0;
				prog = strstr(line, "\"programs\":");
				printf("run %d: attached after %.1f ms, %d programs\n", r, t[r],
				       prog ? atoi(prog + 11) : -1);
				fflush(stdout);
				break;
			}
		}
		kill(pid, SIGINT);
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
		waitpid(pid, &status, 0);
		if (t[r] < 0) {
			fprintf(stderr, "startup: run %d: no attached record\n", r);
			return 1;
		}
	}
	qsort(t, runs, sizeof(double), cmp);
	printf("median exec to attached: %.1f ms over %d runs (min %.1f, max %.1f)\n",
	       runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2, runs, t[0], t[runs - 1]);
	return 0;
}
