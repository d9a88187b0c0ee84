/* kvmscope's own processes are no VMMs (ks_proc_is_kvmscope): a process
 * running the same executable file, this one or a copy of it, is one; a
 * process of another program is not; a process gone (or a zombie) cannot
 * be asked. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include "unit.h"
#include "kvm/vmfind.h"

/* A process state letter from /proc/PID/stat ('?' if unreadable). */
static char state(pid_t pid)
{
	char path[64], comm[64], st = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%*d (%63[^)]) %c", comm, &st) != 2)
			st = '?';
		fclose(f);
	}
	return st;
}

int main(void)
{
	pid_t same, other, zombie, gone;
	int status;

	ASSERT_EQ("this process is kvmscope's (the same executable)", ks_proc_is_kvmscope(getpid()), 1);
	same = fork();
	if (same == 0) {
		pause();
		_exit(0);
	}
	ASSERT_EQ("a child running the same executable is", ks_proc_is_kvmscope(same), 1);
	other = fork();
	if (other == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	/* Wait for the exec: until then the child runs this executable. */
	for (int i = 0; i < 200 && ks_proc_is_kvmscope(other) == 1; i++)
		usleep(10000);
	ASSERT_EQ("a process of another program is not", ks_proc_is_kvmscope(other), 0);
	zombie = fork();
	if (zombie == 0)
		_exit(0);
	for (int i = 0; i < 200 && state(zombie) != 'Z'; i++)
		usleep(10000);
	ASSERT_EQ("a zombie is gone", ks_proc_is_kvmscope(zombie), -1);
	gone = zombie;
	waitpid(zombie, &status, 0);
	ASSERT_EQ("a process reaped is gone", ks_proc_is_kvmscope(gone), -1);
	kill(same, SIGKILL);
	kill(other, SIGKILL);
	waitpid(same, &status, 0);
	waitpid(other, &status, 0);
	return unit_failed != 0;
}
