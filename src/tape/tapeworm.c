/*
 * tapeworm.c — Tapeworm (include/dsm_tapeworm.h, docs/tapes.md): update
 * locks and record-replay barriers on tapes, with the adaptive stop of
 * DSM_TAPEWORM=auto. Called by the sync layer (tapeworm.h); it knows the
 * protocol only through the tape layer. Producer-consumer regions, which
 * push instead of pulling, are in push.c.
 *
 * Per lock or barrier this node uses, an object keeps its prefetch slot
 * (whose used/installed counters come from the protocol's hit hook), the
 * tape to replay (barriers) or the running recording (locks: the critical
 * section's writes; barriers: the reads of the phase after it), and the
 * backoff that stops prefetching while predictions go unused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/node.h"
#include "dsm_tapeworm.h"
#include "internal.h"
#include "tapeworm.h"
#include "vm/vm.h"

#define TW_BUCKETS 1024 /* a lock per molecule: 20,480 ids (64 made chains of 320) */
#define EVAL_MIN 4      /* prefetched pages before a hit rate is judged */
#define BACKOFF_MAX 64  /* most applications skipped in a row */

struct tw_obj {
	int kind;                  /* DSM_TW_LOCK or DSM_TW_BARRIER */
	unsigned id;
	int marked;                /* dsm_tapeworm_lock/barrier(id, 1) */
	uint32_t slot;             /* prefetch accounting slot */
	uint32_t push_slot;        /* auto pushes that came with it (push.c); 0: none yet */
	struct dsm_tape *tape;     /* barrier: the last phase's read tape */
	struct dsm_tape *prev;     /* barrier: the phase's before (period 2) */
	struct dsm_tape *rec;      /* running recording, or NULL */
	uint64_t snap_inst, snap_used; /* slot counters at the last apply */
	unsigned skip, backoff;
	struct dsm_tw_stats st;
	struct tw_obj *next;
};

struct tw_node {
	int mode;
	_Atomic int marks;         /* dsm_tapeworm_lock/barrier(id, 1) calls:
				      none, and mode on acts on nothing */
	pthread_mutex_t mu;
	struct tw_obj *b[TW_BUCKETS];
	uint32_t next_slot;
	struct tw_obj *phase;      /* barrier whose phase is being recorded */
};

static struct tw_node *TW(struct dsm_node *n)
{
	return n && n->tw_state ? n->tw_state : NULL;
}

int dsm__tw_init(struct dsm_node *n)
{
	struct tw_node *tw = calloc(1, sizeof(*tw));

	if (!tw)
		return -ENOMEM;
	tw->mode = n->cfg.tapeworm;
	tw->next_slot = 1; /* slot 0: dsm_tape_apply */
	pthread_mutex_init(&tw->mu, NULL);
	n->tw_state = tw;
	return dsm__pc_init(n) ?: dsm__pol_init(n);
}

uint32_t dsm__tw_new_slot(struct dsm_node *n)
{
	struct tw_node *tw = TW(n);
	uint32_t s = 0;

	if (!tw)
		return 0;
	pthread_mutex_lock(&tw->mu);
	if (tw->next_slot < DSM_TAPE_SLOTS)
		s = tw->next_slot++;
	pthread_mutex_unlock(&tw->mu);
	return s;
}

int dsm__tw_mode(struct dsm_node *n)
{
	return TW(n) ? TW(n)->mode : DSM_TW_OFF;
}

static void add_stats(struct dsm_node *n, const struct tw_obj *o,
		      struct dsm_tw_stats *out);

