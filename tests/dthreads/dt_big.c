/* dt_big: 100 MiB of globals (bss) written by 2 threads in disjoint
 * halves, a sparse stripe by a third; checksums by main. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define WORDS (100u * 1024 * 1024 / 8)
static uint64_t big[WORDS];
static uint64_t init_data[4] = { 1, 2, 3, 4 };

static void *half(void *arg)
{
	size_t id = (size_t)(long)arg;
	for (size_t i = id * (WORDS / 2); i < (id + 1) * (WORDS / 2); i++)
		big[i] = i * 2654435761u + (uint64_t)id;
	return NULL;
}

int main(void)
{
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, half, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	uint64_t s = 0;
	for (size_t i = 0; i < WORDS; i++)
		s ^= big[i] + (i << 1);
	printf("bytes %zu checksum %llu data %llu\n", sizeof big,
	       (unsigned long long)s, (unsigned long long)init_data[3]);
	return 0;
}
