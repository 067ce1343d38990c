/*
 * t_pubrace.c - who owns a channel, under races and hostile files.
 *
 *  - 1000 rounds of 4 processes opening one fresh channel at once, and
 *    1000 rounds of 4 processes opening a channel of another geometry with
 *    MDBUS_PUB_REPLACE at once: exactly one opener wins each round, the
 *    others are told the owner (MDBUS_EOWNED), and the file under the name
 *    is the winner's (its pid, active, the geometry asked). This program
 *    defines flock() itself and sleeps up to 1 ms before each lock, which
 *    widens the window between an open and its lock.
 *  - a publisher whose other thread forks all along its open (256 MiB
 *    reserved and pre-faulted) and which then dies: none of the children,
 *    still alive, keeps the channel owned.
 *  - a publisher that resumes and closes its channel 300 times while
 *    another thread forks, then dies: no child keeps the channel owned.
 *  - our own segment with a mode that lets others write: refused naming
 *    the mode; replaced with MDBUS_PUB_REPLACE and marked replaced, so
 *    its reader gets MDBUS_EREPLACED and reopens.
 *  - a segment of another user (root only, else skipped): refused naming
 *    uid and mode; with MDBUS_PUB_REPLACE replaced.
 *  - one channel's segment under another's name, by a hard link or a
 *    rename: refused by readers and publishers, replaced on request.
 *  - a segment directory writable by anyone and not sticky: refused by
 *    publishers and readers, accepted once sticky.
 *  - a stopped publisher's segment flock()ed by a reader (anyone who can
 *    read it can): the next publisher opens all the same (the owner lock
 *    is on the channel's lock file, which only the publisher's uid may
 *    open: mode 600); a lock file of another owner is refused naming it.
 *  - a FIFO under a channel name: publishers, readers, stats and listing
 *    all fail at once with an error, none hangs (the watchdog fails it).
 *  - a publisher whose creation of the segment is slow (this program
 *    defines posix_fallocate() too and holds the creator there until the
 *    rival's open has returned): a rival of the same uid opening meanwhile
 *    is told the owner (MDBUS_EOWNED), not that the channel is busy.
 *  - in a child forked from a publisher, the lock's descriptor (pointed at
 *    /dev/null) is still close-on-exec: nothing leaks into a program the
 *    child runs.
 *  - a dead publisher's lock held a while by another process (in transit):
 *    the open waits for it; and when the file under the name is another
 *    user's naming a live pid (root only), that pid is not believed: the
 *    open still waits, then refuses the file naming its owner and the fix
 *    (replaces it with MDBUS_PUB_REPLACE), or says -EBUSY naming both the
 *    lock and the file when the lock stays held, not MDBUS_EOWNED.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define ROUNDS 1000
#define RIVALS 4

struct shared {
	_Atomic uint32_t go;
	_Atomic uint32_t done;
	_Atomic uint32_t won;
	_Atomic int32_t winner;
	_Atomic uint32_t owned;   /* refused with MDBUS_EOWNED */
	_Atomic int32_t other;    /* any other result */
	_Atomic uint32_t release; /* winners close when set */
	_Atomic uint32_t hold_ms; /* timed_lock_holder()'s time */
};

static int delay_locks;
static int slow_reserve;
static struct shared *sh;

/* With slow_reserve, the first reservation (made under the owner lock)
 * says so in sh->go and waits for sh->release. */
int posix_fallocate(int fd, off_t offset, off_t len)
{
	static int (*real)(int, off_t, off_t);

	if (!real)
		real = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, "posix_fallocate");
	if (slow_reserve) {
		slow_reserve = 0;
		atomic_store(&sh->go, 1);
		tu_await(&sh->release, 1, 60, "the rival's open");
	}
	return real(fd, offset, len);
}

int flock(int fd, int op)
{
	static int (*real)(int, int);

	if (!real)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	if (delay_locks && (op & LOCK_EX)) {
		struct timespec ts = { 0, (long)tu_rand_below(1000000) };

		nanosleep(&ts, NULL);
	}
	return real(fd, op);
}

