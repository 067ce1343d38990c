/*
 * archive.c - see archive.h. File names and the directory listing are
 * lib/archive_files.c's (built into mdpub too); the file format is the
 * recording format (doc/protocol.md, "Recording format", "Archive").
 *
 * The thread reads the ring with mdbus_sub_try_read() and naps 1 ms when
 * there is nothing new, so the publisher never makes a system call for
 * it. Records go through the recording writer's buffer; every
 * archive_flush seconds, every quarter ring of messages (so that a
 * replaying reader finds the archive within a ring of the publisher and
 * can go on in the ring), and at rotation and stop, the buffer is written
 * out and the segment told how far the files go. A write that fails
 * (ENOSPC, EIO) cuts the file back to its last flushed record, counts the
 * messages since as lost, and the archive skips (and counts) what comes
 * for ARCHIVE_BACKOFF_NS before it tries a new file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "archive_end.h"
#include "clock.h"
#include "internal.h"
#include "log.h"
#include "mdbus_msg.h"
#include "mdbus_rec.h"
#include "thread_start.h"
#include "rec_format.h"

#define ARCHIVE_BACKOFF_NS NS_PER_SEC  /* after a failed write */
#define ARCHIVE_NAP_NS 1000000ULL      /* nothing to read: nap this long */
#define ARCHIVE_REGISTER_NS NS_PER_SEC /* anonymous: try for an entry */
#define ARCHIVE_REGISTER_LOOKS 4096u   /* ... looked at every this many reads */
#define ARCHIVE_NAME "archive"         /* its consumer name */
#define NOTE_SUFFIX ".resume"          /* CHANNEL.resume: archive_end.h */
#define DAY_NS (86400ULL * NS_PER_SEC)

struct archive {
	const struct chan_conf *c;
	mdbus_pub_t *pub;
	pthread_t thread;
	atomic_int stop;          /* main thread: archive up to stop_at, end */
	_Atomic uint64_t stop_at;
	int dirfd;
	int notefd;               /* the resume note (archive_end.h) */
	mode_t mode;              /* of the files (file_mode_of()) */
	gid_t gid;                /* the channel's group, or -1 */
	mdbus_sub_t *sub;
	int anonymous;            /* sub has no entry (the table was full) */
	uint64_t register_at;     /* CLOCK_MONOTONIC of the next try for one */
	unsigned reads;           /* since the last look at the clock for it */
	void *buf;
	size_t buf_len;
	struct mdbus_rec_info info;
	uint64_t epoch;           /* the segment's: in the file names */
	int64_t rotate_sec;       /* second of the UTC day, -1 = never */
	uint64_t flush_ns;
	uint64_t flush_msgs;      /* a quarter ring: flush at least this often */
	/* the file being written */
	int fd;                   /* -1: none */
	mdbus_rec_writer_t *w;
	char name[ARCH_NAME_MAX];
	uint64_t file_bytes;      /* written to the writer */
	uint64_t good_bytes;      /* of them flushed */
	uint64_t first_seq;       /* in its name */
	uint64_t last_seq;        /* of the last record written */
	uint64_t file_msgs;
	uint64_t rotate_at;       /* CLOCK_REALTIME of the next rotation */
	/* progress */
	uint64_t next;            /* sequence after the last one handled */
	uint64_t unflushed;       /* messages written since the last flush */
	uint64_t flush_due;       /* CLOCK_MONOTONIC; 0 = nothing due */
	uint64_t backoff_until;   /* CLOCK_MONOTONIC; 0 = not backing off */
	uint64_t lost;            /* as the segment header counts it */
	/* statistics, read by other threads (relaxed) */
	_Atomic uint64_t written, files, lost_here, errors;
	_Atomic uint64_t told_next; /* the last progress() */
	struct log_limit lost_limit, err_limit;
	struct log_limit rejoin_limit; /* entry taken away: any writer of
					  the table can take it at will */
};

