/* edge_exit: a thread calls exit(3) while main waits in pthread_join. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *work(void *a) { (void)a; printf("thread exits\n"); exit(3); }
int main(void)
{
	pthread_t t;
	printf("main starts\n");
	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
	printf("not reached\n");
	return 0;
}
