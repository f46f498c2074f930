/*
 * env.c — the one place that reads DSM_* environment variables.
 *
 * Every variable is a row of env_table[] below: its name, its default (as
 * the text a user would write), a one-line meaning and the function that
 * parses it into struct dsm_config. dsm__env_load() first parses every
 * default, then every variable that is set, then checks the rules that tie
 * variables together; dsm__env_usage() prints the same table. Adding a
 * variable is adding a row and a parser.
 *
 * Errors name the variable, the offending value (never the secret's) and
 * what is accepted, in a static buffer: not thread-safe, valid until the
 * next call. Nothing here allocates or logs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/node.h"
#include "core/tsan.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define TiB (UINT64_C(1) << 40)

#define HEAP_MIN MiB
#define HEAP_MAX (16 * TiB)
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS (3600 * 1000)
#define US_MAX 1000000 /* DSM_SPIN_US / DSM_SC_HOLD_US: at most 1 s */

/*
 * Default address of the shared region. 0x200000000000 is 32 TiB: far
 * above the brk heap and a PIE executable (0x55..., 0x56...), far below
 * the mmap area and thread stacks (which grow down from 0x7f...), and
 * outside ASan's shadow (0x7fff8000..0x10007fff7fff) and its high memory
 * (0x10007fff8000...). With the 16 TiB maximum heap the region ends at
 * 48 TiB, still inside the 47-bit user address space.
 */
#if !DSM_TSAN_BUILD
#define DEFAULT_BASE "0x200000000000"
#else
/*
 * ThreadSanitizer builds (make test-tsan; core/tsan.h): TSan on x86-64
 * keeps its shadow at 0x010000000000-0x200000000000 and its metadata
 * above, and refuses fixed mappings outside its application ranges, so
 * 0x200000000000 cannot be mapped. 0x7e8000000000 is the start of its high
 * application range in both the gcc 12 / clang 14 layout
 * (0x7e8000000000-0x800000000000) and the later one
 * (0x7a0000000000-0x800000000000), about 1.5 TiB below the top of the
 * address space and at least ~0.5 TiB under the randomised mmap base, so
 * the heap there can be up to about 500 GiB.
 */
#define DEFAULT_BASE "0x7e8000000000"
#endif

/* Accepted values, one list each: parsers and usage both read them. */
static const char *const protocols[] = { "sc", "lrc", "hlrc", "ec", NULL };
/* DSM_EC_CHECK, in enum dsm_ec_check order (core/node.h); "1" is report. */
static const char *const ec_checks[] = { "off", "report", "error", NULL };
/* In enum dsm_home_policy order (core/node.h). */
static const char *const home_policies[] = { "first-touch", "block", "cyclic", "node0", NULL };
static const char *const on_off[] = { "off", "on", NULL };
static const char *const tw_modes[] = { "off", "on", "auto", NULL };
/* DSM_TAPE_POLICY, in the order of src/tape/internal.h's DSM_POL_* */
static const char *const tape_policies[] = { "off", "hlrc", "scope", NULL };
/* In enum dsm_wp_mode order (vm/wp.h). */
static const char *const wp_modes[] = { "auto", "uffd", "segv", NULL };
static const char *const transports[] = { "tcp", "mpi", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
/* In enum dsm_det_policy order (include/dsm_det.h). */
static const char *const det_policies[] = { "error", "report", "last", NULL };

struct env_var;
typedef int (*env_parse_fn)(struct dsm_config *c, const struct env_var *v,
			    const char *s);

struct env_var {
	const char *name;
	const char *def;            /* default as text; NULL: unset */
	const char *shown_def;      /* default as printed by usage */
	const char *help;           /* one-line meaning */
	const char *const *choices; /* accepted words, or NULL */
	env_parse_fn parse;
};

static char why_buf[1024];

/* Format "NAME=VALUE: msg" into why_buf; returns DSM_ECONFIG. The value is
 * cut at 200 bytes so a huge variable still gives a readable message. */
__attribute__((format(printf, 3, 4))) static int
bad(const struct env_var *v, const char *val, const char *fmt, ...)
{
	va_list ap;
	int len = snprintf(why_buf, sizeof(why_buf), "%s=%.200s: ", v->name, val);

	va_start(ap, fmt);
	vsnprintf(why_buf + len, sizeof(why_buf) - (size_t)len, fmt, ap);
	va_end(ap);
	return DSM_ECONFIG;
}

/* Format a message that is not about one value (or must not show it). */
__attribute__((format(printf, 1, 2))) static int
bad_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return DSM_ECONFIG;
}

