/*
 * t_conskill.c - consumer processes killed with SIGKILL.
 *
 * 1. With max_consumers = 4 and four live consumer processes, one more
 *    registration is refused with MDBUS_EFULL, having read /proc once
 *    for each (twice before: a reap, then a census; at 4096 entries
 *    about 57 ms each), and an anonymous reader still attaches. One
 *    stopped with SIGSTOP stays alive. Two are SIGKILLed: stats show
 *    exactly those two dead, two new registrations reclaim their
 *    entries, a third gets MDBUS_EFULL.
 * 2. Churn: 30 times a process that opens and closes registrations in a
 *    loop is SIGKILLed at a random moment (possibly mid-registration);
 *    afterwards every entry is reclaimable: 4 registrations succeed.
 * 3. Pid reuse: entries written by hand (layout.h) with a live pid (ours)
 *    but a wrong pid start time count as dead in stats, are freed by
 *    mdbus_pub_reap() and do not gate a lossless publisher; the same entry
 *    with the right start time counts as alive.
 * 4. Faked claims: every entry written by hand as being claimed by a live
 *    process (ours) refuses a registration at once (MDBUS_EFULL: such an
 *    entry goes ACTIVE, its claimant's), every entry being reclaimed by
 *    one within about 100 ms; an entry that a live reclaimer frees 30 ms
 *    later is still waited for and taken. Before, a registration waited
 *    1 s for either fake (review of 74ac609: mdsub's read thread stalled
 *    a second at each try to register again); the bounds below, 500 ms
 *    and 600 ms, leave 5 times the wait's length for a slow machine.
 * 5. Owners of many threads: 64 entries naming a live process of 2000
 *    threads (many_threads) cost a reap no more than 64 naming one of
 *    none: at most 4 times as long, the best of 5 reaps each. Its
 *    /proc/PID/stat costs the kernel a walk of every thread (2 ms a read
 *    at 20 000): a writer of the table who named such a process in every
 *    entry stalled mdpub's publishing thread for seconds at each reap
 *    (attack run of a4eccfa); /proc/PID/task/PID/stat does not walk
 *    them. Before: about 15 times as long, which fails.
 * 6. A registrant stalled 1.5 s in its first reap (its first /proc open
 *    sleeps: open() below), as by preemption on a loaded machine, into a
 *    table of 4 SIGKILLed readers, registers all the same: it tries for
 *    1 s of its own CPU time, not of the clock. Before, it was refused
 *    with every entry free in front of it (race review of a4eccfa: 120 ms
 *    then, with its bound of 100 ms; hundreds of registrants into a table
 *    of dead readers on 2 CPUs were refused so).
 * 7. A publisher whose wakes keep finding nobody (1000 in a row) looks at
 *    8 sleepers' entries at most (a /proc read each) when it reclaims
 *    and repairs the waiter count: every entry of a 64-entry table forged
 *    as a live sleeper's (ours) and the count above their flags, 1100
 *    publishes open /proc 1 to 8 times, and bring the count down to the
 *    flags. Before, every entry in use was looked at (64 opens here; a
 *    writer of the table could forge all 4096 of a table again after
 *    each repair).
 * 8. A lossless publisher held back by 64 dead readers looks at 8 of them
 *    at most every 10 ms (a /proc read each): its first look frees 8 and
 *    it stays held back, the 8th publishes, 64 reads and reclaims in all.
 *    Before, every one at each look (attack run of b7401e9: 4000 forged
 *    again every 5 ms took 86% of the publishing thread): 64 at once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "testutil.h"

#define MAXC 4
#define SLOT 64
#define CAP 64ULL

struct shared {
	_Atomic uint32_t ready;
};

static struct shared *sh;
static const char *channel;
static _Atomic int stall_proc_ms; /* the next open of /proc sleeps so */
static _Atomic unsigned proc_opens; /* opens of /proc files */

typedef int (*open_fn)(const char *, int, ...);

