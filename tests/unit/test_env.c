/*
 * test_env.c — src/core/env.c: defaults, every variable's accepted forms,
 * rejected forms (with a message naming the variable), dsm__parse_size.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/node.h"
#include "core/tsan.h"

#define SECRET_HEX "000102030405060708090a0b0c0d0e0f" \
		   "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"

static const char *const all_vars[] = {
	"DSM_PROTOCOL", "DSM_TRANSPORT", "DSM_HEAP_SIZE", "DSM_BASE",
	"DSM_NODE_ID", "DSM_NODE_COUNT", "DSM_COORDINATOR", "DSM_BIND",
	"DSM_SECRET", "DSM_TIMEOUT", "DSM_STATS", "DSM_LOG",
	"DSM_LISTEN_FD", "DSM_SPIN_US", "DSM_SC_HOLD_US",
};
#define NVARS (sizeof(all_vars) / sizeof(all_vars[0]))

/* Every test starts from an environment without any DSM_* variable. */
static int clean_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVARS; i++)
		unsetenv(all_vars[i]);
	return 0;
}

/* Load with the current environment; assert success. */
static struct dsm_config load_ok(void)
{
	struct dsm_config c;
	const char *why = NULL;
	int rc = dsm__env_load(&c, &why);

	if (rc != 0)
		fail_msg("dsm__env_load failed: %s", why ? why : "(no message)");
	return c;
}

/* Set name=value and load; assert success. */
static struct dsm_config with(const char *name, const char *value)
{
	setenv(name, value, 1);
	return load_ok();
}

/* Set name=value, load, assert DSM_ECONFIG and that the message contains
 * every non-NULL needle. */
static void rejects(const char *name, const char *value, const char *n1,
		    const char *n2)
{
	struct dsm_config c;
	const char *why = NULL;

	setenv(name, value, 1);
	assert_int_equal(dsm__env_load(&c, &why), DSM_ECONFIG);
	assert_non_null(why);
	if (!strstr(why, name) || (n1 && !strstr(why, n1)) || (n2 && !strstr(why, n2)))
		fail_msg("%s=%s: message \"%s\" lacks the variable or \"%s\"/\"%s\"",
			 name, value, why, n1 ? n1 : "", n2 ? n2 : "");
	unsetenv(name);
}

/* A value that must be rejected and appear in the message. */
static void rejects_value(const char *name, const char *value)
{
	rejects(name, value, value, NULL);
}

/* Multi-node variables that must all be present for count > 1. */
static void set_job(const char *id, const char *count)
{
	setenv("DSM_NODE_ID", id, 1);
	setenv("DSM_NODE_COUNT", count, 1);
	setenv("DSM_COORDINATOR", "127.0.0.1:7000", 1);
	setenv("DSM_SECRET", SECRET_HEX, 1);
}

static void test_defaults(void **state)
{
	struct dsm_config c = load_ok();

	(void)state;
	assert_string_equal(c.protocol, "hlrc");
	assert_string_equal(c.transport, "tcp");
	assert_int_equal(c.heap_size, UINT64_C(1) << 30);
	assert_int_equal(c.base, (uintptr_t)DSM_DEFAULT_BASE); /* core/tsan.h */
	assert_int_equal(c.node_id, 0);
	assert_int_equal(c.node_count, 1);
	assert_string_equal(c.coordinator, "");
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.timeout_ms, 5000);
	assert_string_equal(c.stats_file, "");
	assert_int_equal(c.log_level, DSM_LOG_WARN);
	assert_int_equal(c.listen_fd, -1);
	assert_int_equal(c.spin_us, -1);
	assert_int_equal(c.hold_us, 200);
	for (size_t i = 0; i < DSM_SECRET_LEN; i++)
		assert_int_equal(c.secret[i], 0);
}

static void test_protocol_transport(void **state)
{
	(void)state;
	assert_string_equal(with("DSM_PROTOCOL", "sc").protocol, "sc");
	assert_string_equal(with("DSM_PROTOCOL", "SC").protocol, "sc");
	assert_string_equal(with("DSM_PROTOCOL", "lrc").protocol, "lrc");
	unsetenv("DSM_PROTOCOL");
	rejects("DSM_PROTOCOL", "foo", "foo", "accepted: sc, lrc");
	rejects("DSM_PROTOCOL", "", "unknown protocol", NULL);
	assert_string_equal(with("DSM_TRANSPORT", "tcp").transport, "tcp");
	unsetenv("DSM_TRANSPORT");
	rejects("DSM_TRANSPORT", "udp", "udp", "accepted: tcp");
}