static struct mdbus_pub_config rival_cfg;
static const char *rival_channel;

static int rival(void *arg)
{
	mdbus_pub_t *p;
	int rc;

	(void)arg;
	delay_locks = 1;
	while (!atomic_load(&sh->go)) /* yields: the parent forks the rest */
		sched_yield();
	rc = mdbus_pub_open(&p, rival_channel, &rival_cfg);
	if (rc == 0) {
		atomic_fetch_add(&sh->won, 1);
		atomic_store(&sh->winner, getpid());
	} else if (rc == MDBUS_EOWNED) {
		atomic_fetch_add(&sh->owned, 1);
	} else {
		atomic_store(&sh->other, rc);
	}
	atomic_fetch_add(&sh->done, 1);
	if (rc == 0) {
		while (!atomic_load(&sh->release))
			tu_sleep_ms(1);
		mdbus_pub_close(p);
	}
	return 0;
}

static void check_winner(const char *ch, int round, uint32_t slot_size)
{
	size_t len;
	struct seg_header *h;

	if (atomic_load(&sh->won) != 1 || atomic_load(&sh->owned) != RIVALS - 1)
		tu_fail("%s round %d: %u winners, %u told owned, other result "
			"%d (%s)", ch, round, atomic_load(&sh->won),
			atomic_load(&sh->owned), atomic_load(&sh->other),
			mdbus_strerror(atomic_load(&sh->other)));
	h = tu_map_file(tu_seg_path(ch), &len);
	if (atomic_load(&h->pub_pid) != atomic_load(&sh->winner) ||
	    atomic_load(&h->pub_state) != SEG_PUB_ACTIVE ||
	    atomic_load(&h->slot_size) != slot_size)
		tu_fail("%s round %d: the segment under the name has pid %d "
			"state %u slot %u; the winner is %d (slot %u)", ch, round,
			atomic_load(&h->pub_pid), atomic_load(&h->pub_state),
			atomic_load(&h->slot_size), atomic_load(&sh->winner),
			slot_size);
	tu_unmap(h, len);
}

static void contest(const char *ch, int round, int replace)
{
	pid_t kids[RIVALS];

	memset(sh, 0, sizeof *sh);
	rival_channel = ch;
	rival_cfg = tu_config(replace && round % 2 ? 128 : 64, 16, 4,
			      MDBUS_MODE_OVERWRITE);
	rival_cfg.flags = replace ? MDBUS_PUB_REPLACE : 0;
	for (int i = 0; i < RIVALS; i++)
		kids[i] = tu_spawn(rival, NULL);
	atomic_store(&sh->go, 1);
	tu_await(&sh->done, RIVALS, 30, "rivals");
	check_winner(ch, round, rival_cfg.slot_size);
	atomic_store(&sh->release, 1);
	for (int i = 0; i < RIVALS; i++)
		tu_wait_ok(kids[i], 30, "rival");
}

static void races(void)
{
	char ch[32];

	for (int r = 0; r < ROUNDS; r++) {
		snprintf(ch, sizeof ch, "fresh%d", r);
		contest(ch, r, 0);
		TU_CHECK_RC(mdbus_unlink(ch, tu_dir()), 0);
	}
	for (int r = 0; r < ROUNDS; r++)
		contest("replaced", r, 1);
	tu_note("%d fresh and %d replacing contests of %d: one winner each",
		ROUNDS, ROUNDS, RIVALS);
}

/* ------------------------------------------------- fork during the open */

static _Atomic int forking = 1;

static void *forker(void *arg)
{
	(void)arg;
	while (atomic_load(&forking)) {
		pid_t kid = fork();

		if (kid == 0) {
			struct timespec ts = { 2, 0 };

			nanosleep(&ts, NULL); /* outlives its parent */
			_exit(0);
		}
		usleep(200);
	}
	return NULL;
}

/* A publisher in its own process whose other thread forks all along: it
 * opens and closes the channel `reopens` times, opens it once more, and
 * dies owning it while its children live on. */
struct forked_run {
	const char *channel;
	uint32_t slot_size, slots_per_block, block_count;
	int reopens;
};

