/*
 * segment.c - the shared segment: naming, geometry, creation, validation,
 * mapping (DESIGN.md sections 3 and 5).
 *
 * Creation: O_EXCL, explicit mode and group, free space checked, memory
 * reserved (posix_fallocate) and pre-faulted (MAP_POPULATE), identity
 * written, magic release-stored last. Ownership: the publisher holds an
 * exclusive flock() on the segment for its lifetime; the kernel drops it
 * when the process dies, however it dies, so a dead publisher's segment is
 * resumed by the next one without cleanup and a live one is never doubled.
 * Attach: the geometry is validated against the object's real size and
 * copied once; nothing read later from shared memory is trusted unchecked.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SHM_DIR "/dev/shm"
#define PAGE 4096u
#define READY_WAIT_MS 1000 /* how long an attacher waits for creation */

MDBUS_EXPORT int mdbus_channel_valid(const char *name)
{
	size_t i, n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > MDBUS_CHANNEL_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int check_channel(const char *channel)
{
	if (mdbus_channel_valid(channel))
		return 0;
	return err_set(MDBUS_ENAME,
		       "invalid channel name '%.80s': use [A-Za-z0-9._-]{1,64}",
		       channel ? channel : "(null)");
}

const char *seg_dir(const char *dir)
{
	if (dir && *dir)
		return dir;
	dir = getenv(MDBUS_ENV_DIR);
	return dir && *dir ? dir : NULL;
}

/* Full path of the segment file (also for shm_open's /dev/shm). */
static void seg_path(char *buf, size_t len, const char *dir,
		     const char *channel)
{
	snprintf(buf, len, "%s/mdbus.%s", dir ? dir : SHM_DIR, channel);
}

static int seg_fd_open(const char *dir, const char *channel, int flags,
		       mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	if (!dir) {
		snprintf(path, sizeof(path), "/mdbus.%s", channel);
		fd = shm_open(path, flags, mode);
	} else {
		seg_path(path, sizeof(path), dir, channel);
		fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, mode);
	}
	return fd < 0 ? -errno : fd;
}

static int seg_fd_unlink(const char *dir, const char *channel)
{
	char path[PATH_MAX];
	int r;

	if (!dir) {
		snprintf(path, sizeof(path), "/mdbus.%s", channel);
		r = shm_unlink(path);
	} else {
		seg_path(path, sizeof(path), dir, channel);
		r = unlink(path);
	}
	return r < 0 ? -errno : 0;
}

MDBUS_EXPORT int mdbus_unlink(const char *channel, const char *dir)
{
	int r = check_channel(channel);

	if (r < 0)
		return r;
	r = seg_fd_unlink(seg_dir(dir), channel);
	if (r < 0)
		return err_set(r, "unlink channel %s: %s", channel,
			       strerror(-r));
	return 0;
}

/* Removes the name only if it still refers to the file open as fd, so a
 * segment someone else just made is never removed by mistake. */
static void unlink_if_same(int fd, const char *dir, const char *channel)
{
	char path[PATH_MAX];
	struct stat a, b;

	seg_path(path, sizeof(path), dir, channel);
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return;
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		seg_fd_unlink(dir, channel);
}