/* Join a NULL-terminated word list as "a, b, c" into buf. */
static const char *join_words(const char *const *w, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (; *w; w++)
		len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0,
					"%s%s", len ? ", " : "", *w);
	return buf;
}

/* Index of s in the word list (case-insensitive), or -1. */
static int find_word(const char *const *w, const char *s)
{
	for (int i = 0; w[i]; i++)
		if (strcasecmp(w[i], s) == 0)
			return i;
	return -1;
}

/* Parse decimal digits [s, end) strictly into *out. 0, or -1 on an empty
 * string, a non-digit or overflow. *end gets the first non-digit. */
static int parse_dec(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return p == s ? -1 : 0;
}

/* Parse a whole string as a decimal integer in [lo, hi]. 0 or -1. */
static int parse_int_range(const char *s, long long lo, long long hi,
			   long long *out)
{
	const char *end;
	uint64_t u;
	int neg = (*s == '-');

	if (parse_dec(s + neg, &end, &u) < 0 || *end || u > (uint64_t)INT64_MAX)
		return -1;
	*out = neg ? -(long long)u : (long long)u;
	return *out < lo || *out > hi ? -1 : 0;
}

/* Binary multiplier of a size suffix: "" or "B" is 1; K, M, G, T, each
 * optionally followed by "B" or "iB", case-insensitive. 0 if s is not one
 * of these. */
static uint64_t size_suffix(const char *s)
{
	static const char units[] = "KMGT";
	const char *u = *s ? strchr(units, toupper((unsigned char)*s)) : NULL;

	if (!u)
		return (*s == '\0' || strcasecmp(s, "b") == 0) ? 1 : 0;
	s++;
	if (*s == '\0' || strcasecmp(s, "b") == 0 || strcasecmp(s, "ib") == 0)
		return KiB << (10 * (u - units));
	return 0;
}

int dsm__parse_size(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v, mult;

	if (!s || parse_dec(s, &end, &v) < 0)
		return -EINVAL;
	mult = size_suffix(end);
	if (mult == 0 || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/* Parse a non-negative integer "0x..." (hex) or decimal, strictly. */
static int parse_addr(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
		return parse_dec(s, &p, out) < 0 || *p ? -1 : 0;
	}
	for (p = s + 2; isxdigit((unsigned char)*p); p++) {
		if (v >> 60)
			return -1;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)*p)
					? *p - '0'
					: tolower((unsigned char)*p) - 'a' + 10);
	}
	*out = v;
	return (p == s + 2 || *p) ? -1 : 0;
}

/* Parse a duration "5", "5s", "500ms", "2.5s" into milliseconds (at most
 * 9 decimals, truncated to whole ms). Done by hand rather than with strtod
 * so the application's locale cannot change what "2.5" means. */
static int parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t whole, frac = 0, scale = 1000000000, unit_ms;
	const char *p;

	if (parse_dec(s, &p, &whole) < 0 || whole > UINT32_MAX)
		return -1;
	if (*p == '.') {
		const char *q = ++p;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (p - q >= 9)
				return -1;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
		if (p == q)
			return -1;
	}
	if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
		unit_ms = 1000;
	else if (strcmp(p, "ms") == 0)
		unit_ms = 1;
	else
		return -1;
	*ms = whole * unit_ms + frac * unit_ms / 1000000000;
	return 0;
}

/* Copy s into a fixed char array field; reject empty or too long. */
static int copy_str(const struct env_var *v, const char *s, char *dst, size_t cap)
{
	size_t len = strlen(s);

	if (len == 0)
		return bad(v, s, "must not be empty");
	if (len >= cap)
		return bad(v, s, "too long (at most %zu bytes)", cap - 1);
	memcpy(dst, s, len + 1);
	return 0;
}

/* --- one parser per variable ---------------------------------------- */

/* Shared by the word-valued variables: copy the canonical spelling of the
 * accepted word s into dst, or name every accepted word in the error. */
static int p_choice(const struct env_var *v, const char *s, char *dst, size_t cap,
		    const char *what)
{
	char list[128];
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "unknown %s; accepted: %s", what,
			   join_words(v->choices, list, sizeof(list)));
	snprintf(dst, cap, "%s", v->choices[i]);
	return 0;
}

static int p_protocol(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_choice(v, s, c->protocol, sizeof(c->protocol), "protocol");
}

