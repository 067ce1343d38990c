/*
 * src_lines.c - the `lines` source: text lines from a file or stdin, from
 * TCP connections it accepts (`listen`) or from one it makes (`connect`,
 * made again after `reconnect` seconds when lost), each line CSV or
 * Binance bookTicker/trade JSON (lines_parse.h). Malformed lines are
 * counted and logged, rate-limited, and never stop the source.
 *
 * A listener cannot be taken from its real feeder: a connection that sent
 * no accepted message for `idle_timeout` seconds is closed (comments and
 * malformed lines do not count: they keep nothing open), one address holds
 * at most `peer_connections` of the 64, and when 64 are open a new one
 * takes the place of the connection that has gone longest without an
 * accepted message, one that never sent any first (an attacker with many
 * addresses holds its slots with nothing valid; the real feeder's data is
 * valid). An `allow` list may name the addresses let in, and when
 * accept() runs out of descriptors the listener is left alone for
 * ACCEPT_PAUSE_S (it stays readable, so watching it would spin). Each
 * refusal, idle close and eviction is counted in the source's counters
 * and logged, rate-limited. Refusals, and the ends, read errors and
 * closes of accepted connections that never sent an accepted message,
 * which anyone who may connect causes at will (connect and close, or
 * reset, at once), are limited apart from the input ends and connection
 * errors, each with a count that names them: "connections refused",
 * "ends, errors and closes of connections without an accepted message".
 * An accepted connection that sent some was the feeder's: its end, error
 * or close, trouble with the feed, is limited with the input ends and
 * connection errors, as are a file's end, the lines of `connect` (the
 * feeder mdpub connects to) and accept() errors (mostly mdpub out of
 * descriptors or memory, which an operator must see; a peer holds at
 * most 64 descriptors, and a refused one none) (mdpub(8), LOGGING).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr_allow.h"
#include "channel.h"
#include "lines_parse.h"
#include "clock.h"
#include "local_port.h"
#include "log.h"
#include "net.h"
#include "source.h"

#define LINE_LEN_MAX 4096  /* longer lines are malformed */
#define CONN_BUF 65536
#define CONNS_MAX 64       /* accepted connections at once */
#define ACCEPT_PAUSE_S 0.25 /* listener unwatched after running out of fds */

/* The source's counters, named in lines_counters[]. */
enum {
	LINES_IDLE,         /* closed: no accepted message for idle_timeout */
	LINES_EVICTED,      /* closed: CONNS_MAX open, a new one took its place */
	LINES_PEER_LIMIT,   /* refused: peer_connections from that address */
	LINES_NOT_ALLOWED,  /* refused: address not in `allow` */
	LINES_ACCEPT_ERROR, /* accept() failed (EMFILE, ENFILE, ...) */
};

static const char *const lines_counters[] = {
	"idle", "evicted", "peer_limit", "not_allowed", "accept_errors", NULL,
};

struct lines_conf {
	int format; /* 0 csv, 1 binance */
	char *file;
	char *listen;
	char *connect;
	double reconnect;
	double idle_timeout;
	uint64_t keepalive;
	uint64_t peer_connections;
	char *allow;
};

static const char *const format_names[] = {"csv", "binance", NULL};

