/* edge_fork: a thread forks; the child writes a global (must not reach
 * the threads) and execs echo; the thread waits for it. Then a thread
 * calls pthread_cancel (unsupported: must fail with a message). Main
 * pthread_exits; the last thread's output still appears. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static int global = 1;
static void *work(void *a)
{
	(void)a;
	pid_t p = fork();
	if (p == 0) {
		global = 99;
		execl("/bin/echo", "echo", "child says hi", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
	printf("child status %d global %d\n", WEXITSTATUS(st), global);
	printf("cancel: %s\n", pthread_cancel(pthread_self()) == ENOTSUP ? "ENOTSUP" : "other");
	return NULL;
}
static void *last(void *a) { (void)a; printf("last thread done\n"); return NULL; }
int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, last, NULL);
	pthread_exit(NULL);
}
