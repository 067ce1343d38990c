/*
 * pub_archive.c - the publisher's part of the archive fields of the
 * segment header (doc/protocol.md, "Archive"): it announces where the
 * archive is, and the archive reports how far it got. The reader's part
 * is sub_replay.c.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int pub_archive_check(const char *dir)
{
	if (!dir)
		return 0;
	if (dir[0] != '/')
		return err_set(-EINVAL, "archive directory '%s' is not an "
			       "absolute path", dir);
	if (strlen(dir) >= SEG_ARCHIVE_DIR_MAX)
		return err_set(-EINVAL, "archive directory path longer than "
			       "%u bytes", SEG_ARCHIVE_DIR_MAX - 1);
	return 0;
}

/* Rewrites state and path under the seqlock archive_gen: the odd value
 * first (relaxed, then a release fence so that no store below is seen
 * before it), the words, then the even value with a release store; a
 * reader (archive_dir_read()) pairs with both. */
void pub_archive_announce(struct seg_header *h, const char *dir)
{
	uint64_t gen = atomic_load_explicit(&h->archive_gen, memory_order_relaxed);
	char path[SEG_ARCHIVE_DIR_MAX];
	uint64_t w;

	memset(path, 0, sizeof path);
	if (dir)
		memcpy(path, dir, strlen(dir));
	gen |= 1;
	atomic_store_explicit(&h->archive_gen, gen, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->archive_state,
			      dir ? SEG_ARCHIVE_ON : SEG_ARCHIVE_NONE,
			      memory_order_relaxed);
	for (size_t i = 0; i < SEG_ARCHIVE_DIR_MAX / 8; i++) {
		memcpy(&w, path + i * 8, 8);
		atomic_store_explicit(&h->archive_dir[i], w, memory_order_relaxed);
	}
	atomic_store_explicit(&h->archive_gen, gen + 1, memory_order_release);
}

void pub_archive_progress(struct seg_header *h, uint64_t next, uint64_t lost)
{
	/* Relaxed: ordered before archive_next by its release store. */
	atomic_store_explicit(&h->archive_lost, lost, memory_order_relaxed);
	/* Release: the files' writes and the loss count happen before;
	 * pairs with the reader's acquire load (sub_replay.c). */
	atomic_store_explicit(&h->archive_next, next, memory_order_release);
}

void pub_archive_get(const struct seg_header *h, uint64_t *next,
		     uint64_t *lost)
{
	/* Acquire pairs with the release store in pub_archive_progress(). */
	*next = atomic_load_explicit(&h->archive_next, memory_order_acquire);
	*lost = atomic_load_explicit(&h->archive_lost, memory_order_relaxed);
}
