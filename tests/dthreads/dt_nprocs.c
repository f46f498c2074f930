/* dt_nprocs: the processor count a program sees, by every call programs
 * use to size their thread pools (Phoenix 2.0: sysconf(_SC_NPROCESSORS_ONLN);
 * libstdc++'s hardware_concurrency: get_nprocs; OpenMP runtimes: the
 * affinity mask), from main and from a thread. Under dsmdet with
 * DSM_DET_NPROCS=N every line says N (test_dt_nprocs.sh); without it the
 * machine's answers, equal to the plain pthreads run (run_dt.sh). Then it
 * starts one thread per processor seen, as Phoenix does, each adding to a
 * counter under a mutex. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void show(const char *who)
{
	cpu_set_t set;
	int aff = -1, paff = -1;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		aff = CPU_COUNT(&set);
	if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0)
		paff = CPU_COUNT(&set);
	printf("%s: sysconf_onln %ld sysconf_conf %ld get_nprocs %d get_nprocs_conf %d "
	       "sched_getaffinity %d pthread_getaffinity_np %d\n",
	       who, sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_CONF), get_nprocs(),
	       get_nprocs_conf(), aff, paff);
}

static void *worker(void *arg)
{
	long i = (long)arg;
	if (i == 0)
		show("thread");
	if (getenv("DT_TEST_DELAY"))
		usleep((unsigned)(rand() % 300));
	pthread_mutex_lock(&mu);
	total += i + 1;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	show("main");
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1 || n > 64) {
		printf("unexpected processor count %ld\n", n);
		return 1;
	}
	pthread_t t[64];
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("threads %ld total %ld\n", n, total);
	/* other sysconf names are the machine's: the page size */
	printf("page %ld\n", sysconf(_SC_PAGESIZE));
	return 0;
}
