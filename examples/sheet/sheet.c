/*
 * sheet.c — a distributed spreadsheet on the collected heap (Java/DSM's
 * example application; docs/gc.md, examples/sheet/README.md).
 *
 * Several users, one node each (user i is node i), share one sheet in the
 * region. Each user types at their own terminal: node i reads its own
 * command stream (u0: the terminal dsmrun runs in; the others: a FIFO per
 * user, see usage()) and runs its commands on its own, whenever they come,
 * not in turns. Cells hold numbers, text or formulas; a formula is parsed
 * into an expression tree allocated with dsm_gc_malloc by the user who
 * typed it, so the shared cells (owned by node 0) refer to trees owned by
 * every node, and replacing a formula makes the old tree garbage for the
 * collector. Each user works on a private *view*: what they wrote and what
 * they incorporated; "check" lists the cells others changed since,
 * "incorporate" brings them into the view and recalculates the formulas.
 * The view's trees are roots of the user's node, so a tree replaced in the
 * sheet stays alive until every view that shows it has incorporated the
 * change.
 *
 * Collective operations (a collection, the end of the job) cannot wait for
 * every user to type the same thing: "gc" raises a job-wide request (a
 * generation counter in the region), which every node's loop reads after
 * each command and whenever its input has been idle for IDLE_MS; all nodes
 * then meet in dsm_gc_collect. "quit" (or the end of a user's input) marks
 * the user as gone; a user who quit keeps joining collections, and the
 * job ends when every user has quit. Every access to the shared sheet and
 * to the requests is under the sheet's DSM lock.
 *
 * Commands (one per line, on the user's own stream):
 *   set CELL VALUE      number, text, or =formula (+ - * / ( ) SUM(A1:B3))
 *   get CELL            the value in my view
 *   show                my view, every non-empty cell I may read
 *   check               cells others changed since I last incorporated
 *   incorporate         bring them in, recalculate the formulas
 *   region NAME A1:C3 u0=w u1=r u2=-    privileges (unlisted users: r)
 *   lock NAME / unlock NAME             others cannot write a locked region
 *   save FILE / load FILE               the sheet (cells I may read) as text
 *   gc                  a collection on every node; each prints its live objects
 *   mark N / wait uK N  for scripts: publish my mark N / wait (at most
 *                       WAIT_MS) until user K's mark is at least N
 *   quit                leave; the job ends when every user has left
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dsm.h"
#include "dsm_gc.h"

#define ROWS 20
#define COLS 10
#define NCELL (ROWS * COLS)
#define MAXU 8
#define NREG 16
#define SHEET_LOCK 1
#define IDLE_MS 100 /* how long a node waits for input before it looks for requests */
#define NGEN 64     /* requesters of the last NGEN collections are remembered */
#define WAIT_MS 60000 /* how long "wait uK N" waits at most */

enum { EMPTY, NUM, TEXT, FORMULA };
enum { E_NUM = 1, E_REF, E_ADD, E_SUB, E_MUL, E_DIV, E_NEG, E_SUM };

struct expr {
	int32_t op, r0, c0, r1, c1;
	double num;
	struct expr *a, *b;
};

struct cell {
	int32_t kind, writer;
	uint64_t version;
	double num;
	char text[40]; /* text, or a formula's source */
	struct expr *f;
};

struct region {
	char name[16];
	int32_t r0, c0, r1, c1, used, owner, locked_by;
	uint8_t perm[MAXU]; /* 0 none, 1 read, 2 write */
};

/* Under SHEET_LOCK. */
struct shared {
	uint64_t version;
	uint64_t gc_gen;       /* collections requested so far, job-wide */
	int8_t gc_by[NGEN];    /* who asked for collection g: gc_by[g % NGEN] */
	int32_t nquit;         /* users who have quit */
	int32_t mark[MAXU];    /* each user's last "mark N" */
	uint8_t gone[MAXU];    /* each user has quit */
	struct region reg[NREG];
};

/* A user's command stream, read without blocking: lines are taken from
 * buf once complete, so poll() on fd tells the truth about what is left. */
struct input {
	int fd, tty, eof;
	size_t len;
	char buf[1024];
};

