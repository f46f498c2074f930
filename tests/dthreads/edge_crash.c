/* edge_crash: a thread dereferences NULL; the program must die of SIGSEGV. */
#include <pthread.h>
#include <stdio.h>
static void *work(void *a) { printf("crashing\n"); *(volatile int *)a = 1; return NULL; }
int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
	printf("not reached\n");
	return 0;
}