#define OFF(field) offsetof(struct lines_conf, field)
static const struct setting lines_settings[] = {
	{"format", SET_CHOICE, OFF(format), 0, 0, 0, format_names},
	{"file", SET_STRING, OFF(file), 0, 0, 0, NULL},
	{"listen", SET_STRING, OFF(listen), 0, 0, 0, NULL},
	{"connect", SET_STRING, OFF(connect), 0, 0, 0, NULL},
	{"reconnect", SET_DOUBLE, OFF(reconnect), 0.01, 3600, 0, NULL},
	{"idle_timeout", SET_DOUBLE, OFF(idle_timeout), 0, 86400, 0, NULL},
	{"keepalive", SET_UINT, OFF(keepalive), 0, 3600, 0, NULL},
	{"peer_connections", SET_UINT, OFF(peer_connections), 1, CONNS_MAX, 0,
	 NULL},
	{"allow", SET_STRING, OFF(allow), 0, 0, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

struct lines;

struct conn {
	struct lines *owner;
	struct conn *next;
	const char *what;  /* for the log */
	ev_io io_w;
	ev_timer idle_w;   /* accepted connections with an idle_timeout */
	struct addr_key peer;
	char peer_text[INET6_ADDRSTRLEN + 16];
	uint64_t lineno;
	uint64_t msgs;     /* accepted messages */
	ev_tstamp last_msg; /* when the last was accepted (or connected) */
	size_t len;
	int skipping;      /* in the tail of a line too long */
	char buf[CONN_BUF];
};

struct lines {
	struct source base;
	struct lines_conf conf;
	json_tokener *tok;
	struct conn *conns;
	unsigned nconns;
	ev_io accept_w;
	ev_timer accept_pause_w;
	struct addr_allow allow;
	ev_io connect_w;
	ev_timer reconnect_w;
	struct log_limit bad_limit;
	struct log_limit net_limit;
	struct log_limit accept_limit; /* apart: info lines, which a level
					* of notice drops, must not use up
					* net_limit's warnings */
	struct log_limit refuse_limit; /* apart: whoever may connect can be
					* refused at will, and must not use
					* up the lines of the feeder's own
					* connections (net_limit) */
	struct log_limit nomsg_limit; /* apart, for the same reason: the
				       * ends, errors and closes of accepted
				       * connections that sent no accepted
				       * message (conn_limit_of()) */
};

static void lines_conf_init(void *conf)
{
	struct lines_conf *c = conf;

	c->reconnect = 1;
	c->idle_timeout = 300;
	c->keepalive = 10;
	c->peer_connections = 8;
}

static int lines_conf_check(const void *conf, char *err, size_t errlen)
{
	const struct lines_conf *c = conf;

	if (!!c->file + !!c->listen + !!c->connect != 1) {
		snprintf(err, errlen, "source lines needs exactly one of "
			 "file = PATH|-, listen = HOST:PORT, connect = HOST:PORT");
		return -1;
	}
	if (c->allow) {
		struct addr_allow allow;
		int rc = addr_allow_parse(&allow, c->allow, "allow", 0, err,
					  errlen);

		addr_allow_free(&allow);
		if (rc < 0)
			return rc;
	}
	if (c->listen)
		return net_check(c->listen, err, errlen);
	return c->connect ? net_check(c->connect, err, errlen) : 0;
}

static const char *name_of(const struct lines *l)
{
	return channel_name(l->base.ch);
}

/* Line `lineno` of c is malformed. */
static void bad_line(struct lines *l, struct conn *c, uint64_t lineno,
		     const char *why)
{
	channel_count_malformed(l->base.ch);
	log_limited(&l->bad_limit, LOG_WARNING,
		    "channel %s: %s line %llu: malformed: %s", name_of(l),
		    c->what, (unsigned long long)lineno, why);
}

static void handle_line(struct lines *l, struct conn *c, char *line,
			size_t len)
{
	struct line_msg m;
	const char *why = NULL;
	int rc;

	c->lineno++;
	if (c->skipping) {
		c->skipping = 0;
		return;
	}
	if (len > LINE_LEN_MAX) {
		bad_line(l, c, c->lineno, "line longer than 4096 bytes");
		return;
	}
	if (len && line[len - 1] == '\r')
		len--;
	/* the parsers read C strings: a NUL would cut the line short */
	if (memchr(line, '\0', len)) {
		bad_line(l, c, c->lineno, "a NUL byte in the line");
		return;
	}
	line[len] = '\0';
	rc = l->conf.format ? lines_parse_json(l->tok, line, len, now_realtime(), &m, &why)
			    : lines_parse_csv(line, now_realtime(), &m, &why);
	if (rc == LINE_OK) {
		channel_publish(l->base.ch, m.type, &m.u, m.size, 0);
		c->msgs++;
		c->last_msg = ev_now(l->base.loop);
	} else if (rc == LINE_BAD)
		bad_line(l, c, c->lineno, why);
}

static void consume(struct lines *l, struct conn *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->buf + start, '\n', c->len - start))) {
		handle_line(l, c, c->buf + start, (size_t)(nl - c->buf) - start);
		start = (size_t)(nl - c->buf) + 1;
	}
	c->len -= start;
	memmove(c->buf, c->buf + start, c->len);
	if (c->len <= LINE_LEN_MAX)
		return;
	if (!c->skipping) /* the line counted once its newline comes */
		bad_line(l, c, c->lineno + 1, "line longer than 4096 bytes");
	c->skipping = 1;
	c->len = 0;
}

