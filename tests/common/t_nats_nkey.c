/*
 * t_nats_nkey.c - cmocka tests of common/nats_nkey.h: a .creds file and a
 * seed file are parsed into the JWT and the user's key (the public key
 * and an Ed25519 signature equal to what PyNaCl computes for the same
 * seed); what is not one is refused; a file is refused by what its one
 * descriptor shows (a symbolic link, a FIFO, mode, size). A CA file is
 * refused when another user may change it or its name (owner, mode,
 * the directories of its real path), and read through symbolic links.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nats_nkey.h"

/* the user key of seed bytes 1..32 (tests/nats/nkeys.py's encodings) */
#define SEED "SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ"
#define PUB "UB43KVROR7TFJ6KAPCYRF2FJROTZAH4FHLTJLPWX4DRZCC5NASLGJBFE"
#define JWT "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVIn0.c2lnbmF0dXJl"
#define NONCE "cJ0uUeNmhsoBr5A"
/* PyNaCl: SigningKey(bytes(range(1, 33))).sign(NONCE).signature */
static const unsigned char nonce_sig[NATS_NKEY_SIG_LEN] =
	"\xbe\x03\xa5\x86\x1e\x77\x0c\x0d\x13\xa2\xcc\x30\xc0\x75\xec\x23"
	"\xac\x8d\xd5\xde\xdc\x01\x50\xba\xed\xe5\x71\x48\xfe\x87\x89\x41"
	"\x5a\xff\x6a\x64\xe0\x82\xd8\xa8\x90\xd0\xdf\x11\x4f\xe1\x4d\x98"
	"\x04\x3e\x02\x82\x11\x78\xb7\xfa\x3b\xf6\x50\xbb\x85\x83\xee\x0f";

#define CREDS(jwt, seed)                                                  \
	"-----BEGIN NATS USER JWT-----\n" jwt "\n"                        \
	"------END NATS USER JWT------\n\n"                               \
	"************************* IMPORTANT *************************\n" \
	"NKEY Seed printed below can be used to sign and prove identity.\n" \
	"\n-----BEGIN USER NKEY SEED-----\n" seed "\n"                    \
	"------END USER NKEY SEED------\n"

static int parse(struct nats_secret **s, const char *text,
		 enum nats_secret_kind kind, char *err, size_t errlen)
{
	return nats_secret_parse(s, text, strlen(text), kind, "f", err,
				 errlen);
}

static void assert_user_key(const struct nats_secret *s)
{
	unsigned char sig[NATS_NKEY_SIG_LEN];

	assert_string_equal(nats_secret_public(s), PUB);
	assert_int_equal(nats_secret_sign(s, NONCE, strlen(NONCE), sig), 0);
	assert_memory_equal(sig, nonce_sig, sizeof(sig));
}

static void t_creds(void **state)
{
	static const char *const good[] = {
		CREDS(JWT, SEED),
		/* CRLF, blanks around the values, blank lines inside blocks */
		"-----BEGIN NATS USER JWT-----\r\n\r\n  " JWT " \r\n"
		"------END NATS USER JWT------\r\n"
		"-----BEGIN USER NKEY SEED-----\r\n\t" SEED "\r\n\r\n"
		"------END USER NKEY SEED------",
	};
	struct nats_secret *s = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse(&s, good[i], NATS_SECRET_CREDS, err,
				       sizeof(err)), 0);
		assert_string_equal(nats_secret_jwt(s), JWT);
		assert_user_key(s);
		nats_secret_free(s);
	}
}

static void t_creds_refused(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"", "no user JWT"},
		{"not a creds file\n", "no user JWT"},
		{CREDS("", SEED), "no user JWT"},
		{CREDS("eyJ0.eyJz", SEED), "no user JWT"},          /* one dot */
		{CREDS("eyJ0.ey\"Jz.c2ln", SEED), "no user JWT"},   /* a quote */
		{"-----BEGIN NATS USER JWT-----\n" JWT "\n", "no user JWT"},
		{"-----BEGIN NATS USER JWT-----\n" JWT "\n"
		 "------END NATS USER JWT------\n", "no user NKey seed"},
		{CREDS(JWT, "SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CA"),
		 "no user NKey seed"},                               /* CRC */
		{CREDS(JWT, "SAAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ"),
		 "no user NKey seed"},                               /* not SU */
		{CREDS(JWT, PUB), "no user NKey seed"},             /* public */
	};
	struct nats_secret *s = NULL;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(&s, bad[i].text, NATS_SECRET_CREDS, err,
				       sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i].why));
		assert_null(s);
	}
}

