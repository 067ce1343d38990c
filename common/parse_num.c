/*
 * parse_num.c - see parse_num.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "parse_num.h"

#define SECONDS_MAX 1e9

int parse_u64(const char *text, int base, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, base);
	if (*end)
		return -EINVAL;
	if (errno)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_double(const char *text, double *out)
{
	char *end;
	double v;

	/* strtod() would take leading space, a '+', "inf" and hexadecimal
	 * ("0x10" = 16): none of them is a number as the files and options
	 * write it */
	if (!text || !(isdigit((unsigned char)*text) || *text == '.' ||
		       *text == '-') ||
	    strpbrk(text, "xX"))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (!isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_seconds(const char *text, double *out)
{
	double v;

	if (parse_double(text, &v) < 0 || !(v > 0) || v > SECONDS_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}
