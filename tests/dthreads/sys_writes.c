/* sys_writes: threads let the kernel write into globals and the heap with
 * calls the runtime does not wrap (pipe into a global array, readv into a
 * heap buffer, clock_gettime through the vDSO, getcwd). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int fds[2][2];
static char got[2][32];
static struct timespec ts[2];
static char cwd[2][4096];

static void *work(void *arg)
{
	long id = (long)arg;
	if (pipe(fds[id]) != 0) {
		perror("pipe");
		return (void *)1;
	}
	char *buf = malloc(32);
	if (write(fds[id][1], "hello from the kernel", 22) != 22)
		return (void *)1;
	struct iovec iov = { buf, 32 };
	ssize_t n = readv(fds[id][0], &iov, 1);
	if (n != 22) {
		perror("readv");
		return (void *)1;
	}
	memcpy(got[id], buf, 22);
	clock_gettime(CLOCK_MONOTONIC, &ts[id]);
	if (!getcwd(cwd[id], sizeof cwd[id]))
		return (void *)1;
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	void *r[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &r[i]);
	printf("results %ld %ld: '%s' '%s' clock %d cwd %d\n", (long)r[0], (long)r[1],
	       got[0], got[1], ts[0].tv_sec > 0 && ts[1].tv_sec > 0,
	       !strcmp(cwd[0], cwd[1]) && cwd[0][0] == '/');
	return 0;
}