static void t_seed_file(void **state)
{
	struct nats_secret *s = NULL;
	char err[256];

	(void)state;
	assert_int_equal(parse(&s, SEED "\n", NATS_SECRET_NKEY, err,
			       sizeof(err)), 0);
	assert_null(nats_secret_jwt(s));
	assert_user_key(s);
	nats_secret_free(s);
	assert_int_equal(parse(&s, SEED " the user's seed\nmore\n",
			       NATS_SECRET_NKEY, err, sizeof(err)), 0);
	assert_user_key(s);
	nats_secret_free(s);
	s = NULL;
	assert_int_equal(parse(&s, CREDS(JWT, SEED), NATS_SECRET_NKEY, err,
			       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "f: not a user NKey seed"));
	assert_int_equal(parse(&s, PUB "\n", NATS_SECRET_NKEY, err,
			       sizeof(err)), -EINVAL);
	assert_null(s);
	/* one base32 character too many: 59, which nkeys refuses, were
	 * taken for the 58 */
	assert_int_equal(parse(&s, SEED "A\n", NATS_SECRET_NKEY, err,
			       sizeof(err)), -EINVAL);
	assert_null(s);
}

/* A directory of its own, the file path/NAME in it. */
static char dir[64];

static const char *path_of(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int load(const char *name, enum nats_secret_kind kind, char *err,
		size_t errlen)
{
	struct nats_secret *s = NULL;
	int rc = nats_secret_load(&s, path_of(name), kind, err, errlen);

	if (rc == 0)
		assert_user_key(s);
	else
		assert_null(s);
	nats_secret_free(s);
	return rc;
}

static void t_load(void **state)
{
	char err[512];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_nats_nkey.XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("good.creds", CREDS(JWT, SEED), 0600);
	assert_int_equal(load("good.creds", NATS_SECRET_CREDS, err, sizeof(err)), 0);
	write_file("seed", SEED "\n", 0400);
	assert_int_equal(load("seed", NATS_SECRET_NKEY, err, sizeof(err)), 0);
	write_file("loose.creds", CREDS(JWT, SEED), 0640);
	assert_int_equal(load("loose.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "(mode 0640): chmod 600 "));
	assert_int_equal(symlink("good.creds", path_of("link.creds")), 0);
	assert_int_equal(load("link.creds", NATS_SECRET_CREDS, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "link.creds: a symbolic link"));
	assert_int_equal(mkfifo(path_of("fifo.creds"), 0600), 0);
	assert_int_equal(load("fifo.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fifo.creds: not a regular file"));
	write_file("empty.creds", "", 0600);
	assert_int_equal(load("empty.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty.creds: 0 bytes, not 1 to 65536"));
	write_file("big.creds", CREDS(JWT, SEED), 0600);
	assert_int_equal(truncate(path_of("big.creds"), NATS_SECRET_MAX + 1), 0);
	assert_int_equal(load("big.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "big.creds: 65537 bytes, not 1 to 65536"));
	assert_int_equal(truncate(path_of("big.creds"), NATS_SECRET_MAX), 0);
	assert_int_equal(load("big.creds", NATS_SECRET_CREDS, err, sizeof(err)), 0);
	assert_int_equal(load("absent.creds", NATS_SECRET_CREDS, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "absent.creds: No such file or directory"));
	/* a directory on the way that others may write (without the sticky
	 * bit): someone else could put another file under the name, or
	 * point a directory on the way elsewhere */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(load("good.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "may be written by group or others (mode 0777)"));
	assert_non_null(strstr(err, ": chmod go-w "));
	assert_int_equal(chmod(dir, 01777), 0); /* sticky, as /tmp: ours stay ours */
	assert_int_equal(load("good.creds", NATS_SECRET_CREDS, err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	/* ... the same seen through a symbolic link to the directory: its
	 * real path is checked */
	{
		char sub[160], via[160];

		snprintf(sub, sizeof(sub), "%s/open", dir);
		snprintf(via, sizeof(via), "%s/via", dir);
		assert_int_equal(mkdir(sub, 0700), 0);
		assert_int_equal(symlink("open", via), 0);
		write_file("open/k.creds", CREDS(JWT, SEED), 0600);
		assert_int_equal(load("via/k.creds", NATS_SECRET_CREDS, err, sizeof(err)), 0);
		assert_int_equal(chmod(sub, 0770), 0);
		assert_int_equal(load("via/k.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "/open may be written by group or others (mode 0770)"));
		/* a directory of another user (root only can make one) */
		if (geteuid() == 0) {
			assert_int_equal(chmod(sub, 0700), 0);
			assert_int_equal(chown(sub, 65534, 65534), 0);
			assert_int_equal(load("via/k.creds", NATS_SECRET_CREDS, err, sizeof(err)), -EPERM);
			assert_non_null(strstr(err, "is owned by uid 65534, neither this user nor root"));
			assert_int_equal(chown(sub, 0, 0), 0);
		}
		unlink(path_of("open/k.creds"));
		unlink(via);
		rmdir(sub);
	}
	for (const char *const *n = (const char *const[]){"good.creds", "seed",
		"loose.creds", "link.creds", "fifo.creds", "empty.creds",
		"big.creds", NULL}; *n; n++)
		unlink(path_of(*n));
	rmdir(dir);
}

/* nats_ca_read() of name in dir: its code, the text checked when 0 */
static int ca_read(const char *name, char *err, size_t errlen)
{
	char *text = NULL;
	int rc = nats_ca_read(path_of(name), &text, err, errlen);

	if (rc == 0)
		assert_string_equal(text, "CA\n");
	else
		assert_null(text);
	free(text);
	return rc;
}

static void t_ca(void **state)
{
	char err[512], sub[160];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_nats_nkey.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/certs", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file("certs/ca.pem", "CA\n", 0644);
	assert_int_equal(ca_read("certs/ca.pem", err, sizeof(err)), 0);
	/* through symbolic links, as /etc/ssl/certs holds them: the real
	 * path's directories are checked */
	assert_int_equal(symlink("certs/ca.pem", path_of("link.pem")), 0);
	assert_int_equal(ca_read("link.pem", err, sizeof(err)), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(ca_read("link.pem", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "/certs may be written by group or others "
				    "(mode 0777), who could put another file under "
				    "the name: chmod go-w "));
	assert_int_equal(chmod(sub, 01777), 0); /* sticky, as /tmp */
	assert_int_equal(ca_read("link.pem", err, sizeof(err)), 0);
	assert_int_equal(chmod(sub, 0755), 0);
	/* the link itself in a directory others may write: theirs to
	 * point at any other file */
	{
		char open_dir[160];

		snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
		assert_int_equal(mkdir(open_dir, 0777), 0);
		assert_int_equal(chmod(open_dir, 0777), 0);
		assert_int_equal(symlink("../certs/ca.pem", path_of("open/ca.pem")), 0);
		assert_int_equal(ca_read("open/ca.pem", err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "/open may be written by group or others "
					    "(mode 0777)"));
		unlink(path_of("open/ca.pem"));
		rmdir(open_dir);
	}
	/* the file itself writable by others */
	assert_int_equal(chmod(path_of("certs/ca.pem"), 0664), 0);
	assert_int_equal(ca_read("link.pem", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "link.pem: it says which servers to trust, "
				    "but others may change it (mode 0664): chmod go-w "));
	assert_int_equal(chmod(path_of("certs/ca.pem"), 0444), 0);
	assert_int_equal(ca_read("link.pem", err, sizeof(err)), 0);
	/* another user's file, or directory (root only can make one) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path_of("certs/ca.pem"), 65534, 65534), 0);
		assert_int_equal(ca_read("certs/ca.pem", err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "ca.pem: owned by uid 65534, neither "
					    "this user (0) nor root"));
		assert_int_equal(chown(path_of("certs/ca.pem"), 0, 0), 0);
		assert_int_equal(chown(sub, 65534, 65534), 0);
		assert_int_equal(ca_read("link.pem", err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "is owned by uid 65534, neither this "
					    "user nor root, who could put another "
					    "file under the name: keep the CA file in "
					    "a directory of yours"));
		assert_int_equal(chown(sub, 0, 0), 0);
	}
	assert_int_equal(mkfifo(path_of("fifo.pem"), 0644), 0);
	assert_int_equal(ca_read("fifo.pem", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fifo.pem: not a regular file"));
	assert_int_equal(ca_read("absent.pem", err, sizeof(err)), -ENOENT);
	unlink(path_of("fifo.pem"));
	unlink(path_of("link.pem"));
	unlink(path_of("certs/ca.pem"));
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_creds),
		cmocka_unit_test(t_creds_refused),
		cmocka_unit_test(t_seed_file),
		cmocka_unit_test(t_load),
		cmocka_unit_test(t_ca),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
