/*
 * fmt.c - text helpers shared by mdsub's printers: fixed-point numbers,
 * strings from shared memory made safe for a terminal and for each output
 * format, hex, wall-clock times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mdsub.h"

#define FIXED_DECIMALS 8 /* MDBUS_PX_SCALE and MDBUS_QTY_SCALE are 1e8 */

/* Writes v / 1e8 exactly, dropping trailing zero decimals beyond
 * min_decimals: 10125000000 -> "101.25" (min 2), 5000000000 -> "50". */
void fmt_fixed(char *buf, size_t len, int64_t v, int min_decimals)
{
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
	uint64_t ip = mag / (uint64_t)MDBUS_PX_SCALE;
	uint64_t fp = mag % (uint64_t)MDBUS_PX_SCALE;
	char frac[FIXED_DECIMALS + 1];
	int n = FIXED_DECIMALS;

	snprintf(frac, sizeof frac, "%08" PRIu64, fp);
	while (n > min_decimals && frac[n - 1] == '0')
		n--;
	frac[n] = '\0';
	snprintf(buf, len, "%s%" PRIu64 "%s%s", v < 0 ? "-" : "", ip,
		 n ? "." : "", frac);
}

/* A byte every output shows as itself. */
static int plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != '"';
}

/* One byte of a string in style st; returns the characters written. */
static size_t put_byte(FILE *f, enum str_style st, unsigned char c)
{
	if (plain(c)) {
		putc(c, f);
		return 1;
	}
	if (c == '"' && st == STR_CSV) {
		fputs("\"\"", f);
		return 2;
	}
	if (c == '"' && st == STR_TEXT) {
		putc(c, f);
		return 1;
	}
	if (st == STR_PROM) /* the text form, its backslashes escaped */
		return c == '"' ? (size_t)fprintf(f, "\\\"") :
		       c == '\\' ? (size_t)fprintf(f, "\\\\\\\\") :
				    (size_t)fprintf(f, "\\\\x%02x", c);
	if (c == '"' || c == '\\') {
		putc('\\', f);
		putc(c, f);
		return 2;
	}
	if (st == STR_JSON)
		return (size_t)fprintf(f, "\\u%04x", c);
	return (size_t)fprintf(f, "\\x%02x", c);
}

/* CSV quotes a field that holds a comma or a quote (RFC 4180). */
static int csv_quoted(const char *s, size_t len)
{
	return memchr(s, ',', len) || memchr(s, '"', len);
}

size_t put_str(FILE *f, enum str_style st, const char *s, size_t n)
{
	size_t len = strnlen(s, n), w = 0;
	int quote = st == STR_JSON || st == STR_PROM ||
		    (st == STR_CSV && csv_quoted(s, len));

	if (quote)
		putc('"', f);
	for (size_t i = 0; i < len; i++)
		w += put_byte(f, st, (unsigned char)s[i]);
	if (quote)
		putc('"', f);
	return w + (quote ? 2 : 0);
}

void put_str_padded(FILE *f, const char *s, size_t n, int width)
{
	size_t w = put_str(f, STR_TEXT, s, n);

	if (w < (size_t)width)
		fprintf(f, "%*s", (int)((size_t)width - w), "");
}

void fmt_hex(FILE *f, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

/* Local wall-clock time of a CLOCK_REALTIME stamp: "HH:MM:SS.nnnnnnnnn". */
void fmt_time(char *buf, size_t len, uint64_t ns)
{
	time_t sec = (time_t)(ns / NS_PER_SEC);
	struct tm tm;

	if (!localtime_r(&sec, &tm)) {
		snprintf(buf, len, "%" PRIu64, ns);
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%09u", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (unsigned)(ns % NS_PER_SEC));
}

void put_json_count(FILE *f, uint64_t v)
{
	if (v > JSON_EXACT_MAX)
		fprintf(f, "\"%" PRIu64 "\"", v);
	else
		fprintf(f, "%" PRIu64, v);
}
