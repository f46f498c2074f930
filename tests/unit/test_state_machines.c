/*
 * test_state_machines.c — each protocol's page state machine against the
 * one its document gives. docs/protocols/<name>.md is the source of truth:
 * its transition table is parsed here and must equal the table the code
 * checks every transition against (struct dsm_protocol_ops.machine), so a
 * change to either side alone fails this test.
 *
 * The table a document must contain (exactly one):
 *   - a Markdown table whose header's first cell is `state \ event` (one
 *     row per state, one column per event) or `event \ state` (one row
 *     per event);
 *   - names are the code's: states as dsm__page_state_name prints them,
 *     events as the protocol's machine names them; a name cell may add
 *     words after a name in backticks ("`CLOSE` (non-home)");
 *   - a cell is the state the event leads to, or a dash (-, – or —)
 *     where the event is illegal in that state.
 * States the document does not list are ones the protocol never uses:
 * every event must be illegal there.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "proto/internal.h"
#include "proto/proto.h"
#include "vm/vm.h"

#ifndef DSM_SOURCE_DIR
#error "DSM_SOURCE_DIR must name the source tree (tests/CMakeLists.txt)"
#endif

#define MAX_CELLS 16
#define MAX_ROWS 16
#define NAME_LEN 48

/* The document's table, as names. */
struct doc_table {
	int rows_are_states;
	int ncols, nrows;
	char col[MAX_CELLS][NAME_LEN];           /* header names (after the corner) */
	char row[MAX_ROWS][NAME_LEN];            /* first cell of each row */
	char cell[MAX_ROWS][MAX_CELLS][NAME_LEN];
};

static void trim(char *s)
{
	size_t a = 0, b = strlen(s);

	while (s[a] == ' ' || s[a] == '\t')
		a++;
	while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' ||
			 s[b - 1] == '\r'))
		b--;
	memmove(s, s + a, b - a);
	s[b - a] = '\0';
}

/* A name cell: the text in the first backticks, else the whole cell. */
static void cell_name(const char *cell, char *out)
{
	const char *a = strchr(cell, '`'), *b = a ? strchr(a + 1, '`') : NULL;
	size_t len;

	if (a && b) {
		len = (size_t)(b - a - 1);
		cell = a + 1;
	} else {
		len = strlen(cell);
	}
	if (len >= NAME_LEN)
		len = NAME_LEN - 1;
	memcpy(out, cell, len);
	out[len] = '\0';
	trim(out);
}

/* Split a Markdown table line "| a | b |" into trimmed cells; -1 if the
 * line is not a table row. */
static int split_row(const char *line, char cells[][NAME_LEN], int max)
{
	char buf[1024], *p, *bar;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	trim(buf);
	if (buf[0] != '|')
		return -1;
	p = buf + 1;
	while ((bar = strchr(p, '|')) && n < max) {
		size_t len = (size_t)(bar - p) < NAME_LEN - 1 ? (size_t)(bar - p) : NAME_LEN - 1;
		memcpy(cells[n], p, len);
		cells[n][len] = '\0';
		trim(cells[n]);
		n++;
		p = bar + 1;
	}
	return n;
}

/* Find and parse the one transition table of path; fails the test (with
 * the reason) if there is none, more than one, or a malformed one. */
static void parse_doc(const char *path, struct doc_table *t)
{
	FILE *f = fopen(path, "r");
	char line[1024], cells[MAX_CELLS + 1][NAME_LEN];
	int found = 0, in_table = 0;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	memset(t, 0, sizeof(*t));
	while (fgets(line, sizeof(line), f)) {
		int n = split_row(line, cells, MAX_CELLS + 1);
		if (n < 0) {
			in_table = 0;
			continue;
		}
		if (in_table == 1) { /* the |---|---| line */
			in_table = 2;
			continue;
		}
		if (in_table == 2) {
			if (n != t->ncols + 1)
				fail_msg("%s: a row of the transition table has %d cells, "
					 "the header %d", path, n, t->ncols + 1);
			if (t->nrows == MAX_ROWS)
				fail_msg("%s: transition table too long", path);
			cell_name(cells[0], t->row[t->nrows]);
			for (int k = 1; k < n; k++)
				cell_name(cells[k], t->cell[t->nrows][k - 1]);
			t->nrows++;
			continue;
		}
		char corner[NAME_LEN];
		cell_name(cells[0], corner);
		int states = strcmp(corner, "state \\ event") == 0;
		if (!states && strcmp(corner, "event \\ state") != 0)
			continue;
		if (found++)
			fail_msg("%s has more than one transition table", path);
		t->rows_are_states = states;
		t->ncols = n - 1;
		for (int k = 1; k < n; k++)
			cell_name(cells[k], t->col[k - 1]);
		in_table = 1;
	}
	fclose(f);
	if (!found)
		fail_msg("%s has no transition table (a Markdown table whose first "
			 "header cell is `state \\ event` or `event \\ state`)", path);
}

static int state_of(const char *name)
{
	for (int s = 0; s < DSM_PAGE_STATE_COUNT_; s++)
		if (strcmp(name, dsm__page_state_name((unsigned)s)) == 0)
			return s;
	return -1;
}

static int is_dash(const char *c)
{
	return !strcmp(c, "-") || !strcmp(c, "\u2013") || !strcmp(c, "\u2014");
}

/* The document's transition for (event name, state), "" if the document
 * does not list the state; fails on an unknown or repeated name. */