/* ------------------------------------------------------------- geometry */

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t round_page(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

int seg_geom_make(struct seg_geom *g, uint32_t slot_size,
		  uint32_t slots_per_block, uint32_t block_count,
		  uint32_t max_consumers, uint32_t mode)
{
	uint64_t cap;

	memset(g, 0, sizeof(*g));
	if (!is_pow2(slot_size) || slot_size < SEG_SLOT_MIN ||
	    slot_size > SEG_SLOT_MAX)
		return err_set(-EINVAL,
			       "slot size %" PRIu32 " must be a power of two in [%u, %u]",
			       slot_size, SEG_SLOT_MIN, SEG_SLOT_MAX);
	if (!is_pow2(slots_per_block) || !is_pow2(block_count))
		return err_set(-EINVAL,
			       "slots per block (%" PRIu32 ") and block count (%" PRIu32 ") must be powers of two",
			       slots_per_block, block_count);
	cap = (uint64_t)slots_per_block * block_count;
	if (cap < 2 || cap > SEG_CAPACITY_MAX)
		return err_set(-EINVAL, "capacity %" PRIu64 " out of [2, 2^32]",
			       cap);
	if (max_consumers < 1 || max_consumers > SEG_CONSUMERS_MAX)
		return err_set(-EINVAL, "max consumers %" PRIu32 " out of [1, %u]",
			       max_consumers, SEG_CONSUMERS_MAX);
	if (mode != MDBUS_MODE_OVERWRITE && mode != MDBUS_MODE_LOSSLESS)
		return err_set(-EINVAL, "unknown mode %" PRIu32, mode);
	g->slot_size = slot_size;
	g->slots_per_block = slots_per_block;
	g->block_count = block_count;
	g->max_consumers = max_consumers;
	g->mode = mode;
	g->spb_shift = (uint32_t)__builtin_ctz(slots_per_block);
	g->capacity = cap;
	g->table_off = SEG_HEADER_SIZE;
	g->blocks_off = round_page(SEG_HEADER_SIZE +
				   (uint64_t)max_consumers * sizeof(struct seg_consumer));
	g->block_stride = round_page((uint64_t)slots_per_block * slot_size);
	if (g->block_stride > SEG_TOTAL_MAX / block_count)
		return err_set(-EINVAL, "segment larger than 2^40 bytes");
	g->total_size = g->blocks_off + g->block_stride * block_count;
	if (g->total_size > SEG_TOTAL_MAX)
		return err_set(-EINVAL, "segment larger than 2^40 bytes");
	return 0;
}

/* Points m->hdr and m->table into the page-aligned mapping meta of
 * [0, blocks_off); table_off is a whole number of entries (layout.h). */
static void map_meta(struct seg_map *m, void *meta)
{
	m->hdr = meta;
	m->table = (struct seg_consumer *)meta +
		   m->g.table_off / sizeof(struct seg_consumer);
}

static int geom_same(const struct seg_geom *a, const struct seg_geom *b)
{
	return a->slot_size == b->slot_size &&
	       a->slots_per_block == b->slots_per_block &&
	       a->block_count == b->block_count &&
	       a->max_consumers == b->max_consumers && a->mode == b->mode;
}

/*
 * Reads the identity out of a mapped header and validates it against the
 * file's real size. The acquire load of magic pairs with the creator's
 * release store in header_init(): every identity field stored before it is
 * visible after it.
 */
static int geom_from_header(struct seg_geom *g, const struct seg_header *h,
			    uint64_t file_size, const char *channel)
{
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
	uint32_t maj, min;
	int r;

	if (magic != SEG_MAGIC)
		return err_set(MDBUS_EBADMAGIC,
			       "channel %s: not an mdbus segment (magic %016" PRIx64 ")",
			       channel, magic);
	maj = atomic_load_explicit(&h->version_major, memory_order_relaxed);
	min = atomic_load_explicit(&h->version_minor, memory_order_relaxed);
	if (maj != MDBUS_LAYOUT_MAJOR)
		return err_set(MDBUS_EVERSION,
			       "channel %s: segment layout version %" PRIu32 ".%" PRIu32 ", this library reads %d.x",
			       channel, maj, min, MDBUS_LAYOUT_MAJOR);
	r = seg_geom_make(g,
			  atomic_load_explicit(&h->slot_size, memory_order_relaxed),
			  atomic_load_explicit(&h->slots_per_block, memory_order_relaxed),
			  atomic_load_explicit(&h->block_count, memory_order_relaxed),
			  atomic_load_explicit(&h->max_consumers, memory_order_relaxed),
			  atomic_load_explicit(&h->mode, memory_order_relaxed));
	if (r < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", mdbus_last_error());
		return err_set(MDBUS_ECORRUPT, "channel %s: absurd geometry: %s",
			       channel, why);
	}
	if (atomic_load_explicit(&h->header_size, memory_order_relaxed) != SEG_HEADER_SIZE ||
	    atomic_load_explicit(&h->table_off, memory_order_relaxed) != g->table_off ||
	    atomic_load_explicit(&h->blocks_off, memory_order_relaxed) != g->blocks_off ||
	    atomic_load_explicit(&h->total_size, memory_order_relaxed) != g->total_size)
		return err_set(MDBUS_ECORRUPT,
			       "channel %s: header offsets disagree with its geometry",
			       channel);
	if (g->total_size > file_size)
		return err_set(MDBUS_ECORRUPT,
			       "channel %s: truncated segment: needs %" PRIu64 " bytes, file has %" PRIu64,
			       channel, g->total_size, file_size);
	g->epoch = atomic_load_explicit(&h->epoch, memory_order_relaxed);
	return 0;
}

static uint64_t new_epoch(void)
{
	uint64_t e = 0;

	if (getrandom(&e, sizeof(e), GRND_NONBLOCK) != (ssize_t)sizeof(e))
		e = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
	return e ? e : 1;
}

static void header_init(struct seg_header *h, const struct seg_geom *g,
			const char *channel)
{
	uint64_t name[MDBUS_CHANNEL_MAX / 8 + 1] = {0};
	size_t i;

	memcpy(name, channel, strlen(channel));
	atomic_store_explicit(&h->version_major, MDBUS_LAYOUT_MAJOR, memory_order_relaxed);
	atomic_store_explicit(&h->version_minor, MDBUS_LAYOUT_MINOR, memory_order_relaxed);
	atomic_store_explicit(&h->slot_size, g->slot_size, memory_order_relaxed);
	atomic_store_explicit(&h->slots_per_block, g->slots_per_block, memory_order_relaxed);
	atomic_store_explicit(&h->block_count, g->block_count, memory_order_relaxed);
	atomic_store_explicit(&h->max_consumers, g->max_consumers, memory_order_relaxed);
	atomic_store_explicit(&h->mode, g->mode, memory_order_relaxed);
	atomic_store_explicit(&h->header_size, SEG_HEADER_SIZE, memory_order_relaxed);
	atomic_store_explicit(&h->table_off, g->table_off, memory_order_relaxed);
	atomic_store_explicit(&h->blocks_off, g->blocks_off, memory_order_relaxed);
	atomic_store_explicit(&h->total_size, g->total_size, memory_order_relaxed);
	atomic_store_explicit(&h->create_ns, clock_realtime_ns(), memory_order_relaxed);
	atomic_store_explicit(&h->epoch, g->epoch, memory_order_relaxed);
	for (i = 0; i < sizeof(name) / 8; i++)
		atomic_store_explicit(&h->channel[i], name[i], memory_order_relaxed);
	/* Last: pairs with the acquire load in geom_from_header(). */
	atomic_store_explicit(&h->magic, SEG_MAGIC, memory_order_release);
}

/* ---------------------------------------------------- lock across fork */

/*
 * The owner lock is a flock() on the publisher's open file description,
 * which fork() shares with the child: a child that outlived its publisher
 * parent would keep the channel owned. So every lock fd of this process is
 * listed, and in a child each is pointed at /dev/null (dup2 drops the
 * child's reference to the locked description; the fd number stays valid
 * for the handle's eventual close).
 */
static pthread_mutex_t locks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;
static int *lock_fds;
static size_t lock_count, lock_cap;

static void locks_prepare(void) { pthread_mutex_lock(&locks_mu); }
static void locks_parent(void) { pthread_mutex_unlock(&locks_mu); }

static void locks_child(void)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t i;

	for (i = 0; null >= 0 && i < lock_count; i++)
		dup2(null, lock_fds[i]);
	if (null >= 0)
		close(null);
	lock_count = 0;
	pthread_mutex_unlock(&locks_mu);
}

