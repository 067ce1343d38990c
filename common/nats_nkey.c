/*
 * nats_nkey.c - see nats_nkey.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nats_nkey.h"

#define PREFIX_SEED (18 << 3)  /* nats-io/nkeys: the first byte of seeds */
#define PREFIX_USER (20 << 3)  /* ... and of user keys */
#define SEED_RAW 36            /* 2 prefix bytes, 32 key bytes, CRC-16 */
#define SEED_TEXT 58           /* its base32 characters: 36 bytes, 2 bits over */
#define PUB_RAW 35             /* 1 prefix byte, 32 key bytes, CRC-16 */
#define KEY_RAW 32             /* an Ed25519 private or public key */
#define JWT_BEGIN "-----BEGIN NATS USER JWT-----"
#define SEED_BEGIN "-----BEGIN USER NKEY SEED-----"

struct nats_secret {
	EVP_PKEY *key; /* the user's Ed25519 key, from the seed */
	char *jwt;     /* a .creds file's user JWT, else NULL */
	char pub[NATS_NKEY_PUB_LEN + 1];
};

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/*
 * 0 when nobody but root and this user can change directory dir (a real
 * path) or any directory above it: each owned by one of them, and
 * writable by group or others only with the sticky bit, so that nobody
 * else can point the name of the file (`what`) elsewhere; else the fix
 * in err. As ssh's StrictModes.
 */
static int dirs_ours_check(char *dir, const char *path, const char *what,
			   char *err, size_t errlen)
{
	struct stat st;
	char *slash;

	for (;;) {
		if (stat(dir, &st) < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: directory %s: %s", path, dir,
				 strerror(e));
			return -e;
		}
		if (st.st_uid != geteuid() && st.st_uid != 0) {
			snprintf(err, errlen, "%s: directory %s is owned by uid "
				 "%u, neither this user nor root, who could put "
				 "another file under the name: keep the %s in "
				 "a directory of yours", path, dir,
				 (unsigned)st.st_uid, what);
			return -EPERM;
		}
		if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
			snprintf(err, errlen, "%s: directory %s may be written "
				 "by group or others (mode %04o), who could put "
				 "another file under the name: chmod go-w %s",
				 path, dir, (unsigned)(st.st_mode & 07777), dir);
			return -EPERM;
		}
		slash = strrchr(dir, '/');
		if (!slash || (slash == dir && dir[1] == '\0'))
			return 0;
		slash[slash == dir] = '\0'; /* "/a" goes to "/" */
	}
}

/* The file at path, opened once after dirs_ours_check() of the real
 * path of its directory (O_NOFOLLOW covers the last component): its
 * descriptor, or a negative code and the fix in err. */
