/*
 * libc_names.h — force-included (-include) into every libdsm source but
 * src/replay/pthread.c: the runtime's own pthread calls go straight to
 * libc (dsm__libc_* in pthread.c), never through the definitions libdsm
 * gives the program to serialise its threads under record/replay
 * (docs/replay.md, "Several threads per node"). A runtime condition wait
 * or mutex taken while the program runs (a dsm_tape_* call, dsm_stats)
 * is thus never mistaken for the program's.
 */
#ifndef DSM_REPLAY_LIBC_NAMES_H
#define DSM_REPLAY_LIBC_NAMES_H

#define pthread_create dsm__libc_pthread_create
#define pthread_join dsm__libc_pthread_join
#define pthread_exit dsm__libc_pthread_exit
#define pthread_mutex_lock dsm__libc_pthread_mutex_lock
#define pthread_mutex_trylock dsm__libc_pthread_mutex_trylock
#define pthread_mutex_unlock dsm__libc_pthread_mutex_unlock
#define pthread_cond_wait dsm__libc_pthread_cond_wait
#define pthread_cond_timedwait dsm__libc_pthread_cond_timedwait
#define pthread_cond_signal dsm__libc_pthread_cond_signal
#define pthread_cond_broadcast dsm__libc_pthread_cond_broadcast
#define pthread_barrier_init dsm__libc_pthread_barrier_init
#define pthread_barrier_wait dsm__libc_pthread_barrier_wait
#define pthread_barrier_destroy dsm__libc_pthread_barrier_destroy
#define pthread_mutex_timedlock dsm__libc_pthread_mutex_timedlock
#define pthread_once dsm__libc_pthread_once
#define pthread_rwlock_rdlock dsm__libc_pthread_rwlock_rdlock
#define pthread_rwlock_wrlock dsm__libc_pthread_rwlock_wrlock
#define pthread_rwlock_timedrdlock dsm__libc_pthread_rwlock_timedrdlock
#define pthread_rwlock_timedwrlock dsm__libc_pthread_rwlock_timedwrlock
#define pthread_rwlock_unlock dsm__libc_pthread_rwlock_unlock
#define pthread_spin_lock dsm__libc_pthread_spin_lock
#define pthread_spin_unlock dsm__libc_pthread_spin_unlock
#define sem_wait dsm__libc_sem_wait
#define sem_timedwait dsm__libc_sem_timedwait
#define sem_post dsm__libc_sem_post

#endif /* DSM_REPLAY_LIBC_NAMES_H */