static void lines_halt(struct lines *l)
{
	ev_io_stop(l->base.loop, &l->accept_w);
	for (struct conn *c = l->conns; c; c = c->next)
		ev_io_stop(l->base.loop, &c->io_w);
}

static void close_conn(struct lines *l, struct conn *c)
{
	struct conn **pp = &l->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	l->nconns--;
	ev_io_stop(l->base.loop, &c->io_w);
	ev_timer_stop(l->base.loop, &c->idle_w);
	close(c->io_w.fd);
	free(c);
}

/* The limiter of the lines that say c ended, failed or was closed idle or
 * evicted: an accepted connection that never sent an accepted message,
 * whoever may connect has as many of as they like, each connected and
 * closed or reset at once, or left silent (nomsg_limit); one that sent
 * some was the feeder's, and its end is trouble with the feed, as is that
 * of a file or of the connection mdpub makes (net_limit). */
static struct log_limit *conn_limit_of(struct lines *l,
				       const struct conn *c)
{
	return l->conf.listen && !c->msgs ? &l->nomsg_limit : &l->net_limit;
}

/* End of one input (`failed`: a read error). A file's last line may lack
 * its newline; a connection's may not: a peer that died or was reset
 * while it wrote sent part of a line, which could parse as another
 * message (a quantity cut short), so its tail is malformed, as is a
 * file's after a read error. Ends are logged rate-limited (a file has
 * one), as anyone who may connect can make many (conn_limit_of()). */
static void conn_end(struct lines *l, struct conn *c, int failed)
{
	if (c->len && l->conf.file && !failed)
		handle_line(l, c, c->buf, c->len);
	else if (c->len && !c->skipping) /* (skipped: counted already) */
		bad_line(l, c, c->lineno + 1, failed ?
			 "input failed inside the line" :
			 "connection ended inside the line (no newline)");
	log_limited(conn_limit_of(l, c), LOG_NOTICE, "channel %s: %s: end of "
		    "input after %llu lines", name_of(l), c->what,
		    (unsigned long long)c->lineno);
	close_conn(l, c);
	if (l->conf.file)
		channel_source_done(l->base.ch);
	else if (l->conf.connect)
		ev_timer_again(l->base.loop, &l->reconnect_w);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct lines *l = c->owner;
	ssize_t n = read(w->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n > 0) {
		c->len += (size_t)n;
		consume(l, c);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (n < 0)
			log_limited(conn_limit_of(l, c), LOG_WARNING,
				    "channel %s: %s: %s", name_of(l), c->what,
				    strerror(errno));
		conn_end(l, c, n < 0);
	}
	if (channel_paused(l->base.ch))
		lines_halt(l);
}

/* An accepted connection whose idle_timeout ran from its last accepted
 * message (or its connect): closed unless a message came meanwhile (a
 * paused channel reads nothing, so its connections get a new timeout). */
