/*
 * fuzz_mdsub_csv.c - libFuzzer harness for the round trip mdpub.conf(5)
 * promises between `mdsub -o csv` (clients/print.c) and the lines
 * source's reader of it (daemons/lines_mdsub.c): "a line of its 28
 * fields ... publishes the message it shows". Input: u16 type, then the
 * payload. The message is printed as CSV, read back, and printed again:
 * both lines must be the same. Allowed (mdpub.conf(5), "CSV columns"):
 * a line over 4096 bytes refused, a typed message longer than its
 * structure (the size column differs) and a book level whose action
 * mdsub prints as unknown refused.
 */
#include "config.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines_parse.h"
#include "mdsub.h"

static char *print(uint16_t type, const void *payload, size_t size)
{
	struct mdbus_msg m = {0};
	struct delivery d = {.channel = "chan", .msg = &m, .payload = payload};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert(f);
	m.type = type;
	m.size = (uint32_t)size;
	m.seq = 5;
	m.ts_ns = 1700000000000000000ull;
	print_msg(f, OUT_CSV, 0, &d);
	fclose(f);
	assert(len && buf[len - 1] == '\n');
	buf[len - 1] = '\0';
	return buf;
}

/* A message mdpub.conf(5) lets the reader refuse: a typed one longer
 * than its structure (its size column differs), a book level whose
 * action mdsub prints as unknown. */
static int may_refuse(uint16_t type, const unsigned char *p, size_t size)
{
	size_t min = mdbus_msg_min_size(type);

	return (min && size > min) ||
	       (type == MDBUS_MSG_BOOK_LEVEL && size >= min &&
		p[offsetof(struct mdbus_book_level, action)] > MDBUS_BOOK_DELETE);
}

/* Prints the message, reads it back and prints that again. */
static void round_trip(uint16_t type, const unsigned char *p, size_t size)
{
	static struct line_msg m;
	const char *why = NULL;
	char *first = print(type, p, size), *line, *again;
	int rc;

	line = strdup(first);
	assert(line && lines_mdsub_row(line));
	rc = lines_parse_csv(line, 7, &m, &why);
	free(line);
	if (strlen(first) > 4096 || (rc == LINE_BAD && may_refuse(type, p, size))) {
		free(first);
		return;
	}
	if (rc != LINE_OK) {
		fprintf(stderr, "refused (%s): %s\n", why, first);
		abort();
	}
	again = print(m.type, m.u.bytes, m.size);
	if (strcmp(first, again) != 0) {
		fprintf(stderr, "printed: %s\nread back and printed: %s\n",
			first, again);
		abort();
	}
	free(first);
	free(again);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	uint16_t type;

	if (size < 2 || size - 2 > LINE_PAYLOAD_MAX)
		return 0;
	type = (uint16_t)(data[0] | data[1] << 8);
	if (data[0] & 0x80) /* mostly the known types */
		type = data[1] % 8;
	round_trip(type, data + 2, size - 2);
	return 0;
}
