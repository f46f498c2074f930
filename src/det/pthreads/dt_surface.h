/*
 * dt_surface.h — private to the files of the pthreads surface of
 * libdsm_dthreads (dt_thread.c, dt_lock.c, dt_wait.c, dt_io.c). Every call
 * that changes synchronisation state is a synchronisation point: it enters
 * the fence (dt__sync_enter), acts on the control block during its turn,
 * and leaves (continuing, blocking until woken, or exiting). Objects are
 * found by address in the control block's table; the program's own
 * pthread_mutex_t etc. are only keys (the mutex type is read from it).
 */
#ifndef DSM_DT_SURFACE_H
#define DSM_DT_SURFACE_H

#include "dt.h"

#define ID(th) ((int)((th) - 1))        /* pthread_t -> thread id */
#define TH(id) ((pthread_t)(id) + 1)    /* thread id -> pthread_t */

#define C (dt.ctl)
#define ME (&dt.ctl->t[dt.me])

/* A "... is not supported" line on stderr (the call then fails). */
void dt__unsupported(const char *what);
/* fork(2) itself (the interposed fork() is for the program's children). */
pid_t dt__real_fork(void);
/* pthread_*_destroy and sem_destroy: a synchronisation point; EBUSY while
 * busy(o) holds for the object at addr, else 0 and the object is
 * forgotten (an unknown address is 0 too). */
int dt__obj_destroy(const void *addr, int kind, int (*busy)(const struct dt_obj *));

#endif