/* open() and open64() of this program, the library's too (part 6). */
static int open_stalled(const char *path, int flags, mode_t mode)
{
	open_fn real = (open_fn)dlsym(RTLD_NEXT, "open");
	int ms;

	if (strncmp(path, "/proc/", 6) == 0)
		atomic_fetch_add(&proc_opens, 1);
	if (strncmp(path, "/proc/", 6) == 0 &&
	    (ms = atomic_exchange(&stall_proc_ms, 0)) > 0)
		tu_sleep_ms(ms);
	return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return open_stalled(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

static mdbus_pub_t *open_channel(const char *ch, enum mdbus_mode mode)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, CAP / 16, mode);

	c.max_consumers = MAXC;
	c.stall_evict_ns = 0;
	channel = ch;
	return tu_pub_open(ch, &c);
}

static int holder(void *arg)
{
	char name[32];

	snprintf(name, sizeof(name), "holder%d", (int)(intptr_t)arg);
	tu_sub_open(channel, name, MDBUS_START_LATEST, 0, MDBUS_WAIT_ADAPTIVE);
	atomic_fetch_add(&sh->ready, 1);
	for (;;)
		tu_sleep_ms(1000);
	return 0;
}

static int churner(void *arg)
{
	struct mdbus_sub_config c;
	mdbus_sub_t *s;
	int rc;

	(void)arg;
	mdbus_sub_config_init(&c);
	c.name = "churn";
	atomic_store(&sh->ready, 1);
	for (;;) {
		rc = mdbus_sub_open(&s, channel, &c);
		if (rc == 0)
			mdbus_sub_close(s);
		else if (rc != MDBUS_EFULL)
			tu_fail("churn: open: %s", mdbus_strerror(rc));
	}
	return 0;
}

/* Registers a consumer in this process; returns the rc of sub_open. */
static int try_register(const char *name, mdbus_sub_t **out)
{
	struct mdbus_sub_config c;

	mdbus_sub_config_init(&c);
	c.name = name;
	*out = NULL;
	return mdbus_sub_open(out, channel, &c);
}

/* Stats entry of pid (fails if absent). */
static struct mdbus_consumer_stat stat_of(pid_t pid, uint32_t *in_use)
{
	struct mdbus_consumer_stat cs[MAXC];
	struct mdbus_stats st;

	TU_CHECK_RC(mdbus_channel_stats(channel, NULL, &st, cs, MAXC), 0);
	*in_use = st.consumers;
	for (uint32_t i = 0; i < st.consumers && i < MAXC; i++)
		if (cs[i].pid == pid)
			return cs[i];
	tu_fail("no consumer entry of pid %d in stats", (int)pid);
}

static void test_full_and_reclaim(void)
{
	mdbus_pub_t *p = open_channel("ck.full", MDBUS_MODE_OVERWRITE);
	struct mdbus_consumer_stat cs;
	struct mdbus_sub_config sc;
	mdbus_sub_t *s[3], *anon;
	pid_t kids[MAXC];
	uint32_t used;

	atomic_store(&sh->ready, 0);
	for (int i = 0; i < MAXC; i++)
		kids[i] = tu_spawn(holder, (void *)(intptr_t)i);
	tu_await(&sh->ready, MAXC, 30, "holders to register");
	for (int i = 0; i < MAXC; i++) {
		cs = stat_of(kids[i], &used);
		TU_CHECK_EQ(used, MAXC);
		TU_CHECK_EQ(cs.alive, 1);
		TU_CHECK(!strncmp(cs.name, "holder", 6));
	}
	atomic_store(&proc_opens, 0);
	TU_CHECK_RC(try_register("extra", &s[0]), MDBUS_EFULL);
	TU_CHECK(s[0] == NULL);
	tu_note("a registration refused by %d live readers: %u /proc opens",
		MAXC, atomic_load(&proc_opens));
	TU_CHECK_EQ(atomic_load(&proc_opens), MAXC);
	mdbus_sub_config_init(&sc);
	sc.anonymous = 1;
	TU_CHECK_RC(mdbus_sub_open(&anon, channel, &sc), 0);

	/* stopped is not dead (SIGSTOP: a debugger, a long pause) */
	kill(kids[2], SIGSTOP);
	tu_sleep_ms(300);
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_EQ(stat_of(kids[2], &used).alive, 1);

	tu_kill_reap(kids[0]);
	tu_kill_reap(kids[1]);
	for (int i = 0; i < MAXC; i++) {
		cs = stat_of(kids[i], &used);
		TU_CHECK_EQ(cs.alive, i >= 2);
	}
	TU_CHECK_RC(try_register("new0", &s[0]), 0);
	TU_CHECK_RC(try_register("new1", &s[1]), 0);
	TU_CHECK_RC(try_register("new2", &s[2]), MDBUS_EFULL);
	cs = stat_of(getpid(), &used);
	TU_CHECK_EQ(used, MAXC);
	TU_CHECK_EQ(cs.alive, 1);
	for (int i = 2; i < MAXC; i++)
		tu_kill_reap(kids[i]);
	TU_CHECK_RC(mdbus_pub_reap(p), 2);
	mdbus_sub_close(s[0]);
	mdbus_sub_close(s[1]);
	mdbus_sub_close(anon);
	mdbus_pub_close(p);
}

