/*
 * archive.h - a channel's archive: a thread of mdpub that reads the
 * channel's ring as a registered reader and writes every message, in
 * order, to recording files in the channel's archive directory, rotated
 * by size and at a time of day (doc/protocol.md, "Archive"; mdpub.conf(5)).
 * It reports how far the files go in the segment header, for readers
 * that replay them (mdbus_pub_archive_progress()).
 */
#ifndef MDPUB_ARCHIVE_H
#define MDPUB_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mdbus.h"

struct archive;

/* Checks the archive keys of channel c (set or not): 0, or -1 with the
 * reason in err. */
int archive_conf_check(const struct chan_conf *c, char *err, size_t errlen);

/* What archive_start() checks of the directory, before anything is
 * made (see there). Returns 0 or a negative code with the reason in err. */
int archive_check_dir(const struct chan_conf *c, char *err, size_t errlen);

/* Opens c->archive (made 0750 when missing; refused when it is a
 * symbolic link, not ours, or writable by group or others), finds where
 * its files end and starts the thread, reading pub's channel from there.
 * Returns 0 and sets *out, or a negative code with the reason in err. */
int archive_start(struct archive **out, const struct chan_conf *c,
		  mdbus_pub_t *pub, char *err, size_t errlen);

/* Once nothing more is published: archives everything up to pub's
 * position, flushes, ends the thread and frees; *lost gets the messages
 * the archive lost in this run. */
void archive_stop(struct archive *a, uint64_t *lost);

/* What the archive last told readers: the files hold every message
 * below *next; *lost messages were lost in this run. Any thread. */
void archive_counts(const struct archive *a, uint64_t *next, uint64_t *lost);

/* Logs the archive's counters at LOG_NOTICE. */
void archive_log_stats(const struct archive *a);

#endif /* MDPUB_ARCHIVE_H */