static void locks_init(void)
{
	pthread_atfork(locks_prepare, locks_parent, locks_child);
}

static int lock_track(int fd)
{
	int *v;

	pthread_once(&locks_once, locks_init);
	pthread_mutex_lock(&locks_mu);
	if (lock_count == lock_cap) {
		v = realloc(lock_fds, (lock_cap ? lock_cap * 2 : 8) * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&locks_mu);
			return err_set(-ENOMEM, "out of memory");
		}
		lock_fds = v;
		lock_cap = lock_cap ? lock_cap * 2 : 8;
	}
	lock_fds[lock_count++] = fd;
	pthread_mutex_unlock(&locks_mu);
	return 0;
}

static void lock_untrack(int fd)
{
	size_t i;

	pthread_mutex_lock(&locks_mu);
	for (i = 0; i < lock_count; i++) {
		if (lock_fds[i] == fd) {
			lock_fds[i] = lock_fds[--lock_count];
			break;
		}
	}
	pthread_mutex_unlock(&locks_mu);
}

/* ------------------------------------------------------------- creation */

static int set_perms(int fd, const struct mdbus_pub_config *cfg)
{
	struct group *gr;
	char *end;
	long gid;

	if (fchmod(fd, cfg->file_mode & 0777) < 0)
		return err_set(-errno, "fchmod %o: %s", (unsigned)cfg->file_mode,
			       strerror(errno));
	if (!cfg->group || !*cfg->group)
		return 0;
	gid = strtol(cfg->group, &end, 10);
	if (*end) {
		gr = getgrnam(cfg->group);
		if (!gr)
			return err_set(-EINVAL, "unknown group '%s'", cfg->group);
		gid = gr->gr_gid;
	}
	if (fchown(fd, (uid_t)-1, (gid_t)gid) < 0)
		return err_set(-errno, "chown to group %s: %s", cfg->group,
			       strerror(errno));
	return 0;
}