static void bump(_Atomic uint64_t *c, uint64_t by)
{
	/* Relaxed: statistics written by this thread only. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

/* "HH:MM" or "HH:MM:SS" into a second of the day; "none" -1; NULL the
 * default 00:00. */
static int parse_rotate(const char *s, int64_t *sec)
{
	unsigned h, m, ss = 0;
	char end;

	if (!s) {
		*sec = 0;
		return 0;
	}
	if (strcmp(s, "none") == 0) {
		*sec = -1;
		return 0;
	}
	if (strlen(s) == 5 ? sscanf(s, "%2u:%2u%c", &h, &m, &end) != 2 :
	    strlen(s) != 8 || sscanf(s, "%2u:%2u:%2u%c", &h, &m, &ss, &end) != 3)
		return -1;
	if (h > 23 || m > 59 || ss > 59)
		return -1;
	*sec = (int64_t)(h * 3600 + m * 60 + ss);
	return 0;
}

/* Whether the directories above the archive (its real parent and each
 * one up) are fit to hold it: root's or ours, none writable by other
 * users without the sticky bit (dirs_trusted()). Else the owner of one could
 * rename the archive away while we write into it (by its descriptor)
 * and put his own directory under its name: readers would count every
 * archived message lost, and the next start would refuse his directory.
 * 0, or a negated errno with the reason in err. */
static int parents_fit(const char *path, char *err, size_t errlen)
{
	char parent[PATH_MAX], at[PATH_MAX], *slash;
	struct stat st;
	int r;

	snprintf(parent, sizeof parent, "%s", path);
	slash = strrchr(parent, '/'); /* absolute (archive_conf_check()) */
	slash[slash == parent] = '\0';
	r = dirs_trusted(parent, at, sizeof at, &st);
	if (r < 0)
		snprintf(err, errlen, "archive %s: %s: %s", path, at, strerror(-r));
	else if (r == DIRS_OWNER)
		snprintf(err, errlen, "archive %s: %s above it is uid %u's, not "
			 "root's or mdpub's user's (uid %u): its owner could "
			 "rename the archive away and put his own in its place; "
			 "use a directory whose every part is root's or mdpub's "
			 "user's", path, at, (unsigned)st.st_uid,
			 (unsigned)geteuid());
	else if (r == DIRS_OPEN)
		snprintf(err, errlen, "archive %s: %s above it is writable by "
			 "%s and not sticky (chmod +t or go-w it)", path, at,
			 dirs_writers(&st));
	return r < 0 ? r : r ? -EPERM : 0;
}

int archive_conf_check(const struct chan_conf *c, char *err, size_t errlen)
{
	int64_t sec;

	if (parse_rotate(c->archive_rotate, &sec) < 0) {
		snprintf(err, errlen, "archive_rotate: '%s' is not HH:MM[:SS] "
			 "(UTC) or none", c->archive_rotate);
		return -1;
	}
	if (!c->archive)
		return 0;
	if (c->archive[0] != '/' || strlen(c->archive) >= SEG_ARCHIVE_DIR_MAX) {
		snprintf(err, errlen, "archive: '%s' is not an absolute path of "
			 "at most %u bytes", c->archive, SEG_ARCHIVE_DIR_MAX - 1);
		return -1;
	}
	/* as open_dir() will: what -T accepts, start does not refuse */
	return parents_fit(c->archive, err, errlen) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ the directory */

/* The mode of the files: what file_mode lets the channel's group and
 * others read, written by nobody but mdpub (doc/protocol.md, "Archive
 * files"). */
static mode_t file_mode_of(const struct chan_conf *c)
{
	return ((mode_t)c->file_mode & 0644) | 0600;
}

/* The directory's: searchable by those who may read the files. */
static mode_t dir_mode_of(const struct chan_conf *c)
{
	mode_t f = file_mode_of(c);

	return 0700 | (f & 0040 ? 0050 : 0) | (f & 0004 ? 0005 : 0);
}

/* The channel's group (conf `group`, checked at load), or -1. */
static gid_t group_of(const struct chan_conf *c)
{
	struct group *gr;
	char *end;
	long id;

	if (!c->group || !*c->group)
		return (gid_t)-1;
	id = strtol(c->group, &end, 10);
	if (!*end && id >= 0)
		return (gid_t)id;
	gr = getgrnam(c->group);
	return gr ? gr->gr_gid : (gid_t)-1;
}

/* Gives fd (ours) the channel's group and mode. 0 or a negated errno. */
static int give_perms(int fd, gid_t gid, mode_t mode)
{
	if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)
		return -errno;
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

/* Why the directory st is not fit to hold our files, or NULL. */
static const char *dir_unfit(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != geteuid())
		return "belongs to another user (chown it to mdpub's user)";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by group or others (chmod go-w it)";
	return NULL;
}

/* Opens (makes, with the channel's group and dir_mode_of(), when
 * missing) the directory. */
static int open_dir(const struct chan_conf *c, char *err, size_t errlen)
{
	const char *path = c->archive;
	int made, fd, r;
	struct stat st;
	const char *why;

	r = parents_fit(path, err, errlen);
	if (r < 0)
		return r;
	made = mkdir(path, dir_mode_of(c)) == 0;
	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "archive %s: %s", path, strerror(errno));
		return -errno;
	}
	fd = arch_open_dir(path);
	if (fd < 0) {
		snprintf(err, errlen, "archive %s %s", path, fd == -ELOOP ?
			 "is a symbolic link: not followed (name the real "
			 "directory)" : strerror(-fd));
		return fd;
	}
	why = fstat(fd, &st) < 0 ? strerror(errno) : dir_unfit(&st);
	if (why) {
		snprintf(err, errlen, "archive %s %s", path, why);
		close(fd);
		return -EPERM;
	}
	r = made ? give_perms(fd, group_of(c), dir_mode_of(c)) : 0;
	if (r < 0) {
		snprintf(err, errlen, "archive %s: giving it group %s, mode %o: "
			 "%s", path, c->group ? c->group : "-",
			 (unsigned)dir_mode_of(c), strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int archive_check_dir(const struct chan_conf *c, char *err, size_t errlen)
{
	int fd = open_dir(c, err, errlen);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Opens name in the directory with flags (O_CREAT among them), never
 * through a symbolic link, never blocking on a FIFO, and only as a
 * regular file of one link of ours, with the channel's group and the
 * files' mode (a file it made with O_EXCL and could not give them is
 * removed). The descriptor or a negated errno. */
static int open_own(struct archive *a, const char *name, int flags)
{
	int fd = openat(a->dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC | O_NOCTTY, a->mode);
	struct stat st;
	int r;

	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) < 0 ? -errno :
	    !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid() ? -EPERM : give_perms(fd, a->gid, a->mode);
	if (r < 0) {
		close(fd);
		if (flags & O_EXCL)
			(void)unlinkat(a->dirfd, name, 0);
		return r;
	}
	return fd;
}

/* The resume note CHANNEL.resume (archive_end.h), made when missing. */
static int open_note(struct archive *a, char *err, size_t errlen)
{
	char name[ARCH_NAME_MAX];

	snprintf(name, sizeof name, "%s%s", a->c->name, NOTE_SUFFIX);
	a->notefd = open_own(a, name, O_RDWR | O_CREAT);
	if (a->notefd >= 0)
		return 0;
	snprintf(err, errlen, "archive %s/%s: %s%s", a->c->archive, name,
		 strerror(-a->notefd), a->notefd == -EPERM || a->notefd == -ELOOP ?
		 " (not a regular file of mdpub's user: remove it)" : "");
	return a->notefd;
}

/* The last whole record of file f (ours), found from the note
 * (archive_end.h): 1 with *last, 0 when it has none. */
static int last_record(struct archive *a, const struct arch_file *f,
		       uint64_t *last)
{
	int fd = arch_open_read(a->dirfd, f->name, geteuid()), r;
	uint64_t from = 0;
	struct stat st = {0};

	*last = 0;
	if (fd < 0)
		return fd;
	r = fstat(fd, &st) < 0 ? -errno :
	    archive_last_record(fd, (uint64_t)st.st_size, a->epoch,
				f->first_seq, a->notefd, last, &from);
	close(fd);
	if (r == 1)
		log_msg(LOG_NOTICE, "channel %s: archive file %s ends at "
			"sequence %llu (its records walked from byte %llu of "
			"%llu)", a->c->name, f->name, (unsigned long long)*last,
			(unsigned long long)from,
			(unsigned long long)st.st_size);
	return r;
}

/* Where the files end: 1 with *next (after their last whole record), 0
 * when there are none. A last file without a whole record (its writer
 * died before the first) is removed. */
static int files_end(struct archive *a, uint64_t epoch, uint64_t *next)
{
	struct arch_file *v;
	uint64_t last = 0;
	size_t n;
	int r = arch_list(a->dirfd, a->c->name, epoch, &v, &n);

	if (r < 0)
		return r;
	for (r = 0; n > 0 && r == 0; n--) {
		r = last_record(a, &v[n - 1], &last);
		if (r != 0)
			break;
		log_msg(LOG_WARNING, "channel %s: archive file %s has no whole "
			"record: removed", a->c->name, v[n - 1].name);
		if (unlinkat(a->dirfd, v[n - 1].name, 0) < 0)
			r = -errno;
	}
	free(v);
	if (r == 1)
		*next = last + 1;
	return r;
}

/* ------------------------------------------------------------------ files */

static void progress(struct archive *a)
{
	mdbus_pub_archive_progress(a->pub, a->next, a->lost);
	/* Relaxed: statistics (archive_counts()). */
	atomic_store_explicit(&a->told_next, a->next, memory_order_relaxed);
}

void archive_counts(const struct archive *a, uint64_t *next, uint64_t *lost)
{
	/* Relaxed: statistics, written by the archive thread only. */
	*next = atomic_load_explicit(&a->told_next, memory_order_relaxed);
	*lost = atomic_load_explicit(&a->lost_here, memory_order_relaxed);
}

static void close_file(struct archive *a)
{
	if (a->fd < 0)
		return;
	(void)mdbus_rec_finish(a->w); /* flushed before, or failed */
	close(a->fd);
	a->fd = -1;
	a->w = NULL;
}

/* Tells the note how far the current file's flushed records go. */
static void note(struct archive *a)
{
	struct archive_note n = {
		.epoch = a->epoch, .first_seq = a->first_seq,
		.end_off = a->good_bytes, .last_seq = a->last_seq,
	};

	if (archive_note_write(a->notefd, &n) < 0)
		bump(&a->errors, 1); /* the next start only walks further */
}

/* The current file goes, written or not (its first write failed: no file
 * without a record is left behind, doc/protocol.md "Archive files"). */
static void drop_file(struct archive *a)
{
	(void)mdbus_rec_finish(a->w);
	a->w = NULL;
	close(a->fd);
	a->fd = -1;
	(void)unlinkat(a->dirfd, a->name, 0);
}

/* The write of the current file failed with err: it goes back to its
 * last flushed record, what was written since is lost; a file left with
 * no record is removed. */
static void write_failed(struct archive *a, int err)
{
	uint64_t n = a->unflushed;

	if (a->good_bytes <= sizeof(struct rec_header)) {
		drop_file(a);
		bump(&a->files, (uint64_t)-1);
	} else {
		/* back to the last flushed record (should this fail too,
		 * readers trim the cut record, and only read what the
		 * header allows) */
		(void)!ftruncate(a->fd, (off_t)a->good_bytes);
		(void)mdbus_rec_finish(a->w);
		a->w = NULL;
		close(a->fd);
		a->fd = -1;
	}
	a->lost += n;
	bump(&a->lost_here, n);
	bump(&a->errors, 1);
	a->unflushed = 0;
	a->flush_due = 0;
	a->backoff_until = now_monotonic() + ARCHIVE_BACKOFF_NS;
	progress(a);
	log_limited(&a->err_limit, LOG_ERR, "channel %s: archive %s/%s: %s: "
		    "%llu messages lost, and those of the next second",
		    a->c->name, a->c->archive, a->name, strerror(-err),
		    (unsigned long long)n);
}

static int flush(struct archive *a)
{
	int r;

	if (a->fd < 0 || !a->unflushed)
		return 0;
	r = mdbus_rec_flush(a->w);
	if (r < 0) {
		write_failed(a, r);
		return r;
	}
	a->good_bytes = a->file_bytes;
	a->unflushed = 0;
	a->flush_due = 0;
	note(a); /* before progress: the note never runs ahead of it */
	progress(a);
	return 0;
}

/* CLOCK_REALTIME of the first rotate_sec of a day after now. */
static uint64_t next_rotation(const struct archive *a, uint64_t now)
{
	uint64_t day = now - now % DAY_NS, at;

	if (a->rotate_sec < 0)
		return UINT64_MAX;
	at = day + (uint64_t)a->rotate_sec * NS_PER_SEC;
	return at > now ? at : at + DAY_NS;
}

/* Makes the file whose first message is msg: never through a symbolic
 * link, never over anything already there (O_EXCL: a FIFO or file put
 * under the name is refused), the channel's group, file_mode_of(), its
 * header written at once. A file that fails that is removed: a full disk
 * leaves no empty file behind. */
static int open_file(struct archive *a, const struct mdbus_msg *msg)
{
	int r;

	r = arch_name(a->name, sizeof a->name, a->c->name, a->epoch, msg->seq,
		      msg->ts_ns);
	if (r < 0)
		return r;
	a->fd = open_own(a, a->name, O_WRONLY | O_CREAT | O_EXCL);
	if (a->fd < 0) {
		r = a->fd;
		a->fd = -1;
		return r;
	}
	r = mdbus_rec_create_fd(&a->w, a->fd, &a->info);
	if (r == 0)
		r = mdbus_rec_flush(a->w); /* a file always has its header */
	if (r < 0) {
		drop_file(a);
		return r;
	}
	a->file_bytes = a->good_bytes = sizeof(struct rec_header);
	a->file_msgs = 0;
	a->first_seq = msg->seq;
	a->rotate_at = next_rotation(a, now_realtime());
	bump(&a->files, 1);
	note(a);
	return 0;
}

/* A file could not be made: nothing was written to it. */
static void open_failed(struct archive *a, int err)
{
	bump(&a->errors, 1);
	a->backoff_until = now_monotonic() + ARCHIVE_BACKOFF_NS;
	log_limited(&a->err_limit, LOG_ERR, "channel %s: archive %s/%s: %s%s",
		    a->c->name, a->c->archive, a->name, strerror(-err),
		    err == -EEXIST || err == -ELOOP ?
		    " (something else has the name: not written through)" : "");
}

/* Writes msg (its payload in a->buf) into the file, rotating first when
 * the file is full or the time of day came. Returns 0, or -1 when msg
 * was not written (the failure logged and what it lost counted). */
static int write_msg(struct archive *a, const struct mdbus_msg *msg)
{
	uint64_t rec = sizeof(struct rec_record) + (uint64_t)msg->size;
	int r;

	if (a->fd >= 0 && a->file_msgs &&
	    (a->file_bytes + rec > a->c->archive_size ||
	     now_realtime() >= a->rotate_at)) {
		if (flush(a) < 0)
			return -1;
		close_file(a);
	}
	if (a->fd < 0) {
		r = open_file(a, msg);
		if (r < 0) {
			open_failed(a, r);
			return -1;
		}
	}
	r = mdbus_rec_write(a->w, msg, a->buf);
	if (r < 0) {
		write_failed(a, r);
		return -1;
	}
	a->file_bytes += rec;
	a->last_seq = msg->seq;
	a->file_msgs++;
	a->unflushed++;
	bump(&a->written, 1);
	if (!a->flush_due)
		a->flush_due = now_monotonic() + a->flush_ns;
	if (a->unflushed >= a->flush_msgs) /* readers catch up with the ring */
		a->flush_due = 1;
	return 0;
}

/* ------------------------------------------------------------ the thread */

/* Counts n messages the archive does not have, loudly. */
static void count_lost(struct archive *a, uint64_t n, uint64_t seq,
		       const char *why)
{
	a->lost += n;
	bump(&a->lost_here, n);
	log_limited(&a->lost_limit, LOG_ERR, "channel %s: ARCHIVE LOST %llu "
		    "messages before seq %llu: %s (lost so far: %llu)",
		    a->c->name, (unsigned long long)n,
		    (unsigned long long)seq, why,
		    (unsigned long long)a->lost);
}

/* The n sequence numbers before seq, which the ring no longer held or
 * never held when the archive got there: counted lost, a->next at seq. */
static void count_gone(struct archive *a, uint64_t n, uint64_t seq)
{
	count_lost(a, n, seq, "gone from the ring when the archive read it "
		   "(it fell more than a ring behind, or the publisher skipped "
		   "them)");
	a->next = seq;
}

/* One message read from the ring. a->next moves past it only once it is
 * written (or counted lost): a flush on the way (rotation) tells readers
 * that the files hold everything below a->next. */
static void take(struct archive *a, const struct mdbus_msg *msg)
{
	if (msg->lost)
		count_gone(a, msg->lost, msg->seq);
	if (a->backoff_until && now_monotonic() < a->backoff_until) {
		a->lost++;
		bump(&a->lost_here, 1);
	} else {
		a->backoff_until = 0;
		if (write_msg(a, msg) < 0) {
			a->lost++;
			bump(&a->lost_here, 1);
		}
	}
	a->next = msg->seq + 1;
}

/* Whether archive_stop() asked the thread to end. */
static int stop_asked(const struct archive *a)
{
	/* Acquire pairs with archive_stop()'s release store of stop. */
	return atomic_load_explicit(&a->stop, memory_order_acquire);
}

/*
 * Whether the archive has read everything the channel wrote before its
 * stop. The reader's position says so, not a->next: sequence numbers
 * skipped after the last message (a skip the channel wrote last, the
 * message after it dropped) bring no message that would count them
 * (take()), so they are counted here.
 */
static int read_to_stop(struct archive *a)
{
	uint64_t pos = mdbus_sub_position(a->sub);

	if (!stop_asked(a) ||
	    pos < atomic_load_explicit(&a->stop_at, memory_order_relaxed))
		return 0;
	if (pos > a->next)
		count_gone(a, pos - a->next, pos);
	return 1;
}

/* Nothing to read now: flush when due; 1 when the thread is done. */
static int idle(struct archive *a)
{
	uint64_t now = now_monotonic();

	if (read_to_stop(a)) {
		flush(a);
		close_file(a);
		progress(a);
		return 1;
	}
	if (a->flush_due && now >= a->flush_due)
		flush(a);
	else if (!a->unflushed && a->backoff_until)
		progress(a); /* what the back-off skipped counted */
	if (a->fd >= 0 && now_realtime() >= a->rotate_at && !flush(a))
		close_file(a);
	sleep_ns(a->flush_ns < ARCHIVE_NAP_NS ? a->flush_ns : ARCHIVE_NAP_NS);
	return 0;
}

/* The archive's reader of the ring: at `seq` (MDBUS_START_SEQ) or the
 * oldest message; registered (it holds a lossless publisher back) unless
 * `anonymous`. */
static int open_sub(struct archive *a, enum mdbus_start start, uint64_t seq,
		    int anonymous, mdbus_sub_t **out)
{
	struct mdbus_sub_config cfg;

	mdbus_sub_config_init(&cfg);
	cfg.name = ARCHIVE_NAME;
	cfg.dir = a->c->dir;
	cfg.archive_dir = ""; /* the ring only: never our own files */
	cfg.anonymous = anonymous;
	cfg.start = start;
	cfg.start_seq = seq;
	return mdbus_sub_open(out, a->c->name, &cfg);
}

/* The consumer table gives us no entry (full of live readers,
 * registered while no publisher ran or forged by anyone who may write
 * the table; or, after an eviction, its header spoiled): reads
 * without an entry from `from`, holding no lossless publisher back (what
 * it misses is counted lost), and tries for an entry every
 * ARCHIVE_REGISTER_NS (try_register()). Returns open_sub()'s code. */
static int open_anonymous(struct archive *a, enum mdbus_start start,
			  uint64_t from, mdbus_sub_t **out)
{
	char why[256];
	int r;

	snprintf(why, sizeof(why), "%s", mdbus_last_error());
	r = open_sub(a, start, from, 1, out);
	if (r < 0)
		return r; /* said by the caller, rate-limited */
	log_limited(&a->rejoin_limit, LOG_WARNING, "channel %s: archive: %s: "
		    "reading without an entry, which holds no lossless "
		    "publisher back (what it misses is counted lost), until "
		    "one frees", a->c->name, why);
	a->anonymous = 1;
	a->register_at = now_monotonic() + ARCHIVE_REGISTER_NS;
	return 0;
}

/* An anonymous archive reader (open_reader()) takes an entry when one is
 * free, at the message it reads next: from then on it holds a lossless
 * publisher back again. */
static void try_register(struct archive *a)
{
	uint64_t now = now_monotonic();
	mdbus_sub_t *sub;
	int r;

	a->reads = 0;
	if (now < a->register_at)
		return;
	r = open_sub(a, MDBUS_START_SEQ, a->next, 0, &sub);
	/* from the end of the try: a registration may wait up to 100 ms
	 * for entries being reclaimed (a table writer can fake those) */
	a->register_at = now_monotonic() + ARCHIVE_REGISTER_NS;
	if (r < 0)
		return;
	mdbus_sub_close(a->sub);
	a->sub = sub;
	a->anonymous = 0;
	log_msg(LOG_NOTICE, "channel %s: archive: registered at sequence %llu",
		a->c->name, (unsigned long long)a->next);
}

/* Our consumer entry was taken (a lossless publisher evicted a stalled
 * archive, or a writer of the table took it, as often as it likes: said
 * rate-limited): register again where we were; the ring counts what
 * went. A table that refuses us (full of live
 * readers, or its header spoiled: anyone who may write the table can do
 * either, doc/protocol.md "Consumer table file") does not stop the
 * archive: it reads on without an entry, as open_reader() does. */
static int rejoin(struct archive *a)
{
	mdbus_sub_t *sub;
	int r = mdbus_sub_reopen(a->sub, MDBUS_START_SEQ, a->next);

	if (r < 0 && open_anonymous(a, MDBUS_START_SEQ, a->next, &sub) == 0) {
		mdbus_sub_close(a->sub);
		a->sub = sub;
		return 0;
	}
	if (r < 0)
		log_limited(&a->err_limit, LOG_ERR, "channel %s: archive: "
			    "register again: %s", a->c->name, mdbus_strerror(r));
	else
		log_limited(&a->rejoin_limit, LOG_WARNING, "channel %s: archive: "
			    "consumer entry taken away (evicted as stalled, or "
			    "freed by a writer of the consumer table): "
			    "registered again at sequence %llu", a->c->name,
			    (unsigned long long)a->next);
	return r;
}

/* Logs the counts of what the limits held back: at the thread's end,
 * and when the archive is freed. */
static void end_limits(struct archive *a)
{
	log_limit_end(&a->err_limit);
	log_limit_end(&a->lost_limit);
	log_limit_end(&a->rejoin_limit);
}

static void *archive_thread(void *arg)
{
	struct archive *a = arg;
	struct mdbus_msg msg;
	char name[16];
	int r = 0;

	snprintf(name, sizeof name, "ar:%s", a->c->name);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		if (a->anonymous && (++a->reads >= ARCHIVE_REGISTER_LOOKS ||
				     r == -EAGAIN))
			try_register(a);
		r = mdbus_sub_try_read(a->sub, a->buf, a->buf_len, &msg);
		if (r == 0) {
			take(a, &msg);
			if (a->flush_due && now_monotonic() >= a->flush_due)
				flush(a);
			continue;
		}
		if (r == -EAGAIN && idle(a))
			break;
		if (r == MDBUS_EEVICTED && rejoin(a) < 0) {
			/* no reader: what is left the next run's archive
			 * reads, or counts lost (open_reader()) */
			if (stop_asked(a))
				break;
			sleep_ns(ARCHIVE_BACKOFF_NS);
		} else if (r != -EAGAIN && r != MDBUS_EEVICTED) {
			log_msg(LOG_ERR, "channel %s: archive stops: %s",
				a->c->name, mdbus_strerror(r));
			break;
		}
	}
	flush(a);
	close_file(a);
	end_limits(a); /* counted before the channel's end */
	return NULL;
}

