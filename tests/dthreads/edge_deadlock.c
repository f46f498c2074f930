/* edge_deadlock: two threads take two mutexes in opposite orders, with a
 * barrier between the first and the second lock: always a deadlock. */
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static void *work(void *arg)
{
	int id = (int)(long)arg;
	pthread_mutex_lock(id ? &b : &a);
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(id ? &a : &b);
	return NULL;
}
int main(void)
{
	pthread_t t[2];
	pthread_barrier_init(&bar, NULL, 2);
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	pthread_join(t[0], NULL);
	printf("not reached\n");
	return 0;
}