void dsm__tw_fini(struct dsm_node *n)
{
	struct tw_node *tw = TW(n);
	struct dsm_tw_stats sum = { 0 };

	dsm__pol_fini(n);
	dsm__pc_fini(n);
	if (!tw)
		return;
	for (int i = 0; i < TW_BUCKETS; i++)
		for (struct tw_obj *o = tw->b[i]; o; o = o->next)
			add_stats(n, o, &sum);
	if (sum.tapes_recorded)
		DSM_INFO(n, "tapeworm: %llu tapes recorded, %llu applied, %llu pages "
			 "prefetched, %llu used, %llu applications skipped",
			 (unsigned long long)sum.tapes_recorded,
			 (unsigned long long)sum.tapes_applied,
			 (unsigned long long)sum.pages_prefetched,
			 (unsigned long long)sum.pages_used,
			 (unsigned long long)sum.applies_skipped);
	for (int i = 0; i < TW_BUCKETS; i++)
		for (struct tw_obj *o = tw->b[i], *nx; o; o = nx) {
			nx = o->next;
			if (o->rec)
				dsm__tape_stop(n, o->rec);
			dsm_tape_free(o->rec);
			dsm_tape_free(o->tape);
			dsm_tape_free(o->prev);
			free(o);
		}
	pthread_mutex_destroy(&tw->mu);
	free(tw);
	n->tw_state = NULL;
}

/* The object for (kind, id), created on first use; tw->mu held. */
static struct tw_obj *obj_get(struct tw_node *tw, int kind, unsigned id, int create)
{
	struct tw_obj **b = &tw->b[(id * 2 + (unsigned)kind) % TW_BUCKETS], *o;

	for (o = *b; o; o = o->next)
		if (o->kind == kind && o->id == id)
			return o;
	if (!create || !(o = calloc(1, sizeof(*o))))
		return NULL;
	o->kind = kind;
	o->id = id;
	o->slot = tw->next_slot < DSM_TAPE_SLOTS ? tw->next_slot++ : 0;
	o->next = *b;
	*b = o;
	return o;
}

uint32_t dsm__tw_obj_slot(struct dsm_node *n, int kind, unsigned id)
{
	struct tw_node *tw = TW(n);
	struct tw_obj *o;
	uint32_t s = 0;

	if (!tw)
		return 0;
	pthread_mutex_lock(&tw->mu);
	if ((o = obj_get(tw, kind, id, 1)) && !o->push_slot && tw->next_slot < DSM_TAPE_SLOTS) {
		o->push_slot = tw->next_slot++;
		dsm__tape_slot_mark_push(n, o->push_slot); /* before any push uses it */
	}
	s = o ? o->push_slot : 0;
	pthread_mutex_unlock(&tw->mu);
	return s;
}

uint32_t dsm__tw_slot_tag(struct dsm_node *n, uint32_t slot)
{
	struct tw_node *tw = TW(n);
	uint32_t tag = 0;

	if (!tw || !slot)
		return 0;
	pthread_mutex_lock(&tw->mu);
	for (int i = 0; i < TW_BUCKETS && !tag; i++)
		for (struct tw_obj *o = tw->b[i]; o && !tag; o = o->next)
			if (o->push_slot == slot)
				tag = (uint32_t)o->kind << 28 | (o->id & 0x0fffffffu);
	pthread_mutex_unlock(&tw->mu);
	return tag;
}

/* Does Tapeworm act on this object here? */
static int active(struct dsm_node *n, struct tw_node *tw, int kind, unsigned id)
{
	struct tw_obj *o;
	int on;

	if (!tw || !dsm__tape_supported(n))
		return 0;
	if (tw->mode == DSM_TW_AUTO || dsm__pol_mode(n) != DSM_POL_OFF)
		return 1; /* a policy (policy.c) acts on every lock and barrier */
	if (tw->mode == DSM_TW_OFF || !atomic_load(&tw->marks))
		return 0;
	pthread_mutex_lock(&tw->mu);
	o = obj_get(tw, kind, id, 0);
	on = o && o->marked;
	pthread_mutex_unlock(&tw->mu);
	return on;
}

/*
 * Should o's tape be applied now? Judges the predictions made since the
 * last application: under half of at least EVAL_MIN prefetched pages used
 * starts (or doubles) a backoff of skipped applications. tw->mu held.
 */