/* ------------------------------------------------------- start and stop */

static void archive_free(struct archive *a)
{
	end_limits(a); /* nothing, unless the thread never ran */
	mdbus_sub_close(a->sub);
	if (a->dirfd >= 0)
		close(a->dirfd);
	if (a->notefd >= 0)
		close(a->notefd);
	free(a->buf);
	free(a);
}

/* Where to start reading: after the files' last record, or what the
 * segment says when it is further (its archive counted the rest lost),
 * or, with no file yet, at the oldest message in the ring. A consumer
 * table full of live readers (registered while no publisher ran, or
 * forged by anyone who may write the table), or one whose header such a
 * writer spoils (refused until our heartbeat mends it), does not stop
 * the channel:
 * the archive then reads anonymously, holding no lossless publisher
 * back (what it misses is counted lost), and tries for an entry every
 * ARCHIVE_REGISTER_NS (try_register()). */
static int open_reader(struct archive *a, char *err, size_t errlen)
{
	uint64_t next, lost, end = 0, from;
	int have = files_end(a, a->epoch, &end), r;
	enum mdbus_start start;

	if (have < 0) {
		snprintf(err, errlen, "archive %s: %s", a->c->archive,
			 strerror(-have));
		return have;
	}
	mdbus_pub_archive_get(a->pub, &next, &lost);
	start = have || next ? MDBUS_START_SEQ : MDBUS_START_OLDEST;
	from = end > next ? end : next;
	r = open_sub(a, start, from, 0, &a->sub);
	/* a table full of live readers, or its header spoiled (until the
	 * publisher's next heartbeat mends it) */
	if (r == MDBUS_EFULL || r == MDBUS_ECORRUPT)
		r = open_anonymous(a, start, from, &a->sub);
	if (r < 0) {
		snprintf(err, errlen, "archive: reading the channel: %s",
			 mdbus_last_error()[0] ? mdbus_last_error() : mdbus_strerror(r));
		return r;
	}
	a->next = mdbus_sub_position(a->sub);
	a->lost = lost + (start == MDBUS_START_OLDEST ? a->next : 0);
	progress(a);
	log_msg(LOG_NOTICE, "channel %s: archive %s from sequence %llu",
		a->c->name, a->c->archive, (unsigned long long)a->next);
	return 0;
}

