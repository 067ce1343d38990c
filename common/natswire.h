/*
 * natswire.h - how bus messages travel over NATS: the subject, the
 * headers and the sequence check shared by `mdsub --forward nats://`
 * (clients/fwd_nats.c) and mdpub's `nats` source (daemons/src_nats.c).
 * Plain C, independent of the NATS client library, so that it is unit
 * tested on its own (tests/common/t_natswire.c). The format is described
 * in doc/protocol.md, "NATS framing".
 *
 * Every function returns a negative errno on bad input and writes nothing
 * past the buffer it is given: -EINVAL for text that is not what the
 * framing allows, -ENAMETOOLONG when a result does not fit.
 */
#ifndef MDBUS_NATSWIRE_H
#define MDBUS_NATSWIRE_H

#include <stddef.h>
#include <stdint.h>

/* Headers of every message (doc/protocol.md, "NATS framing"). */
#define NATSW_HDR_SEQ "Mdbus-Seq"         /* the message's ring sequence */
#define NATSW_HDR_TS "Mdbus-Ts"           /* its publish time (ns) */
#define NATSW_HDR_SESSION "Mdbus-Session" /* numbering: 16 hex digits */
#define NATSW_HDR_SENT "Mdbus-Sent"       /* when the forwarder sent it */

#define NATSW_PREFIX_MAX 128    /* longest subject prefix */
#define NATSW_SUBJECT_MAX 512   /* longest subject either side makes */
#define NATSW_SYMBOL_LEN 16     /* MDBUS_SYMBOL_LEN */
#define NATSW_SESSION_LEN 16
#define NATSW_NUM_MAX (INT64_MAX) /* largest sequence or time believed */
#define NATSW_NO_SYMBOL "%"     /* the symbol token of a message without */

/* The name of a message type (raw, quote, trade, level, snapshot, status,
 * heartbeat), as subjects and mdsub's -t option spell it; NULL for the
 * types without one. */
const char *natsw_type_name(unsigned type);

/* 0 when prefix is a usable subject prefix: 1 to NATSW_PREFIX_MAX bytes of
 * tokens separated by single dots, none empty, without wildcards ('*',
 * '>') or white space or control characters. Else -EINVAL. */
int natsw_prefix_check(const char *prefix);

/* Encodes n bytes as one subject token in out (outlen bytes, NUL
 * included): printable ASCII but '.', '*', '>' and '%' stays, every other
 * byte becomes %XX (upper-case hex); no bytes at all become "%". Returns
 * the token's length, or -ENAMETOOLONG. */
int natsw_token_encode(char *out, size_t outlen, const void *bytes, size_t n);

/* The reverse: decodes the token of toklen bytes into out (outmax bytes);
 * sets *n. -EINVAL for a token that encode cannot have made (an empty one,
 * a bad escape, a byte that should have been escaped, an escape of a byte
 * that should not), -ENAMETOOLONG when it decodes to more than outmax. */
int natsw_token_decode(const char *tok, size_t toklen, unsigned char *out,
		       size_t outmax, size_t *n);

/* The symbol a message's subject carries: for the types that have one
 * (quote, trade, level, snapshot, status) and a payload at least as
 * large as the type's structure, its 16 bytes without trailing NULs;
 * else none (0 bytes). Sets *n and returns a pointer into payload. */
const unsigned char *natsw_symbol(uint16_t type, const void *payload,
				  size_t size, size_t *n);

/* The subject PREFIX.CHANNEL.TYPE.SYMBOL of a message: the channel and
 * symbol as tokens (natsw_token_encode()), the type as its name (raw,
 * quote, trade, level, snapshot, status, heartbeat) or its decimal
 * number. Returns the subject's length or -ENAMETOOLONG. */
int natsw_subject(char *out, size_t outlen, const char *prefix,
		  const char *channel, uint16_t type, const void *payload,
		  size_t size);

/* Checks the subject of a received message against its payload, as the
 * forwarder made it: the last three tokens are CHANNEL, TYPE, SYMBOL (the
 * prefix before them may hold dots); sets *type. Returns 0, or -EINVAL
 * when the subject has fewer than four tokens, an unknown type token, or
 * a symbol token other than the payload's (a wrong size for the type
 * shows here too). */
int natsw_subject_check(const char *subject, const void *payload,
			size_t size, uint16_t *type);

/* A header number: decimal digits only, at most NATSW_NUM_MAX. 0 or
 * -EINVAL. */
int natsw_num_parse(const char *text, uint64_t *out);

/* The session header: exactly 16 hex digits. 0 or -EINVAL. */
int natsw_session_parse(const char *text, uint64_t *out);

#define NATSW_URLS_MAX 16

/* 0 when urls is a comma-separated list of 1 to NATSW_URLS_MAX
 * nats://HOST:PORT or tls://HOST:PORT, the port in 1..65535, else -EINVAL
 * with the reason in err. */
int natsw_urls_check(const char *urls, char *err, size_t errlen);

/* urls as logs and messages may show it, into out (cut to outlen - 1
 * bytes): each server's credentials (USER:PASSWORD@ or TOKEN@ after the
 * scheme, or from its start without one) replaced by "***@". Returns
 * out. */
char *natsw_urls_shown(const char *urls, char *out, size_t outlen);

/* 1 when the connection to the servers of `urls` is made with TLS: a
 * tls:// one in the list makes every one TLS (common/nats_conn.c), as
 * do `tls`, `ca` and `cert` (mdpub.conf(5); mdsub's --nats-tls,
 * --nats-ca, --nats-cert), which the caller says in `tls_options`. */
int natsw_urls_tls(const char *urls, int tls_options);

/* The receiver's view of the upstream numbering (zero it to start, then
 * set jump_window). */
struct natsw_seq {
	uint64_t jump_window; /* a larger step ahead is not believed alone */
	int known;            /* a message was seen */
	uint64_t session;
	uint64_t expected;    /* the next sequence number in session */
	uint64_t jump_next;   /* what continues the jump held, 0: none */
};

enum natsw_verdict {
	NATSW_NEXT,      /* the expected one (or the first seen) */
	NATSW_SESSION,   /* the first of another session */
	NATSW_GAP,       /* later than expected: *lost skipped */
	NATSW_DUPLICATE, /* earlier than expected: seen already, drop it */
	NATSW_JUMP,      /* more than jump_window ahead: drop it, unless the
			  * next message continues it (then that one is a
			  * NATSW_GAP whose *lost counts this one too) */
};

/* Judges message seq of session and moves on past it unless it is a
 * duplicate or a jump; *lost is the number of messages skipped
 * (NATSW_GAP), else 0. A forged message far ahead thus blinds nothing: it
 * takes two in a row. */
enum natsw_verdict natsw_seq_check(struct natsw_seq *t, uint64_t session,
				   uint64_t seq, uint64_t *lost);

#endif /* MDBUS_NATSWIRE_H */