/* DSM_HOME: how hlrc places a page's home. */
static int p_home(struct dsm_config *c, const struct env_var *v, const char *s)
{
	char list[128];
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "unknown home policy; accepted: %s",
			   join_words(v->choices, list, sizeof(list)));
	c->home_policy = i;
	return 0;
}

/* An on/off variable into *out (1 = on). */
static int p_on_off(const struct env_var *v, const char *s, int *out)
{
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: on or off");
	*out = i;
	return 0;
}

/* DSM_PEER_MEM: whether same-machine nodes read home pages from each
 * other's region instead of receiving them (vm/peermem.h). */
static int p_peer_mem(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_on_off(v, s, &c->peer_mem);
}

/* DSM_HOME_MIGRATE: whether hlrc moves a page's home to its single writer. */
static int p_migrate(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_on_off(v, s, &c->home_migrate);
}

/* A count 0..1024 (0: off) of what unit names, into *out. */
static int p_count(const struct env_var *v, const char *s, const char *unit, int *out)
{
	long long k;

	if (parse_int_range(s, 0, 1024, &k) < 0)
		return bad(v, s, "accepted: %s 0 to 1024 (0: off)", unit);
	*out = (int)k;
	return 0;
}

/* DSM_FRESH_RUN: how many fresh pages hlrc opens at one write fault. */
static int p_fresh_run(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_count(v, s, "pages", &c->fresh_run);
}

/* DSM_LOCK_AHEAD: lock tokens granted ahead of a sequential stream. */
static int p_lock_ahead(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_count(v, s, "locks", &c->lock_ahead);
}

/* DSM_EC_CHECK: ec's detector of accesses to bound data without a hold. */
static int p_ec_check(struct dsm_config *c, const struct env_var *v, const char *s)
{
	int i = strcmp(s, "1") == 0 ? DSM_EC_CHECK_REPORT : find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: off, report (or 1) or error");
	c->ec_check = i;
	return 0;
}

/* DSM_TAPEWORM: which locks and barriers Tapeworm acts on. */
static int p_tapeworm(struct dsm_config *c, const struct env_var *v, const char *s)
{
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: off, on or auto");
	c->tapeworm = i; /* DSM_TW_OFF, DSM_TW_ON, DSM_TW_AUTO */
	return 0;
}

/* DSM_TAPE_POLICY: an update protocol emulated with tapes over lrc. */
static int p_tape_policy(struct dsm_config *c, const struct env_var *v, const char *s)
{
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: off, hlrc or scope");
	c->tape_policy = i; /* DSM_POL_OFF, DSM_POL_HLRC, DSM_POL_SCOPE */
	return 0;
}

/* DSM_WRITE_DETECT: how lrc (and a deterministic space) learns which
 * pages it wrote. */
static int p_write_detect(struct dsm_config *c, const struct env_var *v, const char *s)
{
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: auto, uffd or segv");
	c->write_detect = i; /* DSM_WP_AUTO, DSM_WP_UFFD, DSM_WP_SEGV */
	return 0;
}

static int p_transport(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return p_choice(v, s, c->transport, sizeof(c->transport), "transport");
}

/* Heap size: a size with a suffix, 1 MiB..16 TiB, rounded up to a page. */
static int p_heap(struct dsm_config *c, const struct env_var *v, const char *s)
{
	uint64_t size, page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (dsm__parse_size(s, &size) < 0)
		return bad(v, s, "not a size; accepted: bytes or a number with "
			   "suffix K, M, G or T (binary), e.g. 512M, 1G");
	if (size < HEAP_MIN || size > HEAP_MAX)
		return bad(v, s, "out of range; accepted: 1M to 16T");
	c->heap_size = (size + page - 1) / page * page;
	return 0;
}

static int p_base(struct dsm_config *c, const struct env_var *v, const char *s)
{
	uint64_t base, page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (parse_addr(s, &base) < 0 || base > UINTPTR_MAX)
		return bad(v, s, "not an address; accepted: 0x-prefixed hex or decimal");
	if (base == 0 || base % page)
		return bad(v, s, "not page aligned (page size %llu) or zero",
			   (unsigned long long)page);
	c->base = (uintptr_t)base;
	return 0;
}

static int p_node_id(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long id;

	if (parse_int_range(s, 0, DSM_MAX_NODES - 1, &id) < 0)
		return bad(v, s, "not a node id; accepted: 0 to %d", DSM_MAX_NODES - 1);
	c->node_id = (int)id;
	return 0;
}

static int p_node_count(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long n;

	if (parse_int_range(s, 1, DSM_MAX_NODES, &n) < 0)
		return bad(v, s, "not a node count; accepted: 1 to %d", DSM_MAX_NODES);
	c->node_count = (int)n;
	return 0;
}

