/*
 * nats_guard.c - see nats_guard.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <linux/tcp.h> /* tcpi_bytes_received: not in glibc's */
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h> /* SIOCOUTQ */
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr_allow.h"
#include "clock.h"
#include "nats_conn.h"
#include "nats_guard.h"

/* Addresses a hold's URLs resolve to, at most. */
#define PEERS_MAX 64

/* A TCP endpoint: address (an IPv4-mapped IPv6 address is its IPv4
 * address) and port. */
struct peer {
	struct addr_key addr;
	unsigned port;
};

struct nats_guard {
	struct nats_guard *next; /* guard_mu */
	unsigned long id;
	unsigned long cuts;      /* guard_mu */
	unsigned long cuts_told; /* guard_mu: by nats_guard_back_off() */
	const char *last_cut;    /* guard_mu: why, or NULL */
	struct peer local;       /* guard_mu: its connection's, or zero */
	unsigned long reconnections; /* guard_mu: nats_guard_reconnected() */
	int cut_unread;          /* guard_mu: nats_guard_cut_unread() */
	size_t n;
	struct peer peer[PEERS_MAX];
};

/* A socket followed since the guard first saw it connected to a server. */
struct seen {
	dev_t dev;
	ino_t ino;
	uint64_t first_ms;
	uint64_t acked;        /* bytes the server acknowledged, last look */
	uint64_t unread_ms;    /* since then, with bytes to send; 0: none */
	int cut;  /* shut down */
	int mark; /* seen in the current look */
};

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_wake;
static struct nats_guard *guard_holds;     /* guard_mu */
static int guard_running;                  /* guard_mu: a thread runs */
static unsigned long guard_cuts;           /* guard_mu */
static unsigned long guard_last_id;        /* guard_mu */
static nats_guard_report_fn *guard_report; /* guard_mu */

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
	return now_monotonic() / 1000000;
}

/* The endpoint of sa (len bytes); 0, or -1 if not IPv4 or IPv6. */
static int peer_of(struct peer *p, const struct sockaddr *sa, socklen_t len)
{
	p->port = addr_port_of(sa, len);
	return addr_key_of(&p->addr, sa, len) < 0 ? -1 : 0;
}

/* Adds the addresses of one URL (n bytes at u: SCHEME://[CREDENTIALS@]
 * HOST:PORT, HOST maybe [IPV6]) to g. */
static void resolve_url(struct nats_guard *g, const char *u, size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	const char *host = strstr(u, "://"), *end = u + n, *colon;
	char name[256], port[8];

	if (!host || host >= end)
		return;
	host += 3;
	for (const char *at = host; at < end; at++)
		if (*at == '@') /* the library takes the last one's */
			host = at + 1;
	for (colon = end - 1; colon > host && *colon != ':'; colon--)
		;
	if (colon <= host || (size_t)(end - colon) > sizeof(port))
		return;
	if (*host == '[' && colon[-1] == ']')
		host++;
	if ((size_t)(colon - host) >= sizeof(name))
		return;
	memcpy(name, host, (size_t)(colon - host));
	name[colon - host - (colon[-1] == ']')] = '\0';
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	if (getaddrinfo(name, port, &hints, &ai) != 0)
		return;
	for (struct addrinfo *a = ai; a && g->n < PEERS_MAX; a = a->ai_next)
		if (peer_of(&g->peer[g->n], a->ai_addr, a->ai_addrlen) == 0)
			g->n++;
	freeaddrinfo(ai);
}

static int same_peer(const struct peer *a, const struct peer *b)
{
	return a->port == b->port && addr_key_equal(&a->addr, &b->addr);
}

/* Whether g has the peer p. */
static int has_peer(const struct nats_guard *g, const struct peer *p)
{
	for (size_t i = 0; i < g->n; i++)
		if (same_peer(&g->peer[i], p))
			return 1;
	return 0;
}

