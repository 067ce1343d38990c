/*
 * fuzz_nkey.c - libFuzzer harness for common/nats_nkey.c's parsers: the
 * text of a .creds file (byte 0 even) or of an NKey seed file (odd), as
 * nats_secret_parse() gets it from nats_private_read(). Invariants: a
 * secret taken has a user public key of 56 base32 characters starting
 * with U, a .creds one a JWT of three dot-separated parts, and it signs.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "nats_nkey.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	enum nats_secret_kind kind;
	struct nats_secret *s;
	unsigned char sig[NATS_NKEY_SIG_LEN];
	char err[512], *text;
	const char *pub, *jwt;

	if (size < 1 || size - 1 > NATS_SECRET_MAX)
		return 0;
	kind = data[0] & 1 ? NATS_SECRET_NKEY : NATS_SECRET_CREDS;
	text = fuzz_text(data, size); /* NUL-terminated, as nats_private_read() */
	if (!text)
		return 0;
	if (nats_secret_parse(&s, text, size - 1, kind, "f", err,
			      sizeof err) == 0) {
		pub = nats_secret_public(s);
		assert(strlen(pub) == NATS_NKEY_PUB_LEN && pub[0] == 'U');
		assert(strspn(pub, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") ==
		       NATS_NKEY_PUB_LEN);
		jwt = nats_secret_jwt(s);
		assert(kind == NATS_SECRET_CREDS ? jwt && *jwt : !jwt);
		assert(nats_secret_sign(s, text, size - 1, sig) == 0);
		nats_secret_free(s);
	} else {
		assert(memchr(err, '\0', sizeof err) && *err);
	}
	free(text);
	return 0;
}