static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	struct lines *l = c->owner;
	ev_tstamp left = c->last_msg + l->conf.idle_timeout - ev_now(loop);

	if (channel_paused(l->base.ch)) {
		c->last_msg = ev_now(loop);
		left = l->conf.idle_timeout;
	}
	if (left > 0) {
		ev_timer_set(w, left, 0);
		ev_timer_start(loop, w);
		return;
	}
	channel_count(l->base.ch, LINES_IDLE, 1);
	log_limited(conn_limit_of(l, c), LOG_WARNING, "channel %s: %s "
		    "closed: no accepted message for %g s", name_of(l),
		    c->what, l->conf.idle_timeout);
	close_conn(l, c);
}

/* Reads fd as the input `what` (NULL: c->peer_text): a new conn, or NULL
 * out of memory with fd closed. */
static struct conn *add_conn(struct lines *l, int fd, const char *what)
{
	struct conn *c = malloc(sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->owner = l;
	c->what = what ? what : c->peer_text;
	c->lineno = 0;
	c->msgs = 0;
	c->last_msg = ev_now(l->base.loop);
	c->len = 0;
	c->skipping = 0;
	c->next = l->conns;
	l->conns = c;
	l->nconns++;
	ev_io_init(&c->io_w, read_cb, fd, EV_READ);
	ev_init(&c->idle_w, idle_cb);
	c->io_w.data = c->idle_w.data = c;
	if (!channel_paused(l->base.ch))
		ev_io_start(l->base.loop, &c->io_w);
	return c;
}

/* add_conn() of a connection while running, where the source is the
 * outer edge; with keepalive, a peer that vanished without a word is
 * seen (net_keepalive()): mdpub never writes to it. */
static struct conn *adopt_conn(struct lines *l, int fd, const char *what)
{
	unsigned keepalive = (unsigned)l->conf.keepalive;
	int r = keepalive ? net_keepalive(fd, keepalive) : 0;
	struct conn *c;

	if (r < 0)
		log_limited(&l->net_limit, LOG_WARNING, "channel %s: %s: TCP "
			    "keepalive: %s (a peer that vanishes is not seen)",
			    name_of(l), what ? what : "connection",
			    strerror(-r));
	c = add_conn(l, fd, what);
	if (!c)
		log_msg(LOG_ERR, "channel %s: %s: out of memory", name_of(l),
			what ? what : "connection");
	return c;
}

static void accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lines *l = w->data;

	if (!channel_paused(l->base.ch))
		ev_io_start(loop, &l->accept_w);
}

static void accept_failed(struct lines *l, int code)
{
	if (code == EAGAIN || code == EWOULDBLOCK || code == EINTR)
		return;
	channel_count(l->base.ch, LINES_ACCEPT_ERROR, 1);
	if (code != EMFILE && code != ENFILE && code != ENOBUFS &&
	    code != ENOMEM) {
		log_limited(&l->net_limit, LOG_WARNING, "channel %s: accept: %s",
			    name_of(l), strerror(code));
		return;
	}
	log_limited(&l->net_limit, LOG_WARNING, "channel %s: accept: %s: not "
		    "accepting for %g s", name_of(l), strerror(code),
		    ACCEPT_PAUSE_S);
	ev_io_stop(l->base.loop, &l->accept_w);
	ev_timer_set(&l->accept_pause_w, ACCEPT_PAUSE_S, 0);
	ev_timer_start(l->base.loop, &l->accept_pause_w);
}

static unsigned conns_from(const struct lines *l, const struct addr_key *peer)
{
	unsigned n = 0;

	for (const struct conn *c = l->conns; c; c = c->next)
		n += addr_key_equal(&c->peer, peer);
	return n;
}

/* Why a connection from peer is refused (counted), or NULL. */
static const char *refusal(struct lines *l, const struct addr_key *peer)
{
	int which;
	const char *why;

	if (!addr_allow_match(&l->allow, peer, 0)) {
		which = LINES_NOT_ALLOWED;
		why = "address not allowed";
	} else if (conns_from(l, peer) >= l->conf.peer_connections) {
		which = LINES_PEER_LIMIT;
		why = "peer_connections reached for this address";
	} else {
		return NULL;
	}
	channel_count(l->base.ch, (unsigned)which, 1);
	return why;
}

