/*
 * natswire.c - see natswire.h; the format is doc/protocol.md, "NATS
 * framing".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdbus_msg.h"
#include "natswire.h"
#include "parse_num.h"

static const char *const type_tokens[] = {
	[MDBUS_MSG_RAW] = "raw",
	[MDBUS_MSG_QUOTE] = "quote",
	[MDBUS_MSG_TRADE] = "trade",
	[MDBUS_MSG_BOOK_LEVEL] = "level",
	[MDBUS_MSG_BOOK_SNAPSHOT] = "snapshot",
	[MDBUS_MSG_STATUS] = "status",
	[MDBUS_MSG_HEARTBEAT] = "heartbeat",
};

#define NTYPES (sizeof(type_tokens) / sizeof(type_tokens[0]))

const char *natsw_type_name(unsigned type)
{
	return type < NTYPES ? type_tokens[type] : NULL;
}

static const char hexdigits[] = "0123456789ABCDEF";

/* A byte that stands for itself in a token. */
static int plain(unsigned char c)
{
	return c > ' ' && c < 127 && c != '.' && c != '*' && c != '>' &&
	       c != '%';
}

int natsw_prefix_check(const char *prefix)
{
	size_t n = prefix ? strlen(prefix) : 0;

	if (!n || n > NATSW_PREFIX_MAX || prefix[0] == '.' ||
	    prefix[n - 1] == '.' || strstr(prefix, ".."))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (prefix[i] != '.' && !plain((unsigned char)prefix[i]) &&
		    prefix[i] != '%')
			return -EINVAL;
	return 0;
}

int natsw_token_encode(char *out, size_t outlen, const void *bytes, size_t n)
{
	const unsigned char *b = bytes;
	size_t len = 0;

	if (!n) {
		if (outlen < sizeof(NATSW_NO_SYMBOL))
			return -ENAMETOOLONG;
		memcpy(out, NATSW_NO_SYMBOL, sizeof(NATSW_NO_SYMBOL));
		return (int)sizeof(NATSW_NO_SYMBOL) - 1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t need = plain(b[i]) ? 1 : 3;

		if (len + need >= outlen)
			return -ENAMETOOLONG;
		if (need == 1) {
			out[len++] = (char)b[i];
			continue;
		}
		out[len++] = '%';
		out[len++] = hexdigits[b[i] >> 4];
		out[len++] = hexdigits[b[i] & 15];
	}
	out[len] = '\0';
	return (int)len;
}

static int hexval(char c)
{
	const char *p = c ? strchr(hexdigits, c) : NULL;

	return p ? (int)(p - hexdigits) : -1;
}

