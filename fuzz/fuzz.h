/*
 * fuzz.h - what the harnesses of fuzz/ (README) share.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdlib.h>
#include <string.h>

/* The input after its selector byte data[0] (size >= 1), NUL-terminated
 * and malloc()ed for ASan to see any read past it; NULL without memory. */
static inline char *fuzz_text(const unsigned char *data, size_t size)
{
	char *t = malloc(size);

	if (!t)
		return NULL;
	memcpy(t, data + 1, size - 1);
	t[size - 1] = '\0';
	return t;
}

#endif /* FUZZ_H */