/* Whether a should go before b to make room: one that never sent an
 * accepted message before one that did, then the longest without one
 * (on a tie a, later in the list, which is newest first, is older). */
static int evict_first(const struct conn *a, const struct conn *b)
{
	if (!a->msgs != !b->msgs)
		return !a->msgs;
	return a->last_msg <= b->last_msg;
}

/* CONNS_MAX are open: closes the one to go first for a connection from
 * `newcomer`. */
static void make_room(struct lines *l, const char *newcomer)
{
	struct conn *victim = l->conns;

	for (struct conn *c = l->conns; c; c = c->next)
		if (evict_first(c, victim))
			victim = c;
	if (!victim) /* only called with CONNS_MAX open */
		return;
	channel_count(l->base.ch, LINES_EVICTED, 1);
	log_limited(conn_limit_of(l, victim), LOG_WARNING, "channel %s: %s "
		    "closed for a connection from %s: 64 connections open; "
		    "it sent no accepted message for %.1f s%s", name_of(l),
		    victim->what, newcomer,
		    ev_now(l->base.loop) - victim->last_msg,
		    victim->msgs ? "" : " (none since it connected)");
	close_conn(l, victim);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lines *l = w->data;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	struct addr_key peer;
	char text[INET6_ADDRSTRLEN];
	const char *why;
	struct conn *c;
	int fd = accept4(w->fd, (struct sockaddr *)&sa, &salen,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		accept_failed(l, errno);
		return;
	}
	if (addr_key_of(&peer, (struct sockaddr *)&sa, salen) < 0)
		memset(&peer, 0, sizeof(peer));
	addr_key_text(&peer, text, sizeof(text));
	why = refusal(l, &peer);
	if (why) {
		log_limited(&l->refuse_limit, LOG_WARNING, "channel %s: "
			    "connection from %s refused: %s", name_of(l), text,
			    why);
		close(fd);
		return;
	}
	if (l->nconns >= CONNS_MAX)
		make_room(l, text);
	log_limited(&l->accept_limit, LOG_INFO, "channel %s: connection from "
		    "%s accepted on %s", name_of(l), text, l->conf.listen);
	c = adopt_conn(l, fd, NULL);
	if (!c)
		return;
	c->peer = peer;
	snprintf(c->peer_text, sizeof(c->peer_text), "connection from %s", text);
	if (l->conf.idle_timeout > 0) {
		ev_timer_set(&c->idle_w, l->conf.idle_timeout, 0);
		ev_timer_start(loop, &c->idle_w);
	}
}

static void connect_failed(struct lines *l, const char *err)
{
	log_limited(&l->net_limit, LOG_WARNING, "channel %s: %s: %s",
		    name_of(l), l->conf.connect, err);
	ev_timer_again(l->base.loop, &l->reconnect_w);
}

static void connect_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lines *l = w->data;
	char err[256];
	int fd = w->fd;

	ev_io_stop(loop, w);
	ev_io_set(w, -1, EV_WRITE);
	if (net_connected(fd, err, sizeof(err)) < 0) {
		close(fd);
		connect_failed(l, err);
		return;
	}
	/* limited: a peer that accepts and closes at once makes one a
	 * reconnect */
	log_limited(&l->net_limit, LOG_NOTICE, "channel %s: connected to %s",
		    name_of(l), l->conf.connect);
	adopt_conn(l, fd, l->conf.connect);
}

static void reconnect_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lines *l = w->data;
	char err[256];
	int fd;

	ev_timer_stop(loop, w);
	fd = net_connect(l->conf.connect, SOCK_STREAM, err, sizeof(err));
	if (fd < 0) {
		connect_failed(l, err);
		return;
	}
	ev_io_set(&l->connect_w, fd, EV_WRITE);
	ev_io_start(loop, &l->connect_w);
}

