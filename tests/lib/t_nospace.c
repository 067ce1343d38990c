/*
 * t_nospace.c - a segment directory too small for the geometry: creation
 * fails at once with MDBUS_ENOSPACE, mdbus_last_error() names the size
 * needed in bytes, and nothing is left behind; a geometry that fits works
 * there. Needs a small tmpfs: mounted (size=1m) over the test directory
 * when running as root and mount(2) is allowed, else a visible skip (77).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "mdbus.h"
#include "testutil.h"

static int count_cb(const char *ch, void *arg)
{
	(void)ch;
	++*(int *)arg;
	return 0;
}

/* Total size of a geometry, measured by creating it where there is room. */
static uint64_t size_of(struct mdbus_pub_config c)
{
	struct mdbus_stats st;

	mdbus_pub_close(tu_pub_open("measure", &c));
	TU_CHECK_RC(mdbus_channel_stats("measure", c.dir, &st, NULL, 0), 0);
	TU_CHECK_RC(mdbus_unlink("measure", c.dir), 0);
	return st.total_size;
}

/* pub_open must fail with ENOSPACE naming `need` bytes, leaving nothing. */
static void expect_nospace(const char *ch, const struct mdbus_pub_config *c,
			   uint64_t need)
{
	char num[32];
	mdbus_pub_t *p = NULL;
	mdbus_sub_t *s = NULL;
	struct mdbus_sub_config sc;

	TU_CHECK_RC(mdbus_pub_open(&p, ch, c), MDBUS_ENOSPACE);
	TU_CHECK(p == NULL);
	snprintf(num, sizeof(num), "%" PRIu64, need);
	if (!strstr(mdbus_last_error(), num))
		tu_fail("ENOSPACE text \"%s\" does not name the %s bytes "
			"needed",
			mdbus_last_error(), num);
	tu_note("%s", mdbus_last_error());
	mdbus_sub_config_init(&sc);
	TU_CHECK_RC(mdbus_sub_open(&s, ch, &sc), -ENOENT);
}

static struct mdbus_pub_config big, fits, half;
static uint64_t need_big, need_half;

/* Runs in a child, so that the parent unmounts the tmpfs even when a
 * sanitizer aborts this part without running exit handlers. */
static int on_small_mount(void *arg)
{
	unsigned char buf[64];
	struct mdbus_msg m;
	mdbus_pub_t *p;
	mdbus_sub_t *s;
	int n = 0;

	(void)arg;
	expect_nospace("big", &big, need_big);
	/* one half fits; a second does not fit in what is left */
	p = tu_pub_open("half1", &half);
	mdbus_pub_close(p);
	expect_nospace("half2", &half, need_half);
	TU_CHECK_RC(mdbus_unlink("half1", NULL), 0);

	TU_CHECK_RC(mdbus_list(tu_dir(), count_cb, &n), 0);
	TU_CHECK_EQ(n, 0);

	/* a geometry that fits works on the same mount */
	p = tu_pub_open("small", &fits);
	tu_fill(buf, 40, 0);
	TU_CHECK_RC(mdbus_pub_publish(p, 1, buf, 40, 5), 0);
	s = tu_sub_open("small", NULL, MDBUS_START_OLDEST, 0,
			MDBUS_WAIT_ADAPTIVE);
	TU_CHECK_RC(mdbus_sub_try_read(s, buf, sizeof(buf), &m), 0);
	TU_CHECK_EQ(m.size, 40);
	TU_CHECK_EQ(tu_verify(buf, 40, 0), -1);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK_RC(mdbus_unlink("small", NULL), 0);
	return 0;
}

int main(void)
{
	int r;

	tu_init("t_nospace", 60);
	mdbus_pub_config_init(&big); /* defaults: 256 B x 4096 x 16 = 16 MiB */
	big.dir = tu_dir();
	fits = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	half = tu_config(1024, 128, 4, MDBUS_MODE_OVERWRITE); /* 512 KiB */
	need_big = size_of(big);
	need_half = size_of(half);
	TU_CHECK(need_big > (1u << 20) && need_half < (1u << 20) &&
		 2 * need_half > (1u << 20));

	if (geteuid() != 0)
		tu_skip("not root: cannot mount a small tmpfs");
	if (mount("tmpfs", tu_dir(), "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=1m,mode=0755") < 0)
		tu_skip("mount -t tmpfs -o size=1m: %s", strerror(errno));
	r = tu_wait(tu_spawn(on_small_mount, NULL), 50);
	if (umount(tu_dir()) < 0)
		tu_fail("umount %s: %s", tu_dir(), strerror(errno));
	if (r)
		tu_fail("test on the 1 MiB tmpfs failed (%s %d)",
			r < 0 ? "timeout" : r >= 256 ? "signal" : "exit code",
			r >= 256 ? r - 256 : r);
	return 0;
}