static void test_churn(void)
{
	mdbus_pub_t *p = open_channel("ck.churn", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s[MAXC];
	char name[32];
	pid_t kid;

	for (int round = 0; round < 30; round++) {
		atomic_store(&sh->ready, 0);
		kid = tu_spawn(churner, NULL);
		tu_await(&sh->ready, 1, 30, "churner");
		tu_sleep_ms((double)tu_rand_below(3000) / 1000);
		tu_kill_reap(kid);
	}
	for (int i = 0; i < MAXC; i++) {
		snprintf(name, sizeof(name), "after%d", i);
		TU_CHECK_RC(try_register(name, &s[i]), 0);
	}
	for (int i = 0; i < MAXC; i++)
		mdbus_sub_close(s[i]);
	mdbus_pub_close(p);
}

/* Writes a consumer entry by hand: ACTIVE, owner pid, start time, at 0. */
static void forge(void *seg, unsigned i, pid_t pid, uint64_t start,
		  const char *name)
{
	struct seg_consumer *e = tu_entry(seg, i);
	uint64_t words[(MDBUS_NAME_MAX + 1) / 8] = { 0 };

	memcpy(words, name, strlen(name));
	for (size_t k = 0; k < sizeof(words) / 8; k++)
		atomic_store(&e->name[k], words[k]);
	atomic_store(&e->pid_start, start);
	atomic_store(&e->read_num, 0);
	atomic_store(&e->lost, 0);
	atomic_store(&e->state, cons_next(atomic_load(&e->state),
					  CONS_ACTIVE, (int32_t)pid));
}

static int exit_now(void *arg)
{
	(void)arg;
	return 0;
}

static void test_pid_reuse(void)
{
	mdbus_pub_t *p = open_channel("ck.reuse", MDBUS_MODE_LOSSLESS);
	struct mdbus_consumer_stat cs[MAXC];
	struct mdbus_stats st;
	unsigned char buf[SLOT];
	uint64_t my_start = tu_proc_start(getpid());
	pid_t gone = tu_spawn(exit_now, NULL);
	mdbus_sub_t *s[MAXC];
	size_t len;
	void *seg;
	int alive = 0, dead = 0;

	tu_wait_ok(gone, 30, "short-lived child");
	TU_CHECK(my_start != 0);
	seg = tu_map_file(tu_table_path(channel), &len);
	forge(seg, 0, getpid(), my_start + 1000, "reused-pid");
	forge(seg, 1, getpid(), my_start - 1, "reused-pid2");
	forge(seg, 2, gone, tu_proc_start(getpid()), "exited");
	forge(seg, 3, getpid(), my_start, "really-alive");

	TU_CHECK_RC(mdbus_channel_stats(channel, NULL, &st, cs, MAXC), 0);
	TU_CHECK_EQ(st.consumers, MAXC);
	for (int i = 0; i < MAXC; i++) {
		int want = !strcmp(cs[i].name, "really-alive");

		if (cs[i].alive != want)
			tu_fail("forged entry \"%s\" (pid %d) alive = %d, "
				"want %d",
				cs[i].name, (int)cs[i].pid, cs[i].alive, want);
		alive += cs[i].alive;
		dead += !cs[i].alive;
	}
	TU_CHECK_EQ(alive, 1);
	TU_CHECK_EQ(dead, 3);

	/* the dead ones are freed (before any publish, which may also free
	 * dead entries that gate it), the live one stays */
	TU_CHECK_RC(mdbus_pub_reap(p), 3);
	TU_CHECK_RC(mdbus_channel_stats(channel, NULL, &st, cs, MAXC), 0);
	TU_CHECK_EQ(st.consumers, 1);
	TU_CHECK(!strcmp(cs[0].name, "really-alive") && cs[0].alive == 1);
	/* and it gates the lossless publisher: it is at 0 */
	for (uint64_t n = 0; n < CAP; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, SLOT - 24), 0);
	TU_CHECK_RC(tu_publish_seq(p, CAP, buf, 0, SLOT - 24),
		    MDBUS_EBACKPRESSURE);
	TU_CHECK_RC(mdbus_pub_reap(p), 0);
	TU_CHECK_RC(try_register("r0", &s[0]), 0);
	TU_CHECK_RC(try_register("r1", &s[1]), 0);
	TU_CHECK_RC(try_register("r2", &s[2]), 0);
	TU_CHECK_RC(try_register("r3", &s[3]), MDBUS_EFULL);
	forge(seg, 3, getpid(), my_start + 1, "now-dead");
	TU_CHECK_RC(try_register("r3", &s[3]), 0);
	/* every reader is now at CAP: nothing gates message CAP */
	TU_CHECK_RC(tu_publish_seq(p, CAP, buf, 0, SLOT - 24), 0);
	tu_unmap(seg, len);
	for (int i = 0; i < MAXC; i++)
		mdbus_sub_close(s[i]);
	mdbus_pub_close(p);
}

