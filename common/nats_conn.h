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

#include "nats_nkey.h"
#include "natswire.h"

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
	void *closure;     /* on_error's */
};

/* Connects; returns 0 and sets *nc and *secret, or a negative code with
 * the reason (the servers and what the client library said) in err.
 * Prints nothing. The creds or nkey file is read once, here
 * (nats_secret_load(): ours or root's, for no one else); *secret (NULL
 * without one) signs the servers' nonces at every reconnection: free it
 * with nats_secret_free() after natsConnection_Destroy(), which joins
 * the library's reconnecting thread. A server that refuses the user is
 * named so, with o->hint.
 * The connection reconnects by itself, for ever, and buffers what is
 * published meanwhile (the client library's reconnect buffer). */
int nats_conn_open(natsConnection **nc, struct nats_secret **secret,
		   const struct nats_conn_opts *o, char *err, size_t errlen);

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