static int me, nusers;
static dsm_type_t expr_t, cell_t;
static struct cell *cells;      /* root: the sheet (owned by node 0) */
static struct shared *sh;
static struct cell view[NCELL]; /* my view; view[i].f are roots */
static uint64_t seen[NCELL];
static FILE *out;
static int quitting; /* this user has quit (set by the quit command) */
static int wait_user = -1, wait_n; /* "wait uK N" in progress: K, N */
static uint64_t wait_end;          /* its deadline, now_ms() */

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

/* ---- cells and formulas ---------------------------------------------------- */

static int parse_ref(const char **s, int *r, int *c)
{
	const char *p = *s;
	char col = (char)toupper((unsigned char)*p);

	if (col < 'A' || col >= 'A' + COLS || !isdigit((unsigned char)p[1]))
		return -1;
	*c = col - 'A';
	*r = (int)strtol(p + 1, (char **)&p, 10) - 1;
	if (*r < 0 || *r >= ROWS)
		return -1;
	*s = p;
	return 0;
}

static void cell_name(int i, char buf[8])
{
	snprintf(buf, 8, "%c%d", 'A' + i % COLS, (i / COLS + 1) % 100);
}

static struct expr *node(int op)
{
	struct expr *e = dsm_gc_malloc(expr_t, 1);
	if (e)
		e->op = op;
	return e;
}

static struct expr *p_expr(const char **s);

static void skip(const char **s)
{
	while (**s == ' ')
		(*s)++;
}

static struct expr *p_factor(const char **s)
{
	struct expr *e;

	skip(s);
	if (**s == '(') {
		(*s)++;
		e = p_expr(s);
		skip(s);
		if (!e || **s != ')')
			return NULL;
		(*s)++;
		return e;
	}
	if (**s == '-') {
		(*s)++;
		struct expr *a = p_factor(s);
		if (!a || !(e = node(E_NEG)))
			return NULL;
		e->a = a;
		return e;
	}
	if (!strncasecmp(*s, "SUM(", 4)) {
		*s += 4;
		if (!(e = node(E_SUM)) || parse_ref(s, &e->r0, &e->c0) || *(*s)++ != ':' ||
		    parse_ref(s, &e->r1, &e->c1) || *(*s)++ != ')')
			return NULL;
		return e;
	}
	if (isdigit((unsigned char)**s) || **s == '.') {
		if (!(e = node(E_NUM)))
			return NULL;
		e->num = strtod(*s, (char **)s);
		return e;
	}
	if (!(e = node(E_REF)) || parse_ref(s, &e->r0, &e->c0))
		return NULL;
	return e;
}

static struct expr *p_binary(const char **s, int term)
{
	struct expr *l = term ? p_factor(s) : p_binary(s, 1);

	for (;;) {
		skip(s);
		char o = **s;
		int op = term ? (o == '*' ? E_MUL : o == '/' ? E_DIV : 0)
			      : (o == '+' ? E_ADD : o == '-' ? E_SUB : 0);
		if (!l || !op)
			return l;
		(*s)++;
		struct expr *r = term ? p_factor(s) : p_binary(s, 1), *e;
		if (!r || !(e = node(op)))
			return NULL;
		e->a = l;
		e->b = r;
		l = e; /* the subtrees are reachable only from here: no collection runs now */
	}
}

static struct expr *p_expr(const char **s)
{
	return p_binary(s, 0);
}

static double value(int i, int depth);

static double eval(const struct expr *e, int depth)
{
	double v = 0;

	if (!e || depth > 64)
		return 0;
	switch (e->op) {
	case E_NUM: return e->num;
	case E_REF: return value(e->r0 * COLS + e->c0, depth + 1);
	case E_ADD: return eval(e->a, depth + 1) + eval(e->b, depth + 1);
	case E_SUB: return eval(e->a, depth + 1) - eval(e->b, depth + 1);
	case E_MUL: return eval(e->a, depth + 1) * eval(e->b, depth + 1);
	case E_DIV: return eval(e->a, depth + 1) / eval(e->b, depth + 1);
	case E_NEG: return -eval(e->a, depth + 1);
	case E_SUM:
		for (int r = e->r0; r <= e->r1; r++)
			for (int c = e->c0; c <= e->c1; c++)
				v += value(r * COLS + c, depth + 1);
		return v;
	}
	return 0;
}

/* A cell's value in my view. */
static double value(int i, int depth)
{
	return view[i].kind == NUM ? view[i].num
	     : view[i].kind == FORMULA ? eval(view[i].f, depth) : 0;
}

