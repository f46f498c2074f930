/* dt_sighandler: the program installs its own SIGSEGV handler (before
 * and after creating threads) and relies on it for a fault on a page of
 * its own; the threads' writes to globals and heap must still work. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long sums[2];
static char *guard;
static volatile int caught;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if ((char *)si->si_addr >= guard && (char *)si->si_addr < guard + 4096) {
		caught++;
		mprotect(guard, 4096, PROT_READ | PROT_WRITE);
		return;
	}
	abort();
}

static void *work(void *arg)
{
	long id = (long)arg;
	long *v = malloc(1000 * sizeof *v);
	for (int i = 0; i < 1000; i++)
		v[i] = i * (id + 1);
	for (int i = 0; i < 1000; i++)
		sums[id] += v[i];
	return v;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t[2];
	void *r[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	sigaction(SIGSEGV, &sa, NULL); /* again, while threads run */
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &r[i]);
	guard[0] = 1;
	printf("sums %ld %ld heap %ld caught %d\n", sums[0], sums[1],
	       ((long *)r[1])[999], caught);
	return 0;
}
