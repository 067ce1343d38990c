/*
 * t_hidepid.c - a live reader of another user is never judged dead when
 * /proc hides it. With /proc mounted hidepid=2 (in a private mount
 * namespace this test makes), another user's /proc/PID gives ENOENT; the
 * liveness check must then ask kill(pid, 0), where only ESRCH means dead.
 * A root reader holds the only entry of a channel (mode 0660, group
 * nogroup); a process of uid/gid 65534 that cannot see it in /proc tries
 * to register: refused as full (the entry is not taken from a live
 * reader), and the statistics show the reader alive. Needs root and
 * unshare(CLONE_NEWNS), else skips.
 */
#include <config.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

#define NOBODY 65534

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t stop;
};

static struct shared *sh;
static pid_t reader;

static int root_reader(void *arg)
{
	mdbus_sub_t *s = tu_sub_open("hidden", "root-reader", MDBUS_START_LATEST,
				     0, MDBUS_WAIT_BLOCK);
	unsigned char buf[64];
	struct mdbus_msg m;

	(void)arg;
	atomic_store(&sh->ready, 1);
	while (!atomic_load(&sh->stop))
		(void)mdbus_sub_read(s, buf, sizeof buf, &m, 100000000);
	mdbus_sub_close(s);
	return 0;
}

/* In a private mount namespace with /proc hidepid=2, as uid 65534. */
static int intruder(void *arg)
{
	struct mdbus_consumer_stat cs[2];
	struct mdbus_sub_config c;
	struct mdbus_stats st;
	char path[64];
	mdbus_sub_t *s;

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "hidepid=2") < 0)
		return TU_SKIP;
	if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		tu_fail("cannot become uid %d: %s", NOBODY, strerror(errno));
	snprintf(path, sizeof path, "/proc/%d/stat", (int)reader);
	if (access(path, F_OK) == 0 || errno != ENOENT)
		return TU_SKIP; /* hidepid not in force here */
	mdbus_sub_config_init(&c);
	c.name = "intruder";
	TU_CHECK_RC(mdbus_sub_open(&s, "hidden", &c), MDBUS_EFULL);
	TU_CHECK_RC(mdbus_channel_stats("hidden", NULL, &st, cs, 2), 0);
	TU_CHECK_EQ(st.consumers, 1);
	TU_CHECK(strcmp(cs[0].name, "root-reader") == 0);
	TU_CHECK_EQ(cs[0].alive, 1);
	return 0;
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	mdbus_pub_t *p;
	int rc;

	tu_init("t_hidepid", 60);
	if (geteuid() != 0)
		tu_skip("needs root (a mount namespace and another uid)");
	sh = tu_shared(sizeof *sh);
	TU_CHECK(chmod(tu_dir(), 0711) == 0);
	c.max_consumers = 1;
	c.file_mode = 0660;
	c.group = "65534";
	p = tu_pub_open("hidden", &c);
	reader = tu_spawn(root_reader, NULL);
	tu_await(&sh->ready, 1, 60, "root reader");
	rc = tu_wait(tu_spawn(intruder, NULL), 30);
	atomic_store(&sh->stop, 1);
	tu_wait_ok(reader, 60, "root reader");
	mdbus_pub_close(p);
	if (rc == TU_SKIP)
		tu_skip("no private mount namespace with hidepid=2 here");
	TU_CHECK_EQ(rc, 0);
	return 0;
}
