/* dt_basic: threads sum disjoint parts of a global array into per-thread
 * slots and a mutex-protected total; main prints the results. Plain
 * pthreads: the expected output is what a sequential computation gives. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N 4
#define LEN 100000
static long data[LEN];
static long part[N];
static long total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	long id = (long)arg, s = 0;
	if (getenv("DT_TEST_DELAY"))
		usleep((unsigned)(rand() % 3000) + (unsigned)getpid() % 2000);
	for (long i = id; i < LEN; i += N)
		s += data[i] * (id + 1);
	part[id] = s;
	long *heap = malloc(sizeof *heap);
	*heap = s;
	pthread_mutex_lock(&mu);
	total += *heap;
	pthread_mutex_unlock(&mu);
	return heap;
}

int main(void)
{
	pthread_t th[N];
	for (long i = 0; i < LEN; i++)
		data[i] = i % 97;
	for (long i = 0; i < N; i++)
		pthread_create(&th[i], NULL, work, (void *)i);
	long check = 0;
	for (long i = 0; i < N; i++) {
		void *r;
		pthread_join(th[i], &r);
		check += *(long *)r;
		free(r);
	}
	for (int i = 0; i < N; i++)
		printf("part %d = %ld\n", i, part[i]);
	printf("total = %ld check = %ld\n", total, check);
	return 0;
}
