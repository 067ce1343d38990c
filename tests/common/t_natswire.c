/*
 * t_natswire.c - cmocka tests of common/natswire.h (doc/protocol.md,
 * "NATS framing"): subject tokens are reversible and never hold '.', '*',
 * '>' or white space; subjects are checked against their payload; header
 * numbers and sessions refuse what a forwarder cannot send; the sequence
 * check counts gaps exactly, drops duplicates and believes a far jump
 * only when the next message continues it.
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mdbus_msg.h"
#include "natswire.h"

static void t_token_roundtrip(void **state)
{
	unsigned char in[16], out[16];
	char tok[64];
	size_t n;

	(void)state;
	/* every byte value, in every position: encodes to a clean token
	 * and decodes back */
	for (int b = 0; b < 256; b++) {
		for (size_t i = 0; i < sizeof(in); i++)
			in[i] = (unsigned char)(b + i * 17);
		assert_true(natsw_token_encode(tok, sizeof(tok), in, sizeof(in)) > 0);
		assert_null(strpbrk(tok, ".*> \t\r\n"));
		for (const char *p = tok; *p; p++)
			assert_true(*p > ' ' && *p < 127);
		assert_int_equal(natsw_token_decode(tok, strlen(tok), out,
						    sizeof(out), &n), 0);
		assert_int_equal(n, sizeof(in));
		assert_memory_equal(in, out, sizeof(in));
	}
	assert_int_equal(natsw_token_encode(tok, sizeof(tok), "BTC/USD.x", 9), 11);
	assert_string_equal(tok, "BTC/USD%2Ex");
	assert_int_equal(natsw_token_encode(tok, sizeof(tok), "", 0), 1);
	assert_string_equal(tok, "%");
	assert_int_equal(natsw_token_decode("%", 1, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(natsw_token_encode(tok, 4, "A.B", 3), -ENAMETOOLONG);
}

static void t_token_refused(void **state)
{
	static const char *const bad[] = {
		"", "%4", "%zz", "%41", "a b", "a.b", "a*", "%2e", "%%", "x%",
	};
	unsigned char out[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(natsw_token_decode(bad[i], strlen(bad[i]), out,
						    sizeof(out), &n), -EINVAL);
	assert_int_equal(natsw_token_decode("ABCDEFGHIJKLMNOPQ", 17, out,
					    sizeof(out), &n), -ENAMETOOLONG);
}

static void t_prefix(void **state)
{
	(void)state;
	assert_int_equal(natsw_prefix_check("mdbus"), 0);
	assert_int_equal(natsw_prefix_check("site-a.md"), 0);
	assert_int_equal(natsw_prefix_check(""), -EINVAL);
	assert_int_equal(natsw_prefix_check(".a"), -EINVAL);
	assert_int_equal(natsw_prefix_check("a."), -EINVAL);
	assert_int_equal(natsw_prefix_check("a..b"), -EINVAL);
	assert_int_equal(natsw_prefix_check("a.*"), -EINVAL);
	assert_int_equal(natsw_prefix_check("a.>"), -EINVAL);
	assert_int_equal(natsw_prefix_check("a b"), -EINVAL);
}

static void t_subject(void **state)
{
	struct mdbus_quote q;
	struct mdbus_heartbeat hb;
	char subj[NATSW_SUBJECT_MAX];
	uint16_t type = 99;

	(void)state;
	memset(&q, 0, sizeof(q));
	memcpy(q.symbol, "EUR.USD", 7);
	memset(&hb, 0, sizeof(hb));
	assert_true(natsw_subject(subj, sizeof(subj), "md.site", "fx.a",
				  MDBUS_MSG_QUOTE, &q, sizeof(q)) > 0);
	assert_string_equal(subj, "md.site.fx%2Ea.quote.EUR%2EUSD");
	assert_int_equal(natsw_subject_check(subj, &q, sizeof(q), &type), 0);
	assert_int_equal(type, MDBUS_MSG_QUOTE);
	/* another symbol in the payload, a short payload, another type */
	q.symbol[0] = 'X';
	assert_int_equal(natsw_subject_check(subj, &q, sizeof(q), &type), -EINVAL);
	q.symbol[0] = 'E';
	assert_int_equal(natsw_subject_check(subj, &q, sizeof(q) - 1, &type), -EINVAL);
	assert_int_equal(natsw_subject_check("md.c.heartbeat.EUR%2EUSD", &q,
					     sizeof(q), &type), -EINVAL);
	/* no symbol: "%"; a number for a type without a name */
	assert_true(natsw_subject(subj, sizeof(subj), "p", "c",
				  MDBUS_MSG_HEARTBEAT, &hb, sizeof(hb)) > 0);
	assert_string_equal(subj, "p.c.heartbeat.%");
	assert_int_equal(natsw_subject_check(subj, &hb, sizeof(hb), &type), 0);
	assert_true(natsw_subject(subj, sizeof(subj), "p", "c", 4242, "ab", 2) > 0);
	assert_string_equal(subj, "p.c.4242.%");
	assert_int_equal(natsw_subject_check(subj, "ab", 2, &type), 0);
	assert_int_equal(type, 4242);
	/* numbers of named types, leading zeros, too few tokens */
	assert_int_equal(natsw_subject_check("p.c.1.%", "ab", 2, &type), -EINVAL);
	assert_int_equal(natsw_subject_check("p.c.04242.%", "ab", 2, &type), -EINVAL);
	assert_int_equal(natsw_subject_check("p.c.65536.%", "ab", 2, &type), -EINVAL);
	assert_int_equal(natsw_subject_check("c.raw.%", "ab", 2, &type), -EINVAL);
	assert_int_equal(natsw_subject_check(".c.raw.%", "ab", 2, &type), -EINVAL);
	assert_int_equal(natsw_subject_check("p.c.raw.%", "ab", 2, &type), 0);
	assert_int_equal(type, MDBUS_MSG_RAW);
}

static void t_headers(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(natsw_num_parse("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(natsw_num_parse("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(natsw_num_parse("9223372036854775808", &v), -EINVAL);
	assert_int_equal(natsw_num_parse("18446744073709551615", &v), -EINVAL);
	assert_int_equal(natsw_num_parse("-1", &v), -EINVAL);
	assert_int_equal(natsw_num_parse("1 ", &v), -EINVAL);
	assert_int_equal(natsw_num_parse("", &v), -EINVAL);
	assert_int_equal(natsw_num_parse(NULL, &v), -EINVAL);
	assert_int_equal(natsw_session_parse("00000000000000fF", &v), 0);
	assert_true(v == 255);
	assert_int_equal(natsw_session_parse("00000000000000f", &v), -EINVAL);
	assert_int_equal(natsw_session_parse("00000000000000fg", &v), -EINVAL);
	assert_int_equal(natsw_session_parse("000000000000000 ", &v), -EINVAL);
}

static void t_urls(void **state)
{
	char err[300];

	(void)state;
	assert_int_equal(natsw_urls_check("nats://h:1", err, sizeof(err)), 0);
	assert_int_equal(natsw_urls_check("nats://a:1,tls://[::1]:65535", err,
					  sizeof(err)), 0);
	assert_int_equal(natsw_urls_check("udp://h:1", err, sizeof(err)), -EINVAL);
	assert_int_equal(natsw_urls_check("nats://h:0", err, sizeof(err)), -EINVAL);
	assert_int_equal(natsw_urls_check("nats://h:65536", err, sizeof(err)), -EINVAL);
	assert_int_equal(natsw_urls_check("nats://:1", err, sizeof(err)), -EINVAL);
	assert_int_equal(natsw_urls_check("nats://h:1,", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not nats://HOST:PORT"));
	/* a refused url's password is not shown (the refusal is logged) */
	assert_int_equal(natsw_urls_check("nats://alice:s3cret@nats.example",
					  err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'nats://***@nats.example' is not "
			    "nats://HOST:PORT or tls://HOST:PORT");
	assert_int_equal(natsw_urls_check("nats://h:1,alice:s3cret@h:2", err,
					  sizeof(err)), -EINVAL);
	assert_null(strstr(err, "s3cret"));
	{ /* a token longer than what is shown: masked before the cut */
		char url[400];

		snprintf(url, sizeof(url), "nats://%0300d@h", 7);
		assert_int_equal(natsw_urls_check(url, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "'nats://***@h' is not nats://HOST:PORT "
				    "or tls://HOST:PORT");
	}
}

/* credentials never shown: each server's user, password or token */
static void t_urls_shown(void **state)
{
	char out[128], small[16];

	(void)state;
	assert_string_equal(natsw_urls_shown("nats://h:1", out, sizeof(out)),
			    "nats://h:1");
	assert_string_equal(natsw_urls_shown("nats://u:secret@h:1,tls://tok@[::1]:2,"
					     "nats://a@b:c@h:3", out, sizeof(out)),
			    "nats://***@h:1,tls://***@[::1]:2,nats://***@h:3");
	/* cut short, never past the buffer, never a password's first bytes */
	assert_string_equal(natsw_urls_shown("nats://u:secret@host:4222", small,
					     sizeof(small)), "nats://***@host");
	assert_null(strstr(natsw_urls_shown("nats://secret@h:1,x", small,
					    sizeof(small)), "secret"));
	assert_string_equal(natsw_urls_shown("u:secret@h:1", out, sizeof(out)),
			    "***@h:1");
}

static void t_sequence(void **state)
{
	struct natsw_seq t;
	uint64_t lost = 9;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.jump_window = UINT64_MAX;
	assert_int_equal(natsw_seq_check(&t, 1, 100, &lost), NATSW_NEXT);
	assert_true(lost == 0);
	assert_int_equal(natsw_seq_check(&t, 1, 101, &lost), NATSW_NEXT);
	assert_int_equal(natsw_seq_check(&t, 1, 101, &lost), NATSW_DUPLICATE);
	assert_int_equal(natsw_seq_check(&t, 1, 50, &lost), NATSW_DUPLICATE);
	assert_int_equal(natsw_seq_check(&t, 1, 105, &lost), NATSW_GAP);
	assert_true(lost == 3);
	assert_int_equal(natsw_seq_check(&t, 1, 106, &lost), NATSW_NEXT);
	assert_int_equal(natsw_seq_check(&t, 2, 0, &lost), NATSW_SESSION);
	assert_true(lost == 0);
	assert_int_equal(natsw_seq_check(&t, 2, 1, &lost), NATSW_NEXT);
}

static void t_jump(void **state)
{
	struct natsw_seq t;
	uint64_t lost = 9;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.jump_window = 100;
	assert_int_equal(natsw_seq_check(&t, 1, 0, &lost), NATSW_NEXT);
	/* 100 ahead is a gap; 2^62 is held, and blinds nothing */
	assert_int_equal(natsw_seq_check(&t, 1, 101, &lost), NATSW_GAP);
	assert_true(lost == 100);
	assert_int_equal(natsw_seq_check(&t, 1, 1ULL << 62, &lost), NATSW_JUMP);
	assert_int_equal(natsw_seq_check(&t, 1, 102, &lost), NATSW_NEXT);
	assert_int_equal(natsw_seq_check(&t, 1, (1ULL << 62) + 1, &lost), NATSW_JUMP);
	assert_int_equal(natsw_seq_check(&t, 1, 103, &lost), NATSW_NEXT);
	/* a jump that the next message continues is taken: both counted */
	assert_int_equal(natsw_seq_check(&t, 1, 1000, &lost), NATSW_JUMP);
	assert_int_equal(natsw_seq_check(&t, 1, 1001, &lost), NATSW_GAP);
	assert_true(lost == 1001 - 104);
	assert_int_equal(natsw_seq_check(&t, 1, 1002, &lost), NATSW_NEXT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_token_roundtrip),
		cmocka_unit_test(t_token_refused),
		cmocka_unit_test(t_prefix),
		cmocka_unit_test(t_subject),
		cmocka_unit_test(t_headers),
		cmocka_unit_test(t_urls),
		cmocka_unit_test(t_urls_shown),
		cmocka_unit_test(t_sequence),
		cmocka_unit_test(t_jump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