static int forking_publisher(void *arg)
{
	const struct forked_run *f = arg;
	struct mdbus_pub_config c = tu_config(f->slot_size, f->slots_per_block,
					      f->block_count, MDBUS_MODE_OVERWRITE);
	pthread_t t;
	mdbus_pub_t *p;

	pthread_create(&t, NULL, forker, NULL);
	for (int i = 0; i < f->reopens; i++) {
		TU_CHECK_RC(mdbus_pub_open(&p, f->channel, &c), 0);
		mdbus_pub_close(p);
	}
	TU_CHECK_RC(mdbus_pub_open(&p, f->channel, &c), 0);
	atomic_store(&forking, 0);
	pthread_join(t, NULL);
	_exit(0);
}

/* After such a publisher died, the channel is free. */
static void fork_during_open(const struct forked_run *f)
{
	struct mdbus_pub_config c = tu_config(f->slot_size, f->slots_per_block,
					      f->block_count, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;

	atomic_store(&forking, 1);
	TU_CHECK_EQ(tu_wait(tu_spawn(forking_publisher, (void *)f), 120), 0);
	TU_CHECK_RC(mdbus_pub_open(&p, f->channel, &c), 0);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink(f->channel, tu_dir()), 0);
}

/* Our own segment whose data file lets others write (file_mode 0660
 * gives that to the table file only; here a chmod): refused, or replaced
 * and marked so, so that its readers learn it and reopen. */
static void own_wrong_mode(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;

	c.file_mode = 0660;
	mdbus_pub_close(tu_pub_open("mode", &c));
	s = tu_sub_open("mode", NULL, MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK(chmod(tu_seg_path("mode"), 0660) == 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "mode", &c), -EPERM);
	if (!strstr(mdbus_last_error(), "660"))
		tu_fail("mode refusal \"%s\" does not name the mode",
			mdbus_last_error());
	c.flags = MDBUS_PUB_REPLACE;
	TU_CHECK_RC(mdbus_pub_open(&p, "mode", &c), 0);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), MDBUS_EREPLACED);
	TU_CHECK_RC(mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0), 0);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, "x", 1, 0), 0);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof buf, &m), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
}

/* ------------------------------------------------------ hostile files */

static void foreign_owner(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	struct stat st;

	if (geteuid() != 0) {
		tu_note("not root: another user's segment not tested");
		return;
	}
	mdbus_pub_close(tu_pub_open("foreign", &c));
	TU_CHECK(chown(tu_seg_path("foreign"), 65534, 65534) == 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "foreign", &c), -EPERM);
	if (!strstr(mdbus_last_error(), "uid 65534") ||
	    !strstr(mdbus_last_error(), "replace"))
		tu_fail("refusal \"%s\" names neither owner nor fix",
			mdbus_last_error());
	TU_CHECK(chown(tu_seg_path("foreign"), 0, 0) == 0);
	TU_CHECK(chmod(tu_seg_path("foreign"), 0666) == 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "foreign", &c), -EPERM);
	TU_CHECK(chown(tu_seg_path("foreign"), 65534, 65534) == 0);
	c.flags = MDBUS_PUB_REPLACE;
	TU_CHECK_RC(mdbus_pub_open(&p, "foreign", &c), 0);
	TU_CHECK(stat(tu_seg_path("foreign"), &st) == 0);
	TU_CHECK_EQ(st.st_uid, 0);
	TU_CHECK_EQ(st.st_mode & 0777, 0640);
	mdbus_pub_close(p);
}

/* One channel's segment passed off as another's: by a hard link (two
 * names) or a rename (the header names the first channel). */
