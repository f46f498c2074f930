/* dt_prims: each pthreads primitive once, with results that do not depend
 * on the schedule under plain pthreads: join's value and self-join's
 * EDEADLK, detach, pthread_exit, once, keys (destructors), mutex types and
 * trylock, rwlocks, spinlocks, semaphores, timed waits that time out,
 * sched_yield. Prints one line per check. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static pthread_key_t key;
static int dtor_runs;
static pthread_mutex_t dtor_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_value;
static pthread_spinlock_t spin;
static long spin_value;
static sem_t sem, sem_done;
static long sem_items;
static pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
static volatile int detached_ran;

static void init_once(void) { once_runs++; }

static void dtor(void *p)
{
	pthread_mutex_lock(&dtor_mu);
	dtor_runs += (int)(long)p;
	pthread_mutex_unlock(&dtor_mu);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	pthread_once(&once, init_once);
	pthread_setspecific(key, (void *)(id + 1));
	if ((long)pthread_getspecific(key) != id + 1)
		printf("FAIL key value\n");
	for (int i = 0; i < 50; i++) {
		pthread_rwlock_wrlock(&rw);
		rw_value += id;
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_rdlock(&rw);
		long v = rw_value;
		pthread_rwlock_unlock(&rw);
		(void)v;
		pthread_spin_lock(&spin);
		spin_value += 2;
		pthread_spin_unlock(&spin);
		if (i % 10 == 0)
			sched_yield();
	}
	if (getenv("DT_TEST_DELAY"))
		usleep((unsigned)(rand() % 2000));
	if (id == 2)
		pthread_exit((void *)(id * 10));
	return (void *)(id * 10);
}

static void *sem_producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++)
		sem_post(&sem);
	return NULL;
}

static void *sem_consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		sem_wait(&sem);
		__atomic_add_fetch(&sem_items, 1, __ATOMIC_SEQ_CST);
	}
	sem_post(&sem_done);
	return NULL;
}

static void *detached(void *arg)
{
	(void)arg;
	detached_ran = 1;
	return NULL;
}

static void *holder(void *arg)
{
	pthread_mutex_t *m = arg;
	pthread_mutex_lock(m);
	sem_post(&sem_done);  /* tell main the lock is held */
	sem_wait(&sem);       /* hold until main says */
	pthread_mutex_unlock(m);
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	void *r;
	pthread_key_create(&key, dtor);
	pthread_spin_init(&spin, 0);
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	printf("self-join: %s\n", pthread_join(pthread_self(), NULL) == EDEADLK ? "EDEADLK" : "other");
	long rets = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		rets += (long)r;
	}
	printf("join values %ld once %d dtors %d\n", rets, once_runs, dtor_runs);
	printf("rwlock %ld spin %ld\n", rw_value, spin_value);

	/* semaphores */
	sem_init(&sem, 0, 0);
	sem_init(&sem_done, 0, 0);
	pthread_create(&t[0], NULL, sem_consumer, NULL);
	pthread_create(&t[1], NULL, sem_producer, NULL);
	sem_wait(&sem_done);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	int v = -1;
	sem_getvalue(&sem, &v);
	printf("sem items %ld value %d trywait %s\n", sem_items, v,
	       sem_trywait(&sem) == -1 && errno == EAGAIN ? "EAGAIN" : "other");

	/* mutex types */
	pthread_mutexattr_t a;
	pthread_mutex_t rec, chk;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&chk, &a);
	int r1 = pthread_mutex_lock(&rec), r2 = pthread_mutex_lock(&rec);
	int r3 = pthread_mutex_unlock(&rec), r4 = pthread_mutex_unlock(&rec);
	int r5 = pthread_mutex_unlock(&rec);
	printf("recursive %d %d %d %d then %s\n", r1, r2, r3, r4, r5 == EPERM ? "EPERM" : "other");
	pthread_mutex_lock(&chk);
	printf("errorcheck relock %s\n", pthread_mutex_lock(&chk) == EDEADLK ? "EDEADLK" : "other");
	pthread_mutex_unlock(&chk);

	/* trylock and timedlock against a holder thread */
	pthread_create(&t[0], NULL, holder, &plain);
	sem_wait(&sem_done);
	printf("trylock held: %s\n", pthread_mutex_trylock(&plain) == EBUSY ? "EBUSY" : "other");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	sem_post(&sem);
	printf("timedlock after release: %d\n", pthread_mutex_timedlock(&plain, &ts));
	pthread_mutex_unlock(&plain);
	pthread_join(t[0], NULL);
	printf("trylock free: %d\n", pthread_mutex_trylock(&plain));
	pthread_mutex_unlock(&plain);

	/* timed waits nobody ends */
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
	pthread_mutex_lock(&plain);
	int cr = pthread_cond_timedwait(&c, &plain, &ts);
	int owner_ok = pthread_mutex_trylock(&plain) != 0;
	pthread_mutex_unlock(&plain);
	printf("cond timedwait: %s, mutex held after: %d\n", cr == ETIMEDOUT ? "ETIMEDOUT" : "other", owner_ok);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
	int sr = sem_timedwait(&sem, &ts);
	printf("sem timedwait: %s\n", sr == -1 && errno == ETIMEDOUT ? "ETIMEDOUT" : "other");

	/* detach */
	pthread_create(&t[0], NULL, detached, NULL);
	printf("detach: %d\n", pthread_detach(t[0]));
	pthread_key_delete(key);
	printf("done\n");
	return 0;
}