static void test_heap_size(void **state)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	(void)state;
	assert_int_equal(with("DSM_HEAP_SIZE", "1M").heap_size, 1u << 20);
	assert_int_equal(with("DSM_HEAP_SIZE", "64m").heap_size, 64u << 20);
	assert_int_equal(with("DSM_HEAP_SIZE", "2GiB").heap_size, UINT64_C(2) << 30);
	assert_int_equal(with("DSM_HEAP_SIZE", "16T").heap_size, UINT64_C(16) << 40);
	assert_int_equal(with("DSM_HEAP_SIZE", "1048576").heap_size, 1u << 20);
	/* rounded up to the page size */
	assert_int_equal(with("DSM_HEAP_SIZE", "1048577").heap_size,
			 ((UINT64_C(1048577) + page - 1) / page) * page);
	unsetenv("DSM_HEAP_SIZE");
	rejects_value("DSM_HEAP_SIZE", "12X");
	rejects("DSM_HEAP_SIZE", "", "not a size", NULL);
	rejects_value("DSM_HEAP_SIZE", "-5");
	rejects_value("DSM_HEAP_SIZE", "99999999999999999999");
	rejects_value("DSM_HEAP_SIZE", "1023K"); /* below 1M */
	rejects_value("DSM_HEAP_SIZE", "17T");   /* above 16T */
	rejects_value("DSM_HEAP_SIZE", "1 G");
	rejects("DSM_HEAP_SIZE", "17T", "1M to 16T", NULL);
}

static void test_base(void **state)
{
	(void)state;
	assert_int_equal(with("DSM_BASE", "0x100000000000").base,
			 (uintptr_t)0x100000000000ull);
	assert_int_equal(with("DSM_BASE", "0X7F0000000000").base,
			 (uintptr_t)0x7f0000000000ull);
	assert_int_equal(with("DSM_BASE", "17592186044416").base,
			 (uintptr_t)17592186044416ull);
	unsetenv("DSM_BASE");
	rejects_value("DSM_BASE", "0x200000000001"); /* not page aligned */
	rejects_value("DSM_BASE", "0x");
	rejects_value("DSM_BASE", "0xzz");
	rejects_value("DSM_BASE", "0x10000000000000000"); /* overflow */
	rejects_value("DSM_BASE", "");
	rejects_value("DSM_BASE", "0");
	rejects_value("DSM_BASE", "-4096");
}

static void test_node_id_count(void **state)
{
	struct dsm_config c;

	(void)state;
	set_job("2", "3");
	c = load_ok();
	assert_int_equal(c.node_id, 2);
	assert_int_equal(c.node_count, 3);
	assert_string_equal(c.coordinator, "127.0.0.1:7000");
	set_job("63", "64");
	assert_int_equal(load_ok().node_count, 64);
	set_job("0", "1");
	unsetenv("DSM_COORDINATOR");
	unsetenv("DSM_SECRET");
	assert_int_equal(load_ok().node_count, 1); /* one node needs neither */
	set_job("0", "2");
	rejects_value("DSM_NODE_COUNT", "65");
	rejects_value("DSM_NODE_COUNT", "0");
	rejects_value("DSM_NODE_COUNT", "two");
	rejects_value("DSM_NODE_ID", "-1");
	rejects_value("DSM_NODE_ID", "1x");
	set_job("3", "3");
	rejects("DSM_NODE_ID", "3", "DSM_NODE_COUNT", NULL); /* id < count */
}

static void test_node_id_without_count(void **state)
{
	(void)state;
	/* rejects() sets then unsets the named variable itself */
	rejects("DSM_NODE_ID", "0", "dsmrun -n N", NULL);
	rejects("DSM_NODE_COUNT", "2", "dsmrun -n N", NULL);
}

static void test_multi_node_requirements(void **state)
{
	(void)state;
	set_job("0", "2");
	unsetenv("DSM_COORDINATOR");
	rejects("DSM_NODE_COUNT", "2", "DSM_COORDINATOR", NULL);
	set_job("0", "2");
	unsetenv("DSM_SECRET");
	rejects("DSM_NODE_COUNT", "2", "DSM_SECRET", NULL);
}