/* Whether the descriptor NAME of /proc/self/fd (dir) is a socket. */
static int is_socket(int dir, const char *name)
{
	char link[32];
	ssize_t n = readlinkat(dir, name, link, sizeof(link));

	return n > 8 && memcmp(link, "socket:[", 8) == 0;
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

/* Whether a hold with the server p asked for unread() cuts. Under
 * guard_mu. */
static int cuts_unread(const struct peer *p)
{
	for (const struct nats_guard *g = guard_holds; g; g = g->next)
		if (g->cut_unread && has_peer(g, p))
			return 1;
	return 0;
}

/* Whether some hold's connection is established on the local address
 * l (its socket's). Under guard_mu. */
static int established(const struct peer *l)
{
	for (const struct nats_guard *g = guard_holds; g; g = g->next)
		if (g->local.addr.family && same_peer(&g->local, l))
			return 1;
	return 0;
}

/* Whether pinned is a TCP socket connected to a server of a hold: its
 * identity in st, its peer in p, its own address in l, the bytes it has
 * received in *got and that the server acknowledged in *acked. Under
 * guard_mu. */
static int to_server(int pinned, struct stat *st, struct peer *p,
		     struct peer *l, uint64_t *got, uint64_t *acked)
{
	struct sockaddr_storage ss, ls;
	socklen_t len = sizeof(ss), llen = sizeof(ls);
	struct tcp_info ti = {0};
	socklen_t tlen = sizeof(ti);
	int proto;
	socklen_t plen = sizeof(proto);

	if (getsockopt(pinned, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) < 0 ||
	    proto != IPPROTO_TCP ||
	    getpeername(pinned, (struct sockaddr *)&ss, &len) < 0 ||
	    peer_of(p, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(pinned, (struct sockaddr *)&ls, &llen) < 0 ||
	    peer_of(l, (struct sockaddr *)&ls, llen) < 0)
		return 0;
	for (const struct nats_guard *g = guard_holds; g; g = g->next) {
		if (!has_peer(g, p))
			continue;
		if (getsockopt(pinned, IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0 ||
		    fstat(pinned, st) < 0)
			return 0;
		*got = tlen >= offsetof(struct tcp_info, tcpi_bytes_received) +
				       sizeof(ti.tcpi_bytes_received) ?
			       ti.tcpi_bytes_received : 0;
		*acked = tlen >= offsetof(struct tcp_info, tcpi_bytes_acked) +
					 sizeof(ti.tcpi_bytes_acked) ?
				 ti.tcpi_bytes_acked : 0;
		return 1;
	}
	return 0;
}

/* "ADDRESS:PORT" of p. */
static void peer_text(const struct peer *p, char *out, size_t outlen)
{
	char addr[INET6_ADDRSTRLEN];

	addr_key_text(&p->addr, addr, sizeof(addr));
	snprintf(out, outlen, p->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 addr, p->port);
}

/* Shuts down the socket pinned (how: SHUT_RD, or SHUT_RDWR to end a send
 * that waits too) and counts the cut (why)
 * in the holds of its peer p under guard_mu, so that a connect that
 * fails for it finds it counted (nats_guard_cuts()). The line to report,
 * if any, in line. 0, or a negative code. Under guard_mu. */
static int cut(int pinned, int how, const struct peer *p, const char *why,
	       char *line, size_t linelen)
{
	char addr[INET6_ADDRSTRLEN + 8], so_far[48] = "";

	if (shutdown(pinned, how) < 0)
		return -errno;
	for (struct nats_guard *g = guard_holds; g; g = g->next)
		if (has_peer(g, p)) {
			g->cuts++;
			g->last_cut = why;
		}
	if (!nats_report_due(++guard_cuts) || !guard_report)
		return 0;
	if (guard_cuts > 1)
		snprintf(so_far, sizeof(so_far), " (%lu cut so far)", guard_cuts);
	peer_text(p, addr, sizeof(addr));
	snprintf(line, linelen, "NATS server %s: %s: connection cut, as the "
		 "client library would wait for ever; is a NATS server "
		 "there?%s", addr, why, so_far);
	return 0;
}

/* The entry of the socket of st in *seen, added if new (first seen now);
 * NULL without memory. */
static struct seen *seen_at(struct seen **seen, size_t *n, size_t *cap,
			    const struct stat *st)
{
	for (size_t i = 0; i < *n; i++)
		if ((*seen)[i].dev == st->st_dev && (*seen)[i].ino == st->st_ino)
			return &(*seen)[i];
	if (*n == *cap) {
		size_t more = *cap ? 2 * *cap : 16;
		struct seen *s = realloc(*seen, more * sizeof(*s));

		if (!s)
			return NULL;
		*seen = s;
		*cap = more;
	}
	(*seen)[*n] = (struct seen){.dev = st->st_dev, .ino = st->st_ino,
				    .first_ms = now_ms()};
	return &(*seen)[(*n)++];
}

struct look {
	int self;          /* a pidfd of the process, or -1 */
	struct seen *seen; /* sockets to servers seen before */
	size_t n, cap;
};

/* Why the socket pinned, to a server, first seen age_ms ago, got bytes
 * received, is to be cut, or NULL. Non-blocking with more than
 * NATS_HANDSHAKE_BYTES_MAX received: a stream without a newline, which
 * the library would read a byte a call until the timeout (no server's
 * INFO and PONG are that long: the library takes an INFO line of 32 KB
 * at most). Still non-blocking NATS_CONNECT_TIMEOUT_MS after the
 * TCP connect ended (which was after the library's timeout began): a
 * handshake past the timeout, its loop spinning (for the time of the
 * TCP connect and two periods at most). Blocking, and not a connection
 * the library has said is up (nats_guard_established()) twice that
 * long after: in a TLS handshake, which waits with no timeout. Under
 * guard_mu. */
static const char *cut_why(int pinned, const struct peer *l, uint64_t age_ms,
			   uint64_t got)
{
	int flags = fcntl(pinned, F_GETFL);

	if (flags < 0)
		return NULL;
	if ((flags & O_NONBLOCK) && got > NATS_HANDSHAKE_BYTES_MAX)
		return "more than " NATS_HANDSHAKE_BYTES_TEXT " and no "
		       "answer to CONNECT";
	if (age_ms < NATS_CONNECT_TIMEOUT_MS)
		return NULL;
	if (flags & O_NONBLOCK)
		return "no answer to CONNECT in " NATS_CONNECT_TIMEOUT_TEXT
		       " (nats-io/nats.c issue 706)";
	if (age_ms >= 2 * NATS_CONNECT_TIMEOUT_MS && !established(l))
		return "TLS handshake not done in " NATS_TLS_TIMEOUT_TEXT;
	return NULL;
}

/* Whether the socket pinned (its entry s), to a server that has
 * acknowledged `acked` bytes of it, has had bytes to send that the
 * server took none of for NATS_UNREAD_CUT_MS: one that never reads (and
 * sends PINGs, whose PONGs then fill the socket) holds the library's
 * thread in a send, with the connection's lock, for ever: no stale
 * connection is seen, nothing is read, and a stop waits on that lock
 * (attack run). now in ms. Under guard_mu. */
static int unread(int pinned, struct seen *s, uint64_t acked, uint64_t now)
{
	int outq = 0;

	if (ioctl(pinned, SIOCOUTQ, &outq) < 0 || outq <= 0 || acked != s->acked) {
		s->acked = acked;
		s->unread_ms = 0;
		return 0;
	}
	if (!s->unread_ms)
		s->unread_ms = now;
	return now - s->unread_ms >= NATS_UNREAD_CUT_MS;
}

/* Follows the descriptor NAME if it is a socket connected to a server,
 * from when it is first seen so, and cuts it if cut_why() says so. The
 * shutdown through the copy reaches the library's descriptor. */
static void look_at(struct look *l, const char *name)
{
	char *end, line[512] = "";
	long fd = strtol(name, &end, 10);
	nats_guard_report_fn *report;
	const char *why;
	struct seen *s;
	struct stat st;
	struct peer p, local;
	uint64_t got = 0, acked = 0, now;
	int pinned, known, how = SHUT_RD;

	if (end == name || *end || fd < 0 || (pinned = pin(l->self, fd)) < 0)
		return;
	pthread_mutex_lock(&guard_mu);
	known = to_server(pinned, &st, &p, &local, &got, &acked);
	if (known && (s = seen_at(&l->seen, &l->n, &l->cap, &st)) != NULL) {
		s->mark = 1;
		now = now_ms(); /* not before seen_at() set first_ms */
		why = s->cut ? NULL :
			       cut_why(pinned, &local, now - s->first_ms, got);
		if (!why && !s->cut && cuts_unread(&p) &&
		    unread(pinned, s, acked, now)) {
			why = "it read nothing sent to it for "
			      NATS_UNREAD_CUT_TEXT;
			how = SHUT_RDWR;
		}
		if (why)
			s->cut = cut(pinned, how, &p, why, line,
				     sizeof(line)) == 0;
	}
	report = guard_report;
	pthread_mutex_unlock(&guard_mu);
	close(pinned);
	if (*line)
		report(line);
}

/* One look at the process's descriptors: 0, or a negative code when
 * they cannot be listed. */
static int guard_look(struct look *l)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t kept = 0;

	if (!d)
		return -errno;
	for (size_t i = 0; i < l->n; i++)
		l->seen[i].mark = 0;
	while ((e = readdir(d)) != NULL)
		if (is_socket(dirfd(d), e->d_name))
			look_at(l, e->d_name);
	closedir(d);
	for (size_t i = 0; i < l->n; i++)
		if (l->seen[i].mark)
			l->seen[kept++] = l->seen[i];
	l->n = kept;
	return 0;
}

static void report_blind(int rc)
{
	char line[256];
	nats_guard_report_fn *report;

	pthread_mutex_lock(&guard_mu);
	report = guard_report;
	pthread_mutex_unlock(&guard_mu);
	if (!report)
		return;
	snprintf(line, sizeof(line), "cannot list /proc/self/fd (%s): a NATS "
		 "server that never answers CONNECT would stall this program "
		 "(nats-io/nats.c issue 706)", strerror(-rc));
	report(line);
}

static void *guard_run(void *arg)
{
	struct look l = {.self = pidfd_open(getpid(), 0)};
	int blind = 0;

	(void)arg;
	pthread_mutex_lock(&guard_mu);
	while (guard_holds) {
		struct timespec until;
		uint64_t at;
		int rc;

		pthread_mutex_unlock(&guard_mu);
		rc = guard_look(&l);
		if (rc < 0 && !blind++)
			report_blind(rc);
		at = now_ms() + NATS_GUARD_PERIOD_MS;
		until.tv_sec = (time_t)(at / 1000);
		until.tv_nsec = (long)(at % 1000) * 1000000;
		pthread_mutex_lock(&guard_mu);
		if (guard_holds)
			pthread_cond_timedwait(&guard_wake, &guard_mu, &until);
	}
	guard_running = 0;
	pthread_mutex_unlock(&guard_mu);
	free(l.seen);
	if (l.self >= 0)
		close(l.self);
	return NULL;
}

int nats_guard_hold(struct nats_guard **g, const char *urls,
		    nats_guard_report_fn *report, char *err, size_t errlen)
{
	struct nats_guard *h = calloc(1, sizeof(*h));
	pthread_t t;
	int rc = 0;

	*g = NULL;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (const char *u = urls; *u;) {
		size_t n = strcspn(u, ",");

		resolve_url(h, u, n);
		u += n + (u[n] == ',');
	}
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
	if (rc == 0) {
		h->id = ++guard_last_id;
		h->next = guard_holds;
		guard_holds = h;
		*g = h;
	}
	pthread_mutex_unlock(&guard_mu);
	if (rc != 0)
		free(h);
	return rc;
}

void nats_guard_release(struct nats_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&guard_mu);
	for (struct nats_guard **p = &guard_holds; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	if (!guard_holds)
		pthread_cond_signal(&guard_wake);
	pthread_mutex_unlock(&guard_mu);
	free(g);
}

/* A count of a hold's, read under guard_mu. */
static unsigned long count_of(const unsigned long *count)
{
	unsigned long n;

	pthread_mutex_lock(&guard_mu);
	n = *count;
	pthread_mutex_unlock(&guard_mu);
	return n;
}

unsigned long nats_guard_cuts(struct nats_guard *g)
{
	return count_of(&g->cuts);
}

const char *nats_guard_last_cut(struct nats_guard *g)
{
	const char *why;

	pthread_mutex_lock(&guard_mu);
	why = g->last_cut;
	pthread_mutex_unlock(&guard_mu);
	return why;
}

void nats_guard_cut_unread(struct nats_guard *g)
{
	pthread_mutex_lock(&guard_mu);
	g->cut_unread = 1;
	pthread_mutex_unlock(&guard_mu);
}

unsigned long nats_guard_id(const struct nats_guard *g)
{
	return g->id;
}

void nats_guard_established(unsigned long id, const char *ip, int port,
			    int first)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST |
					     AI_NUMERICSERV},
			*ai = NULL;
	struct peer local = {0};
	char serv[8];

	snprintf(serv, sizeof(serv), "%d", port);
	if (ip && getaddrinfo(ip, serv, &hints, &ai) == 0 &&
	    peer_of(&local, ai->ai_addr, ai->ai_addrlen) < 0)
		local = (struct peer){0};
	if (ai)
		freeaddrinfo(ai);
	pthread_mutex_lock(&guard_mu);
	for (struct nats_guard *g = guard_holds; g; g = g->next)
		if (g->id == id && (!first || !g->local.addr.family))
			g->local = local;
	pthread_mutex_unlock(&guard_mu);
}

void nats_guard_reconnected(unsigned long id)
{
	pthread_mutex_lock(&guard_mu);
	for (struct nats_guard *g = guard_holds; g; g = g->next)
		if (g->id == id)
			g->reconnections++;
	pthread_mutex_unlock(&guard_mu);
}

unsigned long nats_guard_reconnections(struct nats_guard *g)
{
	return count_of(&g->reconnections);
}

int nats_guard_back_off(unsigned long id)
{
	int cut = 0;

	pthread_mutex_lock(&guard_mu);
	for (struct nats_guard *g = guard_holds; g; g = g->next)
		if (g->id == id) {
			cut = g->cuts != g->cuts_told;
			g->cuts_told = g->cuts;
		}
	pthread_mutex_unlock(&guard_mu);
	return cut;
}
