/*
 * recinfo.c - --info and --verify FILE...: one pass over a recording
 * (mdbus_rec.h; format: doc/protocol.md, "Recording format") counting its
 * records, sequence and time ranges, gaps, sequence numbers going back,
 * malformed messages and how it ends. A recording is hostile input: the
 * library refuses what is not a regular file and bounds every size, and
 * the scan holds one record (at most 1 MiB) at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error_text.h"
#include "mdbus_rec.h"
#include "mdsub.h"

/* --verify's exit status: the lowest that applies (mdsub(1)). */
enum verdict {
	V_INTACT = 0, V_UNREADABLE = 1, V_NOT_REC = 2, V_CORRUPT = 3,
	V_CUT = 4, V_BACKWARDS = 5, V_GAPS = 6, V_MALFORMED = 7,
};

struct scan {
	struct mdbus_rec_info info;
	uint64_t records, payload, file_size;
	uint64_t first_seq, last_seq, first_ts, last_ts;
	uint64_t gaps, lost, backwards, ts_backwards, malformed;
	uint64_t end_off;  /* offset of the record the file ends in */
	uint32_t end_size; /* MDBUS_ECORRUPT: the payload bytes it claims */
	int end;           /* -ENODATA whole, MDBUS_ETRUNCATED, MDBUS_ECORRUPT,
			      or a read error */
};

/* A typed message shorter than its structure, or a snapshot whose levels
 * do not fit (mdbus_msg.h). */
static int malformed(const void *buf, const struct mdbus_msg *m)
{
	if (m->size < mdbus_msg_min_size(m->type))
		return 1;
	return m->type == MDBUS_MSG_BOOK_SNAPSHOT &&
	       !mdbus_msg_as_book_snapshot(buf, m);
}

static void count(struct scan *s, const void *buf, const struct mdbus_msg *m)
{
	if (!s->records) {
		s->first_seq = m->seq;
		s->first_ts = m->ts_ns;
	} else {
		s->gaps += m->lost > 0;
		count_add(&s->lost, m->lost);
		s->backwards += m->seq <= s->last_seq;
		s->ts_backwards += m->ts_ns < s->last_ts;
	}
	s->malformed += malformed(buf, m);
	s->last_seq = m->seq;
	s->last_ts = m->ts_ns;
	s->records++;
	s->payload += m->size;
}

/* Reads every record of r. Returns 0 (the end in s->end) or -ENOMEM. */
static int scan_records(mdbus_rec_reader_t *r, struct scan *s)
{
	void *buf = malloc(MDBUS_REC_PAYLOAD_MAX);
	struct mdbus_msg m;
	int err;

	if (!buf)
		return -ENOMEM;
	while ((err = mdbus_rec_read(r, buf, MDBUS_REC_PAYLOAD_MAX, &m)) == 0)
		count(s, buf, &m);
	s->end = err;
	s->end_off = mdbus_rec_offset(r);
	s->end_size = err == MDBUS_ECORRUPT ? m.size : 0;
	free(buf);
	return 0;
}

/* Scans path. Returns 0, or the open error (its text in
 * mdbus_last_error()). */
static int scan(const char *path, struct scan *s)
{
	mdbus_rec_reader_t *r;
	struct stat st;
	int err;

	memset(s, 0, sizeof *s);
	err = mdbus_rec_open(&r, path, &s->info);
	if (err)
		return err;
	if (stat(path, &st) == 0)
		s->file_size = (uint64_t)st.st_size;
	err = scan_records(r, s);
	mdbus_rec_close(r);
	return err;
}

static enum verdict verdict_of(const struct scan *s)
{
	if (s->end == MDBUS_ECORRUPT)
		return V_CORRUPT;
	if (s->end != -ENODATA && s->end != MDBUS_ETRUNCATED)
		return V_UNREADABLE;
	if (s->end == MDBUS_ETRUNCATED)
		return V_CUT;
	if (s->backwards)
		return V_BACKWARDS;
	if (s->gaps)
		return V_GAPS;
	return s->malformed ? V_MALFORMED : V_INTACT;
}

static enum verdict open_verdict(int err)
{
	switch (err) {
	case MDBUS_EBADMAGIC: case MDBUS_EVERSION: case MDBUS_ECORRUPT:
	case MDBUS_ETRUNCATED:
		return V_NOT_REC;
	default:
		return V_UNREADABLE;
	}
}

/* "2023-11-14T22:13:20.000001000Z" */
static void iso_time(char *buf, size_t len, uint64_t ns)
{
	time_t sec = (time_t)(ns / NS_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, len, "%" PRIu64 " ns", ns);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ns % NS_PER_SEC));
}

void rec_corrupt_text(char *buf, size_t len, const char *path,
		      uint64_t off, uint32_t size)
{
	snprintf(buf, len, "the record at offset %" PRIu64 " claims %" PRIu32
		 " payload bytes, more than the %u (1 MiB) a record holds: "
		 "the file is corrupt from there on; every record before it "
		 "is whole, and `head -c %" PRIu64 " %s > FIXED.rec` keeps "
		 "them", off, size, MDBUS_REC_PAYLOAD_MAX, off, path);
}