static void test_coordinator_bind(void **state)
{
	(void)state;
	assert_string_equal(with("DSM_COORDINATOR", "node0.example:65535").coordinator,
			    "node0.example:65535");
	assert_string_equal(with("DSM_COORDINATOR", "[::1]:7000").coordinator,
			    "[::1]:7000");
	unsetenv("DSM_COORDINATOR");
	rejects_value("DSM_COORDINATOR", "localhost");
	rejects_value("DSM_COORDINATOR", "localhost:0");
	rejects_value("DSM_COORDINATOR", "localhost:65536");
	rejects_value("DSM_COORDINATOR", ":7000");
	rejects_value("DSM_COORDINATOR", "host:70x");
	assert_string_equal(with("DSM_BIND", "0.0.0.0").bind, "0.0.0.0");
	unsetenv("DSM_BIND");
	rejects("DSM_BIND", "", "empty", NULL);
	char longhost[200];
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	rejects("DSM_BIND", longhost, "too long", NULL);
}

static void test_secret(void **state)
{
	struct dsm_config c;
	const char *why;
	const char *bad[] = {
		"",
		"00",
		(SECRET_HEX "0"), /* 65 digits */
		("g00102030405060708090a0b0c0d0e0f"
		 "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), /* non-hex */
	};

	(void)state;
	c = with("DSM_SECRET", SECRET_HEX);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(c.secret[i], i);
	assert_int_equal(c.secret[16], 0xf0);
	assert_int_equal(c.secret[31], 0xff);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("DSM_SECRET", bad[i], 1);
		assert_int_equal(dsm__env_load(&c, &why), DSM_ECONFIG);
		assert_non_null(strstr(why, "DSM_SECRET"));
		assert_non_null(strstr(why, "64 hex"));
		if (bad[i][0] && strstr(why, bad[i]))
			fail_msg("the secret's value appears in \"%s\"", why);
	}
	/* a valid secret never appears in another variable's message either */
	setenv("DSM_SECRET", SECRET_HEX, 1);
	setenv("DSM_NODE_COUNT", "2", 1);
	assert_int_equal(dsm__env_load(&c, &why), DSM_ECONFIG);
	assert_null(strstr(why, SECRET_HEX));
	unsetenv("DSM_NODE_COUNT");
	unsetenv("DSM_SECRET");
}

static void test_timeout(void **state)
{
	(void)state;
	assert_int_equal(with("DSM_TIMEOUT", "5").timeout_ms, 5000);
	assert_int_equal(with("DSM_TIMEOUT", "5s").timeout_ms, 5000);
	assert_int_equal(with("DSM_TIMEOUT", "500ms").timeout_ms, 500);
	assert_int_equal(with("DSM_TIMEOUT", "2.5s").timeout_ms, 2500);
	assert_int_equal(with("DSM_TIMEOUT", "0.1").timeout_ms, 100);
	assert_int_equal(with("DSM_TIMEOUT", "100ms").timeout_ms, 100);
	assert_int_equal(with("DSM_TIMEOUT", "3600").timeout_ms, 3600 * 1000);
	unsetenv("DSM_TIMEOUT");
	rejects_value("DSM_TIMEOUT", "99ms");
	rejects_value("DSM_TIMEOUT", "3601s");
	rejects_value("DSM_TIMEOUT", "5x");
	rejects_value("DSM_TIMEOUT", "5.s");
	rejects_value("DSM_TIMEOUT", ".5s");
	rejects_value("DSM_TIMEOUT", "-1");
	rejects_value("DSM_TIMEOUT", "1.0000000001");
	rejects_value("DSM_TIMEOUT", "99999999999999999999");
	rejects("DSM_TIMEOUT", "", "duration", NULL);
}