/* ---- privileges and locks -------------------------------------------------- */

static int covers(const struct region *g, int i)
{
	int r = i / COLS, c = i % COLS;
	return g->used && r >= g->r0 && r <= g->r1 && c >= g->c0 && c <= g->c1;
}

/* My privilege on cell i (0 none, 1 read, 2 write): the least that the
 * regions covering it give; write where no region does. */
static int perm(int i)
{
	int p = 2;

	for (int k = 0; k < NREG; k++)
		if (covers(&sh->reg[k], i) && sh->reg[k].perm[me] < p)
			p = sh->reg[k].perm[me];
	return p;
}

static const struct region *locked_by_other(int i)
{
	for (int k = 0; k < NREG; k++)
		if (covers(&sh->reg[k], i) && sh->reg[k].locked_by >= 0 &&
		    sh->reg[k].locked_by != me)
			return &sh->reg[k];
	return NULL;
}

static struct region *find_region(const char *name)
{
	for (int k = 0; k < NREG; k++)
		if (sh->reg[k].used && !strcmp(sh->reg[k].name, name))
			return &sh->reg[k];
	return NULL;
}

/* ---- commands (run under the sheet lock) ----------------------------------- */

static void show_cell(int i)
{
	char n[8];

	cell_name(i, n);
	if (view[i].kind == TEXT)
		say("%s = '%s", n, view[i].text);
	else if (view[i].kind == FORMULA)
		say("%s = %g (=%s)", n, value(i, 0), view[i].text);
	else if (view[i].kind == NUM)
		say("%s = %g", n, view[i].num);
	else
		say("%s is empty", n);
}

static void cmd_set(const char *ref, const char *val)
{
	const char *s = ref, *src;
	const struct region *g;
	struct cell c = { .kind = NUM, .writer = me };
	int r, col, i;
	char *end;

	if (parse_ref(&s, &r, &col) || *s)
		return say("set %s: no such cell", ref);
	i = r * COLS + col;
	if (perm(i) < 2)
		return say("set %s: refused: no write privilege", ref);
	if ((g = locked_by_other(i)))
		return say("set %s: refused: region %s is locked by u%d", ref, g->name,
			   g->locked_by);
	if (*val == '=') {
		src = val + 1;
		c.kind = FORMULA;
		if (!(c.f = p_expr(&src)) || *src)
			return say("set %s: bad formula", ref);
		snprintf(c.text, sizeof(c.text), "%s", val + 1);
	} else {
		c.num = strtod(val, &end);
		if (end == val || *end) {
			c.kind = TEXT;
			snprintf(c.text, sizeof(c.text), "%s", val[0] == '\'' ? val + 1 : val);
		}
	}
	c.version = ++sh->version;
	cells[i] = c;
	view[i] = c;
	seen[i] = c.version;
	if (c.kind == FORMULA)
		say("set %s = %g", ref, value(i, 0));
	else
		say("set %s", ref);
}

/* Cells others changed since I last incorporated (and that I may read). */
static int changed(int *list)
{
	int n = 0;

	for (int i = 0; i < NCELL; i++)
		if (cells[i].version > seen[i] && cells[i].writer != me && perm(i) >= 1)
			list[n++] = i;
	return n;
}

static void cmd_check(void)
{
	int list[NCELL], n = changed(list);
	char buf[NCELL * 5] = "", nm[8];

	for (int k = 0; k < n; k++) {
		cell_name(list[k], nm);
		strcat(strcat(buf, " "), nm);
	}
	say("changed by others:%s", n ? buf : " none");
}

static void cmd_incorporate(void)
{
	int list[NCELL], n = changed(list);
	double before[NCELL];
	char buf[NCELL * 24] = "", nm[8], v[24];

	for (int i = 0; i < NCELL; i++)
		before[i] = value(i, 0);
	for (int k = 0; k < n; k++) {
		view[list[k]] = cells[list[k]];
		seen[list[k]] = cells[list[k]].version;
	}
	for (int i = 0; i < NCELL; i++) {
		int mine = 1;
		for (int k = 0; k < n; k++)
			mine &= list[k] != i;
		if (view[i].kind == FORMULA && mine && value(i, 0) != before[i]) {
			cell_name(i, nm);
			snprintf(v, sizeof(v), " %s=%g", nm, value(i, 0));
			strcat(buf, v);
		}
	}
	say("incorporated %d cell%s; recalculated:%s", n, n == 1 ? "" : "s",
	    buf[0] ? buf : " none");
}