/* How the file ends, one phrase. */
static void tail_text(char *buf, size_t len, const char *path,
		      const struct scan *s)
{
	if (s->end == -ENODATA)
		snprintf(buf, len, "whole");
	else if (s->end == MDBUS_ETRUNCATED)
		snprintf(buf, len, "cut: %" PRIu64 " bytes of a record at "
			 "offset %" PRIu64 " (every record before it whole)",
			 s->file_size - s->end_off, s->end_off);
	else if (s->end == MDBUS_ECORRUPT) {
		size_t n;

		rec_corrupt_text(buf, len, path, s->end_off, s->end_size);
		n = strlen(buf);
		snprintf(buf + n, len - n, " (%" PRIu64 " bytes not read)",
			 s->file_size - s->end_off);
	}
	else
		snprintf(buf, len, "read error at offset %" PRIu64 ": %s",
			 s->end_off, mdbus_strerror(s->end));
}

static void print_ranges(const struct scan *s)
{
	char a[64], b[64];

	if (!s->records) {
		puts("  sequence:   -\n  time:       -");
		return;
	}
	printf("  sequence:   %" PRIu64 " .. %" PRIu64 ", %" PRIu64 " gaps (%"
	       PRIu64 " messages lost), %" PRIu64 " going back\n",
	       s->first_seq, s->last_seq, s->gaps, s->lost, s->backwards);
	iso_time(a, sizeof a, s->first_ts);
	iso_time(b, sizeof b, s->last_ts);
	printf("  time:       %s .. %s (%.9f s), %" PRIu64 " going back\n", a, b,
	       s->last_ts >= s->first_ts ?
	       (double)(s->last_ts - s->first_ts) / 1e9 : 0.0, s->ts_backwards);
}

static void print_info(const char *path, const struct scan *s)
{
	const struct mdbus_rec_info *i = &s->info;
	char t[64], tail[PATH_MAX + 512];

	put_str(stdout, STR_TEXT, path, SIZE_MAX);
	printf(":\n  format:     %u.%u, message types version %u\n  channel:    ",
	       i->format_major, i->format_minor, i->msg_version);
	put_str(stdout, STR_TEXT, i->channel, sizeof i->channel);
	printf(", slot %u B x %u x %u blocks, %s\n", i->slot_size,
	       i->slots_per_block, i->block_count, mdbus_mode_name(i->mode));
	iso_time(t, sizeof t, i->create_ns);
	printf("  created:    %s\n  records:    %" PRIu64 ", %" PRIu64
	       " payload bytes, %" PRIu64 " bytes in the file, %" PRIu64
	       " malformed\n", t, s->records, s->payload, s->file_size,
	       s->malformed);
	print_ranges(s);
	tail_text(tail, sizeof tail, path, s);
	fputs("  tail:       ", stdout);
	put_str(stdout, STR_TEXT, tail, sizeof tail);
	putchar('\n');
}

static const char *const verdict_text[] = {
	[V_INTACT] = "intact", [V_UNREADABLE] = "unreadable",
	[V_NOT_REC] = "not a recording", [V_CORRUPT] = "corrupt record",
	[V_CUT] = "cut", [V_BACKWARDS] = "sequence goes back",
	[V_GAPS] = "gaps", [V_MALFORMED] = "malformed messages",
};

static void print_verdict(const char *path, const struct scan *s,
			  enum verdict v)
{
	char tail[PATH_MAX + 512];

	put_str(stdout, STR_TEXT, path, SIZE_MAX);
	printf(": %s: %" PRIu64 " records", verdict_text[v], s->records);
	if (s->records)
		printf(", seq %" PRIu64 " .. %" PRIu64, s->first_seq, s->last_seq);
	printf(", %" PRIu64 " gaps (%" PRIu64 " lost), %" PRIu64 " going "
	       "back, %" PRIu64 " malformed", s->gaps, s->lost, s->backwards,
	       s->malformed);
	tail_text(tail, sizeof tail, path, s);
	fputs(", tail ", stdout);
	put_str(stdout, STR_TEXT, tail, sizeof tail);
	putchar('\n');
}

/* One file: its report, and its verdict. */
static enum verdict one(const char *path, int verify)
{
	struct scan s;
	int err = scan(path, &s);

	if (err) {
		fputs("mdsub: ", stderr);
		put_str(stderr, STR_TEXT, err == -ENOMEM ? "out of memory" :
			mdbus_error_text(err), SIZE_MAX);
		putc('\n', stderr);
		return err == -ENOMEM ? V_UNREADABLE : open_verdict(err);
	}
	if (verify)
		print_verdict(path, &s, verdict_of(&s));
	else
		print_info(path, &s);
	return verdict_of(&s);
}

int recinfo_run(const struct mdsub_opts *o)
{
	int verify = o->mode == MODE_VERIFY, worst = -1, failed = 0;

	for (int i = 0; i < o->nchannels; i++) {
		enum verdict v = one(o->channels[i], verify);

		if (v != V_INTACT && (worst < 0 || (int)v < worst))
			worst = (int)v;
		failed |= v == V_UNREADABLE || v == V_NOT_REC;
	}
	if (verify)
		return worst < 0 ? 0 : worst;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
