/* dt_many: 3000 short threads in waves of 4 (more than the runtime's
 * 1024 thread ids: joined ones are reused), each adding to a global under
 * a mutex; one detached thread per wave. */
#include <pthread.h>
#include <stdio.h>

static long total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
	pthread_mutex_lock(&mu);
	total += (long)arg;
	pthread_mutex_unlock(&mu);
	return arg;
}

static void *nothing(void *arg) { return arg; }

int main(void)
{
	long check = 0;
	for (long w = 0; w < 750; w++) {
		pthread_t t[4], d;
		for (long i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, work, (void *)(w * 4 + i));
		pthread_create(&d, NULL, nothing, NULL);
		pthread_detach(d);
		for (int i = 0; i < 4; i++) {
			void *r;
			pthread_join(t[i], &r);
			check += (long)r;
		}
	}
	printf("total %ld check %ld\n", total, check);
	return 0;
}
