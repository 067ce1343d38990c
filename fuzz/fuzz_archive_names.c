/*
 * fuzz_archive_names.c - libFuzzer harness for lib/archive_files.c's
 * arch_parse(): the names a replaying reader finds in an archive
 * directory (doc/protocol.md, "Archive files" gives the form; "Replay,
 * then live": whatever is in the directory "may be corrupt or forged").
 * Input: a file name for channel "demo", epoch 0x2a. Invariant: a name
 * taken is the one arch_name() makes for the sequence and time it was
 * read as (one spelling per file, the time in range).
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct arch_file f;
	char *name, again[ARCH_NAME_MAX + 16];

	if (size >= ARCH_NAME_MAX || memchr(data, '\0', size))
		return 0;
	name = malloc(size + 1);
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (arch_parse(name, "demo", 0x2a, &f) == 0) {
		assert(arch_name(again, sizeof again, "demo", 0x2a,
				 f.first_seq, f.first_ns) == 0);
		assert(strcmp(again, name) == 0);
	}
	free(name);
	return 0;
}