static int worth_applying(struct dsm_node *n, struct tw_obj *o)
{
	uint64_t inst, used, di, du;

	dsm__tape_slot_counts(n, o->slot, &inst, &used);
	di = inst - o->snap_inst;
	du = used - o->snap_used;
	if (o->skip) {
		o->skip--;
		o->st.applies_skipped++;
		return 0;
	}
	if (di >= EVAL_MIN && 2 * du < di) {
		o->backoff = o->backoff ? o->backoff * 2 : 2;
		if (o->backoff > BACKOFF_MAX)
			o->backoff = BACKOFF_MAX;
		o->skip = o->backoff - 1;
		o->st.applies_skipped++;
		o->snap_inst = inst; /* judge the next application afresh */
		o->snap_used = used;
		return 0;
	}
	if (di >= EVAL_MIN)
		o->backoff = 0;
	return 1;
}

/* Prefetch what t names for o (tracked), counting it: through the tape
 * policy when one is on (policy.c), else from the tape's writers or
 * homes. tw->mu not held. */
static int apply(struct dsm_node *n, struct tw_node *tw, struct tw_obj *o,
		 const struct dsm_tape *t)
{
	uint64_t inst, used;
	int pol = dsm__pol_mode(n);
	int k = !pol ? dsm__tape_fetch(n, t, 1, o->slot)
		: o->kind == DSM_TW_LOCK ? dsm__pol_acquired(n, t, o->slot)
					   : dsm__pol_barrier(n, t, o->slot);

	pthread_mutex_lock(&tw->mu);
	dsm__tape_slot_counts(n, o->slot, &inst, &used);
	o->snap_inst = inst - (k > 0 ? (uint64_t)k : 0);
	o->snap_used = used;
	o->st.tapes_applied++;
	if (k > 0)
		o->st.pages_prefetched += (uint64_t)k;
	DSM_STAT_ADD(n, tapes_applied, 1);
	DSM_STAT_ADD(n, tape_pages_prefetched, k > 0 ? (uint64_t)k : 0);
	pthread_mutex_unlock(&tw->mu);
	return k < 0 ? k : 0;
}

/* --- barriers --- */

void dsm__tw_barrier_enter(struct dsm_node *n, unsigned barrier)
{
	struct tw_node *tw = TW(n);
	struct tw_obj *o;
	struct dsm_tape *t;

	dsm__pc_at(DSM_TW_BARRIER, barrier); /* auto pushes at the arrival count here */
	if (!tw || !tw->phase)
		return;
	pthread_mutex_lock(&tw->mu);
	o = tw->phase;
	tw->phase = NULL;
	t = o->rec;
	o->rec = NULL;
	pthread_mutex_unlock(&tw->mu);
	if (t && dsm__tape_stop(n, t) >= 0) {
		pthread_mutex_lock(&tw->mu);
		dsm_tape_free(o->prev);
		o->prev = o->tape;
		o->tape = t;
		o->st.tapes_recorded++;
		DSM_STAT_ADD(n, tapes_recorded, 1);
		pthread_mutex_unlock(&tw->mu);
	} else {
		dsm_tape_free(t);
	}
	(void)barrier;
}

/* Start recording a tape of kind for o, unless o already records (then
 * the new recording is dropped); phase: o is the barrier phase now. */
static void start_recording(struct dsm_node *n, struct tw_node *tw, struct tw_obj *o,
			    int kind, int phase)
{
	struct dsm_tape *rec = dsm__tape_record(n, kind);

	pthread_mutex_lock(&tw->mu);
	if (rec && !o->rec) {
		o->rec = rec;
		if (phase)
			tw->phase = o;
		rec = NULL;
	}
	pthread_mutex_unlock(&tw->mu);
	if (rec) {
		dsm__tape_stop(n, rec);
		dsm_tape_free(rec);
	}
}