static const char *doc_cell(const char *path, const struct doc_table *t,
			    const char *event, int state)
{
	const char *sname = dsm__page_state_name((unsigned)state);
	int ei = -1, si = -1;
	int ne = t->rows_are_states ? t->ncols : t->nrows;
	int ns = t->rows_are_states ? t->nrows : t->ncols;

	for (int k = 0; k < ne; k++) {
		const char *name = t->rows_are_states ? t->col[k] : t->row[k];
		if (strcmp(name, event) == 0) {
			if (ei >= 0)
				fail_msg("%s lists event %s twice", path, event);
			ei = k;
		}
	}
	for (int k = 0; k < ns; k++) {
		const char *name = t->rows_are_states ? t->row[k] : t->col[k];
		if (strcmp(name, sname) == 0) {
			if (si >= 0)
				fail_msg("%s lists state %s twice", path, sname);
			si = k;
		}
	}
	if (ei < 0)
		fail_msg("%s has no column or row for the code's event %s", path, event);
	if (si < 0)
		return "";
	return t->rows_are_states ? t->cell[si][ei] : t->cell[ei][si];
}

/* The code's table equals the document's, entry by entry, and neither
 * names an event or a state the other lacks. */
static void check_protocol(const char *name)
{
	const struct dsm_protocol_ops *ops = dsm__proto_find(name);
	const struct dsm_page_machine *m;
	struct doc_table t;
	char path[512];
	int ne, ns, mismatches = 0;

	assert_non_null(ops);
	m = ops->machine;
	if (!m)
		fail_msg("protocol %s has no page state machine (ops.machine)", name);
	assert_string_equal(m->proto, name);
	snprintf(path, sizeof(path), "%s/docs/protocols/%s.md", DSM_SOURCE_DIR, name);
	parse_doc(path, &t);

	/* every event and state the document names exists in the code */
	ne = t.rows_are_states ? t.ncols : t.nrows;
	ns = t.rows_are_states ? t.nrows : t.ncols;
	for (int k = 0; k < ne; k++) {
		const char *ev = t.rows_are_states ? t.col[k] : t.row[k];
		unsigned e = 0;
		while (e < m->nevents && strcmp(m->event_names[e], ev) != 0)
			e++;
		if (e == m->nevents)
			fail_msg("%s names event %s, which %s's table lacks", path, ev, name);
	}
	for (int k = 0; k < ns; k++) {
		const char *st = t.rows_are_states ? t.row[k] : t.col[k];
		if (state_of(st) < 0)
			fail_msg("%s names state \"%s\", which is no page state", path, st);
	}
	/* entry by entry */
	for (unsigned e = 0; e < m->nevents; e++) {
		for (int s = 0; s < DSM_PAGE_STATE_COUNT_; s++) {
			const char *c = doc_cell(path, &t, m->event_names[e], s);
			int want, got = m->next[e][s];
			if (!c[0] || is_dash(c))
				want = -1;
			else if ((want = state_of(c)) < 0)
				fail_msg("%s: %s in %s leads to \"%s\", which is no page "
					 "state", path, m->event_names[e],
					 dsm__page_state_name((unsigned)s), c);
			if (got != want) {
				print_error("%s: event %s in state %s: the code leads to %s, "
					    "%s to %s\n", name, m->event_names[e],
					    dsm__page_state_name((unsigned)s),
					    got < 0 ? "(illegal)" : dsm__page_state_name((unsigned)got),
					    path, want < 0 ? "(illegal)"
							   : dsm__page_state_name((unsigned)want));
				mismatches++;
			}
		}
	}
	assert_int_equal(mismatches, 0);
}

static void test_sc(void **st)
{
	(void)st;
	check_protocol("sc");
}

static void test_lrc(void **st)
{
	(void)st;
	check_protocol("lrc");
}

static void test_hlrc(void **st)
{
	(void)st;
	check_protocol("hlrc");
}

static void test_ec(void **st)
{
	(void)st;
	check_protocol("ec");
}

/*
 * The checked transition every protocol's state change goes through: a
 * legal event moves the page to the table's state; an illegal one leaves
 * it unchanged and returns DSM_EPROTO (and says so on stderr, silenced
 * here but for one).
 */
static void test_step(void **st)
{
	const char *names[] = { "sc", "lrc", "hlrc", "ec" };
	struct dsm_node n = { .id = 3 };
	int saved = dup(2), null = open("/dev/null", O_WRONLY), illegal = 0;

	(void)st;
	assert_true(saved >= 0 && null >= 0);
	dup2(null, 2);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct dsm_page_machine *m = dsm__proto_find(names[i])->machine;
		for (unsigned e = 0; e < m->nevents + 1; e++) {
			for (int s = 0; s < DSM_PAGE_STATE_COUNT_; s++) {
				struct dsm_page pg = { .state = (uint8_t)s };
				int next = e < m->nevents ? m->next[e][s] : -1;
				int rc = dsm__page_step(&n, m, 7, &pg, e);
				if (next >= 0) {
					assert_int_equal(rc, 0);
					assert_int_equal(pg.state, next);
				} else {
					assert_int_equal(rc, DSM_EPROTO);
					assert_int_equal(pg.state, s);
					illegal++;
				}
			}
		}
	}
	dup2(saved, 2);
	close(saved);
	close(null);
	assert_true(illegal > 0);
	/* one visible, for the record of what a broken invariant prints */
	struct dsm_page pg = { .state = DSM_PAGE_INVALID };
	assert_int_equal(dsm__page_step(&n, dsm__proto_find("sc")->machine, 7, &pg, 3),
			 DSM_EPROTO);
	assert_int_equal(pg.state, DSM_PAGE_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sc),
		cmocka_unit_test(test_lrc),
		cmocka_unit_test(test_hlrc),
		cmocka_unit_test(test_ec),
		cmocka_unit_test(test_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