/* host:port, split at the last ':' so "[::1]:7000" works too. */
static int p_coordinator(struct dsm_config *c, const struct env_var *v, const char *s)
{
	const char *colon = strrchr(s, ':');
	long long port;

	if (!colon || colon == s || parse_int_range(colon + 1, 1, 65535, &port) < 0)
		return bad(v, s, "not host:port; accepted: e.g. 127.0.0.1:7000");
	return copy_str(v, s, c->coordinator, sizeof(c->coordinator));
}

static int p_bind(struct dsm_config *c, const struct env_var *v, const char *s)
{
	return copy_str(v, s, c->bind, sizeof(c->bind));
}

/* 64 hex digits; the value is never copied into a message. */
static int p_secret(struct dsm_config *c, const struct env_var *v, const char *s)
{
	size_t i;

	for (i = 0; i < 2 * DSM_SECRET_LEN; i++)
		if (!isxdigit((unsigned char)s[i]))
			break;
	if (i != 2 * DSM_SECRET_LEN || s[i])
		return bad_msg("%s: malformed (value not shown); accepted: exactly "
			       "%u hex digits (%u bytes)", v->name,
			       2 * DSM_SECRET_LEN, DSM_SECRET_LEN);
	for (i = 0; i < DSM_SECRET_LEN; i++) {
		char byte[3] = { s[2 * i], s[2 * i + 1], '\0' };
		c->secret[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return 0;
}

static int p_timeout(struct dsm_config *c, const struct env_var *v, const char *s)
{
	uint64_t ms;

	if (parse_duration_ms(s, &ms) < 0)
		return bad(v, s, "not a duration; accepted: seconds or "
			   "milliseconds, e.g. 5, 5s, 2.5s, 500ms");
	if (ms < TIMEOUT_MIN_MS || ms > TIMEOUT_MAX_MS)
		return bad(v, s, "out of range; accepted: 100ms to 3600s");
	c->timeout_ms = (int)ms;
	return 0;
}

/* An empty DSM_STATS means "no statistics file", like an unset one. */
static int p_stats(struct dsm_config *c, const struct env_var *v, const char *s)
{
	if (*s == '\0') {
		c->stats_file[0] = '\0';
		return 0;
	}
	return copy_str(v, s, c->stats_file, sizeof(c->stats_file));
}

/* DSM_RECORD / DSM_REPLAY: a log directory, "" = off. */
static int p_record(struct dsm_config *c, const struct env_var *v, const char *s)
{
	c->record_dir[0] = '\0';
	return *s ? copy_str(v, s, c->record_dir, sizeof(c->record_dir)) : 0;
}

static int p_replay(struct dsm_config *c, const struct env_var *v, const char *s)
{
	c->replay_dir[0] = '\0';
	return *s ? copy_str(v, s, c->replay_dir, sizeof(c->replay_dir)) : 0;
}

/* log_levels[] is in enum dsm_log_level order. */
static int p_log(struct dsm_config *c, const struct env_var *v, const char *s)
{
	char list[128];
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "unknown log level; accepted: %s",
			   join_words(v->choices, list, sizeof(list)));
	c->log_level = DSM_LOG_ERROR + i;
	return 0;
}

static int p_listen_fd(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long fd;

	if (parse_int_range(s, -1, INT32_MAX, &fd) < 0)
		return bad(v, s, "not a file descriptor; accepted: -1 or a number >= 0 "
			   "(set by dsmrun)");
	c->listen_fd = (int)fd;
	return 0;
}

static int p_spin(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long us;

	if (strcasecmp(s, "auto") == 0) {
		c->spin_us = -1;
		return 0;
	}
	if (parse_int_range(s, 0, US_MAX, &us) < 0)
		return bad(v, s, "accepted: auto or microseconds 0 to %d", US_MAX);
	c->spin_us = (int)us;
	return 0;
}

static int p_hold(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long us;

	if (parse_int_range(s, 0, US_MAX, &us) < 0)
		return bad(v, s, "accepted: microseconds 0 to %d", US_MAX);
	c->hold_us = (int)us;
	return 0;
}

/* DSM_SC_ADAPT: off, on, auto (tw_modes' words, same order). */
static int p_sc_adapt(struct dsm_config *c, const struct env_var *v, const char *s)
{
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "accepted: off, on or auto");
	c->sc_adapt = i;
	return 0;
}