static void other_channels_segment(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	mdbus_sub_t *s;
	mdbus_pub_t *p;
	char a[512];

	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	mdbus_pub_close(tu_pub_open("link.a", &c));
	snprintf(a, sizeof a, "%s", tu_seg_path("link.a"));
	TU_CHECK(link(a, tu_seg_path("link.b")) == 0);
	TU_CHECK_RC(mdbus_sub_open(&s, "link.b", &sc), MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_sub_open(&s, "link.a", &sc), MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_pub_open(&p, "link.b", &c), -EPERM);
	TU_CHECK_RC(mdbus_pub_open(&p, "link.a", &c), -EPERM);
	TU_CHECK(unlink(tu_seg_path("link.b")) == 0);
	TU_CHECK(rename(a, tu_seg_path("link.c")) == 0);
	TU_CHECK_RC(mdbus_sub_open(&s, "link.c", &sc), MDBUS_ECORRUPT);
	TU_CHECK_RC(mdbus_pub_open(&p, "link.c", &c), MDBUS_ECORRUPT);
	c.flags = MDBUS_PUB_REPLACE;
	TU_CHECK_RC(mdbus_pub_open(&p, "link.c", &c), 0);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_sub_open(&s, "link.c", &sc), 0);
	mdbus_sub_close(s);
}

/* flock()s channel "held"'s segment, as any reader could. */
static int lock_holder(void *arg)
{
	int fd = open(tu_seg_path("held"), O_RDONLY);

	(void)arg;
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return 1;
	atomic_store(&sh->go, 1);
	while (!atomic_load(&sh->release))
		tu_sleep_ms(1);
	return 0;
}

/* A stopped publisher's segment flock()ed by a reader: no matter. The
 * lock file lets nobody else open it; one of another owner is refused. */
static void locked_by_reader(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	char lock[512];
	struct stat st;
	mdbus_pub_t *p;
	pid_t kid;

	memset(sh, 0, sizeof *sh);
	mdbus_pub_close(tu_pub_open("held", &c));
	kid = tu_spawn(lock_holder, NULL);
	tu_await(&sh->go, 1, 60, "lock holder");
	TU_CHECK_RC(mdbus_pub_open(&p, "held", &c), 0);
	mdbus_pub_close(p);
	atomic_store(&sh->release, 1);
	tu_wait_ok(kid, 60, "lock holder");
	snprintf(lock, sizeof lock, "%s+lock", tu_seg_path("held"));
	TU_CHECK(stat(lock, &st) == 0 && (st.st_mode & 07777) == 0600);
	if (geteuid() != 0) {
		tu_note("not root: the foreign lock file not tried");
		return;
	}
	TU_CHECK(chown(lock, 65534, (gid_t)-1) == 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "held", &c), -EPERM);
	if (!strstr(mdbus_last_error(), "lock file"))
		tu_fail("refusal \"%s\" does not name the lock file",
			mdbus_last_error());
	TU_CHECK(chown(lock, 0, (gid_t)-1) == 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "held", &c), 0);
	mdbus_pub_close(p);
}

/* Publisher and reader of channel opendir in dir, mode `mode`: both
 * refused, the refusal naming `who` and the fix (who NULL: both taken). */
static void dir_with_mode(const char *dir, mode_t mode, const char *who)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	mdbus_sub_t *s;
	mdbus_pub_t *p;

	TU_CHECK(chmod(dir, mode) == 0);
	c.dir = dir;
	mdbus_sub_config_init(&sc);
	sc.dir = dir;
	if (who) {
		TU_CHECK_RC(mdbus_pub_open(&p, "opendir", &c), -EPERM);
		if (!strstr(mdbus_last_error(), "sticky") ||
		    !strstr(mdbus_last_error(), who))
			tu_fail("refusal \"%s\" does not name %s and the fix",
				mdbus_last_error(), who);
		TU_CHECK_RC(mdbus_sub_open(&s, "opendir", &sc), -EPERM);
		return;
	}
	TU_CHECK_RC(mdbus_pub_open(&p, "opendir", &c), 0);
	TU_CHECK_RC(mdbus_sub_open(&s, "opendir", &sc), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("opendir", dir), 0);
}

/* A segment directory anyone may write without the sticky bit: anyone
 * could rename our segment away and put his own in its place; so could
 * the members of a group that may write it (not root's), which passed
 * before (attack run: nobody, of the directory's group, put his own
 * segment in place of root's, and root's readers read it). */