static void lines_resume(struct source *src)
{
	struct lines *l = SOURCE_OF(src, struct lines);

	if (l->conf.listen && !ev_is_active(&l->accept_pause_w))
		ev_io_start(l->base.loop, &l->accept_w);
	for (struct conn *c = l->conns; c; c = c->next)
		ev_io_start(l->base.loop, &c->io_w);
}

/* The functions below return 0, or a negated errno with the reason in
 * err. */
static int open_file(struct lines *l, char *err, size_t errlen)
{
	int stdin_ = strcmp(l->conf.file, "-") == 0;
	const char *what = stdin_ ? "stdin" : l->conf.file;
	/* O_NONBLOCK: a FIFO with no writer yet would block the open, and
	 * mdpub's main thread with it (no other channel started, no
	 * signal handled); its reads wait for data in the loop instead */
	int fd = stdin_ ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
			: open(l->conf.file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int code = errno;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(code));
		return -code;
	}
	if (!add_conn(l, fd, what))
		return source_nomem(err, errlen);
	return 0;
}

static int open_listen(struct lines *l, char *err, size_t errlen)
{
	struct addrinfo *ai;
	char where[256];
	int fd;

	if (l->conf.allow) {
		fd = addr_allow_parse(&l->allow, l->conf.allow, "allow", 0,
				      err, errlen);
		if (fd < 0)
			return fd;
	}
	fd = net_bind(l->conf.listen, SOCK_STREAM, &ai, err, errlen);
	if (fd < 0)
		return fd;
	freeaddrinfo(ai);
	net_local(fd, where, sizeof(where));
	log_msg(LOG_NOTICE, "channel %s: listening on %s", name_of(l), where);
	ev_io_set(&l->accept_w, fd, EV_READ);
	ev_io_start(l->base.loop, &l->accept_w);
	return 0;
}

static int open_input(struct lines *l, char *err, size_t errlen)
{
	if (l->conf.file)
		return open_file(l, err, errlen);
	if (l->conf.listen)
		return open_listen(l, err, errlen);
	ev_feed_event(l->base.loop, &l->reconnect_w, EV_TIMER);
	return 0;
}

static void lines_stop(struct source *src)
{
	struct lines *l = SOURCE_OF(src, struct lines);

	while (l->conns)
		close_conn(l, l->conns);
	log_limit_end(&l->bad_limit);
	log_limit_end(&l->net_limit);
	log_limit_end(&l->accept_limit);
	log_limit_end(&l->refuse_limit);
	log_limit_end(&l->nomsg_limit);
	ev_timer_stop(l->base.loop, &l->reconnect_w);
	ev_clear_pending(l->base.loop, &l->reconnect_w);
	ev_io_stop(l->base.loop, &l->connect_w);
	if (l->connect_w.fd >= 0)
		close(l->connect_w.fd);
	ev_io_stop(l->base.loop, &l->accept_w);
	ev_timer_stop(l->base.loop, &l->accept_pause_w);
	if (l->accept_w.fd >= 0)
		close(l->accept_w.fd);
	addr_allow_free(&l->allow);
	if (l->tok)
		json_tokener_free(l->tok);
	free(l);
}

/* Whom `listen` lets publish besides the feeder, into who: 1 when every
 * address (no allow, or a rule of length 0) or every local user (a rule
 * admitting an address of this host), else 0. */
