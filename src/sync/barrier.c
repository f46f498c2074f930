/*
 * barrier.c — barriers: every node sends ARRIVE(id, epoch) to the
 * manager (id % N), which answers every node with RELEASE(id, epoch) when
 * all have arrived: 2(N-1) messages per barrier. Epochs make ids reusable.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "core/node.h"
#include "proto/proto.h"
#include "sync.h"

static struct dsm_sync *S(struct dsm_node *n) { return n->sync; }

/* Manager record; caller holds s->mu. */
static struct bar_mgr *bmgr_get(struct dsm_sync *s, unsigned id)
{
	struct bar_mgr **b = &s->bmgr[id % SYNC_BUCKETS], *r;

	for (r = *b; r; r = r->next)
		if (r->id == id)
			return r;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->id = id;
	r->epoch = 1;
	r->next = *b;
	*b = r;
	return r;
}

/* Local record; caller holds s->mu. */
static struct bar_local *blocal_get(struct dsm_sync *s, unsigned id)
{
	struct bar_local **b = &s->blocal[id % SYNC_BUCKETS], *r;

	for (r = *b; r; r = r->next)
		if (r->id == id)
			return r;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->id = id;
	r->next = *b;
	*b = r;
	return r;
}

/* Mark epoch released on this node; caller holds s->mu. */
static void released(struct dsm_sync *s, unsigned id, uint64_t epoch)
{
	struct bar_local *l = blocal_get(s, id);

	if (l && epoch > l->released)
		l->released = epoch;
	pthread_cond_broadcast(&s->cv);
}

/* Manager: count an arrival; release everyone at the last one. */
static int mgr_arrive(struct dsm_node *n, unsigned id, uint64_t epoch)
{
	struct dsm_sync *s = S(n);
	struct bar_mgr *b;
	int all = 0;

	pthread_mutex_lock(&s->mu);
	b = bmgr_get(s, id);
	if (!b || epoch != b->epoch) {
		pthread_mutex_unlock(&s->mu);
		return b ? DSM_EPROTO : -ENOMEM;
	}
	if (++b->arrived == n->count) {
		b->arrived = 0;
		b->epoch++;
		all = 1;
		released(s, id, epoch);
	}
	pthread_mutex_unlock(&s->mu);
	for (int d = 0; all && d < n->count; d++) {
		struct dsm_msg m = { .type = DSM_MSG_BAR_RELEASE, .arg = { id, epoch } };
		if (d != n->id)
			dsm__send(n, d, &m);
	}
	return 0;
}

/* Wait until the manager released epoch; caller holds s->mu. */
static int wait_released(struct dsm_node *n, unsigned id, uint64_t epoch)
{
	struct dsm_sync *s = S(n);
	struct bar_local *l;
	int err;

	while ((l = blocal_get(s, id)) && l->released < epoch) {
		struct timespec ts;
		if ((err = atomic_load(&n->failed)))
			return err;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	return l ? 0 : -ENOMEM;
}

int dsm_barrier(unsigned barrier)
{
	struct dsm_node *n = dsm__get();
	struct dsm_sync *s;
	struct bar_local *l;
	uint64_t epoch, t0;
	int mgr, err;

	if (!n)
		return DSM_ENOTINIT;
	if ((err = atomic_load(&n->failed)))
		return err;
	s = S(n);
	t0 = dsm__now_ns();
	if (n->proto->barrier_enter && (err = n->proto->barrier_enter(n, barrier)))
		return err;
	pthread_mutex_lock(&s->mu);
	l = blocal_get(s, barrier);
	epoch = l ? ++l->epoch : 0;
	pthread_mutex_unlock(&s->mu);
	if (!l)
		return -ENOMEM;
	mgr = (int)(barrier % (unsigned)n->count);
	if (mgr == n->id) {
		err = mgr_arrive(n, barrier, epoch);
	} else {
		struct dsm_msg m = { .type = DSM_MSG_BAR_ARRIVE, .arg = { barrier, epoch } };
		err = dsm__send(n, mgr, &m);
	}
	if (err)
		return err;
	pthread_mutex_lock(&s->mu);
	err = wait_released(n, barrier, epoch);
	pthread_mutex_unlock(&s->mu);
	if (!err && n->proto->barrier_leave)
		err = n->proto->barrier_leave(n, barrier);
	if (!err) {
		DSM_STAT_ADD(n, barriers, 1);
		DSM_STAT_ADD(n, barrier_wait_ns, dsm__now_ns() - t0);
	}
	return err;
}

/* Barrier messages. Service thread. */
int dsm__barrier_handle(struct dsm_node *n, const struct dsm_msg *m)
{
	unsigned id = (unsigned)m->arg[0];

	switch (m->type) {
	case DSM_MSG_BAR_ARRIVE:
		if ((int)(id % (unsigned)n->count) != n->id)
			return DSM_EPROTO;
		return mgr_arrive(n, id, m->arg[1]);
	case DSM_MSG_BAR_RELEASE:
		pthread_mutex_lock(&S(n)->mu);
		released(S(n), id, m->arg[1]);
		pthread_mutex_unlock(&S(n)->mu);
		return 0;
	default:
		return DSM_EPROTO;
	}
}
