/*
 * nats_guard.c - see nats_guard.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nats_conn.h"
#include "nats_guard.h"

/* Handshakes followed at once; more are left to a later look. */
#define SEEN_MAX 64

struct seen {
	dev_t dev;
	ino_t ino;
	uint64_t first_ms; /* when first seen in a handshake */
	int cut;           /* its read side is shut down */
	int mark;          /* seen in the current look */
};

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_wake;
static unsigned guard_holds;                 /* guard_mu */
static int guard_running;                    /* guard_mu: a thread runs */
static unsigned long guard_cuts;             /* guard_mu */
static nats_guard_report_fn *guard_report;   /* guard_mu */

static void guard_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&guard_wake, &a);
	pthread_condattr_destroy(&a);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Whether the descriptor NAME of /proc/self/fd (dir) is a socket. */
static int is_socket(int dir, const char *name)
{
	char link[32];
	ssize_t n = readlinkat(dir, name, link, sizeof(link));

	return n > 8 && memcmp(link, "socket:[", 8) == 0;
}

/* Whether the descriptor NAME is non-blocking, as /proc/self/fdinfo
 * (info) says ("flags:" in octal, proc(5)). */
static int is_nonblocking(int info, const char *name)
{
	char text[512], *flags;
	int fd = openat(info, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	flags = strstr(text, "flags:");
	return flags && (strtoul(flags + 6, NULL, 8) & O_NONBLOCK);
}

/* A descriptor of the guard's own for the file of the process's
 * descriptor fd, or a negative code: the guard looks at its copy, never
 * at the library's descriptor, which the library may close meanwhile
 * (its number then maybe reused: the copy is of whatever it was then). */
static int pin(int self, long fd)
{
	int copy = self >= 0 ? pidfd_getfd(self, (int)fd, 0) : -1;

	/* not allowed (a container's seccomp filter, say): a dup */
	if (copy < 0)
		copy = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
	return copy < 0 ? -errno : copy;
}

/* Whether pinned is a connected TCP socket that is non-blocking: a
 * handshake of the client library's (nats_guard.h). Its identity in st. */
static int in_handshake(int pinned, struct stat *st)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti), ilen = sizeof(int);
	int domain, flags = fcntl(pinned, F_GETFL);

	if (flags < 0 || !(flags & O_NONBLOCK) || fstat(pinned, st) < 0)
		return 0;
	if (getsockopt(pinned, SOL_SOCKET, SO_DOMAIN, &domain, &ilen) < 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		return 0;
	/* TCP_INFO fails on any socket but TCP's */
	return getsockopt(pinned, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       len > offsetof(struct tcp_info, tcpi_state) &&
	       ti.tcpi_state == TCP_ESTABLISHED;
}

/* "ADDRESS:PORT" of fd's peer, "?" if it has none now. */
static void peer_text(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;

	snprintf(out, outlen, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof(addr)))
		snprintf(out, outlen, "%s:%u", addr, ntohs(v4->sin_port));
	else if (ss.ss_family == AF_INET6 &&
		 inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof(addr)))
		snprintf(out, outlen, "[%s]:%u", addr, ntohs(v6->sin6_port));
}

/* Shuts down the read side of the socket pinned, and counts it under
 * the lock, so that a connect that fails for it finds it counted
 * (nats_guard_cuts()); reports the 1st, 10th, 100th... 0, or a negative
 * code. */
static int cut(int pinned)
{
	char line[512], so_far[48] = "", peer[INET6_ADDRSTRLEN + 8];
	unsigned long n;

	peer_text(pinned, peer, sizeof(peer));
	pthread_mutex_lock(&guard_mu);
	if (shutdown(pinned, SHUT_RD) < 0) {
		pthread_mutex_unlock(&guard_mu);
		return -errno;
	}
	n = ++guard_cuts;
	while (n % 10 == 0)
		n /= 10;
	if (n == 1 && guard_report) {
		if (guard_cuts > 1)
			snprintf(so_far, sizeof(so_far), " (%lu cut so far)",
				 guard_cuts);
		snprintf(line, sizeof(line), "NATS server %s: no answer to "
			 "CONNECT in %.1f s: connection cut, as the client "
			 "library would wait for ever (nats-io/nats.c issue "
			 "706); is a NATS server there?%s", peer,
			 NATS_CONNECT_TIMEOUT_MS / 1000.0, so_far);
		guard_report(line);
	}
	pthread_mutex_unlock(&guard_mu);
	return 0;
}

static struct seen *seen_at(struct seen *seen, size_t *n,
			    const struct stat *st, uint64_t now)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino)
			return &seen[i];
	if (*n == SEEN_MAX)
		return NULL;
	seen[*n] = (struct seen){.dev = st->st_dev, .ino = st->st_ino,
				 .first_ms = now};
	return &seen[(*n)++];
}

