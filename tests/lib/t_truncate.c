/*
 * t_truncate.c - what a registered reader may write cannot kill anyone
 * (doc/protocol.md, "Consumer table file").
 *
 * file_mode 0660 makes the consumer table group-writable and leaves the
 * data file writable by its owner only. Two blocking readers read every
 * message while the table file is truncated to 0 bytes under them and the
 * publisher: nobody dies of SIGBUS, the publisher goes on publishing, its
 * heartbeat gives the file back its size, the readers learn that their
 * entries are gone (MDBUS_EEVICTED), reopen in place (refused until the
 * file is whole again) and account for every
 * message (read or counted lost, in order, payloads checked), and a new
 * reader registers afterwards. A SIGBUS outside any table mapping still
 * kills as it would without the library's handler. A cut zeroes a
 * mapping from the page faulted on, not before it (partial_cut()).
 *
 * What else a table writer can do: a hard link to the table keeps nobody
 * out; a rewritten header or a grown file keeps out registered readers
 * only until the publisher's next heartbeat (anonymous readers not at
 * all), and hides only the consumers from mdbus_channel_stats()
 * (MDBUS_ETABLE, the rest of the statistics filled); a name squatted where a resuming publisher must make its table
 * makes it take the channel over with a new segment; a table file left
 * behind is swept by the channel's next publisher.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "testutil.h"

#define CH "trunc"
#define TOTAL 600u
#define CUT_AT 200u
#define PMAX 40

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint64_t seen[2];     /* messages read */
	_Atomic uint64_t lost[2];     /* counted lost */
	_Atomic uint32_t reopened[2]; /* EEVICTED, then reopened */
};

static struct shared *sh;

static int reader(void *arg)
{
	int r, k = (int)(intptr_t)arg;
	const char *bad;
	uint64_t next = 0;
	struct mdbus_msg m;
	unsigned char buf[PMAX];
	mdbus_sub_t *s = tu_sub_open(CH, k ? "r1" : "r0", MDBUS_START_OLDEST, 0,
				     MDBUS_WAIT_BLOCK);

	atomic_fetch_add(&sh->ready, 1);
	while (next < TOTAL) {
		r = mdbus_sub_read(s, buf, sizeof buf, &m, 5000000000LL);
		if (r == MDBUS_EEVICTED) {
			/* until the publisher restored the file: refused */
			for (int t = 0; (r = mdbus_sub_reopen(s, MDBUS_START_OLDEST, 0)) != 0 && t < 3000; t++)
				tu_sleep_ms(1);
			TU_CHECK_RC(r, 0);
			atomic_fetch_add(&sh->reopened[k], 1);
			continue;
		}
		TU_CHECK_RC(r, 0);
		if (m.seq != next + m.lost)
			tu_fail("reader %d: seq %llu after %llu with %llu lost", k,
				(unsigned long long)m.seq,
				(unsigned long long)next,
				(unsigned long long)m.lost);
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad)
			tu_fail("reader %d: message %llu: %s", k,
				(unsigned long long)m.seq, bad);
		atomic_fetch_add(&sh->seen[k], 1);
		atomic_fetch_add(&sh->lost[k], m.lost);
		next = m.seq + 1;
	}
	mdbus_sub_close(s);
	return 0;
}

/* Maps a scratch file, cuts it, touches the cut page: SIGBUS, which the
 * library's handler (installed by the reader opened first) passes on. */