static void cmd_region(char *args)
{
	char *name = strtok(args, " "), *range = strtok(NULL, " "), *tok;
	struct region g = { .used = 1, .owner = me, .locked_by = -1 };
	const char *s = range;
	int k;

	if (!name || !range || parse_ref(&s, &g.r0, &g.c0) || *s++ != ':' ||
	    parse_ref(&s, &g.r1, &g.c1) || *s || strlen(name) >= sizeof(g.name))
		return say("region: usage: region NAME A1:B2 u0=w u1=r u2=-");
	if (find_region(name))
		return say("region %s: refused: exists", name);
	for (k = 0; k < MAXU; k++)
		g.perm[k] = 1;
	while ((tok = strtok(NULL, " "))) {
		int u = -1;
		char p = 0;
		if (sscanf(tok, "u%d=%c", &u, &p) != 2 || u < 0 || u >= MAXU ||
		    !strchr("rw-", p))
			return say("region %s: bad privilege %s", name, tok);
		g.perm[u] = p == 'w' ? 2 : p == 'r' ? 1 : 0;
	}
	snprintf(g.name, sizeof(g.name), "%s", name);
	for (k = 0; k < NREG && sh->reg[k].used; k++)
		;
	if (k == NREG)
		return say("region %s: refused: too many regions", name);
	sh->reg[k] = g;
	say("region %s defined", name);
}

static void cmd_lock(const char *name, int lock)
{
	struct region *g = find_region(name);
	int ok = 1;

	if (!g)
		return say("%s %s: no such region", lock ? "lock" : "unlock", name);
	for (int i = 0; i < NCELL && lock; i++)
		if (covers(g, i) && perm(i) < 2)
			ok = 0;
	if (lock && !ok)
		return say("lock %s: refused: no write privilege", name);
	if (lock && g->locked_by >= 0 && g->locked_by != me)
		return say("lock %s: refused: locked by u%d", name, g->locked_by);
	if (!lock && g->locked_by != me)
		return say("unlock %s: refused: not locked by me", name);
	g->locked_by = lock ? me : -1;
	say("%s %s", lock ? "locked" : "unlocked", name);
}

static void cmd_save(const char *file)
{
	FILE *f = fopen(file, "w");
	char nm[8];

	if (!f)
		return say("save %s: %s", file, strerror(errno));
	for (int i = 0; i < NCELL; i++) {
		const struct cell *c = &cells[i];
		if (c->kind == EMPTY || perm(i) < 1)
			continue;
		cell_name(i, nm);
		if (c->kind == NUM)
			fprintf(f, "%s %.17g\n", nm, c->num);
		else
			fprintf(f, "%s %s%s\n", nm, c->kind == FORMULA ? "=" : "'", c->text);
	}
	fclose(f);
	say("saved %s", file);
}

static void cmd_load(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[128], *sp;

	if (!f)
		return say("load %s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if ((sp = strchr(line, ' '))) {
			*sp = 0;
			cmd_set(line, sp + 1);
		}
	}
	fclose(f);
	say("loaded %s", file);
}

