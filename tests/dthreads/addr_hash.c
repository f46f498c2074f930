/* addr_hash: output that depends on absolute addresses, as a program that
 * prints pointers or keeps objects in a hash table keyed by their address
 * (std::unordered_set<T *>) has. 4 threads malloc nodes and insert them
 * into a table hashed by the node's address, under a mutex; main prints
 * the values bucket by bucket, then the addresses of a heap block, a
 * global and a thread's stack variable. Under dsmdet every run must print
 * the same (test_dt_aslr.sh): the runtime makes the heap's offsets
 * deterministic, and dsmdet turns address randomisation off so that the
 * bases are the same too. Under plain pthreads both the schedule and the
 * addresses vary. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NB 61
#define NT 4
#define PER 50
struct node { struct node *next; long v; };
static struct node *bucket[NB];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *stack_seen;

static void *work(void *arg)
{
	long id = (long)arg;
	int local = 0;
	for (long i = 0; i < PER; i++) {
		struct node *n = malloc(sizeof *n + (size_t)(i % 7) * 24);
		n->v = id * 1000 + i;
		if (getenv("DT_TEST_DELAY") && i % 10 == 0)
			usleep((unsigned)(rand() % 200));
		size_t b = ((uintptr_t)n >> 4) % NB;
		pthread_mutex_lock(&mu);
		n->next = bucket[b];
		bucket[b] = n;
		if (id == 1 && i == 0)
			stack_seen = &local;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NT];
	for (long i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	uint64_t h = 1469598103934665603ull;
	long n = 0;
	for (int b = 0; b < NB; b++)
		for (struct node *p = bucket[b]; p; p = p->next, n++)
			h = (h ^ (uint64_t)p->v) * 1099511628211ull;
	printf("nodes %ld order %016llx\n", n, (unsigned long long)h);
	void *m = malloc(1);
	printf("heap %p global %p thread stack %p\n", m, (void *)&bucket[0], stack_seen);
	return 0;
}