/* Follows the descriptor NAME if it is a handshake, and cuts it once
 * NATS_CONNECT_TIMEOUT_MS have passed since it was first seen connected,
 * and so since the library's timeout began: then the library's loop has
 * spun for NATS_GUARD_PERIOD_MS and the time of the TCP connect at most.
 * The shutdown through the copy reaches the library's descriptor. */
static void look_at(int self, const char *name, struct seen *seen, size_t *n,
		    uint64_t now)
{
	char *end;
	long fd = strtol(name, &end, 10);
	struct seen *s;
	struct stat st;
	int pinned;

	if (end == name || *end || fd < 0 || (pinned = pin(self, fd)) < 0)
		return;
	if (in_handshake(pinned, &st) &&
	    (s = seen_at(seen, n, &st, now)) != NULL) {
		s->mark = 1;
		if (!s->cut && now - s->first_ms >= NATS_CONNECT_TIMEOUT_MS)
			s->cut = cut(pinned) == 0;
	}
	close(pinned);
}

/* One look at the process's descriptors (self: a pidfd of the process,
 * or -1): 0, or a negative code when they cannot be listed. seen[] (*n
 * of them) are the handshakes seen before. */
static int guard_look(int self, struct seen *seen, size_t *n)
{
	DIR *d = opendir("/proc/self/fd");
	int info = open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t now = now_ms();
	struct dirent *e;
	size_t kept = 0;
	int rc = 0;

	if (!d || info < 0) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; i < *n; i++)
		seen[i].mark = 0;
	while ((e = readdir(d)) != NULL)
		if (is_socket(dirfd(d), e->d_name) &&
		    is_nonblocking(info, e->d_name))
			look_at(self, e->d_name, seen, n, now);
	for (size_t i = 0; i < *n; i++)
		if (seen[i].mark)
			seen[kept++] = seen[i];
	*n = kept;
out:
	if (d)
		closedir(d);
	if (info >= 0)
		close(info);
	return rc;
}

static void report_blind(int rc)
{
	char line[256];

	pthread_mutex_lock(&guard_mu);
	if (guard_report) {
		snprintf(line, sizeof(line), "cannot list /proc/self/fd (%s): "
			 "a NATS server that never answers CONNECT would stall "
			 "this program (nats-io/nats.c issue 706)",
			 strerror(-rc));
		guard_report(line);
	}
	pthread_mutex_unlock(&guard_mu);
}

static void *guard_run(void *arg)
{
	struct seen seen[SEEN_MAX];
	int self = pidfd_open(getpid(), 0);
	size_t n = 0;
	int blind = 0;

	(void)arg;
	pthread_mutex_lock(&guard_mu);
	while (guard_holds > 0) {
		struct timespec until;
		uint64_t at;
		int rc;

		pthread_mutex_unlock(&guard_mu);
		rc = guard_look(self, seen, &n);
		if (rc < 0 && !blind++)
			report_blind(rc);
		at = now_ms() + NATS_GUARD_PERIOD_MS;
		until.tv_sec = (time_t)(at / 1000);
		until.tv_nsec = (long)(at % 1000) * 1000000;
		pthread_mutex_lock(&guard_mu);
		if (guard_holds > 0)
			pthread_cond_timedwait(&guard_wake, &guard_mu, &until);
	}
	guard_running = 0;
	pthread_mutex_unlock(&guard_mu);
	if (self >= 0)
		close(self);
	return NULL;
}

int nats_guard_hold(nats_guard_report_fn *report, char *err, size_t errlen)
{
	pthread_t t;
	int rc = 0;

	pthread_once(&guard_once, guard_init);
	pthread_mutex_lock(&guard_mu);
	if (report)
		guard_report = report;
	if (!guard_running) {
		rc = nats_thread_start(&t, guard_run, NULL, err, errlen);
		if (rc == 0) {
			(void)pthread_setname_np(t, "nats-guard");
			pthread_detach(t);
			guard_running = 1;
		}
	}
	if (rc == 0)
		guard_holds++;
	pthread_mutex_unlock(&guard_mu);
	return rc;
}

void nats_guard_release(void)
{
	pthread_mutex_lock(&guard_mu);
	if (guard_holds > 0 && --guard_holds == 0)
		pthread_cond_signal(&guard_wake);
	pthread_mutex_unlock(&guard_mu);
}

unsigned long nats_guard_cuts(void)
{
	unsigned long n;

	pthread_mutex_lock(&guard_mu);
	n = guard_cuts;
	pthread_mutex_unlock(&guard_mu);
	return n;
}
