/*
 * thread_start.h - mdpub's threads (a channel's, its archive's, its
 * reaper's) start with every signal blocked but those a fault raises in
 * the faulting thread: signals go to the main thread's loop, and a
 * blocked SIGBUS kills the process at once, where the library's handler
 * must get the one raised by a consumer table cut under the publisher
 * (libmdbus(3), "Permissions and security").
 */
#ifndef MDPUB_THREAD_START_H
#define MDPUB_THREAD_START_H

#include <pthread.h>

/* pthread_create() with that mask: 0 or a negative code. */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
