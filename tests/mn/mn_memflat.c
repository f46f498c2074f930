/*
 * mn_memflat — memory for consistency data stays flat over 1,000
 * barriers (issue 10), on the two sharing patterns of sor and lu.
 *
 * Each of 250 steps runs both, with two barriers each. sor-like: each
 * node rewrites its slice of S pages and, after a barrier, reads the first
 * word of its neighbours' slices. lu-like: in step k, node k mod N
 * rewrites panel k mod P (a run of pages) and, after a barrier, every node
 * reads the whole panel. Values are checked
 * against the formula every step.
 *
 * The bytes malloc holds (mallinfo2().uordblks: interval records, write
 * notices, diffs, message buffers) and the resident set (VmRSS: twins and
 * page copies) are sampled after barrier 200 and after barrier 1,000.
 * Under hlrc and sc malloc may grow by at most 48 KiB and RSS by 1 MiB (records of the last
 * two barriers, allocator slack); 800 barriers' worth of records alone
 * would be more (~70 KiB at 2 nodes, ~180 KiB at 8: under hlrc a record lists only the pages another node reads). lrc keeps diffs until its garbage collection
 * (DSM_GC_THRESHOLD), so there only the values are checked and the
 * figures printed. Sanitizer builds keep freed memory in quarantine and
 * report no malloc figures: there only the values are checked. Under mpirun the malloc
 * figure includes Open MPI's own pools, which grow by ~100 KiB in such a
 * run: only the RSS bound is checked.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define MN_PROG "mn_memflat"
#include "mn_util.h"

#define S 128u        /* pages per node (sor) */
#define PANELS 8u     /* lu panels */
#define PANEL 16u     /* pages per panel */
/* barriers per pattern; sanitizer builds check only the values (below),
 * so there fewer barriers do (TSan: 97 s of CI for three runs of 1,000) */
#define STEPS (SANITIZED ? 100u : 500u)
#define BAR 1u

static uint64_t f(unsigned it, uint64_t i)
{
	return (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)it << 40) ^ it;
}

static long rss_kib(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (fp && fgets(line, sizeof line, fp))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	if (fp)
		fclose(fp);
	return kib;
}

struct sample {
	size_t heap;
	long rss;
};

static void sample(struct sample *s)
{
	struct mallinfo2 mi = mallinfo2();

	s->heap = mi.uordblks;
	s->rss = rss_kib();
}

int main(int argc, char **argv)
{
	int n = mn_init(&argc, &argv, 64);
	const char *proto = getenv("DSM_PROTOCOL");
	int check = !SANITIZED && !(proto && strcmp(proto, "lrc") == 0);
	size_t wpp = 4096 / sizeof(uint64_t), per = S * wpp, pw = PANEL * wpp;
	volatile uint64_t *a = mn_alloc_collective((size_t)n * per * sizeof(uint64_t));
	volatile uint64_t *lu = mn_alloc_collective(PANELS * pw * sizeof(uint64_t));
	unsigned barriers = 0;
	struct sample s0 = { 0, 0 }, s1;

	for (unsigned it = 1; it <= STEPS / 2; it++) {
		size_t mine = (size_t)me * per, panel = (size_t)(it % PANELS) * pw;
		for (size_t i = 0; i < per; i++) /* sor */
			a[mine + i] = f(it, mine + i);
		CHECK(dsm_barrier(BAR));
		for (int d = -1; d <= 1; d += 2) {
			size_t o = (size_t)((me + d + n) % n) * per;
			if (a[o] != f(it, o))
				FAIL("sor step %u: word %zu is %llx", it, o,
				     (unsigned long long)a[o]);
		}
		CHECK(dsm_barrier(BAR));
		if ((int)(it % (unsigned)n) == me) /* lu */
			for (size_t i = 0; i < pw; i++)
				lu[panel + i] = f(it, panel + i);
		CHECK(dsm_barrier(BAR));
		for (size_t i = 0; i < pw; i++)
			if (lu[panel + i] != f(it, panel + i))
				FAIL("lu step %u: panel word %zu is %llx", it, i,
				     (unsigned long long)lu[panel + i]);
		CHECK(dsm_barrier(BAR));
		if ((barriers += 4) == 200) /* every page has been used by now */
			sample(&s0);
	}
	sample(&s1);
	printf(MN_PROG ": node %d: after barrier 200: malloc %zu B, RSS %ld KiB; after "
	       "%u: malloc %zu B, RSS %ld KiB\n", me, s0.heap, s0.rss, barriers,
	       s1.heap, s1.rss);
	if (check && !getenv("OMPI_COMM_WORLD_SIZE") && s1.heap > s0.heap + (48u << 10))
		FAIL("malloc'd bytes grew from %zu to %zu over %u barriers: consistency "
		     "data must stay flat", s0.heap, s1.heap, barriers - 200);
	if (check && s0.rss > 0 && s1.rss > s0.rss + 1024)
		FAIL("resident set grew from %ld to %ld KiB over %u barriers", s0.rss,
		     s1.rss, barriers - 200);
	CHECK(dsm_barrier(BAR + 1));
	return dsm_finalize() ? 1 : 0;
}
