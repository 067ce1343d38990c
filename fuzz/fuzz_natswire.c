/*
 * fuzz_natswire.c - libFuzzer harness for common/natswire.c, what mdpub's
 * nats source reads off the wire (a subject, header values) and mdsub's
 * --forward nats:// / mdpub's url = take from the command line or config.
 * Input: a selector byte, then the text (and for subjects, after a NUL,
 * the payload). Invariants: a token decodes only from the one spelling
 * natsw_token_encode() makes; a subject accepted for a payload is what
 * natsw_subject() makes for it; a header number accepted is 1 to 19
 * decimal digits at most INT64_MAX; URLs shown, and the reason a list of
 * them is refused, never show credentials (mdpub.conf(5): the log shows
 * them as ***@).
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natswire.h"
#include "fuzz.h"

static void token(const char *t, size_t n)
{
	unsigned char dec[512];
	char enc[3 * sizeof dec + 2];
	size_t got;
	int len;

	if (natsw_token_decode(t, n, dec, sizeof dec, &got) == 0) {
		len = natsw_token_encode(enc, sizeof enc, dec, got);
		assert(len == (int)n && memcmp(enc, t, n) == 0);
	}
	/* and the other way: any bytes that fit dec */
	len = n <= sizeof dec ? natsw_token_encode(enc, sizeof enc, t, n) : -1;
	if (len >= 0) {
		assert((size_t)len < sizeof enc && enc[len] == '\0');
		assert(natsw_token_decode(enc, (size_t)len, dec, sizeof dec,
					  &got) == 0);
		assert(got == n && (!n || memcmp(dec, t, n) == 0));
	}
}

static void subject(const char *s, const unsigned char *payload, size_t psize)
{
	uint16_t type;
	char again[NATSW_SUBJECT_MAX * 4];
	const char *d[3];
	int found = 0;

	if (natsw_subject_check(s, payload, psize, &type) < 0)
		return;
	/* accepted: TYPE.SYMBOL is the spelling the forwarder makes */
	for (const char *p = s + strlen(s); p > s && found < 3;)
		if (*--p == '.')
			d[found++] = p;
	assert(found == 3 && d[2] > s);
	assert(natsw_subject(again, sizeof again, "p", "c", type, payload,
			     psize) > 0);
	assert(strcmp(again + 4, d[1] + 1) == 0);
}

static void number(const char *t)
{
	uint64_t v;
	size_t n = strlen(t);

	if (natsw_num_parse(t, &v) == 0) {
		assert(n >= 1 && n <= 19);
		for (size_t i = 0; i < n; i++)
			assert(t[i] >= '0' && t[i] <= '9');
		assert(v <= INT64_MAX && v == strtoull(t, NULL, 10));
	}
	if (natsw_session_parse(t, &v) == 0) {
		assert(n == NATSW_SESSION_LEN);
		for (size_t i = 0; i < n; i++)
			assert(isxdigit((unsigned char)t[i]));
		assert(v == strtoull(t, NULL, 16));
	}
}

/* Nothing between a scheme's "://" and its '@' shows in text. */
static void no_credentials(const char *text)
{
	for (const char *p = strstr(text, "://"); p; p = strstr(p + 1, "://")) {
		size_t span = strcspn(p + 3, ",@'");

		if (p[3 + span] == '@')
			assert(span == 3 && memcmp(p + 3, "***", 3) == 0);
	}
}

static void urls(const char *u, size_t outlen)
{
	char err[300], *out = malloc(outlen ? outlen : 1);

	if (!out)
		return;
	if (natsw_urls_check(u, err, sizeof err) < 0) {
		assert(memchr(err, '\0', sizeof err));
		no_credentials(err); /* it goes to the log */
	}
	natsw_urls_shown(u, out, outlen);
	if (outlen) {
		assert(strnlen(out, outlen) < outlen);
		no_credentials(out);
	}
	natsw_urls_tls(u, 0);
	free(out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *t;
	size_t tlen;

	if (size < 1)
		return 0;
	t = fuzz_text(data, size);
	if (!t)
		return 0;
	tlen = strlen(t);
	switch (data[0] % 5) {
	case 0:
		token(t, size - 1); /* may hold NULs: tokens have a length */
		break;
	case 1: { /* subject NUL payload */
		size_t plen = size - 1 - tlen - (tlen < size - 1);
		unsigned char *p = malloc(plen ? plen : 1);

		if (p) {
			memcpy(p, data + 1 + tlen + (tlen < size - 1), plen);
			subject(t, p, plen);
			free(p);
		}
		break;
	}
	case 2:
		number(t);
		break;
	case 3:
		urls(t, 1024);
		break;
	case 4:
		urls(t, data[0] / 5);
		break;
	}
	free(t);
	return 0;
}
