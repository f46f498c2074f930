/* dt_manymaps: ten writable MAP_PRIVATE file mappings made before the
 * threads, so the last ones are regions 8 and above (after the heap and
 * the globals). Thread 1 writes a page of the last mapping (its copy is
 * kept after its commit), thread 0 writes the same page in the next
 * epoch, and thread 1 must then read thread 0's value: the commit log
 * must name the right region (its entries once had 3 bits for it, so
 * region 11 was taken for region 3 and thread 1 kept its stale copy). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define NMAP 10
#define LEN (2 * 4096)

static long *map[NMAP];
static pthread_barrier_t bar;
static long seen[3];

static void *work(void *arg)
{
	long id = (long)arg;
	volatile long *last = map[NMAP - 1];
	if (id == 1)
		last[0] = 1; /* epoch 1: thread 1 alone */
	pthread_barrier_wait(&bar);
	if (id == 0)
		last[0] = 2; /* epoch 2: thread 0 alone */
	pthread_barrier_wait(&bar);
	seen[id] = last[0]; /* epoch 3: both read */
	map[id + 3][1] = 100 + id; /* and write two other regions */
	return NULL;
}

int main(void)
{
	char path[] = "/tmp/dt_manymaps.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, LEN) != 0) {
		perror("tmp file");
		return 1;
	}
	unlink(path);
	for (int i = 0; i < NMAP; i++) {
		map[i] = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		if (map[i] == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
	}
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	seen[2] = map[NMAP - 1][0];
	printf("seen %ld %ld main %ld, others %ld %ld\n", seen[0], seen[1], seen[2],
	       map[3][1], map[4][1]);
	return seen[0] == 2 && seen[1] == 2 && seen[2] == 2 ? 0 : 1;
}
