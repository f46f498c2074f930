/* dt_race: after a barrier, threads 1 and 2 both store to `racy` (a data
 * race: different values, same epoch) and to neighbouring bytes of one
 * page (false sharing, not a race) and the same value to `same` (not a
 * conflict either). Prints the race's address first, the values last. */
#include <pthread.h>
#include <stdio.h>

static pthread_barrier_t bar;
int racy;
static char page[4096];
static int same;

static void *work(void *arg)
{
	long id = (long)arg;
	pthread_barrier_wait(&bar);
	racy = (int)id * 1111;
	page[id] = (char)id;
	same = 7;
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	printf("addr %p\n", (void *)&racy);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&t[0], NULL, work, (void *)1L);
	pthread_create(&t[1], NULL, work, (void *)2L);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	printf("racy %d page %d %d same %d\n", racy, page[1], page[2], same);
	return 0;
}
