/* dt_fopen: 4 threads write lines into one stream the program opened
 * (fopen: the FILE and its buffer are the program's heap), under a mutex;
 * main reads the file back. Plain pthreads output: the line count and the
 * per-thread totals; "sched:" the order's hash (schedule-dependent). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T 4
#define LINES 300
static FILE *f;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int k = 0; k < LINES; k++) {
		if (getenv("DT_TEST_DELAY") && k % 50 == 0)
			usleep((unsigned)(rand() % 300));
		pthread_mutex_lock(&mu);
		fprintf(f, "%ld %d\n", id, k);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(void)
{
	char path[] = "/tmp/dt_fopen.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w+"))) {
		perror("mkstemp");
		return 1;
	}
	pthread_t t[T];
	for (long i = 0; i < T; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	fflush(f);
	rewind(f);
	long n = 0, tot[T] = { 0 }, id, k;
	unsigned long h = 5381;
	while (fscanf(f, "%ld %ld", &id, &k) == 2) {
		n++;
		if (id >= 0 && id < T)
			tot[id] += k + 1;
		h = h * 33 + (unsigned long)(id * 1000 + k);
	}
	fclose(f);
	unlink(path);
	printf("lines %ld\n", n);
	for (int i = 0; i < T; i++)
		printf("thread %d total %ld\n", i, tot[i]);
	printf("sched: order hash %lx\n", h);
	return 0;
}
