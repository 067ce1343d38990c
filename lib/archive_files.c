/*
 * archive_files.c - the names of a channel's archive files and finding
 * the one a sequence number or a time is in (doc/protocol.md, "Archive
 * files"). Used by readers (sub_replay.c) and by mdpub's archive, which
 * builds this file into itself.
 *
 *   CHANNEL.EPOCH.SEQ.YYYYMMDDTHHMMSS.NNNNNNNNNZ.rec
 *
 * EPOCH the segment's in 16 lower-case hex digits, SEQ the file's first
 * sequence number in 20 decimal digits, then its first message's
 * timestamp in UTC with nanoseconds: names sort by sequence, and a
 * sequence or a time maps to a file from the names alone.
 */
#define _GNU_SOURCE /* timegm() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define TAIL_LEN 68 /* ".EPOCH.SEQ.TIME.rec" less its first dot */

int arch_name(char *out, size_t len, const char *channel, uint64_t epoch,
	      uint64_t seq, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	int n;

	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999)
		return -ERANGE;
	n = snprintf(out, len, "%s.%016llx.%020llu.%04d%02d%02dT%02d%02d%02d."
		     "%09lluZ.rec", channel, (unsigned long long)epoch,
		     (unsigned long long)seq, tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (unsigned long long)(ns % 1000000000u));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* n decimal digits at s into *v; -1 on anything else. */
static int digits(const char *s, int n, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* YYYYMMDDTHHMMSS.NNNNNNNNNZ into ns since the epoch. */
static int parse_time(const char *s, uint64_t *ns)
{
	uint64_t y, mo, d, h, mi, se, frac;
	struct tm tm;
	time_t t;

	if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
	    s[8] != 'T' || digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) ||
	    digits(s + 13, 2, &se) || s[15] != '.' || digits(s + 16, 9, &frac) ||
	    s[25] != 'Z')
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)mo - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)se;
	t = timegm(&tm);
	if (t < 0)
		return -1;
	*ns = (uint64_t)t * 1000000000u + frac;
	return 0;
}

int arch_parse(const char *name, const char *channel, uint64_t epoch,
	       struct arch_file *f)
{
	size_t cl = strlen(channel);
	char want[18];
	const char *t;

	if (strlen(name) != cl + 1 + TAIL_LEN || strncmp(name, channel, cl) ||
	    name[cl] != '.')
		return -1;
	t = name + cl + 1;
	snprintf(want, sizeof want, "%016llx.", (unsigned long long)epoch);
	if (strncmp(t, want, 17) || digits(t + 17, 20, &f->first_seq) ||
	    t[37] != '.' || parse_time(t + 38, &f->first_ns) ||
	    strcmp(t + 64, ".rec"))
		return -1;
	memcpy(f->name, name, strlen(name) + 1);
	return 0;
}

/* Whether candidate c is a better pick than the best so far (have). */
static int better(enum arch_pick how, uint64_t key, const struct arch_file *c,
		  const struct arch_file *best, int have)
{
	switch (how) {
	case ARCH_AFTER:
		return c->first_seq > key && (!have || c->first_seq < best->first_seq);
	case ARCH_BY_TIME:
		if (!have)
			return 1;
		if (c->first_ns < key)
			return best->first_ns >= key || c->first_seq > best->first_seq;
		return best->first_ns >= key && c->first_seq < best->first_seq;
	default:
		if (!have)
			return 1;
		if (c->first_seq <= key)
			return best->first_seq > key || c->first_seq > best->first_seq;
		return best->first_seq > key && c->first_seq < best->first_seq;
	}
}

int arch_find(int dirfd, const char *channel, uint64_t epoch,
	      enum arch_pick how, uint64_t key, struct arch_file *f)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0), have = 0;
	struct arch_file c;
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((e = readdir(d)))
		if (arch_parse(e->d_name, channel, epoch, &c) == 0 &&
		    better(how, key, &c, f, have)) {
			*f = c;
			have = 1;
		}
	closedir(d);
	return have ? 0 : -ENOENT;
}

int arch_open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd >= 0)
		return fd;
	if ((errno == ENOTDIR || errno == ELOOP) && lstat(path, &st) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -errno;
}

int arch_open_read(int dirfd, const char *name, uid_t owner)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if (st.st_uid != owner || st.st_nlink != 1)
		err = -EPERM;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
