/*
 * fmt.c - text helpers shared by mdsub's printers: fixed-point numbers,
 * JSON strings, hex, wall-clock times.
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

/* Writes n bytes of s (stopping at a NUL) as a JSON string. Bytes outside
 * printable ASCII are escaped as \u00XX, so the output is always valid
 * UTF-8 JSON whatever the payload holds. */
void fmt_json_str(FILE *f, const char *s, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
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