int dsm__tw_barrier_leave(struct dsm_node *n, unsigned barrier)
{
	struct tw_node *tw = TW(n);
	struct dsm_tape *t = NULL;
	struct tw_obj *o;
	int err = dsm__pc_sync(n); /* pushes first: the prefetch skips them */

	int pol = dsm__pol_mode(n);

	if (err || !active(n, tw, DSM_TW_BARRIER, barrier))
		return err;
	pthread_mutex_lock(&tw->mu);
	o = obj_get(tw, DSM_TW_BARRIER, barrier, 1);
	if (o && pol == DSM_POL_SCOPE) { /* every page the barrier invalidated */
		pthread_mutex_unlock(&tw->mu);
		err = apply(n, tw, o, NULL);
		return err == -ENOTSUP ? 0 : err;
	}
	/* The last two phases' tapes: a phase that alternates between two
	 * buffers (double-buffered sweeps) reads what it read two phases ago.
	 * Only pages invalid now are fetched, so the older tape costs
	 * nothing where it names pages still valid. */
	if (o && o->tape && (pol || worth_applying(n, o)) && (t = dsm_tape_new()) &&
	    (dsm_tape_add(t, o->tape) || (o->prev && dsm_tape_add(t, o->prev)))) {
		dsm_tape_free(t);
		t = NULL;
	}
	pthread_mutex_unlock(&tw->mu);
	if (!o)
		return -ENOMEM;
	if (t)
		err = apply(n, tw, o, t);
	dsm_tape_free(t);
	if (err == -ENOTSUP)
		err = 0;
	start_recording(n, tw, o, DSM_TAPE_READ, 1);
	return err;
}

/* --- locks --- */

int dsm__tw_lock_acquired(struct dsm_node *n, unsigned lock, const void *bytes,
			  size_t len)
{
	struct tw_node *tw = TW(n);
	struct dsm_tape *t = NULL;
	struct tw_obj *o;
	int err = 0, go = 0;

	int pol = dsm__pol_mode(n);

	if (!tw || (tw->mode == DSM_TW_OFF && !pol) || !dsm__tape_supported(n))
		return 0;
	if ((err = dsm__pc_sync(n))) /* pushes first: the prefetch skips them */
		return err;
	if (!len && !pol && !active(n, tw, DSM_TW_LOCK, lock))
		return 0; /* nothing to apply or record (a lock per molecule: no
			     record per lock either) */
	if (len) {
		t = dsm_tape_decode(bytes, len, (uint32_t)n->region->npages,
				    (uint32_t)n->count);
		if (!t && errno != ENOMEM) {
			/* the lock is held and the protocol's part was fine: a
			 * hint is lost, nothing else; say so and go on */
			DSM_ERR(n, "tapeworm: the grant of lock %u carried a malformed "
				"tape (%zu bytes); ignored", lock, len);
		}
	}
	pthread_mutex_lock(&tw->mu);
	o = obj_get(tw, DSM_TW_LOCK, lock, 1);
	if (o && t && dsm_tape_count(t))
		go = pol || worth_applying(n, o); /* a policy does not back off */
	pthread_mutex_unlock(&tw->mu);
	if (!o) {
		dsm_tape_free(t);
		return -ENOMEM;
	}
	if (go)
		err = apply(n, tw, o, t);
	dsm_tape_free(t);
	if (err == -ENOTSUP)
		err = 0;
	if (!active(n, tw, DSM_TW_LOCK, lock))
		return err;
	start_recording(n, tw, o, DSM_TAPE_WRITE, 0); /* a nested shared hold records once */
	return err;
}

int dsm__tw_lock_active(struct dsm_node *n, unsigned lock)
{
	struct tw_node *tw = TW(n);

	if (!tw || (tw->mode == DSM_TW_OFF && !dsm__pol_mode(n)))
		return 0;
	return active(n, tw, DSM_TW_LOCK, lock);
}