static int secret_open(const char *path, char *err, size_t errlen)
{
	char copy[PATH_MAX], real[PATH_MAX], full[PATH_MAX];
	int fd, rc;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	if (!realpath(dirname(copy), real)) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (snprintf(full, sizeof(full), "%s/%s", real,
		     basename(strcpy(copy, path))) >= (int)sizeof(full)) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	rc = dirs_ours_check(real, path, "key", err, errlen);
	if (rc < 0)
		return rc;
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			O_CLOEXEC);
	if (fd >= 0)
		return fd;
	rc = -errno;
	if (rc == -ELOOP)
		snprintf(err, errlen, "%s: a symbolic link, which could be "
			 "pointed elsewhere: give the file itself", path);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* 0 when fd is a regular file of ours (or root's) that only its owner
 * may read or write, 1 byte to NATS_SECRET_MAX; else the fix in err. */
static int secret_check(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: it holds a private key, but others "
			 "may read or write it (mode %04o): chmod 600 %s", path,
			 (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, neither this user "
			 "(%u) nor root: chown it", path, (unsigned)st.st_uid,
			 (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_size == 0 || st.st_size > NATS_SECRET_MAX) {
		snprintf(err, errlen, "%s: %jd bytes, not 1 to %d: not a "
			 "credentials or seed file", path, (intmax_t)st.st_size,
			 NATS_SECRET_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Up to max bytes of fd into buf: how many, or a negative code. */
static ssize_t read_all(int fd, char *buf, size_t max)
{
	size_t len = 0;

	while (len < max) {
		ssize_t n = read(fd, buf + len, max - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* What the descriptor holds, bounded (the file may have changed since
 * secret_check()): its length, or a negative code and the reason. */
static ssize_t secret_read(int fd, char *buf, const char *path, char *err,
			   size_t errlen)
{
	ssize_t n = read_all(fd, buf, NATS_SECRET_MAX + 1);

	if (n < 0)
		snprintf(err, errlen, "%s: %s", path, strerror((int)-n));
	else if (n == 0 || n > NATS_SECRET_MAX)
		snprintf(err, errlen, "%s: %s while read: not a credentials or "
			 "seed file", path, n ? "grew over 64 KB" : "emptied");
	else
		return n;
	return n < 0 ? n : -EINVAL;
}

int nats_private_read(const char *path, char **text, size_t *len, char *err,
		      size_t errlen)
{
	ssize_t n;
	int fd, rc;

	*text = malloc(NATS_SECRET_MAX + 1);
	if (!*text) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	fd = secret_open(path, err, errlen);
	rc = fd < 0 ? fd : secret_check(fd, path, err, errlen);
	n = rc < 0 ? rc : secret_read(fd, *text, path, err, errlen);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		nats_private_free(*text);
		*text = NULL;
		return (int)n;
	}
	(*text)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* path opened without blocking on a FIFO, and its stat: the descriptor
 * of a regular file, or a negative code and the reason in err. */
static int public_open(const char *path, struct stat *st, char *err,
		       size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	memset(st, 0, sizeof(*st)); /* nothing left unset on any path */
	if (fd < 0 || fstat(fd, st) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* All of fd, 1 byte to NATS_PUBLIC_MAX: 0 with *text (NUL-terminated),
 * or a negative code and the reason in err. */
static int public_read(int fd, const char *path, char **text, char *err,
		       size_t errlen)
{
	ssize_t n;

	if (!(*text = malloc(NATS_PUBLIC_MAX + 1))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = read_all(fd, *text, NATS_PUBLIC_MAX + 1);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror((int)-n));
	} else if (n == 0 || n > NATS_PUBLIC_MAX) {
		snprintf(err, errlen, "%s: %s: not a certificate file", path,
			 n ? "over 1 MB" : "empty");
		n = -EINVAL;
	} else {
		(*text)[n] = '\0';
		return 0;
	}
	free(*text);
	*text = NULL;
	return (int)n;
}

int nats_public_read(const char *path, char **text, char *err, size_t errlen)
{
	struct stat st;
	int fd = public_open(path, &st, err, errlen), rc;

	*text = NULL;
	if (fd < 0)
		return fd;
	rc = public_read(fd, path, text, err, errlen);
	close(fd);
	return rc;
}

/*
 * 0 when nobody but root and this user can change the CA file opened as
 * path (its stat in st) or put another under its name: the file is
 * root's or ours and writable by its owner only, and every directory of
 * its real path (symbolic links resolved, as /etc/ssl/certs holds them)
 * and of the name given passes dirs_ours_check(). The real path must
 * still name the file opened. Else a negative code and the fix in err.
 */
static int ca_check(const char *path, const struct stat *st, char *err,
		    size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX], *slash;
	struct stat now;
	int rc;

	if (st->st_uid != geteuid() && st->st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, neither this user "
			 "(%u) nor root, who could change which servers are "
			 "trusted: chown it, or give a copy of your own", path,
			 (unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st->st_mode & 022) {
		snprintf(err, errlen, "%s: it says which servers to trust, but "
			 "others may change it (mode %04o): chmod go-w %s", path,
			 (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	if (!realpath(path, real)) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (stat(real, &now) < 0 || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino) {
		snprintf(err, errlen, "%s: replaced while it was checked: try "
			 "again", path);
		return -EAGAIN;
	}
	slash = strrchr(real, '/'); /* realpath(): absolute */
	slash[slash == real] = '\0'; /* "/a" goes to "/" */
	rc = dirs_ours_check(real, path, "CA file", err, errlen);
	if (rc < 0)
		return rc;
	/* and the directory of the name as given, resolved: a symbolic
	 * link there is its directory's to point at any other file
	 * (review) */
	snprintf(real, sizeof(real), "%s", path);
	if (!realpath(dirname(real), dir)) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	return dirs_ours_check(dir, path, "CA file", err, errlen);
}

int nats_ca_read(const char *path, char **text, char *err, size_t errlen)
{
	struct stat st;
	int fd = public_open(path, &st, err, errlen), rc;

	*text = NULL;
	if (fd < 0)
		return fd;
	rc = ca_check(path, &st, err, errlen);
	if (rc == 0)
		rc = public_read(fd, path, text, err, errlen);
	close(fd);
	return rc;
}

void nats_private_free(char *text)
{
	if (!text)
		return;
	OPENSSL_cleanse(text, NATS_SECRET_MAX + 1);
	free(text);
}

int nats_secret_load(struct nats_secret **out, const char *path,
		     enum nats_secret_kind kind, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = nats_private_read(path, &text, &len, err, errlen);

	if (rc < 0)
		return rc;
	rc = nats_secret_parse(out, text, len, kind, path, err, errlen);
	nats_private_free(text);
	return rc;
}

/* CRC-16/XMODEM (polynomial 0x1021, start 0), as nats-io/nkeys. */
static uint16_t crc16(const unsigned char *p, size_t n)
{
	uint16_t crc = 0;

	while (n--) {
		crc ^= (uint16_t)(*p++ << 8);
		for (int i = 0; i < 8; i++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
	}
	return crc;
}

/* Base32 (RFC 4648, no padding) of text[0..n-1] into out[0..max-1]:
 * the bytes decoded, or -1 (a character not of the alphabet, too long). */
static int b32_decode(const char *text, size_t n, unsigned char *out,
		      size_t max)
{
	uint32_t acc = 0;
	size_t len = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		const char *c = text[i] ? strchr(b32_alphabet, text[i]) : NULL;

		if (!c)
			return -1;
		acc = (acc << 5) | (uint32_t)(c - b32_alphabet);
		bits += 5;
		if (bits < 8)
			continue;
		bits -= 8;
		if (len == max)
			return -1;
		out[len++] = (unsigned char)(acc >> bits);
	}
	return (int)len;
}

static void b32_encode(const unsigned char *raw, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | raw[i];
		for (bits += 8; bits >= 5; bits -= 5)
			*out++ = b32_alphabet[(acc >> (bits - 5)) & 31];
	}
	if (bits)
		*out++ = b32_alphabet[(acc << (5 - bits)) & 31];
	*out = '\0';
}

/* The line of text at *pos (to a newline or the end), blanks and CR
 * trimmed, into *line and *n; *pos past it. 0 at the end of text. */
static int next_line(const char *text, size_t len, size_t *pos,
		     const char **line, size_t *n)
{
	const char *start = text + *pos, *end, *nl;

	if (*pos >= len)
		return 0;
	nl = memchr(start, '\n', len - *pos);
	end = nl ? nl : text + len;
	*pos = (size_t)(end - text) + (nl != NULL);
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*line = start;
	*n = (size_t)(end - start);
	return 1;
}

static int next_nonblank(const char *text, size_t len, size_t *pos,
			 const char **line, size_t *n)
{
	while (next_line(text, len, pos, line, n))
		if (*n)
			return 1;
	return 0;
}

/* The one line of the block that the line begin opens (blank lines
 * aside), into *val and *n: 0, or -1 when there is no such block or the
 * line after the value does not start with "---" (its END line). */
static int block_value(const char *text, size_t len, const char *begin,
		       const char **val, size_t *n)
{
	size_t pos = 0, blen = strlen(begin), elen;
	const char *end;

	while (next_line(text, len, &pos, val, n)) {
		if (*n != blen || memcmp(*val, begin, blen) != 0)
			continue;
		if (!next_nonblank(text, len, &pos, val, n) ||
		    !next_nonblank(text, len, &pos, &end, &elen))
			return -1;
		return elen >= 3 && memcmp(end, "---", 3) == 0 ? 0 : -1;
	}
	return -1;
}

/* A JWT: base64url header, claims and signature, dot-separated. */
static int jwt_shaped(const char *t, size_t n)
{
	int dots = 0;

	for (size_t i = 0; i < n; i++) {
		if (t[i] == '.')
			dots++;
		else if (!isalnum((unsigned char)t[i]) && t[i] != '-' &&
			 t[i] != '_' && t[i] != '=')
			return 0;
	}
	return dots == 2;
}

/* The Ed25519 key of the user NKey seed text[0..n-1] (SU...) into *key:
 * 0, or -EINVAL. The decoded seed is wiped. */
static int seed_key(const char *text, size_t n, EVP_PKEY **key)
{
	unsigned char seed[SEED_RAW];
	int got = n == SEED_TEXT ? b32_decode(text, n, seed, SEED_RAW) : -1;

	*key = NULL;
	if (got == SEED_RAW &&
	    crc16(seed, SEED_RAW - 2) == (seed[SEED_RAW - 2] | seed[SEED_RAW - 1] << 8) &&
	    (seed[0] & 0xf8) == PREFIX_SEED &&
	    (((seed[0] & 7) << 5) | (seed[1] >> 3)) == PREFIX_USER)
		*key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						    seed + 2, KEY_RAW);
	OPENSSL_cleanse(seed, sizeof(seed));
	return *key ? 0 : -EINVAL;
}

/* The user public key (U...) of key into pub: 0, or -EINVAL. */
static int public_of(EVP_PKEY *key, char pub[NATS_NKEY_PUB_LEN + 1])
{
	unsigned char raw[PUB_RAW];
	size_t len = KEY_RAW;
	uint16_t crc;

	if (EVP_PKEY_get_raw_public_key(key, raw + 1, &len) != 1 ||
	    len != KEY_RAW)
		return -EINVAL;
	raw[0] = PREFIX_USER;
	crc = crc16(raw, PUB_RAW - 2);
	raw[PUB_RAW - 2] = (unsigned char)(crc & 0xff);
	raw[PUB_RAW - 1] = (unsigned char)(crc >> 8);
	b32_encode(raw, PUB_RAW, pub);
	return 0;
}

/* A seed file: the seed is the first word of the first line. */
static int parse_seed_file(struct nats_secret *s, const char *text, size_t len,
			   const char *path, char *err, size_t errlen)
{
	size_t pos = 0, n = 0, word = 0;
	const char *line = text;

	next_line(text, len, &pos, &line, &n);
	while (word < n && !isspace((unsigned char)line[word]))
		word++;
	if (seed_key(line, word, &s->key) == 0)
		return 0;
	snprintf(err, errlen, "%s: not a user NKey seed (one line SU..., as "
		 "nsc or nk -gen user makes it)", path);
	return -EINVAL;
}

static int parse_creds(struct nats_secret *s, const char *text, size_t len,
		       const char *path, char *err, size_t errlen)
{
	const char *jwt, *seed;
	size_t jn, sn;

	if (block_value(text, len, JWT_BEGIN, &jwt, &jn) < 0 ||
	    !jwt_shaped(jwt, jn)) {
		snprintf(err, errlen, "%s: no user JWT (a line " JWT_BEGIN
			 ", the JWT, an END line): not a .creds file as nsc "
			 "makes it", path);
		return -EINVAL;
	}
	if (block_value(text, len, SEED_BEGIN, &seed, &sn) < 0 ||
	    seed_key(seed, sn, &s->key) < 0) {
		snprintf(err, errlen, "%s: no user NKey seed (a line "
			 SEED_BEGIN ", the seed SU..., an END line): not a "
			 ".creds file as nsc makes it", path);
		return -EINVAL;
	}
	s->jwt = strndup(jwt, jn);
	if (s->jwt)
		return 0;
	snprintf(err, errlen, "%s: out of memory", path);
	return -ENOMEM;
}

int nats_secret_parse(struct nats_secret **out, const char *text, size_t len,
		      enum nats_secret_kind kind, const char *path, char *err,
		      size_t errlen)
{
	struct nats_secret *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	rc = kind == NATS_SECRET_CREDS ?
		     parse_creds(s, text, len, path, err, errlen) :
		     parse_seed_file(s, text, len, path, err, errlen);
	if (rc == 0 && public_of(s->key, s->pub) < 0) {
		snprintf(err, errlen, "%s: cannot derive its public key", path);
		rc = -EINVAL;
	}
	if (rc < 0) {
		nats_secret_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

const char *nats_secret_jwt(const struct nats_secret *s)
{
	return s->jwt;
}

const char *nats_secret_public(const struct nats_secret *s)
{
	return s->pub;
}

int nats_secret_sign(const struct nats_secret *s, const void *msg, size_t len,
		     unsigned char sig[NATS_NKEY_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = NATS_NKEY_SIG_LEN;
	int ok = ctx &&
		 EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
		 EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
		 siglen == NATS_NKEY_SIG_LEN;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

void nats_secret_free(struct nats_secret *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key); /* OpenSSL clears the private key it frees */
	if (s->jwt)
		OPENSSL_cleanse(s->jwt, strlen(s->jwt));
	free(s->jwt);
	free(s);
}
