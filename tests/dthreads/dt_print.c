/* dt_print: 4 threads print 200 lines each with no lock of their own
 * (stdio's), plus stderr. Under pthreads the interleaving varies; under
 * dsmdet it must be the same every run, each line whole. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long shared;

static void *work(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < 200; i++) {
		printf("thread %ld line %d: %s\n", id, i, "the quick brown fox jumps");
		if (i % 50 == 0) {
			if (getenv("DT_TEST_DELAY"))
				usleep((unsigned)(rand() % 1000));
			pthread_mutex_lock(&mu);
			shared += id;
			pthread_mutex_unlock(&mu);
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("shared %ld\n", shared);
	return 0;
}