int dsm__tw_lock_release(struct dsm_node *n, unsigned lock, struct dsm_buf *out)
{
	struct tw_node *tw = TW(n);
	struct dsm_tape *t = NULL;
	struct tw_obj *o;
	size_t need;
	int err;

	dsm__pc_at(DSM_TW_LOCK, lock); /* auto pushes at the release count here */
	if (!tw || (tw->mode == DSM_TW_OFF && !dsm__pol_mode(n)))
		return 0;
	pthread_mutex_lock(&tw->mu);
	o = obj_get(tw, DSM_TW_LOCK, lock, 0);
	if (o) {
		t = o->rec;
		o->rec = NULL;
	}
	pthread_mutex_unlock(&tw->mu);
	if (!t)
		return 0;
	err = dsm__tape_stop(n, t);
	if (err >= 0) {
		unsigned char *b;
		need = dsm_tape_encode(t, NULL, 0);
		if (!(b = malloc(need))) {
			err = -ENOMEM;
		} else {
			dsm_tape_encode(t, b, need);
			err = dsm__buf_put(out, b, need);
			free(b);
		}
		pthread_mutex_lock(&tw->mu);
		o->st.tapes_recorded++;
		DSM_STAT_ADD(n, tapes_recorded, 1);
		pthread_mutex_unlock(&tw->mu);
	}
	dsm_tape_free(t);
	return err < 0 ? err : 1;
}

/* --- public --- */

int dsm_tapeworm_mode(void)
{
	struct dsm_node *n = dsm__get();

	return TW(n) ? TW(n)->mode : DSM_ENOTINIT;
}

static int mark(int kind, unsigned id, int on)
{
	struct tw_node *tw = TW(dsm__get());
	struct tw_obj *o;

	if (!tw)
		return DSM_ENOTINIT;
	pthread_mutex_lock(&tw->mu);
	o = obj_get(tw, kind, id, 1);
	if (o)
		o->marked = !!on;
	if (o && on)
		atomic_fetch_add(&tw->marks, 1);
	pthread_mutex_unlock(&tw->mu);
	return o ? 0 : -ENOMEM;
}

int dsm_tapeworm_lock(unsigned lock, int on)
{
	return mark(DSM_TW_LOCK, lock, on);
}

int dsm_tapeworm_barrier(unsigned barrier, int on)
{
	return mark(DSM_TW_BARRIER, barrier, on);
}

static void add_stats(struct dsm_node *n, const struct tw_obj *o, struct dsm_tw_stats *out)
{
	uint64_t inst, used;

	dsm__tape_slot_counts(n, o->slot, &inst, &used);
	out->tapes_recorded += o->st.tapes_recorded;
	out->tapes_applied += o->st.tapes_applied;
	out->pages_prefetched += o->st.pages_prefetched;
	out->pages_used += o->slot ? used : 0;
	if (o->push_slot) { /* a consumer's auto pushes that came with o */
		dsm__tape_slot_counts(n, o->push_slot, &inst, &used);
		out->pushed_used += used;
	}
	out->applies_skipped += o->st.applies_skipped;
}

int dsm_tapeworm_stats(int kind, unsigned id, struct dsm_tw_stats *out)
{
	struct dsm_node *n = dsm__get();
	struct tw_node *tw = TW(n);

	if (!tw)
		return DSM_ENOTINIT;
	if (!out || (kind != 0 && kind != DSM_TW_LOCK && kind != DSM_TW_BARRIER &&
		     kind != DSM_TW_REGION))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	dsm__pc_stats(n, kind, id, out);
	if (!kind)
		out->first_misses = dsm__tape_first_misses(n);
	pthread_mutex_lock(&tw->mu);
	for (int i = 0; i < TW_BUCKETS; i++)
		for (struct tw_obj *o = tw->b[i]; o; o = o->next)
			if (!kind || (o->kind == kind && o->id == id))
				add_stats(n, o, out);
	pthread_mutex_unlock(&tw->mu);
	return 0;
}