static void run(char *cmd)
{
	char *verb = strtok(cmd, " "), *a = strtok(NULL, " "), *rest = strtok(NULL, "");
	int r, c;

	if (!verb)
		return;
	if (dsm_lock_acquire(SHEET_LOCK))
		return say("the sheet lock failed");
	if (!strcmp(verb, "set") && a && rest)
		cmd_set(a, rest);
	else if (!strcmp(verb, "get") && a) {
		const char *s = a;
		if (parse_ref(&s, &r, &c) || *s)
			say("get %s: no such cell", a);
		else if (perm(r * COLS + c) < 1)
			say("get %s: refused: no read privilege", a);
		else
			show_cell(r * COLS + c);
	} else if (!strcmp(verb, "show")) {
		for (int i = 0; i < NCELL; i++)
			if (view[i].kind != EMPTY && perm(i) >= 1)
				show_cell(i);
	} else if (!strcmp(verb, "check"))
		cmd_check();
	else if (!strcmp(verb, "incorporate"))
		cmd_incorporate();
	else if (!strcmp(verb, "region") && a) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s %s", a, rest ? rest : "");
		cmd_region(buf);
	} else if ((!strcmp(verb, "lock") || !strcmp(verb, "unlock")) && a)
		cmd_lock(a, verb[0] == 'l');
	else if (!strcmp(verb, "save") && a)
		cmd_save(a);
	else if (!strcmp(verb, "load") && a)
		cmd_load(a);
	else if (!strcmp(verb, "gc")) {
		sh->gc_by[sh->gc_gen % NGEN] = (int8_t)me;
		sh->gc_gen++; /* every node's loop sees it and joins the collection */
	} else if (!strcmp(verb, "mark") && a) {
		sh->mark[me] = atoi(a);
	} else if (!strcmp(verb, "wait")) {
		if (!a || !rest || sscanf(a, "u%d", &wait_user) != 1 || wait_user < 0 ||
		    wait_user >= nusers) {
			wait_user = -1;
			say("wait: usage: wait uK N (until user K's mark is at least N)");
		}
		wait_n = rest ? atoi(rest) : 0;
		wait_end = now_ms() + WAIT_MS;
	} else if (!strcmp(verb, "quit")) {
		quitting = 1;
		sh->gone[me] = 1;
		sh->nquit++;
		say("u%d quit (%d of %d users); %s", me, sh->nquit, nusers,
		    sh->nquit < nusers ? "collections go on until all have quit" : "the job ends");
	} else
		say("unknown command: %s", verb);
	dsm_lock_release(SHEET_LOCK);
}

static int setup(void)
{
	struct dsm_field ef[] = {
		DSM_FIELD(struct expr, op, DSM_FIELD_I32), DSM_FIELD(struct expr, r0, DSM_FIELD_I32),
		DSM_FIELD(struct expr, c0, DSM_FIELD_I32), DSM_FIELD(struct expr, r1, DSM_FIELD_I32),
		DSM_FIELD(struct expr, c1, DSM_FIELD_I32), DSM_FIELD(struct expr, num, DSM_FIELD_DOUBLE),
		DSM_FIELD(struct expr, a, DSM_FIELD_PTR), DSM_FIELD(struct expr, b, DSM_FIELD_PTR),
	};
	struct dsm_field cf[] = {
		DSM_FIELD(struct cell, kind, DSM_FIELD_I32), DSM_FIELD(struct cell, writer, DSM_FIELD_I32),
		DSM_FIELD(struct cell, version, DSM_FIELD_U64), DSM_FIELD(struct cell, num, DSM_FIELD_DOUBLE),
		DSM_FIELD_N(struct cell, text, DSM_FIELD_CHAR, 40), DSM_FIELD(struct cell, f, DSM_FIELD_PTR),
	};
	int err;

	if ((err = dsm_gc_init(0)))
		return err;
	expr_t = dsm_gc_type_register("expr", sizeof(struct expr), ef, 8);
	cell_t = dsm_gc_type_register("cell", sizeof(struct cell), cf, 6);
	if (expr_t <= 0 || cell_t <= 0)
		return expr_t <= 0 ? expr_t : cell_t;
	if (!(sh = dsm_alloc_collective(sizeof(*sh))))
		return -ENOMEM;
	if (me == 0) {
		if (!(cells = dsm_gc_malloc(cell_t, NCELL)))
			return -ENOMEM;
		for (int k = 0; k < NREG; k++)
			sh->reg[k].locked_by = -1;
	}
	if ((err = dsm_broadcast(&cells, sizeof(cells), 0)) ||
	    (err = dsm_gc_root_add((void **)&cells)))
		return err;
	for (int i = 0; i < NCELL; i++)
		if ((err = dsm_gc_root_add((void **)&view[i].f)))
			return err;
	return dsm_barrier(1);
}

/* ---- the input streams and the loop ---------------------------------------- */

/* Open user me's input: "-" is stdin; a path that does not exist becomes a
 * FIFO; a FIFO is opened read-write, so it never reports end of file when
 * a writer goes (commands may come from many "echo ... > FIFO"; the user
 * leaves with quit); a regular file is read to its end. */
