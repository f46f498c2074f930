/* dt_cond: 2 producers, 2 consumers over a bounded buffer (mutex +
 * condition variables). Plain pthreads output: the total of consumed
 * items (deterministic); "sched:" lines (which consumer got how much)
 * depend on the schedule and must be identical across dsmdet runs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CAP 8
#define PER 500
static int buf[CAP], head, tail, count, done_producers;
static long got[2], ngot[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < PER; i++) {
		if (getenv("DT_TEST_DELAY") && i % 100 == 0)
			usleep((unsigned)(rand() % 500));
		pthread_mutex_lock(&mu);
		while (count == CAP)
			pthread_cond_wait(&not_full, &mu);
		buf[tail] = (int)(id * 100000 + i);
		tail = (tail + 1) % CAP;
		count++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu);
	done_producers++;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *arg)
{
	long id = (long)arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (count == 0 && done_producers < 2)
			pthread_cond_wait(&not_empty, &mu);
		if (count == 0) {
			pthread_mutex_unlock(&mu);
			break;
		}
		int v = buf[head];
		head = (head + 1) % CAP;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&mu);
		got[id] += v;
		ngot[id]++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	pthread_create(&t[0], NULL, producer, (void *)0L);
	pthread_create(&t[1], NULL, consumer, (void *)0L);
	pthread_create(&t[2], NULL, producer, (void *)1L);
	pthread_create(&t[3], NULL, consumer, (void *)1L);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("items %ld sum %ld\n", ngot[0] + ngot[1], got[0] + got[1]);
	printf("sched: consumer 0 got %ld items (%ld), consumer 1 %ld (%ld)\n",
	       ngot[0], got[0], ngot[1], got[1]);
	return 0;
}