/* Writes every entry as in state st under our pid and start time. */
static void forge_all(void *seg, uint32_t st)
{
	uint64_t start = tu_proc_start(getpid());

	for (unsigned i = 0; i < MAXC; i++) {
		struct seg_consumer *e = tu_entry(seg, i);
		uint64_t w = cons_next(atomic_load(&e->state), st, getpid());

		atomic_store(&e->state, w);
		atomic_store(&e->pid_start, cons_tag(w, start));
	}
}

/* The ms a registration took to be refused (MDBUS_EFULL). */
static double refused_ms(const char *what)
{
	uint64_t t0 = tu_now_ns();
	mdbus_sub_t *s;
	double ms;

	TU_CHECK_RC(try_register(what, &s), MDBUS_EFULL);
	ms = (double)(tu_now_ns() - t0) / 1e6;
	tu_note("%s: refused in %.1f ms: %s", what, ms, mdbus_last_error());
	return ms;
}

static void *free_seg; /* free_last()'s table */

/* A reclaimer that frees the last entry 30 ms from now. */
static int free_last(void *arg)
{
	struct seg_consumer *e = tu_entry(free_seg, MAXC - 1);

	(void)arg;
	tu_sleep_ms(30);
	atomic_store(&e->state, cons_next(atomic_load(&e->state), CONS_FREE, 0));
	return 0;
}

static void test_faked_claims(void)
{
	mdbus_pub_t *p = open_channel("ck.fake", MDBUS_MODE_OVERWRITE);
	mdbus_sub_t *s;
	size_t len;
	pid_t kid;
	void *seg = tu_map_file(tu_table_path(channel), &len);

	forge_all(seg, CONS_CLAIMING);
	TU_CHECK(refused_ms("all-claiming") < 500);
	forge_all(seg, CONS_RECLAIMING);
	TU_CHECK(refused_ms("all-reclaiming") < 600);
	free_seg = seg;
	kid = tu_spawn(free_last, NULL);
	TU_CHECK_RC(try_register("after-reclaim", &s), 0);
	tu_wait_ok(kid, 30, "reclaimer");
	TU_CHECK_EQ(atomic_load(&tu_entry(seg, MAXC - 1)->pid_start) &
		    CONS_TAG_START_MASK, tu_proc_start(getpid()));
	TU_CHECK_EQ(cons_state(atomic_load(&tu_entry(seg, MAXC - 1)->state)),
		    CONS_ACTIVE);
	mdbus_sub_close(s);
	forge_all(seg, CONS_FREE);
	tu_unmap(seg, len);
	mdbus_pub_close(p);
}

