/*
 * fuzz_rec_read.c - libFuzzer harness for lib/rec_read.c: the input is a
 * recording file (mdpub's replay source, mdsub --info/--verify and
 * --replay read them; any user may hand one over), opened with
 * mdbus_rec_open() from a memfd and read to its end, then rewound and
 * read again. Invariants (doc/protocol.md, "Recording format"): the
 * header is taken only with the magic, major version 1, a header_size
 * of 120..4096 inside the file and a terminated channel name; every
 * record read lies inside the file, after the header, with at most 2^20
 * payload bytes, its payload the file's bytes; lost counts the numbers
 * skipped since the record before; the reading ends with -ENODATA
 * exactly at the end of the file, MDBUS_ETRUNCATED inside a record, or
 * MDBUS_ECORRUPT at a record claiming more than 2^20 bytes; a second
 * pass reads the same.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdbus.h"
#include "mdbus_rec.h"

#define PAYLOAD_MAX (1u << 20)

static unsigned char *buf;

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* Reads r to its end; returns the number of records. */
static uint64_t pass(mdbus_rec_reader_t *r, const unsigned char *data,
		     size_t size, uint64_t hsize)
{
	uint64_t off = hsize, n = 0, prev = 0;
	struct mdbus_msg m;
	int rc;

	while ((rc = mdbus_rec_read(r, buf, PAYLOAD_MAX, &m)) == 0) {
		const unsigned char *h = data + off;

		assert(off + 24 + m.size <= size);
		assert(m.size == le(h, 4) && m.size <= PAYLOAD_MAX);
		assert(m.type == le(h + 4, 2) && m.seq == le(h + 8, 8) &&
		       m.ts_ns == le(h + 16, 8));
		assert(!m.size || memcmp(buf, h + 24, m.size) == 0);
		assert(m.lost == (n && m.seq > prev ? m.seq - prev - 1 : 0));
		prev = m.seq;
		off += 24 + m.size;
		assert(mdbus_rec_offset(r) == off);
		n++;
	}
	assert(mdbus_rec_offset(r) == off);
	if (rc == -ENODATA)
		assert(off == size);
	else if (rc == MDBUS_ETRUNCATED)
		assert(off < size && (size - off < 24 ||
				      off + 24 + le(data + off, 4) > size));
	else
		assert(rc == MDBUS_ECORRUPT && size - off >= 24 &&
		       le(data + off, 4) > PAYLOAD_MAX);
	return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mdbus_rec_info info;
	mdbus_rec_reader_t *r;
	char path[64];
	uint64_t hsize, n;
	int fd, rc;

	if (!buf)
		buf = malloc(PAYLOAD_MAX);
	fd = memfd_create("rec", MFD_CLOEXEC);
	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	rc = mdbus_rec_open(&r, path, &info);
	close(fd);
	if (rc < 0)
		return 0;
	assert(size >= 120 && memcmp(data, "MDBUSREC", 8) == 0);
	hsize = le(data + 112, 4);
	assert(le(data + 8, 4) >> 16 == 1);
	assert(hsize >= 120 && hsize <= 4096 && hsize <= size);
	assert(memchr(data + 16, '\0', 72));
	assert(strlen(info.channel) < sizeof info.channel);
	n = pass(r, data, size, hsize);
	assert(mdbus_rec_rewind(r) == 0);
	assert(pass(r, data, size, hsize) == n);
	mdbus_rec_close(r);
	return 0;
}
