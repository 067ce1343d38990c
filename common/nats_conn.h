/*
 * nats_conn.h - a connection to NATS servers as `mdsub --forward nats://`
 * and mdpub's `nats` source both make it: a server list, TLS, credentials
 * files, reconnecting for ever. Built only with the NATS client library
 * (configure --with-nats); see mdsub(1) and mdpub.conf(5).
 */
#ifndef MDBUS_NATS_CONN_H
#define MDBUS_NATS_CONN_H

#include <pthread.h>
#include <stddef.h>

#include <nats/nats.h>

#include "nats_guard.h"
#include "nats_nkey.h"
#include "natswire.h"

/* What a connection's reconnecting tells (closure: the options'), on the
 * client library's reconnecting thread: line says it, without the
 * program's name. */
typedef void nats_conn_report_fn(void *closure, const char *line);

#define NATS_AWAY_REPORT_S 30

struct nats_conn_opts {
	const char *urls;  /* nats://H:P or tls://H:P, comma-separated */
	int tls;           /* TLS even for nats:// URLs */
	const char *ca;    /* PEM file of trusted CA certificates */
	const char *cert;  /* PEM certificate chain ... */
	const char *key;   /* ... and its private key (both or neither) */
	const char *creds; /* a .creds file (JWT and NKey seed) */
	const char *nkey;  /* a file of a user NKey seed (not with creds) */
	const char *name;  /* the connection's name, as servers show it */
	const char *hint;  /* how to give credentials: the options' names */
	natsErrHandler on_error; /* asynchronous errors, or NULL */
	void *closure;     /* on_error's, on_stuck's and on_away's */
	nats_guard_report_fn *on_cut; /* handshakes cut (nats_guard.h) */
	/* the connection cannot come back: at the 1st, 10th, 100th...
	 * attempt that failed so */
	nats_conn_report_fn *on_stuck;
	/* no server came back for NATS_AWAY_REPORT_S, 10, 100... times that */
	nats_conn_report_fn *on_away;
	/* a server that reads nothing for NATS_UNREAD_CUT_MS is cut
	 * (nats_guard_cut_unread()): for a program that only reads */
	int cut_unread;
};

/* What a connection holds besides itself (nats_conn_open()). */
struct nats_conn_held {
	struct nats_secret *secret; /* signs at reconnections (or NULL) */
	struct nats_guard *guard;   /* its hold on the handshake guard */
	struct nats_conn_watch *watch; /* its reconnections (nats_conn.c) */
};

/* Connects; returns 0 and sets *nc and *held, or a negative code with
 * the reason (the servers and what the client library said) in err.
 * Prints nothing. The creds or nkey file is read once, here
 * (nats_secret_load(): ours or root's, for no one else); held->secret
 * (NULL without one) signs the servers' nonces at every reconnection;
 * both end with nats_conn_destroy(). Only the servers of o->urls are
 * tried, never those a cluster announces. A server that refuses the user is
 * named so, with o->hint.
 * The connection reconnects by itself, for ever, and buffers what is
 * published meanwhile (the client library's reconnect buffer). It holds
 * the handshake guard (nats_guard.h) for its life: a handshake that
 * does not end in NATS_CONNECT_TIMEOUT_MS, at the start or at a reconnection,
 * is cut (reported through o->on_cut).
 * A connection made without TLS that the library turned to TLS for good
 * (libnats 3.4.1 does so when a server's INFO asks for TLS: anyone who
 * listens on a server's port while it is away can ask) is refused by the
 * plain server at every reconnection: that is reported through
 * o->on_stuck; only a new connection helps (nats_conn_destroy(), then
 * nats_conn_open()). */
int nats_conn_open(natsConnection **nc, struct nats_conn_held *held,
		   const struct nats_conn_opts *o, char *err, size_t errlen);

/* Destroys a connection nats_conn_open() made (nothing if nc is NULL:
 * none was made), then frees its secret (the destroy joins the
 * reconnecting thread that signs with it) and gives back its hold on
 * the guard. */
void nats_conn_destroy(natsConnection *nc, struct nats_conn_held *held);

/* Starts a thread that calls into the client library: 0, or -EAGAIN
 * with the reason in err. Like the library's own threads (made while
 * nats_conn_open() connects) it runs with the asynchronous signals
 * blocked: a handler run on it would interrupt its socket calls (EINTR:
 * the programs' handlers are not SA_RESTART), which the library takes
 * for a broken connection. */
int nats_thread_start(pthread_t *t, void *(*fn)(void *), void *arg,
		      char *err, size_t errlen);

/* The client library's text for s, with its last error detail. */
const char *nats_conn_error(natsStatus s, char *buf, size_t len);

#endif /* MDBUS_NATS_CONN_H */
