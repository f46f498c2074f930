/* dt_mapfile: the pattern of Phoenix 2.0's word_count-pthread: the input
 * file is mapped MAP_PRIVATE and writable before the threads, each thread
 * upper-cases its half of the words in place and cuts them with NULs,
 * then main sorts pointers into the mapping and prints the words (strcmp
 * on the threads' writes). Under dsmdet the threads are processes, so the
 * mapping must be shared between them like the heap (it once was private
 * to each: main saw no NULs and strcmp ran off the end into SIGBUS). The
 * file on disk must stay unchanged (MAP_PRIVATE). The file's size is a
 * multiple of the page and the mapping one byte longer, as Phoenix maps
 * st_size + 1: the page beyond the end faults with SIGBUS if touched.
 * Main writes into the mapping before the threads (a word's first letter):
 * the threads must see that too. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORDS 3000 /* about 24 KiB: several pages, the last one partial */

static char *data;
static size_t len;
static char *word[WORDS];
static int nword[2];

struct part { size_t lo, hi; int id; };

static void *work(void *arg)
{
	struct part *p = arg;
	for (size_t i = p->lo; i < p->hi; i++) {
		if (data[i] == '\n') {
			data[i] = 0;
			continue;
		}
		data[i] = (char)(data[i] - 'a' + 'A');
		if (i == p->lo || data[i - 1] == 0)
			word[p->id * (WORDS / 2) + nword[p->id]++] = &data[i];
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char path[] = "/tmp/dt_mapfile.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	unlink(path);
	FILE *f = fdopen(fd, "w+");
	unsigned s = 12345;
	size_t half = 0;
	for (int i = 0; i < WORDS; i++) {
		if (i == WORDS / 2)
			half = (size_t)ftell(f);
		int l = 3 + (int)((s >> 16) % 5);
		for (int k = 0; k < l; k++) {
			s = s * 1103515245u + 12345u;
			fputc('a' + (int)((s >> 16) % 26), f);
		}
		fputc('\n', f);
	}
	while (ftell(f) % 4096)
		fputc('\n', f);
	fflush(f);
	struct stat st;
	fstat(fd, &st);
	len = (size_t)st.st_size;
	data = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	data[0] = 'q'; /* main's own write, before the threads */
	pthread_t t[2];
	struct part p[2] = { { 0, half, 0 }, { half, len, 1 } };
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, &p[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("words %d %d\n", nword[0], nword[1]);
	qsort(word, WORDS, sizeof *word, cmp);
	unsigned long h = 5381;
	for (int i = 0; i < WORDS; i++)
		for (const char *c = word[i]; *c; c++)
			h = h * 33 + (unsigned char)*c;
	printf("first %.16s last %.16s hash %lu\n", word[0], word[WORDS - 1], h);
	/* the file itself is unchanged: still lower case, no NULs */
	char buf[64];
	if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf || buf[0] < 'a') {
		printf("file changed\n");
		return 1;
	}
	printf("file unchanged\n");
	munmap(data, len + 1);
	return 0;
}
