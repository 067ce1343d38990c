/*
 * nats_nkey.h - the files of NATS credentials: checked before the client
 * library reads them, and the public key of a user NKey seed (which
 * natsOptions_SetNKeyFromSeed() wants beside the seed file). NKey
 * encoding as nats-io/nkeys: base32 of prefix, key and CRC-16/XMODEM.
 */
#ifndef MDBUS_NATS_NKEY_H
#define MDBUS_NATS_NKEY_H

#include <stddef.h>

#define NATS_NKEY_PUB_LEN 56 /* "U" and 55 more base32 characters */

/* 0 when path is a regular file of ours (or root's) that only its owner
 * may read or write, 1 byte to 64 KB; else a negative code and the fix
 * in err. Opens it without blocking (a FIFO under the name) and reads
 * nothing. */
int nats_secret_check(const char *path, char *err, size_t errlen);

/* The public key (U...) of the user NKey seed (SU...) on the first line
 * of path: 0, or a negative code and the reason in err. */
int nats_nkey_public(const char *path, char pub[NATS_NKEY_PUB_LEN + 1],
		     char *err, size_t errlen);

#endif /* MDBUS_NATS_NKEY_H */
