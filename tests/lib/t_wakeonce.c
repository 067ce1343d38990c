/*
 * t_wakeonce.c - one wake for nothing in a row costs a sleeping reader no
 * pause; a second does (wait.c after_sleep()). The producer bumps
 * wake_seq, then wakes: a reader that read the message meanwhile and went
 * to sleep on the bumped word is woken by that wake for nothing, and
 * paused there, it would take a message published within the next
 * millisecond up to 1 ms late (review of d136d13). Only a waker that
 * bumps nothing (t_fakewake's loop) wakes a reader so twice in a row.
 *
 * A registered blocking reader sleeps on a channel without a nudger (so
 * that it is the only sleeper on wake_seq); the test wakes wake_seq,
 * from a read-only mapping, until a wake woke it, once, then twice in a
 * row, then publishes a message. The reader's own syscall() (this
 * program's: syscall_hook.h) counts its pauses: a futex_waitv(2) on one
 * word, or a FUTEX_WAIT_PRIVATE (on its bell, without futex_waitv); its
 * sleeps are futex_waitv on two words or a shared FUTEX_WAIT. Once: no
 * pause; twice: exactly one.
 *
 * Then a reader woken once for nothing, its read interrupted
 * (mdbus_sub_interrupt() from a SIGUSR1 handler: -EINTR), reads a
 * message at once, without another sleep, then sleeps again and is woken
 * once for nothing: the message read between starts the count again, no
 * pause. Before, the two were counted in a row, one pause (review of
 * 1154fb0: a message that lands just after a routine wake for nothing,
 * read without a sleep, is the same path, in a window too small to hit).
 * The same with no message, the second read finding nothing: one pause,
 * as for two wakes in a row. Only a message read starts the count again,
 * not an -EINTR nor a read (review of 55304e1: a count that any call
 * restarted would pass the part above, and let a waker in a loop that
 * interrupts, or a reader that polls between sleeps, wake it for
 * nothing without a pause).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mdbus.h"
#include "layout.h"
#include "syscall_hook.h"
#include "testutil.h"

#define CHANNEL "wakeonce"
#define WAKE_WAIT_NS 30000000000LL /* a deadline, not a bound on latency */

struct shared {
	_Atomic uint32_t ready;  /* 1: the reader is about to read */
	_Atomic uint32_t pauses; /* the reader's, during its read */
};

static struct shared *sh;
static _Atomic uint32_t pauses; /* this process's */
static mdbus_sub_t *interrupted; /* the handle on_usr1() rings */

long syscall(long number, ...)
{
	long a[6];

	HOOK_ARGS(number, a);
#ifdef SYS_futex_waitv
	if (number == SYS_futex_waitv && a[1] == 1)
		atomic_fetch_add(&pauses, 1);
#endif
	if (number == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAIT &&
	    (a[1] & FUTEX_PRIVATE_FLAG))
		atomic_fetch_add(&pauses, 1);
	return hook_real(number, a);
}

/* Reads the one message the parent publishes, counting its pauses. */
static int reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;

	(void)arg;
	atomic_store(&pauses, 0);
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(s, buf, sizeof(buf), &m, WAKE_WAIT_NS), 0);
	atomic_store(&sh->pauses, atomic_load(&pauses));
	mdbus_sub_close(s);
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	mdbus_sub_interrupt(interrupted);
}

/* Read 1 is interrupted after a wake for nothing, read 2 finds the
 * message published meanwhile (arg not NULL) or nothing, read 3 counts
 * its pauses. */
static int reader_interrupted(void *arg)
{
	struct sigaction sa;
	unsigned char buf[64];
	struct mdbus_msg m;
	int rc;

	interrupted = tu_sub_open(CHANNEL, NULL, MDBUS_START_LATEST, 0,
				  MDBUS_WAIT_BLOCK);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	TU_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	atomic_store(&sh->ready, 1);
	TU_CHECK_RC(mdbus_sub_read(interrupted, buf, sizeof(buf), &m,
				   WAKE_WAIT_NS), -EINTR);
	atomic_store(&sh->ready, 2);
	tu_await(&sh->ready, 3, 30, "the message");
	rc = mdbus_sub_read(interrupted, buf, sizeof(buf), &m, 0);
	if (arg)
		TU_CHECK_RC(rc, 0);
	else if (rc != -EAGAIN && rc != -ETIMEDOUT)
		tu_fail("read 2 with nothing published: %d, want -EAGAIN or "
			"-ETIMEDOUT", rc);
	atomic_store(&pauses, 0);
	atomic_store(&sh->ready, 4);
	TU_CHECK_RC(mdbus_sub_read(interrupted, buf, sizeof(buf), &m,
				   WAKE_WAIT_NS), 0);
	atomic_store(&sh->pauses, atomic_load(&pauses));
	mdbus_sub_close(interrupted);
	return 0;
}