static int p_sc_thrash(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long rate;

	if (parse_int_range(s, 1, 100000000, &rate) < 0)
		return bad(v, s, "accepted: transitions per second, 1 to 100000000");
	c->sc_thrash = (int)rate;
	return 0;
}

static int p_gc(struct dsm_config *c, const struct env_var *v, const char *s)
{
	uint64_t size;

	if (dsm__parse_size(s, &size) < 0 || size < 4096)
		return bad(v, s, "accepted: a size of at least 4K, e.g. 64M");
	c->gc_threshold = size;
	return 0;
}

/* Longest pause of an idle MPI service thread between polls. */
static int p_mpi_poll(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long us;

	if (parse_int_range(s, 1, US_MAX, &us) < 0)
		return bad(v, s, "accepted: microseconds 1 to %d", US_MAX);
	c->mpi_poll_us = (int)us;
	return 0;
}

/* --- deterministic spaces (src/det) --- */

static int p_det_conflict(struct dsm_config *c, const struct env_var *v, const char *s)
{
	char list[128];
	int i = find_word(v->choices, s);

	if (i < 0)
		return bad(v, s, "unknown policy; accepted: %s",
			   join_words(v->choices, list, sizeof(list)));
	c->det_conflict = i;
	return 0;
}

/* Arena of a deterministic context: virtual, backed lazily; 1M..64T. */
static int p_det_heap(struct dsm_config *c, const struct env_var *v, const char *s)
{
	uint64_t size;

	if (strcmp(s, "auto") == 0) { /* src/det sizes it from the RAM */
		c->det_heap = 0;
		return 0;
	}
	if (dsm__parse_size(s, &size) < 0 || size < HEAP_MIN || size > 64 * TiB)
		return bad(v, s, "accepted: auto, or a size 1M to 64T, e.g. 4G");
	c->det_heap = size;
	return 0;
}

static int p_det_delay(struct dsm_config *c, const struct env_var *v, const char *s)
{
	long long us;

	if (parse_int_range(s, 0, US_MAX, &us) < 0)
		return bad(v, s, "accepted: microseconds 0 to %d", US_MAX);
	c->det_delay_us = (int)us;
	return 0;
}

/*
 * The table. Defaults are text run through the same parser as user values,
 * so a default can never disagree with what its variable accepts.
 */
