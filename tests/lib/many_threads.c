/*
 * many_threads.c - a process of N idle threads (t_conskill's part 5):
 * prints its pid once they all run, then waits to be killed, or for its
 * parent (the test) to end: a test that failed leaves none behind. Built
 * without the sanitizers, which keep state for each thread.
 *   usage: many_threads N
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	long n = argc == 2 ? strtol(argv[1], NULL, 10) : -1;

	if (n < 0) {
		fprintf(stderr, "usage: many_threads N\n");
		return 64;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		return 1;
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, 65536) != 0)
		return 1;
	for (long i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, idle, NULL) != 0) {
			fprintf(stderr, "many_threads: thread %ld: cannot start\n", i);
			return 1;
		}
	}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