/* Wakes wake_seq until a wake woke a sleeper (the reader, asleep again). */
static void wake_once(_Atomic uint32_t *word)
{
	for (int tries = 0; tries < 10000; tries++) {
		if (syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) > 0)
			return;
		tu_sleep_ms(1.0);
	}
	tu_fail("nobody asleep on wake_seq for 10 s");
}

/* Waits until the reader sleeps past its arm's settle (wait.c arm(),
 * whose sleeps of 1 ms at most would end a run of wakes for nothing),
 * wakes it `wakes` times for nothing in a row and lets each be judged. */
static void wake_asleep(pid_t pid, _Atomic uint32_t *word, int wakes)
{
	tu_await_state(pid, 'S', 30, "reader asleep");
	tu_sleep_ms(5);
	for (int i = 0; i < wakes; i++)
		wake_once(word);
	tu_sleep_ms(20);
}

/* Starts fn(arg) in a child; returns once it is about to read. */
static pid_t spawn_reader(int (*fn)(void *), void *arg)
{
	pid_t pid;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->pauses, UINT32_MAX);
	pid = tu_spawn(fn, arg);
	tu_await(&sh->ready, 1, 30, "reader");
	return pid;
}

/* The reader woken `wakes` times for nothing in a row, then a message:
 * returns its pauses. */
static uint32_t run(mdbus_pub_t *p, _Atomic uint32_t *word, int wakes)
{
	unsigned char buf[8] = { 0 };
	pid_t pid = spawn_reader(reader, NULL);

	wake_asleep(pid, word, wakes);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
	tu_wait_ok(pid, 60, "reader");
	return atomic_load(&sh->pauses);
}

/* reader_interrupted()'s run, a message published between its first
 * and second reads or not: returns the pauses of its third read. */
static uint32_t run_interrupted(mdbus_pub_t *p, _Atomic uint32_t *word,
				int message)
{
	unsigned char buf[8] = { 0 };
	pid_t pid = spawn_reader(reader_interrupted,
				 message ? (void *)1 : NULL);

	wake_asleep(pid, word, 1);
	TU_CHECK(kill(pid, SIGUSR1) == 0);
	tu_await(&sh->ready, 2, 30, "reader interrupted");
	if (message)
		TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
	atomic_store(&sh->ready, 3);
	tu_await(&sh->ready, 4, 30, "reader read");
	wake_asleep(pid, word, 1);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, sizeof(buf), 0), 0);
	tu_wait_ok(pid, 60, "reader");
	return atomic_load(&sh->pauses);
}

int main(void)
{
	struct mdbus_pub_config cfg = tu_config(64, 1024, 4, MDBUS_MODE_OVERWRITE);
	struct seg_header *h;
	mdbus_pub_t *p;
	uint32_t once, twice, apart, unread;

	tu_init("t_wakeonce", 120);
	tu_take_turn();
	sh = tu_shared(sizeof(*sh));
	p = tu_pub_open(CHANNEL, &cfg);
	h = tu_map_header_ro(CHANNEL);
	once = run(p, &h->wake_seq, 1);
	twice = run(p, &h->wake_seq, 2);
	apart = run_interrupted(p, &h->wake_seq, 1);
	unread = run_interrupted(p, &h->wake_seq, 0);
	tu_note("pauses: %u after one wake for nothing, %u after two in a row, "
		"%u after two with a message read between, %u with an -EINTR "
		"and a read that found nothing between", once, twice, apart,
		unread);
	TU_CHECK_EQ(once, 0u);
	TU_CHECK_EQ(twice, 1u);
	TU_CHECK_EQ(apart, 0u);
	TU_CHECK_EQ(unread, 1u);
	mdbus_pub_close(p);
	tu_note("ok");
	return 0;
}