static const struct env_var env_table[] = {
	{ "DSM_PROTOCOL", "hlrc", "hlrc",
	  "consistency protocol: hlrc (home-based lazy release consistency: "
	  "diffs flushed to each page's home at release, whole pages fetched "
	  "from the home; docs/protocols/hlrc.md), lrc (lazy release "
	  "consistency, multiple writers, diffs kept by their writers), sc "
	  "(sequential consistency, single writer) or ec (entry consistency: "
	  "data bound to a lock with dsm_bind moves with the lock, only what "
	  "changed since the acquirer's last acquire; unbound data as under "
	  "hlrc; docs/protocols/ec.md)", protocols, p_protocol },
	{ "DSM_EC_CHECK", "off", "off",
	  "ec: report an access to bound data by a node that does not hold "
	  "its lock (a write without an exclusive hold, a read without any), "
	  "and a write to unbound data inside a critical section, with the "
	  "address, the lock, the node and a backtrace on stderr: off, report "
	  "(or 1: report and continue) or error (report, then the access "
	  "raises SIGBUS)", ec_checks, p_ec_check },
	{ "DSM_HOME", "first-touch", "first-touch",
	  "hlrc: where a page's home is: first-touch (the first node to "
	  "write it, decided at its first release), block (runs of 16 pages "
	  "dealt round-robin), cyclic (page p on node p mod N) or node0",
	  home_policies, p_home },
	{ "DSM_HOME_MIGRATE", "on", "on",
	  "hlrc and ec: on moves a page's home to a node that alone wrote it "
	  "in two consecutive releases (its diffs then stop), off keeps homes "
	  "where DSM_HOME put them", on_off, p_migrate },
	{ "DSM_PEER_MEM", "on", "on",
	  "hlrc: on lets nodes of one job on the same machine (dsmrun; needs "
	  "DSM_SECRET, so not under mpirun) copy a page they fetch straight "
	  "from its home's memory (mapped read-only through /proc/PID/fd, "
	  "found through a file in /dev/shm), the home answering with a "
	  "header instead of the bytes; off sends every page as a message; "
	  "docs/peer-memory.md", on_off, p_peer_mem },
	{ "DSM_FRESH_RUN", "64", "64",
	  "hlrc: a write fault on a fresh page (no home yet, so all zero "
	  "here) opens up to this many fresh pages from it writable at once, "
	  "with a zero twin (4, or twice the run opened just before the "
	  "page: a stream of writes doubles it); at the release, pages this "
	  "node never touched (still holes of the region's memfd) are left "
	  "fresh, unclaimed and unannounced; 0 turns this off (a fresh page "
	  "is twinned, claimed and announced like any other page written; "
	  "docs/protocols/hlrc.md)", NULL, p_fresh_run },
	{ "DSM_LOCK_AHEAD", "64", "64",
	  "hlrc, lrc and sc locks (docs/locks.md): when a node acquires "
	  "the locks one manager manages in a stream (ids k, k+N, k+2N, "
	  "...), the manager grants it the next free ones with the lock, up "
	  "to this many (1, then doubling while the stream goes on), and "
	  "they stay there after their releases until the manager revokes "
	  "them for another node (which gets the run back in one message); "
	  "0: every grant is a single lock that goes back at its release",
	  NULL, p_lock_ahead },
	{ "DSM_TAPEWORM", "on", "on",
	  "Tapeworm (docs/tapes.md; hlrc, lrc): on prefetches for the locks "
	  "and barriers a program marks (dsm_tapeworm_lock/barrier), auto for "
	  "every lock and barrier (each learns its tape and stops prefetching "
	  "while its predictions go unused), off for none; the same on every "
	  "node", tw_modes, p_tapeworm },
	{ "DSM_TAPE_POLICY", "off", "off",
	  "lrc only (docs/tapes.md, \"Protocols emulated with tapes\"): an "
	  "update protocol expressed as a tape policy over lrc: hlrc (each "
	  "page has a home, runs of 16 pages dealt round-robin or as DSM_HOME "
	  "says; at each release a writer pushes the pages it wrote to their "
	  "homes, and after each acquire and barrier a node pulls from the "
	  "homes the invalid pages its tapes predict), scope (every lock's "
	  "critical-section write tape goes with its grant and its acquirer "
	  "fetches it; at each barrier every node fetches every page the "
	  "barrier invalidated) or off; hints only, results do not change; "
	  "under another protocol dsm_init fails; the same on every node",
	  tape_policies, p_tape_policy },
	{ "DSM_WRITE_DETECT", "auto", "auto",
	  "lrc, hlrc homes (under auto only while a node writes 16 or more "
	  "shared home pages per interval close on average) and "
	  "deterministic spaces: how a node learns which pages it "
	  "wrote in an interval (a space: in its run): uffd "
	  "(the kernel records writes to pages written in earlier intervals: "
	  "userfaultfd asynchronous write-protect and PAGEMAP_SCAN, Linux "
	  ">= 6.7; no fault per page), segv (a protection fault on the first "
	  "write to each page, every interval) or auto (uffd where the kernel "
	  "allows it, else segv; the choice and its reason are logged at "
	  "info); docs/write-detection.md", wp_modes, p_write_detect },
	{ "DSM_TRANSPORT", "tcp", "tcp (mpi under mpirun/srun)",
	  "transport between nodes; unset, it is mpi when the process was "
	  "started by mpirun or srun (OMPI_COMM_WORLD_SIZE, PMI_RANK/PMI_SIZE, "
	  "PMIX_RANK, or SLURM_PROCID with SLURM_NTASKS is set) and "
	  "DSM_NODE_COUNT is not; with mpi the node id and count are the MPI "
	  "rank and size, and DSM_NODE_ID/COUNT/COORDINATOR/SECRET are not used",
	  transports, p_transport },
	{ "DSM_HEAP_SIZE", "1G", "1G",
	  "size of the shared region: bytes or K/M/G/T suffix, 1M..16T, "
	  "rounded up to a page; the page table is reserved, not committed, "
	  "but lrc keeps state for every page: if this machine cannot hold "
	  "it, dsm_init fails with DSM_ECONFIG", NULL, p_heap },
	{ "DSM_BASE", DEFAULT_BASE, DEFAULT_BASE,
	  "address of the shared region (hex or decimal, page aligned); the "
	  "default is clear of the heap, PIE, mmap area, stacks and ASan's shadow "
	  "(0x7e8000000000 in ThreadSanitizer builds, whose shadow covers "
	  "0x200000000000)",
	  NULL, p_base },
	{ "DSM_NODE_ID", NULL, "(dsmrun)",
	  "this node's id, 0..count-1; unset with DSM_NODE_COUNT: one node",
	  NULL, p_node_id },
	{ "DSM_NODE_COUNT", NULL, "(dsmrun)",
	  "number of nodes, 1..64; set by dsmrun -n N", NULL, p_node_count },
	{ "DSM_COORDINATOR", NULL, "(none)",
	  "host:port of node 0; required with more than one node", NULL,
	  p_coordinator },
	{ "DSM_BIND", "127.0.0.1", "127.0.0.1", "address this node listens on",
	  NULL, p_bind },
	{ "DSM_SECRET", NULL, "(dsmrun)",
	  "per-job secret, 64 hex digits; required with more than one node; "
	  "never printed", NULL, p_secret },
	{ "DSM_TIMEOUT", "5s", "5s",
	  "peer timeout: 5, 5s, 2.5s, 500ms; 100ms..3600s", NULL, p_timeout },
	{ "DSM_STATS", NULL, "(none)",
	  "path of the job's JSON statistics file, written at dsm_finalize",
	  NULL, p_stats },
	{ "DSM_LOG", "warn", "warn", "log level", log_levels, p_log },
	{ "DSM_RECORD", NULL, "(none)",
	  "sc: record this run into the directory (one log per node, "
	  "docs/replay.md); dsmrun --record sets it", NULL, p_record },
	{ "DSM_REPLAY", NULL, "(none)",
	  "sc: replay the run recorded in the directory, enforcing its order "
	  "of page ownership transitions (docs/replay.md); dsmrun --replay sets "
	  "it", NULL, p_replay },
	{ "DSM_LISTEN_FD", "-1", "-1",
	  "internal: listening socket passed by dsmrun to node 0", NULL,
	  p_listen_fd },
	{ "DSM_SPIN_US", "auto", "auto",
	  "microseconds the service thread busy-polls after traffic, and a "
	  "thread waiting for a reply spins, before sleeping; auto: 50 when "
	  "there is a core per node, else 0; the service thread polls only "
	  "while a thread waits for a page and such spins catch replies "
	  "(an explicit value always spins)", NULL, p_spin },
	{ "DSM_SC_HOLD_US", "200", "200",
	  "microseconds a node keeps a page it just obtained before serving "
	  "queued requests (progress under contention)", NULL, p_hold },
	{ "DSM_SC_ADAPT", "auto", "auto",
	  "sc: adaptive CREW (docs/replay.md): on fetches a page for writing "
	  "at a read fault once this node has twice written it right after "
	  "reading it (migratory pages stay exclusive), and lengthens the hold "
	  "while the node's transitions exceed DSM_SC_THRASH; auto: on while "
	  "recording or replaying, off otherwise", tw_modes, p_sc_adapt },
	{ "DSM_SC_THRASH", "20000", "20000",
	  "sc with DSM_SC_ADAPT: ownership transitions per second of a node "
	  "above which it doubles its hold (up to 10 ms), halving it again "
	  "below a quarter of the rate", NULL, p_sc_thrash },
	{ "DSM_GC_THRESHOLD", "64M", "64M",
	  "lrc: twins, diffs and write notices a node may hold before a barrier "
	  "discards them (garbage collection)", NULL, p_gc },
	{ "DSM_MPI_POLL_US", "200", "200",
	  "mpi transport: longest pause, in microseconds, of an idle service "
	  "thread between polls for incoming messages (MPI has nothing to "
	  "sleep on); 1..1000000", NULL, p_mpi_poll },
	{ "DSM_DET_CONFLICT", "error", "error",
	  "deterministic spaces: what a write-write conflict does", det_policies,
	  p_det_conflict },
	{ "DSM_DET_HEAP", "auto", "auto",
	  "deterministic spaces: virtual size of a context's arena (parent heap "
	  "and sub-heaps), backed lazily; each of the 63 sub-heaps gets 1/128; "
	  "auto: 128 times the RAM (so one space may fill the RAM), at most 32T",
	  NULL, p_det_heap },
	{ "DSM_DET_DELAY_US", "0", "0",
	  "deterministic spaces, testing: each space first sleeps a random time "
	  "below this many microseconds", NULL, p_det_delay },
};

