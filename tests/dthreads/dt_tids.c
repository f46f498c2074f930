/* dt_tids: the pthread_t of each thread, a pthread_key_t and a
 * sem_getvalue result stored in globals that share a page with counters
 * the running threads keep changing. The runtime writes these values
 * during its turn; they must not be lost, nor make the page's other
 * bytes go back (a private copy made in the turn, after the commit, is
 * stale once a later turn commits the same page). */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N 6
#define ITER 300
static struct {
	pthread_t tid[N];
	long hits[N];
	pthread_key_t key;
	int semval;
} g __attribute__((aligned(4096)));
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sem_t sem;

static void *worker(void *arg)
{
	long i = (long)arg;
	for (int k = 0; k < ITER; k++) {
		if (getenv("DT_TEST_DELAY") && k % 50 == 0)
			usleep((unsigned)(rand() % 300));
		g.hits[i]++; /* own slot, same page as tid[] */
		pthread_mutex_lock(&mu);
		pthread_mutex_unlock(&mu);
	}
	return (void *)(i + 1);
}

int main(void)
{
	sem_init(&sem, 0, 3);
	for (long i = 0; i < N; i++) {
		if (pthread_create(&g.tid[i], NULL, worker, (void *)i) != 0) {
			printf("create failed\n");
			return 1;
		}
		if (i == N / 2) {
			pthread_key_create(&g.key, NULL);
			sem_getvalue(&sem, &g.semval);
		}
	}
	int bad = 0;
	for (long i = 0; i < N; i++) {
		void *r = NULL;
		int e = pthread_join(g.tid[i], &r);
		if (e || (long)r != i + 1)
			bad++;
	}
	long sum = 0;
	for (int i = 0; i < N; i++)
		sum += g.hits[i];
	printf("joined %d/%d, hits %ld of %d, semval %d, key set %d\n", N - bad,
	       N, sum, N * ITER, g.semval,
	       pthread_setspecific(g.key, &sem) == 0);
	return 0;
}
