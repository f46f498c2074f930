/*
 * util.c — logging, async-signal-safe output, time and futexes.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

struct dsm_node *dsm__node;

/* Log a line "dsm[node K] level: message" to stderr if level is enabled.
 * Before dsm_init (n == NULL) errors and warnings are printed. */
void dsm__log(struct dsm_node *n, int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[512];
	int len, max = n ? n->cfg.log_level : DSM_LOG_WARN;
	va_list ap;

	if (level > max)
		return;
	if (n)
		len = snprintf(line, sizeof(line), "dsm[node %d] %s: ", n->id,
			       names[level]);
	else
		len = snprintf(line, sizeof(line), "dsm: %s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - (size_t)len - 1, fmt, ap);
	va_end(ap);
	len = (int)strlen(line);
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		return;
}

/* Async-signal-safe write of a string to stderr. */
void dsm__write_str(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t w = write(STDERR_FILENO, s, len);
		if (w <= 0 && errno != EINTR)
			return;
		if (w > 0) {
			s += w;
			len -= (size_t)w;
		}
	}
}

void dsm__line_put(struct dsm_line *l, const char *s)
{
	size_t k = strlen(s), room = sizeof(l->text) - 1 - l->len;

	if (k > room)
		k = room;
	memcpy(l->text + l->len, s, k);
	l->len += k;
	l->text[l->len] = '\0';
}

void dsm__line_num(struct dsm_line *l, uint64_t v, int base)
{
	char num[24];

	dsm__line_put(l, dsm__utoa(v, num, base));
}

void dsm__line_write(const struct dsm_line *l)
{
	dsm__write_str(l->text);
}

/* Async-signal-safe unsigned to text (base 10 or 16); buf >= 24 bytes. */
char *dsm__utoa(uint64_t v, char *buf, int base)
{
	char *p = buf + 23;

	*p = '\0';
	do {
		*--p = "0123456789abcdef"[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	return p;
}

/* Monotonic time in ns; clock_gettime is async-signal-safe. */
uint64_t dsm__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep while *addr == val, at most timeout_ns (0: no limit). */
int dsm__futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long rc;

	if (timeout_ns) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
		ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
		tsp = &ts;
	}
	rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp,
		     NULL, 0);
	if (rc == 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

/* Wake every thread sleeping on addr. */
void dsm__futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
}