/* Starts many_threads with `threads` threads: its pid, *out to pclose. */
static pid_t start_threads(int threads, FILE **out)
{
	char cmd[512];
	int pid = 0;

	snprintf(cmd, sizeof(cmd), "exec %s %d", MANY_THREADS, threads);
	*out = popen(cmd, "r");
	TU_CHECK(*out != NULL);
	if (fscanf(*out, "%d", &pid) != 1 || pid <= 0)
		tu_fail("%s: no pid", cmd);
	return (pid_t)pid;
}

/* Every entry of the 64-entry table `seg` names pid, alive: the best of
 * 5 reaps, in us (none frees anything). */
static double reap_us(mdbus_pub_t *p, void *seg, pid_t pid)
{
	uint64_t start = tu_proc_start(pid);
	double best = 1e12;
	char name[32];

	for (unsigned i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "owner%u", i);
		forge(seg, i, pid, start, name);
	}
	for (int k = 0; k < 5; k++) {
		uint64_t t0 = tu_now_ns();
		double us;

		TU_CHECK_RC(mdbus_pub_reap(p), 0);
		us = (double)(tu_now_ns() - t0) / 1e3;
		best = us < best ? us : best;
	}
	return best;
}

static void test_many_threads(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, CAP / 16,
					      MDBUS_MODE_OVERWRITE);
	double one, many;
	mdbus_pub_t *p;
	FILE *f1, *f2;
	pid_t p1, p2;
	size_t len;
	void *seg;

	c.max_consumers = 64;
	channel = "ck.threads";
	p = tu_pub_open(channel, &c);
	seg = tu_map_file(tu_table_path(channel), &len);
	p1 = start_threads(0, &f1);
	p2 = start_threads(2000, &f2);
	one = reap_us(p, seg, p1);
	many = reap_us(p, seg, p2);
	tu_note("reap of 64 entries: %.0f us naming a process of 1 thread, "
		"%.0f us naming one of 2001", one, many);
	TU_CHECK(many < 4 * one);
	kill(p1, SIGKILL);
	kill(p2, SIGKILL);
	pclose(f1);
	pclose(f2);
	TU_CHECK_RC(mdbus_pub_reap(p), 64);
	tu_unmap(seg, len);
	mdbus_pub_close(p);
}

static void test_stalled_registrant(void)
{
	mdbus_pub_t *p = open_channel("ck.stall", MDBUS_MODE_OVERWRITE);
	pid_t kids[MAXC];
	mdbus_sub_t *s;
	uint64_t t0;

	atomic_store(&sh->ready, 0);
	for (int i = 0; i < MAXC; i++)
		kids[i] = tu_spawn(holder, (void *)(intptr_t)i);
	tu_await(&sh->ready, MAXC, 30, "holders");
	for (int i = 0; i < MAXC; i++)
		tu_kill_reap(kids[i]);
	atomic_store(&stall_proc_ms, 1500);
	t0 = tu_now_ns();
	TU_CHECK_RC(try_register("stalled", &s), 0);
	tu_note("stalled registrant: registered after %.0f ms",
		(double)(tu_now_ns() - t0) / 1e6);
	TU_CHECK_EQ(atomic_load(&stall_proc_ms), 0); /* it did stall */
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* Part 7: every entry of a 64-entry table forged as a live sleeper's
 * (ours), the waiter count above their flags. */
static void test_futile_repair(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, CAP / 16,
					      MDBUS_MODE_OVERWRITE);
	struct seg_table_header *h;
	uint64_t start = tu_proc_start(getpid()), t0, slowest = 0;
	unsigned char buf[SLOT];
	unsigned opens;
	mdbus_pub_t *p;
	char name[32];
	size_t len;

	c.max_consumers = 64;
	channel = "ck.futile";
	p = tu_pub_open(channel, &c);
	h = tu_map_file(tu_table_path(channel), &len);
	for (unsigned i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "sleeper%u", i);
		forge(h, i, getpid(), start, name);
		atomic_store(&tu_entry(h, i)->waiting, 1);
		atomic_store(&tu_entry(h, i)->armed, 1);
	}
	atomic_store(&h->waiters, (atomic_load(&h->waiters) & ~0xffffffffULL) +
					  (1ULL << 32) + 100);
	atomic_fetch_add(&h->armed_seq, 1);
	mdbus_pub_heartbeat(p); /* counts the armed: publishes wake */
	atomic_store(&proc_opens, 0);
	for (uint64_t n = 0; n < 1100; n++) {
		t0 = tu_now_ns();
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, SLOT - 24), 0);
		t0 = tu_now_ns() - t0;
		slowest = t0 > slowest ? t0 : slowest;
	}
	opens = atomic_load(&proc_opens);
	tu_note("1100 publishes behind 64 forged live sleepers: %u /proc "
		"opens, the slowest publish %.0f us", opens,
		(double)slowest / 1e3);
	/* the repair ran: the count came down to the flags */
	TU_CHECK_EQ(waiters_count(atomic_load(&h->waiters)), 64);
	TU_CHECK(opens >= 1);
	TU_CHECK(opens <= 8);
	for (unsigned i = 0; i < 64; i++)
		atomic_store(&tu_entry(h, i)->waiting, 0);
	atomic_store(&h->waiters, atomic_load(&h->waiters) & ~0xffffffffULL);
	tu_unmap(h, len);
	mdbus_pub_close(p);
}