#define ENV_COUNT (sizeof(env_table) / sizeof(env_table[0]))

/* Rules that involve more than one variable. set_id/set_count say which
 * of DSM_NODE_ID / DSM_NODE_COUNT were present. */
static int check_cross(const struct dsm_config *c, int set_id, int set_count,
		       int set_coord, int set_secret)
{
	if (set_id != set_count)
		return bad_msg("%s is set but %s is not; start the program with "
			       "dsmrun -n N", set_id ? "DSM_NODE_ID" : "DSM_NODE_COUNT",
			       set_id ? "DSM_NODE_COUNT" : "DSM_NODE_ID");
	if (c->node_id >= c->node_count)
		return bad_msg("DSM_NODE_ID=%d: must be less than DSM_NODE_COUNT=%d",
			       c->node_id, c->node_count);
	if (c->node_count > 1 && !set_coord)
		return bad_msg("DSM_COORDINATOR is not set; required when "
			       "DSM_NODE_COUNT=%d > 1 (dsmrun sets it)", c->node_count);
	if (c->node_count > 1 && !set_secret)
		return bad_msg("DSM_SECRET is not set; required when "
			       "DSM_NODE_COUNT=%d > 1 (dsmrun sets it)", c->node_count);
	if (c->base + c->heap_size < c->base)
		return bad_msg("DSM_BASE + DSM_HEAP_SIZE wraps around the address space");
	if (c->record_dir[0] && c->replay_dir[0])
		return bad_msg("DSM_RECORD and DSM_REPLAY are both set; a run records "
			       "or replays, not both");
	return 0;
}

