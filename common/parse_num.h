/*
 * parse_num.h - whole-string number parsing for mdpub's config and
 * options and mdsub's options: the text must be the number and nothing
 * else (no space, '+' or trailing characters; a '-' only where said).
 */
#ifndef MDBUS_COMMON_PARSE_NUM_H
#define MDBUS_COMMON_PARSE_NUM_H

#include <stdint.h>

/* An unsigned integer in `base` (10, or 8 for modes) starting with a
 * digit. Returns 0, -EINVAL (not such a number), -ERANGE (over
 * UINT64_MAX). */
int parse_u64(const char *text, int base, uint64_t *out);

/* A finite decimal number (fractions, exponents and a leading '-'
 * allowed; no space, '+' or hexadecimal). Returns 0, -EINVAL (not such a
 * number, or infinite / NaN), -ERANGE (out of a double's range). */
int parse_double(const char *text, double *out);

/* Seconds: a number > 0 and at most 1e9 (about 31 years). Returns 0 or
 * -EINVAL. */
int parse_seconds(const char *text, double *out);

#endif /* MDBUS_COMMON_PARSE_NUM_H */