/* Part 8: 64 dead readers forged at 0 in front of a lossless publisher
 * whose ring is full. */
static void test_dead_gaters(void)
{
	struct mdbus_pub_config c = tu_config(SLOT, 16, CAP / 16,
					      MDBUS_MODE_LOSSLESS);
	unsigned char buf[SLOT];
	unsigned tries = 0, opens;
	mdbus_pub_t *p;
	char name[32];
	size_t len;
	pid_t dead;
	void *seg;
	int r;

	c.max_consumers = 64;
	c.stall_evict_ns = 0;
	channel = "ck.gaters";
	p = tu_pub_open(channel, &c);
	seg = tu_map_file(tu_table_path(channel), &len);
	dead = tu_spawn(exit_now, NULL);
	tu_wait_ok(dead, 30, "a reader that exits");
	for (unsigned i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "gater%u", i);
		forge(seg, i, dead, 0, name);
	}
	for (uint64_t n = 0; n < CAP; n++)
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, SLOT - 24), 0);
	tu_sleep_ms(11); /* its last look, at open, 10 ms behind */
	atomic_store(&proc_opens, 0);
	TU_CHECK_RC(tu_publish_seq(p, CAP, buf, 0, SLOT - 24),
		    MDBUS_EBACKPRESSURE);
	opens = atomic_load(&proc_opens);
	do {
		tu_sleep_ms(11); /* past the publisher's 10 ms between looks */
		r = tu_publish_seq(p, CAP, buf, 0, SLOT - 24);
		tries++;
	} while (r == MDBUS_EBACKPRESSURE && tries < 100);
	tu_note("64 dead readers holding a lossless publisher back: %u /proc "
		"opens at its first look, published after %u more looks "
		"10 ms apart, %u opens in all", opens, tries,
		atomic_load(&proc_opens));
	TU_CHECK_RC(r, 0);
	TU_CHECK_EQ(opens, 8);
	TU_CHECK_EQ(tries, 7);
	TU_CHECK_EQ(atomic_load(&proc_opens), 64);
	TU_CHECK_EQ(atomic_load(&((struct seg_table_header *)seg)->reclaims),
		    64);
	tu_unmap(seg, len);
	mdbus_pub_close(p);
}

int main(void)
{
	tu_init("t_conskill", 120);
	sh = tu_shared(sizeof(*sh));
	test_full_and_reclaim();
	test_churn();
	test_pid_reuse();
	test_faked_claims();
	test_many_threads();
	test_stalled_registrant();
	test_futile_repair();
	test_dead_gaters();
	return 0;
}