/* The variable showing that mpirun or srun started this process, or NULL.
 * Slurm's pair must both be set (a batch script has SLURM_PROCID alone
 * on some versions). */
static const char *mpi_launcher(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
					    "PMI_RANK", "PMIX_RANK", NULL };

	for (int i = 0; vars[i]; i++)
		if (getenv(vars[i]))
			return vars[i];
	if (getenv("SLURM_PROCID") && getenv("SLURM_NTASKS"))
		return "SLURM_PROCID";
	return NULL;
}

/* DSM_TRANSPORT unset: mpi when a launcher started us, unless dsmrun (or
 * the user) numbered the nodes with DSM_NODE_COUNT. */
static void pick_transport(struct dsm_config *c)
{
	const char *v = mpi_launcher();

	if (getenv("DSM_TRANSPORT") || getenv("DSM_NODE_COUNT") || !v)
		return;
	snprintf(c->transport, sizeof(c->transport), "mpi");
	snprintf(c->launcher, sizeof(c->launcher), "%s", v);
}

/* Defaults for the fields whose variables have no default text. */
static void set_untexted_defaults(struct dsm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->node_id = 0;
	c->node_count = 1;
	c->listen_fd = -1;
	c->spin_us = -1;
}

int dsm__env_load(struct dsm_config *c, const char **why)
{
	size_t i;
	int rc;

	set_untexted_defaults(c);
	for (i = 0; i < ENV_COUNT; i++) {
		const struct env_var *v = &env_table[i];
		if (v->def && (rc = v->parse(c, v, v->def)) != 0)
			goto fail; /* a broken default: a bug in this table */
	}
	for (i = 0; i < ENV_COUNT; i++) {
		const struct env_var *v = &env_table[i];
		const char *s = getenv(v->name);
		if (s && (rc = v->parse(c, v, s)) != 0)
			goto fail;
	}
	pick_transport(c);
	rc = check_cross(c, getenv("DSM_NODE_ID") != NULL,
			 getenv("DSM_NODE_COUNT") != NULL,
			 getenv("DSM_COORDINATOR") != NULL, getenv("DSM_SECRET") != NULL);
	if (rc == 0)
		return 0;
fail:
	if (why)
		*why = why_buf;
	return DSM_ECONFIG;
}

int dsm__env_load_one(struct dsm_config *c, const char *name, const char **why)
{
	for (size_t i = 0; i < ENV_COUNT; i++) {
		const struct env_var *v = &env_table[i];
		const char *s = getenv(v->name);
		if (strcmp(v->name, name) != 0)
			continue;
		if ((v->def && v->parse(c, v, v->def) != 0) ||
		    (s && v->parse(c, v, s) != 0)) {
			if (why)
				*why = why_buf;
			return DSM_ECONFIG;
		}
		return 0;
	}
	return -ENOENT;
}

void dsm__env_usage(FILE *f)
{
	char list[128];

	fprintf(f, "Environment variables (read by every node at dsm_init):\n");
	for (size_t i = 0; i < ENV_COUNT; i++) {
		const struct env_var *v = &env_table[i];
		fprintf(f, "  %-16s default: %s\n      %s", v->name, v->shown_def,
			v->help);
		if (v->choices)
			fprintf(f, "; one of: %s",
				join_words(v->choices, list, sizeof(list)));
		fputc('\n', f);
	}
}