static void test_stats_log(void **state)
{
	(void)state;
	assert_string_equal(with("DSM_STATS", "/tmp/s.json").stats_file, "/tmp/s.json");
	assert_string_equal(with("DSM_STATS", "").stats_file, "");
	unsetenv("DSM_STATS");
	char longpath[600];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	rejects("DSM_STATS", longpath, "too long", NULL);

	assert_int_equal(with("DSM_LOG", "error").log_level, DSM_LOG_ERROR);
	assert_int_equal(with("DSM_LOG", "warn").log_level, DSM_LOG_WARN);
	assert_int_equal(with("DSM_LOG", "info").log_level, DSM_LOG_INFO);
	assert_int_equal(with("DSM_LOG", "DEBUG").log_level, DSM_LOG_DEBUG);
	unsetenv("DSM_LOG");
	rejects("DSM_LOG", "verbose", "verbose", "error, warn, info, debug");
}

static void test_fd_spin_hold(void **state)
{
	(void)state;
	assert_int_equal(with("DSM_LISTEN_FD", "3").listen_fd, 3);
	assert_int_equal(with("DSM_LISTEN_FD", "-1").listen_fd, -1);
	unsetenv("DSM_LISTEN_FD");
	rejects_value("DSM_LISTEN_FD", "-2");
	rejects_value("DSM_LISTEN_FD", "three");

	assert_int_equal(with("DSM_SPIN_US", "auto").spin_us, -1);
	assert_int_equal(with("DSM_SPIN_US", "0").spin_us, 0);
	assert_int_equal(with("DSM_SPIN_US", "50").spin_us, 50);
	unsetenv("DSM_SPIN_US");
	rejects_value("DSM_SPIN_US", "-1");
	rejects_value("DSM_SPIN_US", "fast");
	rejects_value("DSM_SPIN_US", "2000000");

	assert_int_equal(with("DSM_SC_HOLD_US", "0").hold_us, 0);
	assert_int_equal(with("DSM_SC_HOLD_US", "1000").hold_us, 1000);
	unsetenv("DSM_SC_HOLD_US");
	rejects_value("DSM_SC_HOLD_US", "auto");
	rejects_value("DSM_SC_HOLD_US", "");
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "4096B", 4096 }, { "1k", 1024 },
		{ "1K", 1024 }, { "1KB", 1024 }, { "1KiB", 1024 }, { "1kib", 1024 },
		{ "64K", 64 << 10 }, { "3M", 3u << 20 }, { "1G", 1u << 30 },
		{ "2T", UINT64_C(2) << 40 }, { "18446744073709551615", UINT64_MAX },
		{ "16777215T", UINT64_C(16777215) << 40 }, /* 2^64 - 2^40 */
	};
	static const char *const bad[] = {
		"", "12X", "-5", "+5", " 5", "5 ", "1.5G", "K", "1KK", "1iB", "1Kb2",
		"18446744073709551616", "16777216T", "99999999999999999999999", "0x10",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (dsm__parse_size(ok[i].s, &v) != 0 || v != ok[i].v)
			fail_msg("parse_size(\"%s\")", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dsm__parse_size(bad[i], &v) != -EINVAL)
			fail_msg("parse_size(\"%s\") accepted", bad[i]);
	assert_int_equal(dsm__parse_size("16384P", &v), -EINVAL); /* no P suffix */
	assert_int_equal(dsm__parse_size(NULL, &v), -EINVAL);
}

static void test_usage_lists_every_variable(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	dsm__env_usage(f);
	fclose(f);
	for (size_t i = 0; i < NVARS; i++)
		if (!strstr(buf, all_vars[i]))
			fail_msg("usage lacks %s", all_vars[i]);
	assert_non_null(strstr(buf, "1G"));
	assert_non_null(strstr(buf, "0x200000000000"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clean_env),
		cmocka_unit_test_setup(test_protocol_transport, clean_env),
		cmocka_unit_test_setup(test_heap_size, clean_env),
		cmocka_unit_test_setup(test_base, clean_env),
		cmocka_unit_test_setup(test_node_id_count, clean_env),
		cmocka_unit_test_setup(test_node_id_without_count, clean_env),
		cmocka_unit_test_setup(test_multi_node_requirements, clean_env),
		cmocka_unit_test_setup(test_coordinator_bind, clean_env),
		cmocka_unit_test_setup(test_secret, clean_env),
		cmocka_unit_test_setup(test_timeout, clean_env),
		cmocka_unit_test_setup(test_stats_log, clean_env),
		cmocka_unit_test_setup(test_fd_spin_hold, clean_env),
		cmocka_unit_test_setup(test_parse_size, clean_env),
		cmocka_unit_test_setup(test_usage_lists_every_variable, clean_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
