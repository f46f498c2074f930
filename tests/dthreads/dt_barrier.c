/* dt_barrier: a 1-D stencil, 3 threads, a barrier between sweeps (two
 * arrays, globals). Its checksum is the same under any correct schedule. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T 3
#define LEN 30000
#define STEPS 40
static double a[LEN], b[LEN];
static pthread_barrier_t bar;
static int serial_count;

static void *work(void *arg)
{
	long id = (long)arg;
	long lo = 1 + id * (LEN - 2) / T, hi = 1 + (id + 1) * (LEN - 2) / T;
	for (int s = 0; s < STEPS; s++) {
		double *src = s % 2 ? b : a, *dst = s % 2 ? a : b;
		if (getenv("DT_TEST_DELAY") && s % 10 == (int)id)
			usleep((unsigned)(rand() % 2000));
		for (long i = lo; i < hi; i++)
			dst[i] = (src[i - 1] + src[i] + src[i + 1]) / 3.0;
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			serial_count++; /* one writer per sweep: no race */
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[T];
	for (long i = 0; i < LEN; i++)
		a[i] = b[i] = (double)(i % 101);
	pthread_barrier_init(&bar, NULL, T);
	for (long i = 0; i < T; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	double sum = 0;
	for (long i = 0; i < LEN; i++)
		sum += a[i] * (double)(i % 7 + 1);
	printf("checksum %.6f serial %d\n", sum, serial_count);
	pthread_barrier_destroy(&bar);
	return 0;
}
