/*
 * settings.h - typed key = value settings described by a table, used for
 * the [global] and [channel] keys of mdpub.conf and for each source's own
 * keys: parsing with range checks and error texts, comparison (reload)
 * and freeing in one place.
 */
#ifndef MDPUB_SETTINGS_H
#define MDPUB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

enum setting_kind {
	SET_UINT,   /* uint64_t, decimal, in [min, max] */
	SET_DOUBLE, /* double, in [min, max] */
	SET_STRING, /* char * (malloc'ed), not empty */
	SET_BOOL,   /* int: yes/no, true/false, on/off, 1/0 */
	SET_CHOICE, /* int: index of the value in choices[] */
	SET_OCTAL,  /* uint64_t, octal, in [min, max] */
};

#define SET_POW2 0x1u /* SET_UINT: must be a power of two */
#define SET_OR_0 0x2u /* SET_DOUBLE: 0 (off) as well as [min, max] */

struct setting {
	const char *key;
	enum setting_kind kind;
	size_t offset;              /* of the field in the settings struct */
	double min, max;            /* SET_UINT, SET_DOUBLE, SET_OCTAL */
	unsigned flags;             /* SET_POW2, SET_OR_0 */
	const char *const *choices; /* SET_CHOICE: NULL-terminated */
};

/* Sets `key` of obj from `value`. Returns 1 when set, 0 when the table has
 * no such key, -1 when the value is invalid (reason in err). */
int settings_set(const struct setting *table, void *obj, const char *key,
		 const char *value, char *err, size_t errlen);

/* 1 when every field of the table is equal in a and b. */
int settings_equal(const struct setting *table, const void *a, const void *b);

/* Deep-copies the table's strings of src into dst (the rest of the struct
 * is copied by the caller). Returns 0 or -1 (out of memory). */
int settings_dup_strings(const struct setting *table, void *dst,
			 const void *src);

/* Frees the table's strings in obj. */
void settings_free(const struct setting *table, void *obj);

#endif /* MDPUB_SETTINGS_H */
