/*
 * t_sigbuskill.c - the consumer table's SIGBUS handler changes nothing for
 * a SIGBUS that is not a fault on a table mapping (doc/protocol.md,
 * "Consumer table file": "A SIGBUS outside every table mapping goes to
 * the handler installed before, or kills as before").
 *
 * A process with a table mapping (a registered reader: the handler is
 * installed) is sent SIGBUS by kill() and by raise(): it must die of it,
 * as it would without the library. A signal sent by a process carries no
 * fault address (si_addr holds the sender's pid and uid), so it is never
 * one of ours to repair.
 */
#include <signal.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define CH "sigbuskill"

static int by_raise(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CH, "raise", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_SPIN);

	(void)arg;
	raise(SIGBUS);
	tu_sleep_ms(200); /* a pending default action has long run by now */
	mdbus_sub_close(s);
	return 3; /* survived */
}

static int by_kill(void *arg)
{
	_Atomic uint32_t *ready = arg;
	mdbus_sub_t *s = tu_sub_open(CH, "kill", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_SPIN);
	int i;

	atomic_store(ready, 1);
	for (i = 0; i < 2000; i++)
		tu_sleep_ms(1);
	mdbus_sub_close(s);
	return 3; /* survived */
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	_Atomic uint32_t *ready;
	mdbus_pub_t *p;
	pid_t kid;

	tu_init("t_sigbuskill", 60);
	ready = tu_shared(sizeof *ready);
	p = tu_pub_open(CH, &c);

	TU_CHECK(tu_died_of(tu_wait(tu_spawn(by_raise, NULL), 30), SIGBUS));

	kid = tu_spawn(by_kill, ready);
	tu_await(ready, 1, 30, "reader");
	TU_CHECK(kill(kid, SIGBUS) == 0);
	TU_CHECK(tu_died_of(tu_wait(kid, 30), SIGBUS));

	mdbus_pub_close(p);
	return 0;
}