static int open_input(const char *path, struct input *in)
{
	struct stat st;

	in->fd = 0;
	if (strcmp(path, "-")) {
		if (stat(path, &st) < 0 && (errno != ENOENT || mkfifo(path, 0600) < 0))
			return -errno;
		if ((in->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
			return -errno;
		if (fstat(in->fd, &st) == 0 && !S_ISFIFO(st.st_mode)) {
			close(in->fd);
			if ((in->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				return -errno;
		}
	}
	in->tty = isatty(in->fd);
	return 0;
}

/* Read what is there (call when poll() said so). */
static void fill(struct input *in)
{
	ssize_t r = read(in->fd, in->buf + in->len, sizeof(in->buf) - in->len);

	if (r > 0)
		in->len += (size_t)r;
	else if (r == 0 || (errno != EAGAIN && errno != EINTR))
		in->eof = 1;
}

/* The next complete line (without its newline) into line: 1; none yet: 0;
 * end of input and nothing left: -1. An overlong line is cut. */
static int take_line(struct input *in, char *line, size_t size)
{
	char *nl = memchr(in->buf, '\n', in->len);
	size_t n = nl ? (size_t)(nl - in->buf) : in->len;

	if (!nl && !in->eof && in->len < sizeof(in->buf))
		return 0;
	if (!nl && in->len == 0)
		return -1;
	snprintf(line, size, "%.*s", (int)n, in->buf);
	line[strcspn(line, "\r")] = 0;
	n += nl ? 1 : 0;
	memmove(in->buf, in->buf + n, in->len - n);
	in->len -= n;
	return 1;
}

/* Join every collection requested and not yet run here; then read, under
 * the same lock, whether all users have quit and (during "wait uK N") user
 * K's mark and whether K has quit. A collection is collective: every node
 * runs the same number, in the same order, whenever each notices the
 * request. prompted says a prompt is waiting on the output line (start a
 * new line, and return 1 in *reprompt). */
static int serve_requests(uint64_t *done, int *all_quit, int prompted, int *reprompt,
			  int *mark, int *gone)
{
	uint64_t gen;
	int by, err;

	for (;;) {
		if ((err = dsm_lock_acquire_shared(SHEET_LOCK)))
			return err;
		gen = sh->gc_gen;
		by = sh->gc_by[*done % NGEN];
		*all_quit = sh->nquit == nusers;
		*mark = wait_user >= 0 ? sh->mark[wait_user] : 0;
		*gone = wait_user >= 0 ? sh->gone[wait_user] : 0;
		if ((err = dsm_lock_release(SHEET_LOCK)))
			return err;
		if (*done == gen)
			return 0;
		/* No quit is final while a request is pending: the last user to
		 * quit had seen every request before, so all nodes see the same gen. */
		struct dsm_gc_stats s;
		if ((err = dsm_gc_collect()) || (err = dsm_gc_stats(&s)))
			return err;
		(*done)++;
		if (prompted && !*reprompt)
			fputc('\n', out);
		*reprompt = prompted;
		say("gc (asked by u%d) at u%d: %llu objects live here (%llu bytes), %llu exported, "
		    "%llu imported", by, me, (unsigned long long)s.live_objects,
		    (unsigned long long)s.live_bytes, (unsigned long long)s.exported,
		    (unsigned long long)s.imported);
	}
}

/* The user's loop: serve requests, prompt, wait for a line at most
 * IDLE_MS, run it; until every user has quit. */
static int user_loop(struct input *in)
{
	uint64_t done = 0;
	int prompted = 0, all_quit, err, r, mark, gone;
	char line[256];

	for (;;) {
		int reprompt = 0;
		if ((err = serve_requests(&done, &all_quit, prompted, &reprompt, &mark, &gone)))
			return err;
		if (all_quit)
			return 0;
		if (reprompt)
			prompted = 0;
		if (wait_user >= 0 && mark < wait_n && !gone && now_ms() < wait_end) {
			poll(NULL, 0, IDLE_MS / 5);
			continue;
		}
		if (wait_user >= 0 && mark < wait_n)
			say("wait u%d %d: %s", wait_user, wait_n, gone ? "that user has quit" : "timed out");
		wait_user = -1;
		if (quitting) {
			poll(NULL, 0, IDLE_MS);
			continue;
		}
		if (!prompted) {
			fprintf(out, "u%d> ", me);
			fflush(out);
			prompted = 1;
		}
		if ((r = take_line(in, line, sizeof(line))) == 0) {
			struct pollfd p = { .fd = in->fd, .events = POLLIN };
			if (poll(&p, 1, IDLE_MS) > 0)
				fill(in);
			continue;
		}
		if (r < 0)
			strcpy(line, "quit");
		if (!in->tty || r < 0)
			fprintf(out, "%s\n", line); /* the transcript shows what was typed */
		prompted = 0;
		run(line);
	}
}

/* Expand a per-user path: PATTERN with %d replaced by the user's number;
 * a pattern without %d names a directory holding u<i><suffix>. */
static void user_path(char *buf, size_t size, const char *pattern, const char *suffix)
{
	const char *d = strstr(pattern, "%d");

	if (!strcmp(pattern, "-"))
		snprintf(buf, size, "-");
	else if (d)
		snprintf(buf, size, "%.*s%d%s", (int)(d - pattern), pattern, me, d + 2);
	else
		snprintf(buf, size, "%s/u%d%s", pattern, me, suffix);
}

/* ---- attach: a user's terminal, outside the job ---------------------------- */

/*
 * sheet -a N: the terminal of user N (N >= 1; u0 types into dsmrun's own
 * terminal). Runs outside dsmrun: sends every line typed here into user N's
 * input and shows user N's output as it grows, without the node's echo of
 * the lines typed here (the terminal shows them already). The end of input
 * (Ctrl-D) sends quit; returns once the node reports that user N quit.
 */
struct attach {
	int user, out_fd, quit_seen;
	char pending[8][256]; /* lines sent whose echo is still to come */
	int npending;
	size_t len;
	char buf[4096];
};

/* Print what arrived from the node, without the echoes of our lines; a
 * partial echo waits for the rest. */
static void attach_show(struct attach *a)
{
	char prompt[16], quitline[24];
	size_t pl = (size_t)snprintf(prompt, sizeof(prompt), "u%d> ", a->user), n;

	snprintf(quitline, sizeof(quitline), "u%d quit (", a->user);
	while (a->len) {
		char echo[260];
		size_t el = a->npending ? (size_t)snprintf(echo, sizeof(echo), "%s\n", a->pending[0]) : 0;
		if (el && a->len >= el && !memcmp(a->buf, echo, el)) {
			n = el; /* our own line, echoed: drop it */
			memmove(a->pending[0], a->pending[1], sizeof(a->pending[0]) * (size_t)--a->npending);
		} else if (el && a->len < el && !memcmp(a->buf, echo, a->len)) {
			return; /* maybe our echo: wait for the rest */
		} else {
			char *nl = memchr(a->buf, '\n', a->len);
			n = a->len >= pl && !memcmp(a->buf, prompt, pl) ? pl : nl ? (size_t)(nl - a->buf) + 1 : a->len;
			if (n >= strlen(quitline) && !memcmp(a->buf, quitline, strlen(quitline)))
				a->quit_seen = 1;
			fwrite(a->buf, 1, n, stdout);
		}
		memmove(a->buf, a->buf + n, a->len - n);
		a->len -= n;
	}
	fflush(stdout);
}

/* Open user N's input for writing once its node has opened it (a FIFO
 * with no reader refuses: ENXIO), waiting at most 30 s. */
static int attach_open_input(const char *path)
{
	for (int tries = 0; tries < 300; tries++) {
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENXIO && errno != ENOENT)
			break;
		if (tries == 0)
			fprintf(stderr, "sheet: waiting for the node to open %s\n", path);
		poll(NULL, 0, 100);
	}
	return -1;
}

static int attach(int user, const char *ipat, const char *opat)
{
	struct attach a = { .user = user };
	char ipath[256], opath[256], line[256];
	struct input in = { .fd = 0 };
	int fd, sent_quit = 0;
	uint64_t quit_deadline = 0;

	me = user;
	user_path(ipath, sizeof(ipath), ipat ? ipat : "/tmp/sheet-u%d.in", ".in");
	user_path(opath, sizeof(opath), opat ? opat : "/tmp/sheet-u%d.out", ".out");
	/* The node truncates its output before it opens its input. */
	if ((fd = attach_open_input(ipath)) < 0 || (a.out_fd = open(opath, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "sheet: %s: %s\n", fd < 0 ? ipath : opath, strerror(errno));
		return 1;
	}
	fcntl(fd, F_SETFL, 0); /* blocking writes from here */
	while (!a.quit_seen && (!sent_quit || quit_deadline-- > 0)) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		ssize_t r;
		int got;
		if (!sent_quit && poll(&p, 1, 50) > 0)
			fill(&in);
		else if (sent_quit)
			poll(NULL, 0, 50);
		while (!sent_quit && (got = take_line(&in, line, sizeof(line))) != 0) {
			if (got < 0)
				strcpy(line, "quit");
			sent_quit |= got < 0 || !strcmp(line, "quit");
			if (got > 0 && a.npending < 8) /* Ctrl-D: show the node's "quit" */
				snprintf(a.pending[a.npending++], sizeof(a.pending[0]), "%s", line);
			if (dprintf(fd, "%s\n", line) < 0)
				return 1;
			if (sent_quit)
				quit_deadline = 100; /* 5 s for the node to say it */
		}
		while ((r = read(a.out_fd, a.buf + a.len, sizeof(a.buf) - a.len)) > 0) {
			a.len += (size_t)r;
			attach_show(&a);
		}
	}
	return a.quit_seen ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dsmrun -n USERS sheet [-i|--input IN] [-o|--output OUT]\n"
		"  user i (node i) reads commands from IN and writes to OUT; in both, %%d\n"
		"  is replaced by i, a path without %%d is a directory (DIR/ui.in, DIR/ui.out),\n"
		"  and - is the terminal (stdin, stdout). An IN that does not exist is made\n"
		"  a FIFO (read until quit); a regular file is read to its end.\n"
		"  Defaults: u0 on the terminal; the others /tmp/sheet-u%%d.in (a FIFO)\n"
		"  and /tmp/sheet-u%%d.out.\n"
		"       sheet -a|--attach N [-i IN] [-o OUT]\n"
		"  (not under dsmrun) the terminal of user N: what is typed goes to user N's\n"
		"  IN, user N's OUT is shown as it grows; Ctrl-D or quit leaves.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "attach", required_argument, NULL, 'a' }, { "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ipat = NULL, *opat = NULL;
	char ipath[256], opath[256];
	struct input in = { 0 };
	int err, opt, user = -1;

	for (int i = 1; i + 1 < argc; i++) /* -a: a terminal, not a node */
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--attach"))
			user = atoi(argv[i + 1]);
	if (user >= 0) {
		while ((opt = getopt_long(argc, argv, "a:i:o:", longopts, NULL)) != -1)
			if (opt == 'i' || opt == 'o')
				*(opt == 'i' ? &ipat : &opat) = optarg;
		return attach(user, ipat, opat);
	}
	if ((err = dsm_init(&argc, &argv))) {
		fprintf(stderr, "sheet: dsm_init: %s\n", dsm_strerror(err));
		return 1;
	}
	me = dsm_node_id();
	nusers = dsm_node_count();
	while ((opt = getopt_long(argc, argv, "i:o:h", longopts + 1, NULL)) != -1) {
		if (opt == 'i')
			ipat = optarg;
		else if (opt == 'o')
			opat = optarg;
		else {
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		usage();
		return 2;
	}
	user_path(ipath, sizeof(ipath), ipat ? ipat : me ? "/tmp/sheet-u%d.in" : "-", ".in");
	user_path(opath, sizeof(opath), opat ? opat : me ? "/tmp/sheet-u%d.out" : "-", ".out");
	out = stdout;
	if (strcmp(opath, "-") && !(out = fopen(opath, "w"))) {
		fprintf(stderr, "sheet: %s: %s\n", opath, strerror(errno));
		return 1;
	}
	if ((err = open_input(ipath, &in))) {
		fprintf(stderr, "sheet: %s: %s\n", ipath, strerror(-err));
		return 1;
	}
	if (me && !ipat)
		fprintf(stderr, "sheet: u%d's terminal: sheet -a %d (its input %s, output %s)\n", me,
			me, ipath, opath);
	if (nusers > MAXU || (err = setup())) {
		fprintf(stderr, "sheet: setup: %s\n", nusers > MAXU ? "too many users" : dsm_strerror(err));
		return 1;
	}
	if ((err = user_loop(&in)))
		fprintf(stderr, "sheet: node %d: %s\n", me, dsm_strerror(err));
	if (!err)
		err = dsm_gc_fini();
	if (out != stdout)
		fclose(out);
	return dsm_finalize() || err ? 1 : 0;
}
