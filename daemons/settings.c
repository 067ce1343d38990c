/*
 * settings.c - see settings.h.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse_num.h"
#include "settings.h"

/* The value of a field, by its kind (settings.h). */
union field_value {
	uint64_t u;  /* SET_UINT, SET_OCTAL */
	double d;    /* SET_DOUBLE */
	char *str;   /* SET_STRING */
	int i;       /* SET_BOOL, SET_CHOICE */
};

static size_t field_size(enum setting_kind kind)
{
	switch (kind) {
	case SET_UINT:
	case SET_OCTAL:
		return sizeof(uint64_t);
	case SET_DOUBLE:
		return sizeof(double);
	case SET_STRING:
		return sizeof(char *);
	case SET_BOOL:
	case SET_CHOICE:
		return sizeof(int);
	}
	return 0;
}

/* A field is known by its byte offset in a struct this file does not see,
 * so it is copied with memcpy(), which needs no alignment. out and in
 * point to a variable of the field's type (or a union field_value). */
static void field_get(const void *obj, const struct setting *s, void *out)
{
	memcpy(out, (const char *)obj + s->offset, field_size(s->kind));
}

static void field_put(void *obj, const struct setting *s, const void *in)
{
	memcpy((char *)obj + s->offset, in, field_size(s->kind));
}

static const struct setting *find(const struct setting *table, const char *key)
{
	for (; table->key; table++)
		if (strcmp(table->key, key) == 0)
			return table;
	return NULL;
}

static int set_uint(const struct setting *s, void *obj, const char *value,
		    int base, char *err, size_t errlen)
{
	/* the bounds as integers: compared as doubles, v rounded first
	 * (2^62 + 512 was in 1..2^62; fuzzing) */
	uint64_t v, min = (uint64_t)s->min,
		 max = s->max >= 18446744073709551616.0 ? UINT64_MAX
							 : (uint64_t)s->max;
	char top[24];

	if (parse_u64(value, base, &v) < 0 || v < min || v > max) {
		/* a max of 2^64 (a double) is UINT64_MAX, which parse_u64()
		 * takes, not 2^64, which it refuses */
		if (s->max >= 18446744073709551616.0)
			snprintf(top, sizeof(top), "%llu", ULLONG_MAX);
		else
			snprintf(top, sizeof(top), "%.0f", s->max);
		snprintf(err, errlen, "%s: '%s' is not %s in %.0f..%s", s->key,
			 value, base == 8 ? "an octal mode" : "an integer",
			 s->min, top);
		return -1;
	}
	if ((s->flags & SET_POW2) && (v & (v - 1))) {
		snprintf(err, errlen, "%s: %llu is not a power of two", s->key,
			 (unsigned long long)v);
		return -1;
	}
	field_put(obj, s, &v);
	return 1;
}

static int set_double(const struct setting *s, void *obj, const char *value,
		      char *err, size_t errlen)
{
	double v;

	if (parse_double(value, &v) < 0 ||
	    (!(v == 0 && (s->flags & SET_OR_0)) && (v < s->min || v > s->max))) {
		snprintf(err, errlen, "%s: '%s' is not %sa number in %g..%g",
			 s->key, value, s->flags & SET_OR_0 ? "0 nor " : "",
			 s->min, s->max);
		return -1;
	}
	field_put(obj, s, &v);
	return 1;
}

static int set_string(const struct setting *s, void *obj, const char *value,
		      char *err, size_t errlen)
{
	char *copy, *old;

	if (!*value) {
		snprintf(err, errlen, "%s: empty value", s->key);
		return -1;
	}
	copy = strdup(value);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", s->key);
		return -1;
	}
	field_get(obj, s, &old);
	free(old);
	field_put(obj, s, &copy);
	return 1;
}

static int choice_index(const char *const *choices, const char *value)
{
	for (int i = 0; choices[i]; i++)
		if (strcasecmp(choices[i], value) == 0)
			return i;
	return -1;
}

static int set_choice(const struct setting *s, void *obj, const char *value,
		      char *err, size_t errlen)
{
	int i = choice_index(s->choices, value);
	size_t used;

	if (i >= 0) {
		field_put(obj, s, &i);
		return 1;
	}
	used = (size_t)snprintf(err, errlen, "%s: '%s' is not one of", s->key,
				value);
	for (i = 0; s->choices[i] && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, " %s",
					 s->choices[i]);
	return -1;
}

static const char *const bool_words[] = {"no",  "yes",  "false", "true",
					 "off", "on",   "0",     "1", NULL};

static int set_bool(const struct setting *s, void *obj, const char *value,
		    char *err, size_t errlen)
{
	int i = choice_index(bool_words, value);

	if (i < 0) {
		snprintf(err, errlen, "%s: '%s' is not yes or no", s->key,
			 value);
		return -1;
	}
	i &= 1;
	field_put(obj, s, &i);
	return 1;
}

int settings_set(const struct setting *table, void *obj, const char *key,
		 const char *value, char *err, size_t errlen)
{
	const struct setting *s = find(table, key);

	if (!s)
		return 0;
	switch (s->kind) {
	case SET_UINT:
		return set_uint(s, obj, value, 10, err, errlen);
	case SET_OCTAL:
		return set_uint(s, obj, value, 8, err, errlen);
	case SET_DOUBLE:
		return set_double(s, obj, value, err, errlen);
	case SET_STRING:
		return set_string(s, obj, value, err, errlen);
	case SET_BOOL:
		return set_bool(s, obj, value, err, errlen);
	case SET_CHOICE:
		return set_choice(s, obj, value, err, errlen);
	}
	return 0;
}

static int field_equal(const struct setting *s, const void *a, const void *b)
{
	union field_value x, y;

	field_get(a, s, &x);
	field_get(b, s, &y);

	switch (s->kind) {
	case SET_UINT:
	case SET_OCTAL:
		return x.u == y.u;
	case SET_DOUBLE:
		return x.d == y.d;
	case SET_BOOL:
	case SET_CHOICE:
		return x.i == y.i;
	case SET_STRING:
		return x.str == y.str ||
		       (x.str && y.str && strcmp(x.str, y.str) == 0);
	}
	return 0;
}

int settings_equal(const struct setting *table, const void *a, const void *b)
{
	for (; table->key; table++)
		if (!field_equal(table, a, b))
			return 0;
	return 1;
}

int settings_dup_strings(const struct setting *table, void *dst,
			 const void *src)
{
	int rc = 0;

	/* every string field is set (a copy or NULL) even after a failure,
	 * so that settings_free(dst) is always right */
	for (; table->key; table++) {
		char *from, *to;

		if (table->kind != SET_STRING)
			continue;
		field_get(src, table, &from);
		to = from ? strdup(from) : NULL;
		field_put(dst, table, &to);
		if (from && !to)
			rc = -1;
	}
	return rc;
}

void settings_free(const struct setting *table, void *obj)
{
	for (; table->key; table++) {
		char *str, *none = NULL;

		if (table->kind != SET_STRING)
			continue;
		field_get(obj, table, &str);
		free(str);
		field_put(obj, table, &none);
	}
}