static void open_directory(void)
{
	char dir[512];

	snprintf(dir, sizeof dir, "%s/open", tu_dir());
	TU_CHECK(mkdir(dir, 0700) == 0);
	dir_with_mode(dir, 0777, "anyone");
	dir_with_mode(dir, 01777, NULL);
	/* root: root's directory of another group (nogroup's, 65534);
	 * tests/mdsub/owner.sh has a user's private group (taken) */
	if (getuid() == 0) {
		TU_CHECK(chown(dir, (uid_t)-1, 65534) == 0);
		dir_with_mode(dir, 0770, "its group");
		dir_with_mode(dir, 01770, NULL);
		TU_CHECK(chown(dir, (uid_t)-1, 0) == 0); /* root's own */
		dir_with_mode(dir, 0770, NULL);
	}
	TU_CHECK(rmdir(dir) == 0);
}

static int count_channels(const char *ch, void *arg)
{
	(void)ch;
	(*(int *)arg)++;
	return 0;
}

static void fifo(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	struct mdbus_sub_config sc;
	struct mdbus_stats st;
	mdbus_sub_t *s;
	mdbus_pub_t *p;
	int n = 0;

	TU_CHECK(mkfifo(tu_seg_path("fifo"), 0644) == 0);
	mdbus_sub_config_init(&sc);
	sc.dir = tu_dir();
	TU_CHECK(mdbus_channel_stats("fifo", tu_dir(), &st, NULL, 0) < 0);
	TU_CHECK(mdbus_sub_open(&s, "fifo", &sc) < 0);
	sc.anonymous = 1;
	TU_CHECK(mdbus_sub_open(&s, "fifo", &sc) < 0);
	TU_CHECK_RC(mdbus_pub_open(&p, "fifo", &c), -EPERM);
	TU_CHECK_RC(mdbus_list(tu_dir(), count_channels, &n), 0);
	TU_CHECK(n >= 1);
	c.flags = MDBUS_PUB_REPLACE;
	TU_CHECK_RC(mdbus_pub_open(&p, "fifo", &c), 0);
	mdbus_pub_close(p);
}

/* ------------------------------------------------- a slow creation */

static int slow_creator(void *arg)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;

	(void)arg;
	slow_reserve = 1;
	TU_CHECK_RC(mdbus_pub_open(&p, "slow", &c), 0);
	while (!atomic_load(&sh->release))
		tu_sleep_ms(1);
	mdbus_pub_close(p);
	return 0;
}

/* The owner is alive and making the segment: the channel is owned. */
static void rival_of_slow_creator(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	pid_t kid;
	int rc;

	memset(sh, 0, sizeof *sh);
	kid = tu_spawn(slow_creator, NULL);
	tu_await(&sh->go, 1, 60, "the creator's reservation"); /* locked */
	rc = mdbus_pub_open(&p, "slow", &c);
	if (rc != MDBUS_EOWNED)
		tu_fail("open during a live publisher's slow creation: %d (%s), "
			"expected MDBUS_EOWNED", rc, mdbus_last_error());
	atomic_store(&sh->release, 1);
	tu_wait_ok(kid, 30, "slow creator");
	TU_CHECK_RC(mdbus_unlink("slow", tu_dir()), 0);
}

/* ------------------------------------------- the child's lock descriptor */

/* The descriptor of this process open on path, or -1. */
static int fd_of(const char *path)
{
	char link[64], target[400];
	ssize_t n;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			return fd;
	}
	return -1;
}

static void child_lock_fd_cloexec(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	char lock[400];
	mdbus_pub_t *p = tu_pub_open("cloexec", &c);
	int fd, status;
	pid_t kid;

	snprintf(lock, sizeof lock, "%s+lock", tu_seg_path("cloexec"));
	fd = fd_of(lock);
	TU_CHECK(fd >= 0);
	kid = fork();
	if (kid == 0) {
		int fl = fcntl(fd, F_GETFD);

		_exit(fl >= 0 && (fl & FD_CLOEXEC) ? 0 : 1);
	}
	TU_CHECK(kid > 0 && waitpid(kid, &status, 0) == kid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		tu_fail("a forked child's lock descriptor %d lost close-on-exec", fd);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("cloexec", tu_dir()), 0);
}