static int no_space(const char *dir, const char *channel, uint64_t need,
		    uint64_t avail)
{
	return err_set(MDBUS_ENOSPACE,
		       "channel %s needs %" PRIu64 " bytes (%.1f MiB) in %s, only %" PRIu64 " bytes (%.1f MiB) free; enlarge it (e.g. docker --shm-size) or shrink the geometry",
		       channel, need, need / 1048576.0, dir ? dir : SHM_DIR,
		       avail, avail / 1048576.0);
}

/* Checks free space, then reserves every byte so that no page fault on
 * the segment can ever raise SIGBUS for want of memory. */
static int reserve(int fd, const char *dir, const char *channel,
		   uint64_t size)
{
	struct statvfs vfs;
	uint64_t avail = 0;
	int r;

	if (fstatvfs(fd, &vfs) == 0) {
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (vfs.f_blocks && avail < size)
			return no_space(dir, channel, size, avail);
	}
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r == ENOSPC || r == EFBIG)
		return no_space(dir, channel, size, avail);
	if (r == EOPNOTSUPP || r == EINVAL) /* e.g. hugetlbfs */
		r = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
	if (r)
		return err_set(-r, "reserve %" PRIu64 " bytes for channel %s: %s",
			       size, channel, strerror(r));
	return 0;
}

/*
 * Maps the whole segment read-write. The mapping is made through a second
 * open file description of the same file, because a mapping holds a
 * reference to the description it was made from and would keep the owner
 * lock alive in a forked child that inherited it (see locks_child()).
 */
static int map_rw(struct seg_map *m, int fd)
{
	char self[64];
	int mfd, e;
	void *p;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	mfd = open(self, O_RDWR | O_CLOEXEC);
	if (mfd < 0)
		return err_set(-errno, "reopen %s: %s", self, strerror(errno));
	p = mmap(NULL, m->g.total_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, mfd, 0);
	e = errno;
	close(mfd);
	if (p == MAP_FAILED)
		return err_set(-e, "mmap %" PRIu64 " bytes: %s",
			       m->g.total_size, strerror(e));
	m->meta_map = p;
	m->blk_map = NULL;
	map_meta(m, p);
	m->blocks = (_Atomic uint64_t *)p + m->g.blocks_off / sizeof(uint64_t);
	m->fd = fd;
	m->writable = 1;
	return 0;
}

static int try_create(struct seg_map *m, const char *channel,
		      const struct mdbus_pub_config *cfg, const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	int fd, r;

	fd = seg_fd_open(dir, channel, O_RDWR | O_CREAT | O_EXCL, cfg->file_mode & 0777);
	if (fd == -EEXIST)
		return -EEXIST;
	if (fd < 0)
		return err_set(fd, "create channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-fd));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return err_set(MDBUS_EOWNED, "channel %s: another publisher is creating it",
			       channel);
	}
	m->g = *want;
	m->g.epoch = new_epoch();
	r = set_perms(fd, cfg);
	if (r == 0)
		r = reserve(fd, dir, channel, want->total_size);
	if (r == 0)
		r = map_rw(m, fd);
	if (r < 0) {
		seg_fd_unlink(dir, channel);
		close(fd);
		return r;
	}
	header_init(m->hdr, &m->g, channel);
	return 0;
}

/* The error for a channel whose lock is held: names the owner's pid. */
static int owned_error(int fd, const char *channel)
{
	struct seg_header *h;
	struct stat st;
	int32_t pid = 0;

	if (fstat(fd, &st) == 0 && st.st_size >= (off_t)SEG_HEADER_SIZE) {
		h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (h != MAP_FAILED) {
			/* Pairs with the publisher's release store of its pid. */
			pid = atomic_load_explicit(&h->pub_pid, memory_order_acquire);
			munmap(h, SEG_HEADER_SIZE);
		}
	}
	return err_set(MDBUS_EOWNED, "channel %s is owned by live publisher pid %d",
		       channel, (int)pid);
}

