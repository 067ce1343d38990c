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
 * sequence or a time maps to a file from the names alone. A reader lists
 * the directory once, and picks files from the sorted list.
 */
#define _GNU_SOURCE /* timegm() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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
	if (t < 0 || (uint64_t)t > (UINT64_MAX - frac) / 1000000000u)
		return -1;
	*ns = (uint64_t)t * 1000000000u + frac;
	return 0;
}

/* Only the name arch_name() writes for the sequence and time read is
 * taken: timegm() takes a 13th month, a 30 February or 60 seconds as the
 * time they spill into, and 20 digits may wrap past 2^64 - 1, and each
 * was a second name of another file (fuzz_archive_names). */
int arch_parse(const char *name, const char *channel, uint64_t epoch,
	       struct arch_file *f)
{
	size_t cl = strlen(channel);
	char want[18], again[ARCH_NAME_MAX];
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
	if (arch_name(again, sizeof again, channel, epoch, f->first_seq,
		      f->first_ns) || strcmp(again, name))
		return -1;
	memcpy(f->name, name, strlen(name) + 1);
	return 0;
}

static int by_seq(const void *x, const void *y)
{
	const struct arch_file *a = x, *b = y;

	if (a->first_seq != b->first_seq)
		return a->first_seq < b->first_seq ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Appends c to the list *v of *n (room for *cap). */
static int append(struct arch_file **v, size_t *n, size_t *cap,
		  const struct arch_file *c)
{
	if (*n == *cap) {
		size_t more = *cap ? *cap * 2 : 64;
		struct arch_file *w = realloc(*v, more * sizeof *w);

		if (!w)
			return -ENOMEM;
		*v = w;
		*cap = more;
	}
	(*v)[(*n)++] = *c;
	return 0;
}

int arch_list(int dirfd, const char *channel, uint64_t epoch,
	      struct arch_file **out, size_t *count)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0), r = 0;
	struct arch_file c, *v = NULL;
	size_t n = 0, cap = 0;
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
	while (r == 0 && (e = readdir(d)))
		if (arch_parse(e->d_name, channel, epoch, &c) == 0)
			r = append(&v, &n, &cap, &c);
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof *v, by_seq);
	*out = v;
	*count = n;
	return 0;
}

/* The number of files in v (sorted) whose first_seq is at most key. */
static size_t upto(const struct arch_file *v, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].first_seq <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long arch_pick(const struct arch_file *v, size_t n, enum arch_pick how,
	       uint64_t key)
{
	size_t i = upto(v, n, key);

	if (!n)
		return -1;
	switch (how) {
	case ARCH_AFTER:
		return i < n ? (long)i : -1;
	case ARCH_BY_TIME:
		/* the last begun before key (timestamps may go back: every
		 * name is looked at, in memory) */
		for (i = n; i-- > 0;)
			if (v[i].first_ns < key)
				return (long)i;
		return 0;
	default:
		return i ? (long)(i - 1) : 0;
	}
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

