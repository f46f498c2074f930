/* dt_shm: a MAP_SHARED|MAP_ANONYMOUS mapping made before the threads is
 * shared between them like the heap: each fills its half, adds to a
 * counter in it under a mutex; main checks both halves and the counter. */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>

#define N (3 * 1024 * 1024 / 8)
static long *shm;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	long id = (long)arg;
	for (long i = id * (N / 2); i < (id + 1) * (N / 2); i++)
		if (i > 0)
			shm[i] = i * 3 + id;
	pthread_mutex_lock(&mu);
	shm[0] += id + 10;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	shm = mmap(NULL, N * sizeof(long), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	long s = 0;
	for (long i = 1; i < N; i++)
		s += shm[i];
	printf("counter %ld sum %ld\n", shm[0], s);
	munmap(shm, N * sizeof(long));
	return 0;
}
