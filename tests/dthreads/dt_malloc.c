/* dt_malloc: threads build linked lists from malloc'd nodes (freeing
 * some, including blocks another thread allocated), main walks them.
 * Sums are schedule-free; "sched:" lines print addresses relative to the
 * first block, which dsmdet must reproduce every run. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { struct node *next; long v; char pad[40]; };
static struct node *lists[3];
static void *handoff[3];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *base;

static void *work(void *arg)
{
	long id = (long)arg;
	for (long i = 0; i < 2000; i++) {
		struct node *n = malloc(sizeof *n + (size_t)(i % 5) * 100);
		n->v = i * (id + 1);
		n->next = lists[id];
		lists[id] = n;
		if (i % 3 == 0) {
			void *tmp = malloc((size_t)(i % 300) + 1);
			memset(tmp, 1, (size_t)(i % 300) + 1);
			free(tmp);
		}
		if (i == 1000) {
			if (getenv("DT_TEST_DELAY"))
				usleep((unsigned)(rand() % 3000));
			pthread_mutex_lock(&mu);
			void *mine = malloc(4096 * 3);
			void *other = handoff[(id + 1) % 3];
			handoff[id] = mine;
			handoff[(id + 1) % 3] = NULL;
			pthread_mutex_unlock(&mu);
			free(other);
		}
	}
	char *big = calloc(1, 5u << 20);
	big[12345] = (char)id;
	free(big);
	return NULL;
}

int main(void)
{
	pthread_t t[3];
	base = malloc(1);
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	long sum = 0, cnt = 0;
	for (int i = 0; i < 3; i++) {
		long off = (char *)lists[i] - base;
		for (struct node *n = lists[i]; n; n = n->next)
			sum += n->v, cnt++;
		printf("sched: list %d head at base%+ld\n", i, off);
	}
	void *after = malloc(100);
	printf("sched: next block at base%+ld\n", (long)((char *)after - base));
	printf("nodes %ld sum %ld\n", cnt, sum);
	return 0;
}