static int geometry_error(const char *channel, const struct seg_geom *have,
			  const struct seg_geom *want)
{
	return err_set(MDBUS_EGEOMETRY,
		       "channel %s exists with slot %" PRIu32 " x %" PRIu32 " x %" PRIu32 " blocks, %" PRIu32 " consumers, %s; asked slot %" PRIu32 " x %" PRIu32 " x %" PRIu32 " blocks, %" PRIu32 " consumers, %s (replace it to change)",
		       channel, have->slot_size, have->slots_per_block,
		       have->block_count, have->max_consumers,
		       mdbus_mode_name(have->mode), want->slot_size,
		       want->slots_per_block, want->block_count,
		       want->max_consumers, mdbus_mode_name(want->mode));
}

/*
 * We hold the lock of an existing segment, so its publisher is gone.
 * Returns 0 when resumed, -EAGAIN when the old object was removed (stale
 * or replaced: create again), or an error.
 */
static int resume_locked(struct seg_map *m, int fd, const char *channel,
			 const struct mdbus_pub_config *cfg,
			 const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	struct seg_header *h;
	struct seg_geom have;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return err_set(-errno, "stat channel %s: %s", channel, strerror(errno));
	if (st.st_size < (off_t)SEG_HEADER_SIZE) {
		unlink_if_same(fd, dir, channel); /* creator died early */
		return -EAGAIN;
	}
	h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return err_set(-errno, "mmap channel %s: %s", channel, strerror(errno));
	if (atomic_load_explicit(&h->magic, memory_order_acquire) == 0) {
		munmap(h, SEG_HEADER_SIZE);
		unlink_if_same(fd, dir, channel); /* creator died mid-way */
		return -EAGAIN;
	}
	r = geom_from_header(&have, h, (uint64_t)st.st_size, channel);
	if (r == 0 && !geom_same(&have, want))
		r = geometry_error(channel, &have, want);
	if (r == 0) {
		munmap(h, SEG_HEADER_SIZE);
		m->g = have;
		return map_rw(m, fd);
	}
	if (!(cfg->flags & MDBUS_PUB_REPLACE) || r == MDBUS_EBADMAGIC) {
		munmap(h, SEG_HEADER_SIZE);
		return r;
	}
	if (r == MDBUS_EGEOMETRY) {
		/* Readers still mapped to the old segment see this and reopen;
		 * pairs with the acquire load in sub.c's state check. */
		atomic_store_explicit(&h->pub_state, SEG_PUB_REPLACED, memory_order_release);
		wait_wake_all(h);
	}
	munmap(h, SEG_HEADER_SIZE);
	unlink_if_same(fd, dir, channel);
	return -EAGAIN;
}

static int try_resume(struct seg_map *m, const char *channel,
		      const struct mdbus_pub_config *cfg, const struct seg_geom *want)
{
	const char *dir = seg_dir(cfg->dir);
	int fd, r;

	fd = seg_fd_open(dir, channel, O_RDWR, 0);
	if (fd == -ENOENT)
		return -EAGAIN;
	if (fd < 0)
		return err_set(fd, "open channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-fd));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? owned_error(fd, channel)
					 : err_set(-errno, "lock channel %s: %s",
						   channel, strerror(errno));
		close(fd);
		return r;
	}
	r = resume_locked(m, fd, channel, cfg, want);
	if (r < 0)
		close(fd);
	return r;
}

int seg_open_publisher(struct seg_map *m, const char *channel,
		       const struct mdbus_pub_config *cfg)
{
	struct seg_geom want;
	int attempt, r;

	r = check_channel(channel);
	if (r < 0)
		return r;
	r = seg_geom_make(&want, cfg->slot_size, cfg->slots_per_block,
			  cfg->block_count, cfg->max_consumers, cfg->mode);
	if (r < 0)
		return r;
	if (cfg->file_mode & S_IWOTH)
		return err_set(-EINVAL,
			       "file mode %o is writable by others; readers refuse such segments",
			       (unsigned)cfg->file_mode);
	for (attempt = 0; attempt < 8; attempt++) {
		r = try_create(m, channel, cfg, &want);
		if (r == -EEXIST)
			r = try_resume(m, channel, cfg, &want);
		if (r == -EAGAIN)
			continue;
		if (r == 0)
			r = lock_track(m->fd);
		return r;
	}
	return err_set(-EBUSY, "channel %s keeps changing while we open it", channel);
}

