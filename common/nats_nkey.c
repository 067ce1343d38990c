/*
 * nats_nkey.c - see nats_nkey.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nats_nkey.h"

#define SECRET_MAX 65536       /* a .creds file is about 1 KB */
#define PREFIX_SEED (18 << 3)  /* nats-io/nkeys: the first byte of seeds */
#define PREFIX_USER (20 << 3)  /* ... and of user keys */
#define SEED_RAW 36            /* 2 prefix bytes, 32 key bytes, CRC-16 */
#define PUB_RAW 35             /* 1 prefix byte, 32 key bytes, CRC-16 */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int nats_secret_check(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	int rc = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		rc = -EINVAL;
	} else if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: it holds a private key, but others "
			 "may read or write it (mode %04o): chmod 600 %s", path,
			 (unsigned)(st.st_mode & 07777), path);
		rc = -EPERM;
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, neither this user "
			 "(%u) nor root: chown it", path, (unsigned)st.st_uid,
			 (unsigned)geteuid());
		rc = -EPERM;
	} else if (st.st_size == 0 || st.st_size > SECRET_MAX) {
		snprintf(err, errlen, "%s: %jd bytes: not a credentials or seed "
			 "file", path, (intmax_t)st.st_size);
		rc = -EINVAL;
	}
	if (fd >= 0)
		close(fd);
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

/* The seed's first word (the file's first line) into seed[0..SEED_RAW-1]. */
static int read_seed(const char *path, unsigned char seed[SEED_RAW], char *err,
		     size_t errlen)
{
	char text[128];
	FILE *f = fopen(path, "re");
	size_t n;
	int got;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	n = strcspn(text, " \t\r\n");
	got = b32_decode(text, n, seed, SEED_RAW);
	OPENSSL_cleanse(text, sizeof(text));
	if (got != SEED_RAW ||
	    crc16(seed, SEED_RAW - 2) != (seed[SEED_RAW - 2] | seed[SEED_RAW - 1] << 8) ||
	    (seed[0] & 0xf8) != PREFIX_SEED ||
	    (((seed[0] & 7) << 5) | (seed[1] >> 3)) != PREFIX_USER) {
		snprintf(err, errlen, "%s: not a user NKey seed (one line "
			 "SU..., as nsc or nk -gen user makes it)", path);
		return -EINVAL;
	}
	return 0;
}

int nats_nkey_public(const char *path, char pub[NATS_NKEY_PUB_LEN + 1],
		     char *err, size_t errlen)
{
	unsigned char seed[SEED_RAW], raw[PUB_RAW];
	size_t len = 32;
	EVP_PKEY *key;
	uint16_t crc;
	int rc = read_seed(path, seed, err, errlen);

	if (rc < 0)
		return rc;
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed + 2, 32);
	OPENSSL_cleanse(seed, sizeof(seed));
	if (!key || EVP_PKEY_get_raw_public_key(key, raw + 1, &len) != 1 ||
	    len != 32) {
		EVP_PKEY_free(key);
		snprintf(err, errlen, "%s: cannot derive its public key", path);
		return -EINVAL;
	}
	EVP_PKEY_free(key);
	raw[0] = PREFIX_USER;
	crc = crc16(raw, PUB_RAW - 2);
	raw[PUB_RAW - 2] = (unsigned char)(crc & 0xff);
	raw[PUB_RAW - 1] = (unsigned char)(crc >> 8);
	b32_encode(raw, PUB_RAW, pub);
	return 0;
}
