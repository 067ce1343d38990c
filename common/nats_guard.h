/*
 * nats_guard.h - ends the NATS handshakes that libnats 3.4.1 would never
 * end.
 *
 * libnats 3.4.1 (Debian 12) reads the server's answer to CONNECT and PING
 * a byte at a time and leaves that loop only at a newline or at the end
 * of the connection: past its connect timeout every read fails and the
 * loop appends the last byte again, for ever, with the connection's lock
 * held (upstream nats-io/nats.c issue 706, fixed in 3.8.0). A local user
 * who listens on a server's port while the server is down, sends INFO
 * and never PONG (or streams bytes without a newline), stalls the thread
 * that connects (the program's at the start, the library's at each
 * reconnection: then every publish waits on the lock), takes a CPU and
 * grows the process's memory without bound; SIGTERM does not end it.
 *
 * The guard is one thread, running while any connection holds it, that
 * looks every NATS_GUARD_PERIOD_MS at the process's TCP sockets connected
 * to a server of a held connection (the addresses its URLs resolve to:
 * nats_conn_open() has the library ignore the servers a cluster
 * announces, so it connects to no other). The library connects on a
 * non-blocking socket and makes it blocking once the server's PONG came
 * (nats_conn_open() sets no write deadline, which would keep it
 * non-blocking), so such a socket still non-blocking
 * NATS_CONNECT_TIMEOUT_MS after the guard first saw it connected is a
 * handshake past the library's own timeout (which began before the TCP
 * connect): the guard shuts its read side down. The read then sees the
 * end of the connection once the bytes already received are read, the
 * loop ends, and the attempt fails like any other (the library tries the
 * next server or reconnects). The loop has spun for the time of the TCP
 * connect and two periods at most. One that has received more than
 * NATS_HANDSHAKE_BYTES_MAX in its handshake (bytes without a newline,
 * which the library reads a byte a call) is cut at once. After a cut
 * the connection waits NATS_GUARD_BACK_OFF_MS before it tries again
 * (nats_guard_back_off()).
 *
 * The library's TLS handshake waits on a blocking socket with no
 * timeout, for ever for a server that asks for TLS in its INFO and then
 * sends nothing (no CPU taken, no memory grown): a socket to a server
 * still blocking twice NATS_CONNECT_TIMEOUT_MS after it was first seen,
 * and not the one of a connection the library says is up (reported with
 * nats_guard_established() after the connect and at each reconnection),
 * is cut too. The library tells of a reconnection on its one callback
 * thread (asynccb.c): a callback of the program's that held that thread
 * 4 s would have the new connection cut.
 *
 * Once connected, the library's socket is blocking with no write
 * deadline: a server (or a listener on its port) that reads nothing and
 * sends PINGs has the library's reading thread block in the send of a
 * PONG, with the connection's lock held, for ever (nothing more is read,
 * no stale connection seen, a publish or a close waits on the lock). A
 * socket of a hold that asks for it (nats_guard_cut_unread()) that has
 * had bytes to send of which the server acknowledged none for
 * NATS_UNREAD_CUT_MS is cut, both sides: the send fails, and the
 * library reconnects. A program that publishes bounds its own waits on
 * such a server instead (mdsub --nats-stall), and goes on with it once
 * it reads again.
 */
#ifndef MDBUS_NATS_GUARD_H
#define MDBUS_NATS_GUARD_H

#include <stddef.h>

/* The client library's time for a connection attempt, handshake
 * included (natsOptions_SetTimeout()). */
#define NATS_CONNECT_TIMEOUT_MS 2000
#define NATS_CONNECT_TIMEOUT_TEXT "2.0 s"
#define NATS_TLS_TIMEOUT_TEXT "4.0 s" /* twice that */
#define NATS_GUARD_PERIOD_MS 100
/* Received by a socket in its handshake, at most. */
#define NATS_HANDSHAKE_BYTES_MAX (64 * 1024)
#define NATS_HANDSHAKE_BYTES_TEXT "64 KiB"
#define NATS_GUARD_BACK_OFF_MS 2000
/* A connection whose server took none of what it had to send for this
 * long is cut, read and write sides (nats_guard.c unread()). */
#define NATS_UNREAD_CUT_MS 10000
#define NATS_UNREAD_CUT_TEXT "10 s"

/* What the guard reports with (on its own thread): a line without the
 * program's name, e.g. for a log. */
typedef void nats_guard_report_fn(const char *line);

struct nats_guard;

/* 1 when n is 1, 10, 100...: the counts of a repeated event reported. */
static inline int nats_report_due(unsigned long n)
{
	while (n >= 10 && n % 10 == 0)
		n /= 10;
	return n == 1;
}

/* Takes a hold, *g, for a connection about to be made to the servers of
 * urls (nats://HOST:PORT or tls://HOST:PORT, comma-separated, as
 * natsw_urls_check() admits them; each HOST resolved now: a server whose
 * name does not resolve now is not watched): the guard's thread runs from
 * the first hold to the last release. report (or NULL) is called, for
 * the whole process, at the 1st, 10th, 100th... handshake cut and if the
 * guard cannot list the process's descriptors. 0, or a negative code
 * with the reason in err. */
int nats_guard_hold(struct nats_guard **g, const char *urls,
		    nats_guard_report_fn *report, char *err, size_t errlen);

/* Gives a hold back (after natsConnection_Destroy()); NULL: nothing. */
void nats_guard_release(struct nats_guard *g);

/* The handshakes with g's servers the guard has cut so far. */
unsigned long nats_guard_cuts(struct nats_guard *g);

/* Why it cut the last of them ("no answer to CONNECT in 2.0 s ..."), or
 * NULL. */
const char *nats_guard_last_cut(struct nats_guard *g);

/* Whether a handshake of the hold numbered id was cut since the last
 * call: its next reconnection should wait longer (a listener that never
 * answers takes a CPU for a moment at each attempt). */
int nats_guard_back_off(unsigned long id);

/* g's number, for the library's callbacks, which may come after
 * nats_guard_release(). */
unsigned long nats_guard_id(const struct nats_guard *g);

/* Has the guard cut the hold's connections whose server reads nothing
 * (NATS_UNREAD_CUT_MS above). */
void nats_guard_cut_unread(struct nats_guard *g);

/* The connection of the hold numbered id is up on its local address
 * IP:PORT (as natsConnection_GetLocalIPAndPort() says); with first, only
 * if none is known (the connect's own word, which a reconnection told
 * meanwhile overrides); nothing once released. The address is kept when
 * the connection goes down: its socket, closing, is not a handshake. */
void nats_guard_established(unsigned long id, const char *ip, int port,
			    int first);

/* The connection of the hold numbered id is up again: told from the
 * library's reconnected handler, which libnats 3.4.1 calls once it sent
 * what its reconnect buffer held (src/conn.c _doReconnect());
 * nothing once released. */
void nats_guard_reconnected(unsigned long id);

/* How many times g's connection was told up again so far. */
unsigned long nats_guard_reconnections(struct nats_guard *g);

#endif /* MDBUS_NATS_GUARD_H */
