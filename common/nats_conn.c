/*
 * nats_conn.c - see nats_conn.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "nats_conn.h"
#include "nats_guard.h"
#include "nats_nkey.h"

#define RECONNECT_WAIT_MS 250
#define RECONNECT_JITTER_MS 100 /* the library's own, for nats:// */
#define RECONNECT_BUF (64 * 1024 * 1024)

const char *nats_conn_error(natsStatus s, char *buf, size_t len)
{
	natsStatus last = NATS_OK;
	const char *detail = nats_GetLastError(&last);

	if (detail && *detail && last == s) {
		if (*detail == '(' && strstr(detail, "): ")) /* (file.c:123) */
			detail = strstr(detail, "): ") + 3;
		snprintf(buf, len, "%s", detail);
	}
	else
		snprintf(buf, len, "%s", natsStatus_GetText(s));
	return buf;
}

/* Blocks the asynchronous signals in this thread, the old mask in *old. */
static void signals_block(sigset_t *old)
{
	static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
				     SIGABRT, SIGSYS};
	sigset_t set;

	sigfillset(&set);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&set, faults[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

int nats_thread_start(pthread_t *t, void *(*fn)(void *), void *arg,
		      char *err, size_t errlen)
{
	sigset_t old;
	int rc;

	signals_block(&old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!rc)
		return 0;
	snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
	return -EAGAIN;
}

/* Splits the list into servers[] (pointers into copy). */
static int split_urls(char *copy, const char *servers[NATSW_URLS_MAX],
		      int *secure)
{
	char *save = NULL;
	int n = 0;

	for (char *t = strtok_r(copy, ",", &save); t && n < NATSW_URLS_MAX;
	     t = strtok_r(NULL, ",", &save)) {
		*secure |= strncmp(t, "tls://", 6) == 0;
		servers[n++] = t;
	}
	return n;
}

/* Whether the connection is made with TLS: a tls:// URL in the list
 * (secure), or the options. */
static int wants_tls(const struct nats_conn_opts *o, int secure)
{
	return secure || o->tls || o->ca || o->cert;
}

/* What natsOptions_*() failed at, or NULL. */
static const char *set_security(natsOptions *opts,
				const struct nats_conn_opts *o, int secure,
				natsStatus *s)
{
	*s = NATS_OK;
	if (wants_tls(o, secure)) {
		if ((*s = natsOptions_SetSecure(opts, true)) != NATS_OK)
			return "TLS";
	}
	return NULL;
}

/* The CA certificates (--nats-ca, ca): read with nats_ca_read()'s
 * checks (a regular file, opened without blocking, at most 1 MB, that
 * only root or we may change: another user who could would choose whom
 * we trust) and handed over in memory. The library's own load opened
 * the name as it was, and a FIFO there blocked the program for good,
 * signals and all (attack run); 0, or a negative code and the reason
 * in err. */
static int set_ca(natsOptions *opts, const struct nats_conn_opts *o,
		  char *err, size_t errlen)
{
	char *text = NULL, why[256];
	natsStatus s;
	int rc;

	if (!o->ca)
		return 0;
	rc = nats_ca_read(o->ca, &text, err, errlen);
	if (rc < 0)
		return rc;
	s = natsOptions_SetCATrustedCertificates(opts, text);
	free(text);
	if (s == NATS_OK)
		return 0;
	nats_conn_error(s, why, sizeof(why));
	snprintf(err, errlen, "%s: %s", o->ca, why);
	return s == NATS_NO_MEMORY ? -ENOMEM : -EINVAL;
}

/* The client certificate and its key (--nats-cert/--nats-key, cert/key):
 * the key read once with the checks of any private key
 * (nats_private_read()), both handed over in memory, so that the library
 * opens no key file by name; 0, or a negative code and the reason in err. */
static int set_client_key(natsOptions *opts, const struct nats_conn_opts *o,
			  char *err, size_t errlen)
{
	char *key = NULL, *cert = NULL, why[256];
	size_t len;
	natsStatus s;
	int rc;

	if (!o->cert || !o->key)
		return 0;
	rc = nats_private_read(o->key, &key, &len, err, errlen);
	if (rc == 0)
		rc = nats_public_read(o->cert, &cert, err, errlen);
	if (rc == 0 &&
	    (s = natsOptions_SetCertificatesChain(opts, cert, key)) != NATS_OK) {
		nats_conn_error(s, why, sizeof(why));
		snprintf(err, errlen, "%s, %s: %s", o->cert, o->key, why);
		rc = -EINVAL;
	}
	free(cert);
	nats_private_free(key);
	return rc;
}

/* natsUserJWTHandler (nats.h): a copy of the .creds file's JWT, which
 * the library frees; at every connection and reconnection. */
static natsStatus user_jwt(char **jwt, char **errtxt, void *closure)
{
	(void)errtxt;
	*jwt = strdup(nats_secret_jwt(closure));
	return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

/* natsSignatureHandler (nats.h): the signature of the server's nonce in
 * memory that the library frees; at every connection and reconnection. */
static natsStatus sign_nonce(char **errtxt, unsigned char **sig, int *siglen,
			     const char *nonce, void *closure)
{
	unsigned char *raw = malloc(NATS_NKEY_SIG_LEN);

	if (!raw)
		return NATS_NO_MEMORY;
	if (!nonce)
		nonce = "";
	if (nats_secret_sign(closure, nonce, strlen(nonce), raw) < 0) {
		free(raw);
		*errtxt = strdup("cannot sign the server's nonce (OpenSSL Ed25519)");
		return NATS_ERR;
	}
	*sig = raw;
	*siglen = NATS_NKEY_SIG_LEN;
	return NATS_OK;
}

/* The creds or nkey file, read once (nats_secret_load()) into *secret,
 * which signs for the connection: the library gets no file name. */
static int set_secret(natsOptions *opts, const struct nats_conn_opts *o,
		      struct nats_secret **secret, char *err, size_t errlen)
{
	const char *path = o->creds ? o->creds : o->nkey;
	natsStatus s;
	int rc;

	if (!path)
		return 0;
	rc = nats_secret_load(secret, path, o->creds ? NATS_SECRET_CREDS :
						       NATS_SECRET_NKEY,
			      err, errlen);
	if (rc < 0)
		return rc;
	s = o->creds ? natsOptions_SetUserCredentialsCallbacks(
			       opts, user_jwt, *secret, sign_nonce, *secret) :
		       natsOptions_SetNKey(opts, nats_secret_public(*secret),
					   sign_nonce, *secret);
	if (s == NATS_OK)
		return 0;
	nats_secret_free(*secret);
	*secret = NULL;
	snprintf(err, errlen, "%s: out of memory", path);
	return -ENOMEM;
}

/* The reason a connection failed, naming the fix when the server
 * refused the user. */
static void connect_error(const struct nats_conn_opts *o, const char *what,
			  natsStatus s, char *err, size_t errlen)
{
	char why[256];

	nats_conn_error(s, why, sizeof(why));
	if (s != NATS_CONNECTION_AUTH_FAILED && !strstr(why, "Authorization"))
		snprintf(err, errlen, "%s: %s", what, why);
	else if (o->creds || o->nkey)
		snprintf(err, errlen, "%s: %s: the server does not know the "
			 "user of %s (a user of an account it trusts?)", what,
			 why, o->creds ? o->creds : o->nkey);
	else
		snprintf(err, errlen, "%s: %s: the server wants credentials "
			 "(%s)", what, why, o->hint ? o->hint : "creds");
}

static const char *set_options(natsOptions *opts,
			       const struct nats_conn_opts *o,
			       const char **servers, int n, int secure,
			       natsStatus *s)
{
	if ((*s = natsOptions_SetServers(opts, servers, n)) != NATS_OK ||
	    (*s = natsOptions_SetNoRandomize(opts, true)) != NATS_OK ||
	    /* only these servers: the guard watches their addresses */
	    (*s = natsOptions_SetIgnoreDiscoveredServers(opts, true)) != NATS_OK ||
	    (*s = natsOptions_SetMaxReconnect(opts, -1)) != NATS_OK ||
	    (*s = natsOptions_SetReconnectBufSize(opts, RECONNECT_BUF)) != NATS_OK ||
	    (*s = natsOptions_SetTimeout(opts, NATS_CONNECT_TIMEOUT_MS)) != NATS_OK ||
	    /* none: the socket blocks after the handshake (nats_guard.h),
	     * whatever NATS_DEFAULT_LIB_WRITE_DEADLINE says */
	    (*s = natsOptions_SetWriteDeadline(opts, 0)) != NATS_OK ||
	    (o->name && (*s = natsOptions_SetName(opts, o->name)) != NATS_OK) ||
	    (o->on_error && (*s = natsOptions_SetErrorHandler(
				     opts, o->on_error, o->closure)) != NATS_OK))
		return "options";
	return set_security(opts, o, secure, s);
}

/* Tells the guard the local address of nc, up (closure: its hold's
 * number); only if it knows none with first. */
static void tell_established(natsConnection *nc, void *closure, int first)
{
	char *ip = NULL;
	int port = 0;

	if (natsConnection_GetLocalIPAndPort(nc, &ip, &port) == NATS_OK)
		nats_guard_established((unsigned long)(uintptr_t)closure, ip,
				       port, first);
	free(ip);
}

/* natsConnectionHandler: the connection is up again, on the library's
 * callback thread, in order with the other callbacks: counted, and the
 * local address of the connection as it is now. */
static void on_reconnected(natsConnection *nc, void *closure)
{
	nats_guard_reconnected((unsigned long)(uintptr_t)closure);
	tell_established(nc, closure, 0);
}

/* What a connection's reconnecting thread needs (nats_conn_held): it
 * ends with the connection (natsConnection_Destroy() joins that thread).
 * Only that thread writes it once connected: one at a time, each made
 * (under the connection's lock) after the last one's last handler call. */
struct nats_conn_watch {
	unsigned long guard_id; /* the guard's hold's number */
	int plain;              /* made without TLS */
	nats_conn_report_fn *on_stuck, *on_away;
	void *closure;
	uint64_t away_since;    /* the reconnecting began (monotonic ns) */
	uint64_t away_next;     /* on_away() when away this long */
	unsigned long tls_refused; /* reconnections refused so (below) */
	char shown[1024];       /* the servers, as natsw_urls_shown() */
};

/* A reconnection of a plain connection failed as NATS_SECURE_CONNECTION_
 * WANTED: the library wants TLS of a server that offers none. It asked
 * for none; it turned so when a server's INFO asked for TLS (libnats
 * 3.4.1, src/conn.c, _checkForSecure(): natsOptions_SetSecure() on the
 * connection's own options, never undone), and the plain server refuses
 * each attempt from then on. Reported at the 1st, 10th, 100th... */
static void look_tls_forced(natsConnection *nc, struct nats_conn_watch *w)
{
	const char *text = NULL;
	char line[1400];
	unsigned long n;

	/* the lock is free here: _doReconnect() calls the handler without
	 * it; the status only (the text is the connection's buffer) */
	if (!w->plain || !w->on_stuck ||
	    natsConnection_GetLastError(nc, &text) !=
		    NATS_SECURE_CONNECTION_WANTED)
		return;
	n = ++w->tls_refused;
	if (!nats_report_due(n))
		return;
	snprintf(line, sizeof(line), "%s: reconnection refused %lu time%s: "
		 "the client library now wants TLS of this connection, as a "
		 "listener on a server's address asked for it while the "
		 "server was away (libnats 3.4.1 keeps that for the "
		 "connection's life), and the server offers none", w->shown,
		 n, n == 1 ? "" : "s");
	w->on_stuck(w->closure, line);
}

/* How long the reconnecting has gone on (attempts: the rounds of this
 * one, from 1, libnats 3.4.1 src/conn.c _doReconnect()), told at
 * NATS_AWAY_REPORT_S, 10, 100... times that: the library says nothing
 * meanwhile, and with several servers look_tls_forced() may not see what
 * keeps the connection away (a server that is down clears the error it
 * looks at). */
static void look_away(struct nats_conn_watch *w, int attempts)
{
	uint64_t now = now_monotonic();
	char line[1200];

	if (attempts == 1) {
		w->away_since = now;
		w->away_next = NATS_AWAY_REPORT_S * NS_PER_SEC;
	}
	if (!w->on_away || now - w->away_since < w->away_next)
		return;
	snprintf(line, sizeof(line), "%s: no server back for %llu s (the "
		 "client library keeps trying)", w->shown,
		 (unsigned long long)(w->away_next / NS_PER_SEC));
	w->away_next *= 10;
	w->on_away(w->closure, line);
}

/* natsCustomReconnectDelayHandler: the wait before the servers are tried
 * again, longer after the guard cut a handshake, with up to
 * RECONNECT_JITTER_MS more, as the library adds without this handler, so
 * that many clients do not come back at once (closure: the connection's
 * watch, which only the reconnecting thread writes). */
static int64_t reconnect_wait(natsConnection *nc, int attempts, void *closure)
{
	struct nats_conn_watch *w = closure;

	look_away(w, attempts);
	look_tls_forced(nc, w);
	return (nats_guard_back_off(w->guard_id) ? NATS_GUARD_BACK_OFF_MS :
						   RECONNECT_WAIT_MS) +
	       rand() % RECONNECT_JITTER_MS;
}

/* natsConnection_Connect() under a hold of the guard (nats_guard.h),
 * kept in *guard if it connects; 0, or the reason in err. */
static int guarded_connect(natsConnection **nc, struct nats_guard **guard,
			   struct nats_conn_watch *watch, natsOptions *opts,
			   const struct nats_conn_opts *o, char *err,
			   size_t errlen)
{
	char shown[1024];
	unsigned long cuts;
	natsStatus s;
	sigset_t old;
	void *id;
	int rc;

	rc = nats_guard_hold(guard, o->urls, o->on_cut, err, errlen);
	if (rc < 0)
		return rc;
	if (o->cut_unread)
		nats_guard_cut_unread(*guard);
	watch->guard_id = nats_guard_id(*guard);
	id = (void *)(uintptr_t)watch->guard_id;
	cuts = nats_guard_cuts(*guard);
	s = natsOptions_SetReconnectedCB(opts, on_reconnected, id);
	if (s == NATS_OK)
		s = natsOptions_SetCustomReconnectDelay(opts, reconnect_wait,
							watch);
	if (s == NATS_OK) {
		signals_block(&old); /* the library's threads */
		s = natsConnection_Connect(nc, opts);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (s == NATS_OK) {
		/* not over what on_reconnected() said of a reconnection
		 * meanwhile */
		tell_established(*nc, id, 1);
		return 0;
	}
	natsw_urls_shown(o->urls, shown, sizeof(shown));
	if (nats_guard_cuts(*guard) != cuts)
		snprintf(err, errlen, "%s: %s: is a NATS server there?", shown,
			 nats_guard_last_cut(*guard));
	else
		connect_error(o, shown, s, err, errlen);
	nats_guard_release(*guard);
	*guard = NULL;
	return s == NATS_NO_SERVER ? -ECONNREFUSED :
	       s == NATS_NO_MEMORY ? -ENOMEM : -EIO;
}

static void watch_init(struct nats_conn_watch *w,
		       const struct nats_conn_opts *o, int secure)
{
	w->plain = !wants_tls(o, secure);
	w->on_stuck = o->on_stuck;
	w->on_away = o->on_away;
	w->closure = o->closure;
	natsw_urls_shown(o->urls, w->shown, sizeof(w->shown));
}

/* nats_conn_open() with the options made, and the list in copy. */
static int open_with(natsConnection **nc, struct nats_conn_held *held,
		     natsOptions *opts, char *copy,
		     const struct nats_conn_opts *o, char *err, size_t errlen)
{
	const char *servers[NATSW_URLS_MAX], *what;
	natsStatus s;
	int n, rc, secure = 0;

	rc = set_secret(opts, o, &held->secret, err, errlen);
	if (rc < 0)
		return rc;
	n = split_urls(copy, servers, &secure);
	watch_init(held->watch, o, secure);
	what = set_options(opts, o, servers, n, secure, &s);
	if (what) {
		connect_error(o, what, s, err, errlen);
		return s == NATS_NO_MEMORY ? -ENOMEM : -EIO;
	}
	rc = set_ca(opts, o, err, errlen);
	if (rc == 0)
		rc = set_client_key(opts, o, err, errlen);
	if (rc < 0)
		return rc;
	return guarded_connect(nc, &held->guard, held->watch, opts, o, err,
			       errlen);
}

int nats_conn_open(natsConnection **nc, struct nats_conn_held *held,
		   const struct nats_conn_opts *o, char *err, size_t errlen)
{
	char *copy = strdup(o->urls);
	natsOptions *opts = NULL;
	int rc;

	*nc = NULL;
	*held = (struct nats_conn_held){0};
	held->watch = calloc(1, sizeof(*held->watch));
	if (!copy || !held->watch || natsOptions_Create(&opts) != NATS_OK) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	else
		rc = open_with(nc, held, opts, copy, o, err, errlen);
	natsOptions_Destroy(opts);
	free(copy);
	if (rc < 0) {
		nats_secret_free(held->secret);
		free(held->watch);
		*held = (struct nats_conn_held){0};
	}
	return rc;
}

void nats_conn_destroy(natsConnection *nc, struct nats_conn_held *held)
{
	if (!nc)
		return;
	natsConnection_Destroy(nc);
	nats_secret_free(held->secret);
	free(held->watch);
	nats_guard_release(held->guard);
	*held = (struct nats_conn_held){0};
}
