/*
 * push.h — private to src/tape/push.c and src/tape/autopush.c: the
 * per-node state of producer-consumer pushes (regions, and the auto
 * pushes of DSM_TAPEWORM=auto), docs/tapes.md.
 */
#ifndef DSM_TAPE_PUSH_H
#define DSM_TAPE_PUSH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "net/net.h"

#define PC_MAX 64        /* regions per node */
#define PUSH_BATCH 256u  /* pages per TAPE_PUSH (1 MiB of 4 KiB pages) */
#define AP_OBJS 256      /* auto: locks and barriers judged per node */
#define AP_EVAL 4        /* auto: pushed pages before an object is judged */
#define AP_BACKOFF 64    /* auto: most pushes skipped in a row */
#define WASTE_MAX 4096   /* consumer: wasted pages reported per sync point */
#define WASTE_MIN 4      /* consumer: wasted pages a report waits for */
#define ACK_PAGES 64     /* consumer: auto-pushed pages received between reports */
#define CREDIT 256       /* producer: auto-pushed pages to a consumer without
			    a report from it, before it stops pushing there */
#define AGE 2            /* consumer: sync points an auto push may wait for use */
#define PC_WASTE 16      /* TAPE_PUSH arg1: wasted pages (policy.c uses 1-3) */

/* Auto pushes at one lock or barrier (the producer's view): pages pushed
 * and pages its consumers reported wasted; the backoff that stops it. */
struct ap_obj {
	int kind;                 /* DSM_TW_LOCK or DSM_TW_BARRIER */
	unsigned id;
	uint64_t pushes, pages, wasted, skipped;
	uint64_t snap_pages, snap_wasted;
	uint64_t dpages, dwasted;  /* decayed: halved at each judgement */
	unsigned skip, backoff;
};


struct pc_region {
	int on;
	size_t first, last;       /* pages */
	uint32_t slot;            /* prefetch slot of pushes received into it */
	uint64_t pushes, pages;   /* sent: messages, pages */
	uint64_t consumers;       /* nodes its last push went to */
};

/* A push waiting until this node knows its vector. */
struct pc_pend {
	int from;
	uint32_t slot;            /* 0: the region's, or pc->slot */
	uint32_t *vc;             /* node count entries, then the page */
	unsigned char *data;
};

struct pc_node {
	pthread_mutex_t mu;
	struct pc_region r[PC_MAX];
	int nreg, non;             /* regions, regions marked on */
	struct dsm_tape *wrec;     /* this node's writes since its last release */
	struct dsm_tape *rrec;     /* requests it served since its last push */
	uint64_t unsub;            /* nodes that unsubscribed since the last push */
	uint32_t slot;             /* pushes into pages of no region marked here */
	size_t npages;
	struct pc_pend **pend;     /* per page (reserved) */
	uint32_t *plist;           /* pages with a pend */
	size_t nplist;
	uint8_t *pu;               /* per page: 1 + producer of a held push not
				      used yet (region lock) */
	uint32_t wasted[DSM_MAX_NODES], used[DSM_MAX_NODES]; /* atomics */
	uint64_t dropped;          /* pushed pages dropped here */
	/* DSM_TAPEWORM=auto: every written page to the nodes that asked this
	 * node for it (no region marked; docs/tapes.md, "Auto pushes") */
	int autop;
	uint64_t *cons;            /* per page: its consumers (reserved) */
	uint8_t *inlist;           /* per page: in clist */
	uint32_t *clist;           /* pages with consumers */
	size_t nclist;
	uint16_t *ptag;            /* per page: 1 + the ap_obj that pushed it last */
	uint16_t *veto;            /* per page: 1 + an ap_obj whose push of it was
				      wasted: not pushed there until asked again */
	uint64_t owed[DSM_MAX_NODES]; /* producer: pages pushed to each since its
					 last report (flow control: CREDIT) */
	uint64_t rcvd[DSM_MAX_NODES]; /* consumer: auto-pushed pages from each
					 since the last report to it */
	struct ap_obj obj[AP_OBJS];
	int nobj;
	/* consumer: pushed pages wasted since the last sync point, to report */
	struct { uint32_t from, page, slot; } *waste;
	uint16_t *pslot;           /* per page: slot of the held push (pu) */
	/* consumer: auto pushes held and not used yet, aged at sync points */
	uint32_t *alist, *aseq;    /* pages; per page: sync count at install */
	uint8_t *inal;             /* per page: in alist */
	size_t nalist;
	uint32_t syncs;            /* dsm__pc_sync calls */
	size_t nwaste;
	uint64_t waste_full;       /* producers whose wasted pages overflowed */
};

/* autopush.c: DSM_TAPEWORM=auto's pushes (docs/tapes.md, "Auto pushes").
 * All with pc_node.mu held unless said. */
/* The object (this thread's lock or barrier, dsm__pc_at) pushes are made
 * at now, created on first use; NULL when the table is full. */
struct ap_obj *dsm__ap_obj(struct pc_node *pc);
/* Push at o now? (its decayed hit rate and backoff) */
int dsm__ap_worth(struct ap_obj *o);
/* Learn consumers from a request tape. */
void dsm__ap_learn(struct dsm_node *n, struct pc_node *pc, const struct dsm_tape *t);
/* Consumer c reported the k {page, tag} at pages wasted (NULL: it stops). */
void dsm__ap_unsub(struct pc_node *pc, int c, const unsigned char *pages, size_t k);
/* Count an auto push's entries (np entries, emask consumers) at o. */
void dsm__ap_count(struct pc_node *pc, struct ap_obj *o, const uint32_t *pages,
		    const int *ridx, const size_t *eidx, const uint64_t *emask, size_t np);
/* Consumer: a push of p from `from` into slot was wasted (region lock
 * may be held). */
void dsm__ap_wasted(struct pc_node *pc, int from, uint32_t p, uint32_t slot);
/* Consumer: auto pushes unused for AGE sync points are wasted; counts a
 * sync point. Takes the region lock. */
void dsm__ap_age(struct dsm_node *n, struct pc_node *pc);
/* Consumer: the reports to send (see autopush.c). */
unsigned char **dsm__ap_report(struct dsm_node *n, struct pc_node *pc, uint64_t unsub,
			       size_t *plen, uint64_t *send);
/* Log each object's pushes (dsm__pc_fini). */
void dsm__ap_log(struct dsm_node *n, struct pc_node *pc);

#endif /* DSM_TAPE_PUSH_H */