static void rec_info(struct archive *a)
{
	const struct chan_conf *c = a->c;

	memset(&a->info, 0, sizeof a->info);
	snprintf(a->info.channel, sizeof a->info.channel, "%s", c->name);
	a->info.msg_version = MDBUS_MSG_VERSION;
	a->info.slot_size = (uint32_t)c->slot_size;
	a->info.slots_per_block = (uint32_t)c->slots_per_block;
	a->info.block_count = (uint32_t)c->block_count;
	a->info.mode = c->mode ? MDBUS_MODE_LOSSLESS : MDBUS_MODE_OVERWRITE;
}

/* Everything but the thread. */
static int archive_open(struct archive *a, char *err, size_t errlen)
{
	int r;

	a->buf_len = mdbus_pub_payload_max(a->pub);
	a->buf = malloc(a->buf_len);
	if (!a->buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->dirfd = open_dir(a->c, err, errlen);
	if (a->dirfd < 0)
		return a->dirfd;
	r = open_note(a, err, errlen);
	if (r < 0)
		return r;
	/* the handle's, not mdbus_channel_stats()'s: no second look by name */
	a->epoch = mdbus_pub_epoch(a->pub);
	rec_info(a);
	return open_reader(a, err, errlen);
}

int archive_start(struct archive **out, const struct chan_conf *c,
		  mdbus_pub_t *pub, char *err, size_t errlen)
{
	struct archive *a = calloc(1, sizeof *a);
	int r;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->c = c;
	a->pub = pub;
	a->fd = a->dirfd = a->notefd = -1;
	a->mode = file_mode_of(c);
	a->gid = group_of(c);
	a->flush_ns = (uint64_t)(c->archive_flush_s * 1e9);
	a->flush_msgs = c->slots_per_block * c->block_count / 4;
	(void)parse_rotate(c->archive_rotate, &a->rotate_sec);
	log_limit_init(&a->lost_limit, 5, LOG_ERR, "channel %s: ARCHIVE LOST",
		       c->name);
	log_limit_init(&a->err_limit, 5, LOG_ERR, "channel %s: archive errors",
		       c->name);
	log_limit_init(&a->rejoin_limit, 5, LOG_WARNING, "channel %s: archive "
		       "consumer entry", c->name);
	r = archive_open(a, err, errlen);
	if (r == 0) {
		r = thread_start(&a->thread, archive_thread, a);
		if (r)
			snprintf(err, errlen, "pthread_create: %s", strerror(-r));
	}
	if (r < 0) {
		archive_free(a);
		return r;
	}
	*out = a;
	return 0;
}

void archive_stop(struct archive *a, uint64_t *lost)
{
	atomic_store_explicit(&a->stop_at, mdbus_pub_position(a->pub),
			      memory_order_relaxed);
	/* Release: stop_at is seen with it (idle()). */
	atomic_store_explicit(&a->stop, 1, memory_order_release);
	pthread_join(a->thread, NULL);
	archive_log_stats(a);
	*lost = atomic_load_explicit(&a->lost_here, memory_order_relaxed);
	archive_free(a);
}

void archive_log_stats(const struct archive *a)
{
	log_msg(LOG_NOTICE, "channel %s: archive %s: written %llu files %llu "
		"lost %llu errors %llu", a->c->name, a->c->archive,
		(unsigned long long)atomic_load_explicit(&a->written, memory_order_relaxed),
		(unsigned long long)atomic_load_explicit(&a->files, memory_order_relaxed),
		(unsigned long long)atomic_load_explicit(&a->lost_here, memory_order_relaxed),
		(unsigned long long)atomic_load_explicit(&a->errors, memory_order_relaxed));
}
