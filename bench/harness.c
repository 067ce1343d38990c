/*
 * harness.c - runs one experiment: maps the shared control block, forks the
 * producer and consumer processes pinned to their cores, waits for them
 * under a watchdog, and leaves their results in run->ctl.
 *
 * Pinning: the producer gets the first CPU the bench may use; consumers
 * share the others round-robin (all of them share the producer's CPU only
 * on a one-CPU machine).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "mdbus.h"

#define RUN_WATCHDOG_S 60 /* a run taking longer than this is killed */
#define POLL_SLEEP_NS 20000L
#define POLL_SLEEP_MAX_NS 1000000L

static int cpu_list[CPU_SETSIZE];
static int cpu_count;

uint64_t bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Number of CPUs this process may run on (fills cpu_list once). */
int bench_cpus(void)
{
	cpu_set_t set;
	int i;

	if (cpu_count)
		return cpu_count;
	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		cpu_list[cpu_count++] = 0;
		return cpu_count;
	}
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu_list[cpu_count++] = i;
	return cpu_count;
}

static int cpu_for_role(int role)
{
	int n = bench_cpus();

	if (role == 0 || n == 1)
		return cpu_list[0];
	return cpu_list[1 + (role - 1) % (n - 1)];
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		perror("mdbench: sched_setaffinity");
}

/* The index-th CPU this process may run on (modulo their number). */
int bench_cpu_at(int index)
{
	int n = bench_cpus();

	return cpu_list[index % n];
}


/* Waits until *counter reaches target, sleeping between polls, longer and
 * longer up to POLL_SLEEP_MAX_NS so that a process waiting through a whole
 * experiment (idle readers) stays idle. Only used outside the timed parts.
 * Acquire: pairs with the release update of the counter (struct bench_ctl). */
int bench_wait_count(_Atomic int *counter, int target)
{
	struct timespec pause = { 0, POLL_SLEEP_NS };

	while (atomic_load_explicit(counter, memory_order_acquire) < target) {
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < POLL_SLEEP_MAX_NS)
			pause.tv_nsec *= 2;
	}
	return 0;
}

struct bench_result *bench_my_result(struct bench_run *run)
{
	return &run->ctl->res[run->role];
}

uint64_t *bench_my_samples(struct bench_run *run)
{
	return run->samples + (size_t)run->role * run->max_samples;
}

void bench_fail(const char *what, int err)
{
	fprintf(stderr, "mdbench: %s: %s %s\n", what, mdbus_strerror(err),
		mdbus_last_error());
}

static size_t shared_size(const struct bench_run *run)
{
	size_t procs = 1 + (size_t)run->procs;

	return sizeof(struct bench_ctl) +
	       procs * run->max_samples * sizeof(uint64_t);
}

static int map_shared(struct bench_run *run)
{
	void *p = mmap(NULL, shared_size(run), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mdbench: mmap");
		return -1;
	}
	run->ctl = p;
	run->samples = (uint64_t *)(run->ctl + 1);
	return 0;
}

void bench_release(struct bench_run *run)
{
	if (run->ctl)
		munmap(run->ctl, shared_size(run));
	run->ctl = NULL;
	run->samples = NULL;
}

/* SIGALRM (watchdog) and the stop signals interrupt waitpid() (no
 * SA_RESTART); a stop signal is also remembered. Lock-free atomic: safe in
 * a handler; relaxed, only this process's own handler writes it. */
static _Atomic int stop_signal;

static void on_signal(int sig)
{
	if (sig != SIGALRM)
		atomic_store_explicit(&stop_signal, sig, memory_order_relaxed);
}

/* The signal that asked the bench to stop (SIGINT, SIGTERM, SIGHUP,
 * SIGPIPE), or 0. */
int bench_stopped(void)
{
	return atomic_load_explicit(&stop_signal, memory_order_relaxed);
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn; /* no SA_RESTART: waitpid() returns EINTR */
	sigaction(sig, &sa, NULL);
}

static const int handled[] = { SIGALRM, SIGINT, SIGTERM, SIGHUP, SIGPIPE };

/* The coordinator's handlers: the watchdog, and stop signals that end the
 * bench with its private directory removed. */
void bench_install_signals(void)
{
	size_t i;

	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		set_handler(handled[i], on_signal);
}

static void default_signals(void)
{
	size_t i;

	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		set_handler(handled[i], SIG_DFL);
}

static pid_t spawn(struct bench_run *run, int role)
{
	pid_t pid = fork();
	int r;

	if (pid != 0)
		return pid;
	default_signals();
	pin(cpu_for_role(role));
	run->role = role;
	/* Its own samples faulted in now: a shared mapping's pages are not
	 * mapped in a fork()ed child until it touches them, and a page fault
	 * every 512 samples showed in the latency tails of every transport. */
	memset(bench_my_samples(run), 0, run->max_samples * sizeof(uint64_t));
	r = role == 0 ? run->producer(run) : run->consumer(run);
	_exit(r == 0 ? 0 : 1);
}

pid_t bench_fork(int cpu_index, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	default_signals();
	pin(bench_cpu_at(cpu_index));
	_exit(fn(arg) == 0 ? 0 : 1);
}

int bench_reap(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void kill_all(const pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

static int role_of(const pid_t *pids, int n, pid_t pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return i;
	return -1;
}

/* Reaps the n children; a failed child or the watchdog kills the rest.
 * Returns 0 when every child exited with status 0. */
static int reap(struct bench_run *run, pid_t *pids, int n)
{
	int left = n, failed = 0, st, role;
	pid_t pid;

	alarm(RUN_WATCHDOG_S);
	while (left > 0) {
		pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR) {
			if (!bench_stopped())
				fprintf(stderr, "mdbench: run timed out, killed\n");
			kill_all(pids, n);
			failed = 1;
			continue;
		}
		role = pid < 0 ? -1 : role_of(pids, n, pid);
		if (role < 0)
			continue;
		pids[role] = 0;
		left--;
		run->ctl->res[role].status = !WIFEXITED(st) || WEXITSTATUS(st);
		if (run->ctl->res[role].status && !failed) {
			failed = 1;
			kill_all(pids, n);
		}
	}
	alarm(0);
	return failed ? -1 : 0;
}

/* Runs one experiment. On success (0) the results are in run->ctl until
 * bench_release(run). */
int bench_execute(struct bench_run *run)
{
	pid_t pids[1 + BENCH_MAX_CONSUMERS];
	int i, r;

	if (bench_stopped() || map_shared(run) < 0)
		return -1;
	if (run->tp && run->tp->setup(run) < 0) {
		bench_release(run);
		return -1;
	}
	fflush(stdout);
	for (i = 0, r = 0; i <= run->procs && r == 0; i++) {
		pids[i] = spawn(run, i);
		if (pids[i] < 0) {
			perror("mdbench: fork");
			kill_all(pids, i);
			r = -1;
		}
	}
	if (reap(run, pids, r == 0 ? i : i - 1) < 0)
		r = -1;
	if (run->tp)
		run->tp->teardown(run);
	if (r < 0)
		bench_release(run);
	return r;
}

/* Runs one experiment whose producer stores its samples; fills *out with
 * their percentiles. Returns 0 or -1. */
int bench_execute_producer_pct(struct bench_run *run, struct bench_pct *out)
{
	if (bench_execute(run) < 0)
		return -1;
	bench_percentiles(run->samples, run->ctl->res[0].nsamples, out);
	bench_release(run);
	return 0;
}