/* A dead publisher's lock held a while by another process, as a child
 * forked just before its publisher died holds it until its fork handler
 * runs, which a loaded machine may not schedule for 100 ms and more: the
 * open waits for it (a CI-like run at load 8 failed fork_during_open()
 * with -EBUSY after the 64 ms the attempts took). */
static int dead_publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);

	(void)tu_pub_open(arg, &c);
	_exit(0); /* dies owning the channel */
}

/* Holds the lock file arg for sh->hold_ms. */
static int timed_lock_holder(void *arg)
{
	char *lock = arg;
	int fd = open(lock, O_RDWR | O_CLOEXEC);

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		_exit(1);
	atomic_store(&sh->go, 1);
	usleep(atomic_load(&sh->hold_ms) * 1000);
	_exit(0);
}

static void lock_in_transit(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	static char lock[512], name[] = "transit";
	mdbus_pub_t *p;
	pid_t kid;

	memset(sh, 0, sizeof *sh);
	TU_CHECK_EQ(tu_wait(tu_spawn(dead_publisher, name), 60), 0);
	snprintf(lock, sizeof lock, "%s+lock", tu_seg_path("transit"));
	atomic_store(&sh->hold_ms, 300);
	kid = tu_spawn(timed_lock_holder, lock);
	tu_await(&sh->go, 1, 60, "lock holder");
	TU_CHECK_RC(mdbus_pub_open(&p, "transit", &c), 0);
	mdbus_pub_close(p);
	tu_wait_ok(kid, 60, "lock holder");
	TU_CHECK_RC(mdbus_unlink("transit", tu_dir()), 0);
}

/* A dead publisher's channel "ftransit" whose segment nobody (65534) now
 * owns and which names pid 1 (alive; start time 0, not known) as its
 * publisher, as another user could make it name root's mdpub: opened
 * with flags while another process holds the lock for hold_ms. */
static int open_foreign_in_transit(unsigned hold_ms, uint32_t flags,
				   mdbus_pub_t **p)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	static char lock[512], name[] = "ftransit";
	int32_t pid = 1;
	uint64_t start = 0;
	pid_t kid;
	int fd, rc;

	memset(sh, 0, sizeof *sh);
	TU_CHECK_EQ(tu_wait(tu_spawn(dead_publisher, name), 60), 0);
	fd = open(tu_seg_path("ftransit"), O_WRONLY | O_CLOEXEC);
	TU_CHECK(fd >= 0);
	TU_CHECK(pwrite(fd, &pid, sizeof pid,
			offsetof(struct seg_header, pub_pid)) == sizeof pid);
	TU_CHECK(pwrite(fd, &start, sizeof start,
			offsetof(struct seg_header, pub_start)) == sizeof start);
	close(fd);
	TU_CHECK(chown(tu_seg_path("ftransit"), 65534, 65534) == 0);
	snprintf(lock, sizeof lock, "%s+lock", tu_seg_path("ftransit"));
	atomic_store(&sh->hold_ms, hold_ms);
	kid = tu_spawn(timed_lock_holder, lock);
	tu_await(&sh->go, 1, 60, "lock holder");
	c.flags = flags;
	rc = mdbus_pub_open(p, "ftransit", &c);
	tu_wait_ok(kid, 60, "lock holder");
	return rc;
}

/* Refused with want, the detail naming what and fix (and owner uid
 * 65534), then "ftransit" removed. */
static void refused_foreign(int rc, int want, const char *what, const char *fix)
{
	const char *e = mdbus_last_error();

	if (rc != want || !strstr(e, what) || !strstr(e, "uid 65534") ||
	    !strstr(e, fix))
		tu_fail("another user's segment naming pid 1, lock held: %d (%s), "
			"expected %d naming \"%s\", uid 65534 and \"%s\"", rc, e,
			want, what, fix);
	TU_CHECK(chown(tu_seg_path("ftransit"), 0, 0) == 0);
	TU_CHECK_RC(mdbus_unlink("ftransit", tu_dir()), 0);
}