static int listen_admits_all(const struct lines_conf *c, char *who,
			     size_t len)
{
	struct addr_allow allow;
	char err[256], text[96];
	int all = 0;

	if (!c->allow) {
		snprintf(who, len, "no allow");
		return 1;
	}
	if (addr_allow_parse(&allow, c->allow, "allow", 0, err,
			     sizeof(err)) < 0)
		return 0; /* refused by lines_conf_check() */
	for (size_t i = 0; i < allow.n && !all; i++) {
		const struct addr_rule *r = &allow.rules[i];

		addr_rule_text(r, text, sizeof(text));
		if (r->bits == 0)
			all = snprintf(who, len, "allow %s admits every "
				       "address", text) > 0;
		else if (local_port_on_this_host(r))
			all = snprintf(who, len, "allow %s admits every local "
				       "user (an address of this host)",
				       text) > 0;
	}
	addr_allow_free(&allow);
	return all;
}

/* The warning for a channel whose `listen` anyone, or any local user, may
 * connect to, or whose `connect` goes to a port of this host that any
 * local user may listen on: 1 with it in buf, else 0. mdpub -T prints
 * it, and the channel logs it at start. */
static int lines_conf_warning(const void *conf, char *buf, size_t len)
{
	const struct lines_conf *c = conf;
	char who[160];

	if (c->listen && listen_admits_all(c, who, sizeof(who))) {
		snprintf(buf, len, "%s: whoever can connect to listen can "
			 "publish messages in place of the feeder's; set allow "
			 "= the feeder's addresses, on another host (on this "
			 "host every local user can connect) (mdpub.conf(5))",
			 who);
		return 1;
	}
	return net_port_warning(buf, len, "connect", c->connect,
				"the feeder does not listen on it, and then "
				"the channel publishes the lines it sends (a "
				"connection is tried again every reconnect "
				"seconds)", "have the feeder listen on a port");
}

static int lines_start(struct source **out, const void *conf,
		       struct channel *ch, struct ev_loop *loop, char *err,
		       size_t errlen)
{
	struct lines *l = source_alloc(sizeof(*l), ch, loop);
	char warning[512];
	int rc;

	if (!l)
		return source_nomem(err, errlen);
	l->conf = *(const struct lines_conf *)conf;
	if (lines_conf_warning(&l->conf, warning, sizeof(warning)))
		log_msg(LOG_WARNING, "channel %s: %s", name_of(l), warning);
	log_limit_init(&l->bad_limit, 10, LOG_WARNING,
		       "channel %s: malformed lines", name_of(l));
	log_limit_init(&l->net_limit, 10, LOG_WARNING,
		       "channel %s: input ends and connection errors", name_of(l));
	log_limit_init(&l->accept_limit, 10, LOG_INFO,
		       "channel %s: connections accepted", name_of(l));
	log_limit_init(&l->refuse_limit, 10, LOG_WARNING,
		       "channel %s: connections refused", name_of(l));
	log_limit_init(&l->nomsg_limit, 10, LOG_WARNING, "channel %s: ends, "
		       "errors and closes of connections without an accepted "
		       "message", name_of(l));
	ev_io_init(&l->accept_w, accept_cb, -1, EV_READ);
	ev_init(&l->accept_pause_w, accept_pause_cb);
	ev_io_init(&l->connect_w, connect_cb, -1, EV_WRITE);
	ev_init(&l->reconnect_w, reconnect_cb);
	l->reconnect_w.repeat = l->conf.reconnect;
	l->accept_w.data = l->accept_pause_w.data = l->connect_w.data =
		l->reconnect_w.data = l;
	l->tok = json_tokener_new();
	rc = l->tok ? open_input(l, err, errlen) : source_nomem(err, errlen);
	if (rc < 0) {
		lines_stop(&l->base);
		return rc;
	}
	*out = &l->base;
	return 0;
}

const struct source_ops src_lines = {
	.name = "lines",
	.settings = lines_settings,
	.conf_size = sizeof(struct lines_conf),
	.conf_init = lines_conf_init,
	.conf_check = lines_conf_check,
	.conf_warning = lines_conf_warning,
	.start = lines_start,
	.resume = lines_resume,
	.stop = lines_stop,
	.counters = lines_counters,
	.msg_max = SOURCE_MARKET_MSG_MAX,
};