static int touch_cut_file(void *arg)
{
	mdbus_sub_t *s = tu_sub_open(CH, "bus", MDBUS_START_LATEST, 0,
				     MDBUS_WAIT_SPIN);
	char path[512];
	_Atomic uint64_t *p;
	int fd;

	(void)arg;
	snprintf(path, sizeof path, "%s/scratch", tu_dir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	TU_CHECK(fd >= 0 && ftruncate(fd, 8192) == 0);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TU_CHECK(p != MAP_FAILED);
	TU_CHECK(ftruncate(fd, 0) == 0);
	atomic_store(&p[600], 1); /* SIGBUS here */
	(void)s;
	return 3;
}

static int exit_now(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * A cut zeroes a mapping from the page faulted on, not before it: a
 * thread that reclaims walks the publisher's table while its publishing
 * thread does (mdbus_pub_reclaim(), mdpub's reaper), and one's fault must
 * not hide from the other the entries the file still has (race review of
 * b7401e9: a lossless publisher read a live reader's surviving entry as
 * free and overwrote what it had not read; an entry between a reclaim's
 * two compare-and-swaps stayed RECLAIMING under the publisher's pid). A
 * table of 128 entries (4 pages past its header) is cut to its header
 * and 2 pages, a reclaim walks past them (SIGBUS, handled), an entry
 * left is then written as a dead reader's: the next reclaim, no
 * heartbeat between, frees it. Before, the whole mapping read zeros until
 * a heartbeat: 0 freed.
 */
static void partial_cut(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	struct seg_consumer *e;
	mdbus_pub_t *p;
	size_t len;
	pid_t dead;
	void *t;

	c.max_consumers = 128;
	p = tu_pub_open("cutpart", &c);
	TU_CHECK(truncate(tu_table_path("cutpart"), 3 * 4096) == 0);
	TU_CHECK_RC(mdbus_pub_reclaim(p), 0); /* faults at entry 64 */
	dead = tu_spawn(exit_now, NULL);
	tu_wait_ok(dead, 30, "a reader that exits");
	t = tu_map_file(tu_table_path("cutpart"), &len);
	TU_CHECK_EQ(len, 3 * 4096);
	e = tu_entry(t, 1);
	atomic_store(&e->pid_start, 0);
	atomic_store(&e->state, cons_next(atomic_load(&e->state), CONS_ACTIVE,
					  (int32_t)dead));
	TU_CHECK_RC(mdbus_pub_reclaim(p), 1);
	TU_CHECK_EQ(cons_state(atomic_load(&e->state)), CONS_FREE);
	tu_unmap(t, len);
	mdbus_pub_heartbeat(p); /* gives the file back its size */
	t = tu_map_file(tu_table_path("cutpart"), &len);
	TU_CHECK(len > 3 * 4096);
	tu_unmap(t, len);
	TU_CHECK_RC(mdbus_pub_reclaim(p), 0);
	mdbus_pub_close(p);
}

static int sub_try(const char *ch, int anonymous, mdbus_sub_t **s)
{
	struct mdbus_sub_config c;

	mdbus_sub_config_init(&c);
	c.dir = tu_dir();
	c.anonymous = anonymous;
	return mdbus_sub_open(s, ch, &c);
}

/* Hard link, rewritten magic, grown file, squatted name, a leftover. */
static void spoiled_table(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	char table[512], link_path[512], orphan[512];
	struct seg_table_header *t;
	struct mdbus_consumer_stat cs[4];
	struct mdbus_stats st;
	mdbus_pub_t *p = tu_pub_open("spoil", &c);
	mdbus_sub_t *s;
	size_t len;

	snprintf(table, sizeof table, "%s", tu_table_path("spoil"));
	snprintf(link_path, sizeof link_path, "%s/elsewhere", tu_dir());
	TU_CHECK(link(table, link_path) == 0);
	TU_CHECK_RC(sub_try("spoil", 0, &s), 0);
	mdbus_sub_close(s);
	TU_CHECK(unlink(link_path) == 0);

	t = tu_map_file(table, &len);
	atomic_store(&t->magic, 0);
	/* the statistics all the same, the consumers unknown (and cons[]
	 * untouched) */
	memset(cs, 0x5a, sizeof cs);
	TU_CHECK_EQ(mdbus_pub_publish(p, 1, "x", 1, 1), 0);
	TU_CHECK_RC(mdbus_channel_stats("spoil", tu_dir(), &st, cs, 4),
		    MDBUS_ETABLE);
	TU_CHECK_EQ(st.pub.write_num, 1);
	TU_CHECK_EQ(st.capacity, 64);
	TU_CHECK_EQ(st.consumers, 0);
	TU_CHECK_EQ(cs[0].pid, 0x5a5a5a5a);
	TU_CHECK_RC(sub_try("spoil", 0, &s), MDBUS_ECORRUPT);
	TU_CHECK_RC(sub_try("spoil", 1, &s), 0); /* anonymous: no table */
	mdbus_sub_close(s);
	mdbus_pub_heartbeat(p);
	TU_CHECK_EQ(atomic_load(&t->magic), SEG_TABLE_MAGIC);
	TU_CHECK_RC(sub_try("spoil", 0, &s), 0);
	mdbus_sub_close(s);
	tu_unmap(t, len);

	tu_truncate(table, 3 * 4096 + 17);
	TU_CHECK_RC(sub_try("spoil", 0, &s), MDBUS_ECORRUPT);
	mdbus_pub_heartbeat(p);
	TU_CHECK_RC(sub_try("spoil", 0, &s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);

	/* the stopped channel's table name squatted by what its publisher
	 * cannot remove: it takes the channel over with a new segment */
	TU_CHECK(unlink(table) == 0 && mkdir(table, 0700) == 0);
	p = tu_pub_open("spoil", &c);
	TU_CHECK(strcmp(tu_table_path("spoil"), table) != 0);
	TU_CHECK_RC(sub_try("spoil", 0, &s), 0);
	mdbus_sub_close(s);
	mdbus_pub_close(p);
	TU_CHECK(rmdir(table) == 0);

	/* a table left by a replacer killed before it removed it: the next
	 * publisher of the channel sweeps it, and only it */
	snprintf(orphan, sizeof orphan, "%s+0123456789abcdef", tu_seg_path("spoil"));
	tu_write_file(orphan, "x", 1);
	p = tu_pub_open("spoil", &c);
	TU_CHECK(access(orphan, F_OK) < 0 && errno == ENOENT);
	TU_CHECK(access(tu_table_path("spoil"), F_OK) == 0);
	snprintf(orphan, sizeof orphan, "%s+lock", tu_seg_path("spoil"));
	TU_CHECK(access(orphan, F_OK) == 0);
	mdbus_pub_close(p);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	TU_CHECK(stat(path, &st) == 0);
	return st.st_mode & 07777;
}

int main(void)
{
	struct mdbus_pub_config c = tu_config(64, 16, 4, MDBUS_MODE_OVERWRITE);
	unsigned char buf[PMAX];
	char table[512];
	struct mdbus_stats st;
	struct stat tst;
	mdbus_pub_t *p;
	mdbus_sub_t *late;
	pid_t kids[2];
	uint64_t n;
	int k;

	tu_init("t_truncate", 120);
	sh = tu_shared(sizeof *sh);
	c.file_mode = 0660;
	c.max_consumers = 4;
	p = tu_pub_open(CH, &c);
	snprintf(table, sizeof table, "%s", tu_table_path(CH));
	TU_CHECK_EQ(mode_of(tu_seg_path(CH)), 0640);
	TU_CHECK_EQ(mode_of(table), 0660);
	TU_CHECK(stat(table, &tst) == 0 && tst.st_size > 0);

	for (k = 0; k < 2; k++)
		kids[k] = tu_spawn(reader, (void *)(intptr_t)k);
	tu_await(&sh->ready, 2, 30, "readers");
	for (n = 0; n < TOTAL; n++) {
		if (n == CUT_AT) {
			TU_CHECK(truncate(table, 0) == 0);
			tu_sleep_ms(20); /* the readers touch it: zeros */
		}
		if (n == CUT_AT + 50)
			mdbus_pub_heartbeat(p); /* gives it back its size */
		TU_CHECK_RC(tu_publish_seq(p, n, buf, 0, PMAX), 0);
		if (n % 8 == 0)
			tu_sleep_ms(1); /* readers keep up: nothing lapped */
	}
	for (k = 0; k < 2; k++)
		tu_wait_ok(kids[k], 60, "reader of a truncated table");
	for (k = 0; k < 2; k++) {
		TU_CHECK_EQ(atomic_load(&sh->seen[k]) + atomic_load(&sh->lost[k]),
			    TOTAL);
		TU_CHECK_EQ(atomic_load(&sh->reopened[k]), 1);
	}
	TU_CHECK(stat(table, &tst) == 0 && (uint64_t)tst.st_size >= 4096 + 4 * 128);
	TU_CHECK(mdbus_pub_reap(p) >= 0);
	/* the table works again: a reader registers, stats see it */
	late = tu_sub_open(CH, "late", MDBUS_START_LATEST, 0, MDBUS_WAIT_SPIN);
	TU_CHECK_RC(mdbus_channel_stats(CH, tu_dir(), &st, NULL, 0), 0);
	TU_CHECK_EQ(st.consumers, 1);
	mdbus_sub_close(late);

	TU_CHECK(tu_died_of(tu_wait(tu_spawn(touch_cut_file, NULL), 30), SIGBUS));
	mdbus_pub_close(p);
	spoiled_table();
	partial_cut();
	return 0;
}
