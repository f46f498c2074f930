/* dt_locks: the deferred unlocks of dsmdet (an unlock nobody waits for is
 * no synchronisation point; a lock of the same mutex takes it back).
 * Threads add into counters under one mutex each (many short critical
 * sections, the same mutex again and again, and in turn), log the order
 * in which they got a shared mutex ("sched:" line: schedule-dependent,
 * compared across dsmdet runs only), one thread polls a flag under a
 * mutex until another sets it (must end: the take-backs are bounded per
 * epoch), and error-checking and recursive mutexes keep their errors
 * (EPERM on a second unlock, EBUSY on trylock of a held one). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N 3
#define ITERS 3000
#define NM 8
static pthread_mutex_t m[NM];
static long counter[NM];
static pthread_mutex_t logm = PTHREAD_MUTEX_INITIALIZER;
static int order[N * 200];
static int norder;
static pthread_mutex_t fm = PTHREAD_MUTEX_INITIALIZER;
static int flag;
static long polls;

static void *work(void *arg)
{
	long id = (long)arg;
	if (getenv("DT_TEST_DELAY"))
		usleep((unsigned)(rand() % 3000) + (unsigned)getpid() % 2000);
	for (int i = 0; i < ITERS; i++) {
		int k = (int)((i / 7 + id) % NM); /* 7 times the same one in a row */
		pthread_mutex_lock(&m[k]);
		counter[k] += id + 1;
		pthread_mutex_unlock(&m[k]);
		if (i % 15 == 0) {
			pthread_mutex_lock(&logm);
			order[norder++] = (int)id;
			pthread_mutex_unlock(&logm);
		}
	}
	return NULL;
}

static void *poller(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&fm);
		int f = flag;
		pthread_mutex_unlock(&fm);
		if (f)
			break;
		polls++;
	}
	return NULL;
}

static void *setter(void *arg)
{
	(void)arg;
	volatile double x = 0;
	for (int i = 0; i < 2000000; i++)
		x += i;
	pthread_mutex_lock(&fm);
	flag = 1;
	pthread_mutex_unlock(&fm);
	return NULL;
}

static void *types(void *arg)
{
	(void)arg;
	pthread_mutexattr_t a;
	pthread_mutex_t ec, rc;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&ec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rc, &a);
	int r1 = pthread_mutex_lock(&ec);
	int r2 = pthread_mutex_unlock(&ec);
	int r3 = pthread_mutex_unlock(&ec); /* EPERM */
	int r4 = pthread_mutex_lock(&ec);
	int r5 = pthread_mutex_trylock(&ec); /* EBUSY */
	int r6 = pthread_mutex_unlock(&ec);
	int r7 = pthread_mutex_trylock(&ec);
	int r8 = pthread_mutex_unlock(&ec);
	pthread_mutex_lock(&rc);
	pthread_mutex_lock(&rc);
	int r9 = pthread_mutex_unlock(&rc);
	int r10 = pthread_mutex_unlock(&rc);
	int r11 = pthread_mutex_unlock(&rc); /* EPERM */
	int r12 = pthread_mutex_destroy(&ec);
	printf("errorcheck %d %d %s %d %s %d %d %d destroy %d\n", r1, r2,
	       r3 == EPERM ? "EPERM" : "?", r4, r5 == EBUSY ? "EBUSY" : "?", r6, r7, r8, r12);
	printf("recursive %d %d %s\n", r9, r10, r11 == EPERM ? "EPERM" : "?");
	return NULL;
}

int main(void)
{
	pthread_t th[N + 3];
	for (int i = 0; i < NM; i++)
		pthread_mutex_init(&m[i], NULL);
	for (long i = 0; i < N; i++)
		pthread_create(&th[i], NULL, work, (void *)i);
	pthread_create(&th[N], NULL, poller, NULL);
	pthread_create(&th[N + 1], NULL, setter, NULL);
	pthread_create(&th[N + 2], NULL, types, NULL);
	for (int i = 0; i < N + 3; i++)
		pthread_join(th[i], NULL);
	long sum = 0;
	for (int i = 0; i < NM; i++) {
		printf("counter %d = %ld\n", i, counter[i]);
		sum += counter[i];
	}
	printf("sum = %ld entries = %d flag = %d\n", sum, norder, flag);
	unsigned long h = 5381;
	for (int i = 0; i < norder; i++)
		h = h * 33 + (unsigned long)order[i];
	printf("sched: order %lx polls %ld\n", h, polls);
	return 0;
}