static void foreign_in_transit(void)
{
	mdbus_pub_t *p;
	struct stat st;
	int rc;

	if (geteuid() != 0) {
		tu_note("not root: another user's segment in transit not tested");
		return;
	}
	/* the lock comes free: the file is refused as any other user's */
	refused_foreign(open_foreign_in_transit(300, 0, &p), -EPERM,
			"not this publisher's", "remove it as its owner or root");
	/* ... and replaced on request */
	rc = open_foreign_in_transit(300, MDBUS_PUB_REPLACE, &p);
	if (rc != 0)
		tu_fail("replacing another user's segment naming pid 1, lock in "
			"transit: %d (%s)", rc, mdbus_last_error());
	TU_CHECK(stat(tu_seg_path("ftransit"), &st) == 0);
	TU_CHECK_EQ(st.st_uid, 0);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("ftransit", tu_dir()), 0);
	/* the lock stays held past the wait (1 s): busy, naming the lock's
	 * holder and the file, not owned by pid 1 */
	refused_foreign(open_foreign_in_transit(1500, 0, &p), -EBUSY,
			"holds its lock", "remove the segment as its owner or root");
}

/* The lock held past the wait while the segment under the name is not
 * one we could take over (ours, but group-writable): -EBUSY names the
 * segment directory, /dev/shm when none is configured (seg_dir() is NULL
 * then), never "(null)". In /dev/shm itself, under a name of this pid. */
static int dead_default_publisher(void *arg)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);

	c.dir = NULL;
	(void)tu_pub_open(arg, &c);
	_exit(0); /* dies owning the channel */
}

static void busy_default_dir(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	static char name[64], path[128], lock[160];
	char *dir = strdup(tu_dir()), why[1024];
	mdbus_pub_t *p;
	pid_t kid;
	int rc;

	TU_CHECK(dir != NULL);
	snprintf(name, sizeof name, "t_pubrace_busy%d", (int)getpid());
	snprintf(path, sizeof path, "/dev/shm/mdbus.%s", name);
	snprintf(lock, sizeof lock, "%s+lock", path);
	unsetenv("MDBUS_DIR");
	memset(sh, 0, sizeof *sh);
	c.dir = NULL;
	TU_CHECK_EQ(tu_wait(tu_spawn(dead_default_publisher, name), 60), 0);
	TU_CHECK(chmod(path, 0660) == 0);
	atomic_store(&sh->hold_ms, 1500);
	kid = tu_spawn(timed_lock_holder, lock);
	tu_await(&sh->go, 1, 60, "lock holder");
	rc = mdbus_pub_open(&p, name, &c);
	snprintf(why, sizeof why, "%s", mdbus_last_error());
	tu_wait_ok(kid, 60, "lock holder");
	TU_CHECK_RC(mdbus_unlink(name, NULL), 0); /* /dev/shm left clean */
	setenv("MDBUS_DIR", dir, 1);
	if (rc != -EBUSY || !strstr(why, " in /dev/shm is ") ||
	    strstr(why, "(null)"))
		tu_fail("lock held past the wait, a group-writable segment, "
			"the default directory: %d (%s), expected -EBUSY naming "
			"/dev/shm", rc, why);
	free(dir);
}

int main(void)
{
	/* the watchdog only catches a hang: the 2000 contests took 155 s
	 * under ASan on a 2-core machine at load 23 */
	tu_init("t_pubrace", 600);
	sh = tu_shared(sizeof *sh);
	rival_of_slow_creator();
	child_lock_fd_cloexec();
	lock_in_transit();
	foreign_in_transit();
	busy_default_dir();
	races();
	{
		/* one creation of 256 MiB (long reservation and pre-fault),
		 * then 300 resumptions and closes of a small channel */
		static const struct forked_run big = { "forked", 4096, 4096, 16, 0 };
		static const struct forked_run reopened = { "reforked", 64, 16, 4, 300 };

		fork_during_open(&big);
		fork_during_open(&reopened);
	}
	own_wrong_mode();
	foreign_owner();
	other_channels_segment();
	open_directory();
	locked_by_reader();
	fifo();
	return 0;
}
