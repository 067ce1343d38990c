/*
 * fuzz_lines.c - libFuzzer harness for daemons/lines_parse.c and
 * daemons/lines_mdsub.c: one line of the `lines` source (a TCP peer or a
 * file writes it), as src_lines.c hands it over (no newline, no NUL,
 * at most 4096 bytes). The first byte picks the fixed-point reader
 * alone, a CSV line or a Binance JSON line. Invariants: a price or quantity is taken only as
 * [+-]DIGITS[.DIGITS] (or .DIGITS) with at most 8 significant decimals,
 * fitting int64 at 1e-8 (INT64_MIN too), and equals its exact value; a Q/T line's integer
 * columns (EXCH_NS, TRADE_ID) are taken only as decimal digits or empty
 * (mdpub.conf(5): "no spaces", times in nanoseconds); a JSON trade's
 * id is the "t" of the line, not another number (mdpub.conf(5): "a t
 * that is not an integer in 0..2^64-2" is malformed).
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines_parse.h"
#include "fuzz.h"

static json_tokener *tok;

/* The exact value of a decimal text at 1e-8: 0, or -1 when it is not
 * one or does not fit int64. */
static int fixed_ref(const char *s, int64_t *out)
{
	__int128 v = 0;
	int neg = 0, digits = 0, dec = -1;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s == '.' && dec < 0) {
			dec = 0;
			continue;
		}
		if (!isdigit((unsigned char)*s))
			return -1;
		digits++;
		if (dec >= 8) {
			if (*s != '0')
				return -1;
			continue;
		}
		if (dec >= 0)
			dec++;
		v = v * 10 + (*s - '0');
		if (v > ((__int128)1 << 70))
			return -1;
	}
	if (!digits)
		return -1;
	for (dec = dec < 0 ? 0 : dec; dec < 8; dec++)
		v *= 10;
	if (v > (__int128)INT64_MAX + neg)
		return -1;
	*out = (int64_t)(neg ? -v : v);
	return 0;
}

/* A trade taken from JSON: its trade id is the "t" the line gave. */
static void check_json_trade_id(const char *line, const struct line_msg *m)
{
	struct json_object *root = json_tokener_parse(line), *o = root, *d, *t;
	char want[32];

	if (!o)
		return;
	if (json_object_object_get_ex(o, "data", &d) &&
	    json_object_is_type(d, json_type_object))
		o = d;
	if (json_object_object_get_ex(o, "t", &t)) {
		snprintf(want, sizeof want, "%llu",
			 (unsigned long long)m->u.trade.trade_id);
		assert(strcmp(json_object_get_string(t), want) == 0);
	}
	json_object_put(root);
}

static int digits_or_empty(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* A Q or T line taken: its integer columns are digits. */
static void check_qt(const char *line)
{
	char *copy = strdup(line + strspn(line, " \t")), *p = copy, *f[9];
	int n = 0;

	if (!copy)
		return;
	while (p && n < 9)
		f[n++] = strsep(&p, ",");
	if (f[0][0] == 'Q' && n == 7)
		assert(digits_or_empty(f[6]));
	if (f[0][0] == 'T') {
		for (int i = 5; i < n; i++)
			assert(digits_or_empty(f[i]));
	}
	free(copy);
}

/* The fixed-point reader against the reference. */
static void check_fixed(const char *text)
{
	int64_t a = 0, b = 0;
	int ra = lines_parse_fixed(text, &a), rb = fixed_ref(text, &b);

	assert(ra == rb);
	assert(ra || a == b);
}

/* A CSV line (modified in place, as src_lines.c hands it over). */
static void check_csv(char *line)
{
	struct line_msg m;
	const char *why = NULL;
	char *orig = strdup(line);
	int mdsub = lines_mdsub_row(line + strspn(line, " \t")), rc;

	assert(orig);
	rc = lines_parse_csv(line, 7, &m, &why);
	assert(rc == LINE_OK || rc == LINE_SKIP || (rc == LINE_BAD && why));
	if (rc == LINE_OK) {
		assert(m.size <= LINE_PAYLOAD_MAX);
		if (!mdsub)
			check_qt(orig);
	}
	free(orig);
}

static void check_json(const char *line, size_t len)
{
	struct line_msg m;
	const char *why = NULL;
	int rc;

	if (!tok)
		tok = json_tokener_new();
	rc = lines_parse_json(tok, line, len, 7, &m, &why);
	assert(rc == LINE_OK || rc == LINE_SKIP || (rc == LINE_BAD && why));
	if (rc != LINE_OK)
		return;
	assert(m.size == sizeof(struct mdbus_quote) ||
	       m.size == sizeof(struct mdbus_trade));
	if (m.type == MDBUS_MSG_TRADE)
		check_json_trade_id(line, &m);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t len;
	char *line;

	if (size < 1 || size - 1 > 4096 || memchr(data + 1, '\0', size - 1))
		return 0;
	len = size - 1;
	line = fuzz_text(data, size);
	if (!line)
		return 0;
	if (data[0] % 3 == 0)
		check_fixed(line);
	else if (data[0] % 3 == 1)
		check_csv(line);
	else
		check_json(line, len);
	free(line);
	return 0;
}
