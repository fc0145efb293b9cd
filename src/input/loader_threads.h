/* loader_threads.h: how many of the training loader's threads decode at
 * once (loader_threads.c).
 *
 * Upstream's classifier splits each batch into 32 parts, one loader thread
 * each, and they all run beside the compute threads.  The parts stay (each
 * draws from its own seeded stream, keyed by batch and part, so the images
 * and their augmentation do not change), but at most the limit of them run
 * at a time.  With a limit, the parts run on that many threads kept for
 * the process (ext_loader_run_parts in ext.h, patches/0080); without one,
 * each part gets a new thread, as upstream, and a gate (enter/leave below)
 * still holds back any loader thread past the limit. */
#ifndef LOADER_THREADS_H
#define LOADER_THREADS_H

/* 0: no limit (upstream's behaviour, and every command's but classifier
 * training). */
void loader_threads_set_limit(int n);
int loader_threads_limit(void);
/* DARKNET_LOADER_THREADS when set (0: no limit), else one per online core;
 * -1 when the variable is not a number >= 0. */
int loader_threads_default(void);

/* A loader thread's start and end (ext_loader_thread_begin and _end). */
void loader_threads_enter(void);
void loader_threads_leave(void);
/* CPU seconds (the threads' own clocks) that loader threads used up to
 * their leave(), of the threads that have left, and how many there were, since
 * the last call; the counts start again at 0. */
void loader_threads_usage(double *seconds, long *parts);

#endif