/* --------------------------------------------------------------- attach */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Maps the header page read-only once the segment is initialised (magic
 * set), waiting up to READY_WAIT_MS for a creator that is still at work.
 */
static int map_ready_header(int fd, const char *channel, struct stat *st,
			    struct seg_header **out)
{
	struct seg_header *h;
	int waited;

	for (waited = 0;; waited += 10) {
		if (fstat(fd, st) < 0)
			return err_set(-errno, "stat channel %s: %s", channel,
				       strerror(errno));
		if (st->st_size > 0 && st->st_size < (off_t)SEG_HEADER_SIZE)
			return err_set(MDBUS_ECORRUPT,
				       "channel %s: truncated segment (%lld bytes)",
				       channel, (long long)st->st_size);
		if (st->st_size >= (off_t)SEG_HEADER_SIZE) {
			h = mmap(NULL, SEG_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
			if (h == MAP_FAILED)
				return err_set(-errno, "mmap channel %s: %s",
					       channel, strerror(errno));
			if (atomic_load_explicit(&h->magic, memory_order_acquire)) {
				*out = h;
				return 0;
			}
			munmap(h, SEG_HEADER_SIZE);
		}
		if (waited >= READY_WAIT_MS)
			return err_set(MDBUS_ENOTREADY,
				       "channel %s: segment not initialised after %d ms",
				       channel, READY_WAIT_MS);
		sleep_ms(10);
	}
}

static int check_owner(const struct stat *st, const char *channel)
{
	if (!S_ISREG(st->st_mode))
		return err_set(MDBUS_ECORRUPT, "channel %s: not a regular file",
			       channel);
	if (st->st_mode & S_IWOTH)
		return err_set(-EPERM,
			       "channel %s: refusing a world-writable segment (mode %o)",
			       channel, (unsigned)(st->st_mode & 07777));
	return 0;
}

static int map_reader(struct seg_map *m, int fd, int writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *meta, *blk;

	meta = mmap(NULL, m->g.blocks_off, prot, MAP_SHARED, fd, 0);
	if (meta == MAP_FAILED)
		return err_set(-errno, "mmap header: %s", strerror(errno));
	blk = mmap(NULL, m->g.total_size - m->g.blocks_off, PROT_READ,
		   MAP_SHARED, fd, (off_t)m->g.blocks_off);
	if (blk == MAP_FAILED) {
		int e = errno;

		munmap(meta, m->g.blocks_off);
		return err_set(-e, "mmap blocks: %s", strerror(e));
	}
	m->meta_map = meta;
	m->blk_map = blk;
	map_meta(m, meta);
	m->blocks = blk;
	m->writable = writable;
	m->fd = -1;
	return 0;
}

int seg_attach(struct seg_map *m, const char *channel, const char *dir,
	       int flags)
{
	int writable = !(flags & SEG_ATTACH_RDONLY);
	struct seg_header *h = NULL;
	struct stat st;
	int fd, r;

	r = check_channel(channel);
	if (r < 0)
		return r;
	dir = seg_dir(dir);
	fd = seg_fd_open(dir, channel, writable ? O_RDWR : O_RDONLY, 0);
	if (fd == -EACCES && writable) {
		writable = 0;
		fd = seg_fd_open(dir, channel, O_RDONLY, 0);
	}
	if (fd < 0)
		return err_set(fd, "channel %s in %s: %s", channel,
			       dir ? dir : SHM_DIR, strerror(-fd));
	r = map_ready_header(fd, channel, &st, &h);
	if (r == 0) {
		r = check_owner(&st, channel);
		if (r == 0)
			r = geom_from_header(&m->g, h, (uint64_t)st.st_size, channel);
		munmap(h, SEG_HEADER_SIZE);
	}
	if (r == 0)
		r = map_reader(m, fd, writable);
	close(fd);
	return r;
}

void seg_unmap(struct seg_map *m)
{
	if (m->blk_map)
		munmap(m->blk_map, m->g.total_size - m->g.blocks_off);
	if (m->meta_map)
		munmap(m->meta_map, m->blk_map ? m->g.blocks_off : m->g.total_size);
	if (m->fd >= 0) {
		lock_untrack(m->fd);
		close(m->fd); /* drops the publisher's lock */
	}
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}