int natsw_token_decode(const char *tok, size_t toklen, unsigned char *out,
		       size_t outmax, size_t *n)
{
	size_t len = 0;

	if (toklen == 1 && tok[0] == NATSW_NO_SYMBOL[0]) {
		*n = 0;
		return 0;
	}
	if (!toklen)
		return -EINVAL;
	for (size_t i = 0; i < toklen; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (c == '%') {
			int hi = i + 2 < toklen ? hexval(tok[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(tok[i + 2]) : -1;

			if (lo < 0 || plain((unsigned char)(hi << 4 | lo)))
				return -EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!plain(c)) {
			return -EINVAL;
		}
		if (len == outmax)
			return -ENAMETOOLONG;
		out[len++] = c;
	}
	*n = len;
	return 0;
}

const unsigned char *natsw_symbol(uint16_t type, const void *payload,
				  size_t size, size_t *n)
{
	const unsigned char *s = payload;
	size_t len = NATSW_SYMBOL_LEN;

	*n = 0;
	if (type < MDBUS_MSG_QUOTE || type > MDBUS_MSG_STATUS ||
	    size < mdbus_msg_min_size(type))
		return s;
	while (len && !s[len - 1])
		len--;
	*n = len;
	return s;
}

#define TYPE_TOKEN_MAX 16 /* "heartbeat", "65535" and a NUL fit */

static void type_token(char out[TYPE_TOKEN_MAX], uint16_t type)
{
	if (type < NTYPES)
		snprintf(out, TYPE_TOKEN_MAX, "%s", type_tokens[type]);
	else
		snprintf(out, TYPE_TOKEN_MAX, "%u", (unsigned)type);
}

int natsw_subject(char *out, size_t outlen, const char *prefix,
		  const char *channel, uint16_t type, const void *payload,
		  size_t size)
{
	char chan[3 * 64 + 2], sym[3 * NATSW_SYMBOL_LEN + 2], ttok[TYPE_TOKEN_MAX];
	const unsigned char *s;
	size_t n;
	int len;

	if (natsw_token_encode(chan, sizeof(chan), channel, strlen(channel)) < 0)
		return -ENAMETOOLONG;
	s = natsw_symbol(type, payload, size, &n);
	natsw_token_encode(sym, sizeof(sym), s, n); /* always fits */
	type_token(ttok, type);
	len = snprintf(out, outlen, "%s.%s.%s.%s", prefix, chan, ttok, sym);
	return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : len;
}

/* The type a token names; -EINVAL for none. */
static int type_of(const char *tok, size_t len)
{
	char buf[TYPE_TOKEN_MAX];
	uint64_t v;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(buf, type_tokens[i]) == 0)
			return (int)i;
	/* only the canonical number of a type without a name */
	if (buf[0] == '0' || parse_u64(buf, 10, &v) || v < NTYPES ||
	    v > UINT16_MAX)
		return -EINVAL;
	return (int)v;
}

int natsw_subject_check(const char *subject, const void *payload,
			size_t size, uint16_t *type)
{
	const char *dot[3] = {NULL, NULL, NULL}, *end = subject + strlen(subject);
	unsigned char sym[NATSW_SYMBOL_LEN];
	const unsigned char *want;
	size_t n, wn;
	int t, found = 0;

	/* the last three dots, from the end: CHANNEL . TYPE . SYMBOL */
	for (const char *p = end; p > subject && found < 3;)
		if (*--p == '.')
			dot[found++] = p;
	if (found < 3 || dot[2] == subject)
		return -EINVAL;
	t = type_of(dot[1] + 1, (size_t)(dot[0] - dot[1] - 1));
	if (t < 0 || natsw_token_decode(dot[0] + 1, (size_t)(end - dot[0] - 1),
					sym, sizeof(sym), &n) < 0)
		return -EINVAL;
	want = natsw_symbol((uint16_t)t, payload, size, &wn);
	if (n != wn || (n && memcmp(sym, want, n) != 0))
		return -EINVAL;
	*type = (uint16_t)t;
	return 0;
}

int natsw_num_parse(const char *text, uint64_t *out)
{
	uint64_t v;

	if (!text || strlen(text) > 19 || parse_u64(text, 10, &v) ||
	    v > (uint64_t)NATSW_NUM_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

int natsw_session_parse(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	if (!text || strlen(text) != NATSW_SESSION_LEN)
		return -EINVAL;
	for (int i = 0; i < NATSW_SESSION_LEN; i++) {
		int d = hexval(text[i] >= 'a' ? (char)(text[i] - 32) : text[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* One URL of the list, without its scheme: HOST:PORT, [V6]:PORT. */
static int url_check(const char *u, size_t n, char *err, size_t errlen)
{
	char buf[300], shown[300], *colon;
	uint64_t port;
	size_t skip = strncmp(u, "nats://", 7) == 0 ? 7 :
		      strncmp(u, "tls://", 6) == 0 ? 6 : 0;

	if (!skip || n - skip >= sizeof(buf) || n == skip)
		goto bad;
	memcpy(buf, u + skip, n - skip);
	buf[n - skip] = '\0';
	colon = strrchr(buf, ':');
	if (!colon || colon == buf || parse_u64(colon + 1, 10, &port) ||
	    port < 1 || port > 65535)
		goto bad;
	return 0;
bad:
	/* as logs show it: the refusal of a url with a password in it goes
	 * to the log too (fuzzing found it printed whole); masked whole,
	 * then cut (review: a token longer than the cut was shown) */
	{
		char *whole = strndup(u, n);

		if (!whole) {
			snprintf(err, errlen, "a url is not nats://HOST:PORT "
				 "or tls://HOST:PORT");
			return -EINVAL;
		}
		natsw_urls_shown(whole, shown, sizeof(shown));
		free(whole);
	}
	snprintf(err, errlen, "'%.200s' is not nats://HOST:PORT or "
		 "tls://HOST:PORT", shown);
	return -EINVAL;
}

int natsw_urls_check(const char *urls, char *err, size_t errlen)
{
	const char *p = urls;
	int count = 0;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		int rc = url_check(p, n, err, errlen);

		if (rc)
			return rc;
		if (++count > NATSW_URLS_MAX) {
			snprintf(err, errlen, "more than %d server URLs",
				 NATSW_URLS_MAX);
			return -EINVAL;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

char *natsw_urls_shown(const char *urls, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (const char *p = urls; p && *p && o + 1 < outlen;) {
		size_t n = strcspn(p, ","), k = 0;
		const char *at = NULL, *start = strstr(p, "://");

		if (start && (size_t)(start - p) < n)
			k = (size_t)(start + 3 - p);
		/* without a scheme too: a url refused for want of one */
		for (const char *q = p + k; q < p + n; q++)
			if (*q == '@')
				at = q;
		if (at) /* the scheme, "***", then from the '@' on */
			o += (size_t)snprintf(out + o, outlen - o, "%.*s***%.*s",
					      (int)k, p, (int)(p + n - at), at);
		else
			o += (size_t)snprintf(out + o, outlen - o, "%.*s", (int)n,
					      p);
		if (o >= outlen)
			break;
		p += n;
		if (*p == ',' && o + 1 < outlen)
			out[o++] = *p++;
		else if (*p == ',')
			break;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}

int natsw_urls_tls(const char *urls, int tls_options)
{
	if (tls_options)
		return 1;
	for (const char *p = urls; p && *p; p += strcspn(p, ","),
	     p += *p == ',')
		if (!strncmp(p, "tls://", 6))
			return 1;
	return 0;
}

enum natsw_verdict natsw_seq_check(struct natsw_seq *t, uint64_t session,
				   uint64_t seq, uint64_t *lost)
{
	enum natsw_verdict v = NATSW_NEXT;

	*lost = 0;
	if (t->known && session != t->session) {
		v = NATSW_SESSION;
	} else if (t->known && seq < t->expected) {
		return NATSW_DUPLICATE;
	} else if (t->known && seq - t->expected > t->jump_window &&
		   seq != t->jump_next) {
		t->jump_next = seq + 1;
		return NATSW_JUMP;
	} else if (t->known && seq > t->expected) {
		*lost = seq - t->expected;
		v = NATSW_GAP;
	}
	t->known = 1;
	t->session = session;
	t->expected = seq + 1;
	t->jump_next = 0;
	return v;
}
