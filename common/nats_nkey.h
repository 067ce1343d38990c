/*
 * nats_nkey.h - NATS credentials read once: a .creds file (a user JWT
 * and its NKey seed) or a file of a user NKey seed, opened by name once
 * and checked on that descriptor, so that the client library is given
 * the material and never a file name to open again (another user who
 * may write the directory cannot swap the file between the check and
 * the reading, nor at a reconnect). The seed becomes an Ed25519 key of
 * OpenSSL that signs the servers' nonces for the connection's lifetime.
 * NKey encoding as nats-io/nkeys: base32 of prefix, key and CRC-16/XMODEM;
 * the .creds format as nats-io/nats.c's natsOptions_SetUserCredentialsFromFiles()
 * documents it (nats.h): -----BEGIN NATS USER JWT----- and
 * -----BEGIN USER NKEY SEED----- blocks, one line each.
 */
#ifndef MDBUS_NATS_NKEY_H
#define MDBUS_NATS_NKEY_H

#include <stddef.h>

#define NATS_NKEY_PUB_LEN 56 /* "U" and 55 more base32 characters */
#define NATS_NKEY_SIG_LEN 64 /* an Ed25519 signature */
#define NATS_SECRET_MAX 65536 /* a .creds file is about 1 KB */
#define NATS_PUBLIC_MAX (1 << 20) /* a certificate chain */

enum nats_secret_kind {
	NATS_SECRET_CREDS, /* a .creds file: user JWT and NKey seed */
	NATS_SECRET_NKEY,  /* a user NKey seed (SU...) on the first line */
};

struct nats_secret;

/* Opens path once (not following a symbolic link, not blocking on a
 * FIFO, in directories only root or we may change), refuses it unless
 * it is a regular file of ours (or root's) that only its owner may read
 * or write, of 1 byte to NATS_SECRET_MAX, and reads it: 0 with *text
 * (NUL-terminated, *len bytes; give it to nats_private_free(), which
 * wipes it), or a negative code and the fix in err. For any private key
 * (the TLS client key too). */
int nats_private_read(const char *path, char **text, size_t *len, char *err,
		      size_t errlen);
void nats_private_free(char *text);

/* A certificate chain file read whole (regular, 1 byte to 1 MB, not
 * blocking on a FIFO): 0 with *text (NUL-terminated, free() it), or a
 * negative code and the reason in err. */
int nats_public_read(const char *path, char **text, char *err, size_t errlen);

/* nats_public_read() of a CA certificates file, which decides what
 * servers are trusted: refused unless only root and this user may change
 * it or its name (root's or ours, writable by its owner only, in
 * directories, symbolic links resolved, only root or we may change, as
 * nats_private_read()'s). 0 with *text (free() it), or a negative code
 * and the fix in err. */
int nats_ca_read(const char *path, char **text, char *err, size_t errlen);

/* nats_private_read() of path, parsed as kind: 0 and *out (free with
 * nats_secret_free()), or a negative code and the fix in err. What was
 * read is wiped; the key stays in *out. */
int nats_secret_load(struct nats_secret **out, const char *path,
		     enum nats_secret_kind kind, char *err, size_t errlen);

/* Parses text[0..len-1] as kind (what nats_secret_load() does once it
 * read the file, path naming it in err). */
int nats_secret_parse(struct nats_secret **out, const char *text, size_t len,
		      enum nats_secret_kind kind, const char *path, char *err,
		      size_t errlen);

/* The user JWT of a .creds file (NULL for a seed file), and the user's
 * public key (U...). */
const char *nats_secret_jwt(const struct nats_secret *s);
const char *nats_secret_public(const struct nats_secret *s);

/* The Ed25519 signature of msg[0..len-1] by the user's key into sig: 0,
 * or -EIO. */
int nats_secret_sign(const struct nats_secret *s, const void *msg, size_t len,
		     unsigned char sig[NATS_NKEY_SIG_LEN]);

/* Wipes and frees the key and the JWT (NULL: nothing). */
void nats_secret_free(struct nats_secret *s);

#endif /* MDBUS_NATS_NKEY_H */
