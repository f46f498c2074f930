/*
 * bench/dthreads_gen.c — deterministic inputs for the Phoenix 2.0 pthreads
 * programs run by bench/dthreads_compare.sh (Phoenix's own datasets are
 * downloads; these are generated from a fixed seed, so every run and every
 * machine gets the same bytes). Our code; nothing from Phoenix.
 *
 *   dthreads_gen bmp   FILE MBYTES   24-bit BMP, random pixels (histogram)
 *   dthreads_gen lr    FILE MBYTES   (x, y) char pairs near a line
 *                                    (linear_regression)
 *   dthreads_gen words FILE MBYTES   lower-case words, one per line, from a
 *                                    10,000-word vocabulary (string_match,
 *                                    word_count)
 *   dthreads_gen html  DIR  FILES    FILES html pages of ~40 KiB, each with
 *                                    ~100 <a href="..."> links to 5,000
 *                                    distinct targets (reverse_index)
 *
 * Exits 0, or 1 with a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: fixed sequence from the fixed seed. */
static uint64_t next(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

static void put_le(unsigned char *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A BMP header for a width x height 24-bit image, then the pixels. */
static int gen_bmp(FILE *f, size_t bytes)
{
	uint32_t width = 4096, height = (uint32_t)(bytes / (3 * 4096));
	uint32_t data = width * 3 * height;
	unsigned char h[54] = { 'B', 'M' };

	put_le(h + 2, 54 + data, 4);
	put_le(h + 10, 54, 4);
	put_le(h + 14, 40, 4);
	put_le(h + 18, width, 4);
	put_le(h + 22, height, 4);
	put_le(h + 26, 1, 2);
	put_le(h + 28, 24, 2);
	put_le(h + 34, data, 4);
	if (fwrite(h, 1, sizeof h, f) != sizeof h)
		return -1;
	unsigned char row[4096 * 3];
	for (uint32_t y = 0; y < height; y++) {
		for (size_t i = 0; i < sizeof row; i += 8) {
			uint64_t r = next();
			memcpy(row + i, &r, sizeof row - i < 8 ? sizeof row - i : 8);
		}
		if (fwrite(row, 1, sizeof row, f) != sizeof row)
			return -1;
	}
	return 0;
}

/* Points (x, y), y = x/2 + 10 + noise, as signed chars. */
static int gen_lr(FILE *f, size_t bytes)
{
	for (size_t i = 0; i < bytes / 2; i++) {
		uint64_t r = next();
		int x = (int)(r % 200) - 100;
		int y = x / 2 + 10 + (int)((r >> 20) % 11) - 5;
		if (fputc((signed char)x, f) == EOF ||
		    fputc((signed char)y, f) == EOF)
			return -1;
	}
	return 0;
}

/* Word number k of the vocabulary: 3-10 letters, a function of k only. */
static void word(unsigned k, char *out)
{
	uint64_t s = k * 0x9e3779b97f4a7c15ull + 1;
	int len = 3 + (int)(s % 8);
	for (int i = 0; i < len; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		out[i] = (char)('a' + (s >> 33) % 26);
	}
	out[len] = 0;
}

static int gen_words(FILE *f, size_t bytes)
{
	char w[16];
	size_t n = 0;
	while (n < bytes) {
		/* skewed: low word numbers are frequent, as in text */
		uint64_t r = next();
		unsigned k = (unsigned)((r % 10000) * ((r >> 32) % 10000) / 10000);
		word(k, w);
		if (fprintf(f, "%s\n", w) < 0)
			return -1;
		n += strlen(w) + 1;
	}
	return 0;
}

static int gen_html(const char *dir, long files)
{
	char path[4096], w[16];
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	for (long i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/page%05ld.html", dir, i);
		FILE *f = fopen(path, "w");
		if (!f)
			return -1;
		fprintf(f, "<html><body>\n");
		for (int l = 0; l < 100; l++) {
			for (int t = 0; t < 60; t++) {
				word((unsigned)(next() % 10000), w);
				fprintf(f, "%s ", w);
			}
			fprintf(f, "<a href=\"http://site%u.example/doc%u.html\">link</a>\n",
				(unsigned)(next() % 50), (unsigned)(next() % 100));
		}
		fprintf(f, "</body></html>\n");
		if (fclose(f) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s bmp|lr|words FILE MBYTES | html DIR FILES\n",
			argv[0]);
		return 1;
	}
	long n = strtol(argv[3], NULL, 10);
	if (n <= 0) {
		fprintf(stderr, "%s: bad size %s\n", argv[0], argv[3]);
		return 1;
	}
	if (strcmp(argv[1], "html") == 0) {
		if (gen_html(argv[2], n) != 0) {
			perror(argv[2]);
			return 1;
		}
		return 0;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	size_t bytes = (size_t)n << 20;
	int rc;
	if (strcmp(argv[1], "bmp") == 0)
		rc = gen_bmp(f, bytes);
	else if (strcmp(argv[1], "lr") == 0)
		rc = gen_lr(f, bytes);
	else if (strcmp(argv[1], "words") == 0)
		rc = gen_words(f, bytes);
	else {
		fprintf(stderr, "%s: unknown kind %s\n", argv[0], argv[1]);
		fclose(f);
		return 1;
	}
	if (fclose(f) != 0 || rc != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
