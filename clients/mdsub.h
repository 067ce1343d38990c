/*
 * mdsub.h - declarations shared by the modules of mdsub, the command-line
 * consumer of mdbus channels (see mdsub(1)).
 */
#ifndef MDSUB_H
#define MDSUB_H

#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>

#include "clock.h"
#include "mdbus.h"
#include "mdbus_msg.h"
#include "retransmit.h"

#define EXIT_USAGE 64   /* EX_USAGE */
#define MDSUB_MAX_SYMBOLS 64
#define MDSUB_MAX_TYPES 32
#define MDSUB_MAX_PATTERNS 32 /* of --grep, and of --exclude */
#define TEXT_LINE_MAX 4096    /* a text line is shorter */

enum out_format { OUT_TEXT, OUT_CSV, OUT_JSON, OUT_RAW, OUT_PROMETHEUS };

/* *sum + n, stopping at 2^64 - 1: loss counts of gaps each up to 2^64 - 2
 * (a recording's sequence may go back and jump again) never wrap. */
static inline void count_add(uint64_t *sum, uint64_t n)
{
	*sum = *sum + n < n ? UINT64_MAX : *sum + n;
}

enum mdsub_mode {
	MODE_READ, MODE_LIST, MODE_STATUS, MODE_WATCH, MODE_UNLINK, MODE_INFO,
	MODE_VERIFY
};

struct fwd_opts {
	const char *url;         /* udp://HOST:PORT */
	int ttl;                 /* multicast TTL */
	const char *iface;       /* multicast interface address, or NULL */
	size_t batch_bytes;      /* largest datagram */
	uint64_t batch_delay_ns; /* longest a message waits in a batch */
	uint64_t heartbeat_ns;   /* heartbeat packet period when idle */
	const char *session;     /* MoldUDP64 session (<= 10 chars) */
	const char *bind;        /* --bind ADDR:PORT, or NULL */
	struct rtx_opts rtx;     /* --retransmit (rtx.listen NULL = off) */
};

/* --grep and --exclude: compiled patterns (grep.c). */
struct grep {
	regex_t include[MDSUB_MAX_PATTERNS];
	regex_t exclude[MDSUB_MAX_PATTERNS];
	int ninclude, nexclude;
};

/* --forward nats://: the NATS bridge (fwd_nats.c, built with libnats). */
enum nats_full { NATS_FULL_AUTO, NATS_FULL_WAIT, NATS_FULL_SKIP };

struct nats_fwd_opts {
	const char *prefix;      /* subject prefix (default "mdbus") */
	const char *stream;      /* JetStream stream, or NULL: core NATS */
	uint64_t max_age_ns;     /* a new stream's limits; 0 = none */
	uint64_t max_bytes;
	uint64_t max_msgs;
	uint64_t replicas;       /* a new stream's replicas (1) */
	int memory;              /* a new stream in memory, not in files */
	uint64_t max_pending;    /* messages published, not yet acknowledged */
	uint64_t stall_ns;       /* longest one wait for the broker */
	enum nats_full full;     /* what a wait that long does next */
	uint64_t ack_wait_ns;    /* an acknowledgement later than this failed */
	int tls;                 /* TLS (also implied by tls://, --nats-ca, --nats-cert) */
	const char *ca, *cert, *key, *creds;
	const char *nkey;        /* a file of a user NKey seed */
};

struct mdsub_opts {
	enum mdsub_mode mode;
	enum out_format format;
	char *const *channels;   /* argv tail */
	int nchannels;
	uint64_t count;          /* -n: stop after this many; 0 = no limit */
	struct mdbus_sub_config sub;
	int until_caught_up;
	int wait_channel;        /* --wait-for-channel */
	int from_given;          /* --from was given */
	int quiet;
	int header;              /* csv header line */
	int summary;
	uint64_t duration_ns;    /* 0 = until stopped */
	uint64_t stats_ns;       /* --stats interval; 0 = off */
	uint64_t watch_ns;       /* --watch interval */
	uint16_t types[MDSUB_MAX_TYPES]; /* -t filter */
	int ntypes;
	const char *symbols[MDSUB_MAX_SYMBOLS]; /* -s filter (fnmatch) */
	int nsymbols;
	struct grep grep;        /* --grep, --exclude */
	const char *record;      /* --record FILE */
	const char *file;        /* --file FILE (or FILE.rec): read it */
	int force;               /* --force: replace an existing FILE; with
				    --unlink, remove an owned channel */
	struct fwd_opts fwd;     /* fwd.url NULL = off */
	int fwd_nats;            /* fwd.url is nats:// or tls:// */
	struct nats_fwd_opts nats;
};

/* opts.c: parses argv; returns 0, or EXIT_USAGE after printing why, or -1
 * when --help / --version was printed (exit 0). */
int opts_parse(struct mdsub_opts *o, int argc, char **argv);

/* from_time.c: a --from time (mdsub(1): HH:MM[:SS[.F]][Z],
 * YYYY-MM-DDTHH:MM[:SS[.F]][Z], @SECONDS[.F]; without Z local time,
 * a day taken from now_ns) into CLOCK_REALTIME ns. Returns 0, or -1
 * with what is wrong in *why (a static string). */
int parse_start_time(const char *s, uint64_t now_ns, uint64_t *ns,
		     const char **why);

/* run.c: the read loop; returns the exit status. */
int run_read(const struct mdsub_opts *o);

/* One message as the sinks see it. */
struct delivery {
	const char *channel;
	const struct mdbus_msg *msg;
	const void *payload;
	uint64_t epoch;       /* of the segment it came from, 0: a recording */
};

/* print.c: formats a message on f in the format fmt; chan_width:
 * width of the channel column of text (0 = no such column). */
/* The header line of text and CSV; chan_width as for print_msg(). */
void print_header(FILE *f, enum out_format fmt, int chan_width);
void print_msg(FILE *f, enum out_format fmt, int chan_width,
	       const struct delivery *d);
/* Name of a message type ("quote", ...) or NULL when unknown. */
const char *msg_type_name(unsigned type);
/* Symbol of a typed message copied NUL-terminated into sym[17]; returns 0
 * when the type has no symbol or the payload is too short. */
int msg_symbol(const struct delivery *d, char sym[MDBUS_SYMBOL_LEN + 1]);

/* grep.c: --grep and --exclude on the text form of messages. */
/* Compiles pattern (POSIX extended) into g's include or exclude set.
 * Returns 0, or -EINVAL with regerror()'s reason (or "too many") in err. */
int grep_add(struct grep *g, int exclude, const char *pattern, char *err,
	     size_t errlen);
void grep_free(struct grep *g);
/* 1 when any pattern was given. */
int grep_active(const struct grep *g);
/* The text line of a message, rendered into line[] (no newline). */
struct text_form {
	FILE *mem;
	char line[TEXT_LINE_MAX];
};
int text_form(struct text_form *t, int chan_width, const struct delivery *d);
void text_form_close(struct text_form *t);
/* 1 when d passes the patterns (one --grep matches, or none is given, and
 * no --exclude matches), 0 when not, or a negated errno. Renders d into
 * t->line when there is any pattern. */
int grep_wanted(const struct grep *g, struct text_form *t, int chan_width,
		const struct delivery *d);

/* filter.c: -t, -s, --grep and --exclude, applied by the read loop and
 * by the re-request server's archive hook (one implementation: what the
 * forwarder drops is never sent on a re-request either). */
/* 1 when d passes them all, 0 when not, or a negated errno (d could not
 * be rendered for the patterns). t: the caller's text form (one per
 * thread), rendered as grep_wanted() does. */
int filter_wanted(const struct mdsub_opts *o, struct text_form *t,
		  int chan_width, const struct delivery *d);

/* fmt.c: text helpers shared by the printers. */
void fmt_fixed(char *buf, size_t len, int64_t v, int min_decimals);
/* How put_str() writes a string that came from shared memory, a file or
 * the network, so that no byte of it reaches a terminal as a control:
 * STR_TEXT: printable ASCII as is, a backslash as \\, any other byte as
 * \xNN; STR_CSV: the same, quoted as in RFC 4180 when it holds a comma or
 * a quote; STR_JSON: a JSON string, \", \\ and \u00NN escapes; STR_PROM: a
 * Prometheus label value, quoted, holding the STR_TEXT form with its
 * backslashes and quotes escaped as the exposition format wants. */
/* STR_QUOTED: STR_TEXT for a string the caller puts between double
 * quotes: a quote in it is shown as \" */
enum str_style { STR_TEXT, STR_QUOTED, STR_CSV, STR_JSON, STR_PROM };
/* Writes at most n bytes of s (stopping at a NUL) in style st; returns the
 * number of characters written. The one way mdsub prints such strings. */
size_t put_str(FILE *f, enum str_style st, const char *s, size_t n);
/* put_str() in STR_TEXT, then spaces up to width characters. */
void put_str_padded(FILE *f, const char *s, size_t n, int width);
void fmt_hex(FILE *f, const void *p, size_t n);
/* JSON numbers: readers that hold them as doubles (JavaScript, jq 1.6,
 * most JSON libraries) round integers past 2^53. mdsub(1), "JSON": an
 * identifier or a timestamp is always a string; a count, a sequence
 * number or a duration is a number up to JSON_EXACT_MAX and a string of
 * its digits beyond; a value bounded well below it (a size, a pid, a
 * capacity) is a number. */
#define JSON_EXACT_MAX (1ULL << 53)
/* A count as a JSON number, or a string past JSON_EXACT_MAX. */
void put_json_count(FILE *f, uint64_t v);
void fmt_time(char *buf, size_t len, uint64_t ns);

/* latency.c: --stats and the final summary, as text or JSON lines. */
struct stats;
/* recorded: messages of a recording, measured in recorded time (the
 * summary's span is from the first timestamp to the last; no latency). */
struct stats *stats_new(const char *channel, int json, int recorded);
void stats_free(struct stats *s);
void stats_add(struct stats *s, const struct mdbus_msg *m, uint64_t now_ns);
void stats_loss(struct stats *s, uint64_t lost);
void stats_line(struct stats *s, uint64_t lag, uint64_t interval_ns);
void stats_summary(struct stats *s, FILE *f, uint64_t elapsed_ns);

/* status.c: mdbus_channel_stats() without consumers: 0 with *st filled,
 * also when the consumer table is missing or spoiled (MDBUS_ETABLE:
 * nothing that calls it needs the consumers), else the negative error. */
int channel_header(const char *channel, const char *dir,
		   struct mdbus_stats *st);

/* record.c: --record FILE. */
struct recorder;
struct mdbus_rec_info;
/* The header of a recording of the live channel: its geometry. */
int rec_info_of(struct mdbus_rec_info *info, const char *channel,
		const struct mdbus_sub_config *sub);
/* Creates path with the header info; an existing file is an error
 * (-EEXIST) unless replace. */
int rec_open(struct recorder **out, const char *path,
	     const struct mdbus_rec_info *info, int replace);
int rec_write(struct recorder *r, const struct delivery *d);
int rec_flush(struct recorder *r);
/* Closes; sets *msgs to the number of messages written. */
int rec_close(struct recorder *r, uint64_t *msgs);

/* forward.c: --forward udp://HOST:PORT; next_seq is the reader's position.
 * Send errors are counted and reported, never fatal. */
struct forwarder;
#define FWD_HOST_MAX 256
/* Splits "udp://HOST:PORT" or "udp://[V6ADDR]:PORT"; returns 0 or
 * -EINVAL. */
int fwd_split_url(const char *url, char *host, size_t hlen, char **port);
/* The same for "HOST:PORT" or "[V6ADDR]:PORT" without the scheme. */
int fwd_split_addr(const char *addr, char *host, size_t hlen, char **port);
/* Opens the socket and sets *out; returns 0, or a negated errno with the
 * reason in err (the URL and what failed). Prints nothing. */
int fwd_open(struct forwarder **out, const struct fwd_opts *o,
	     uint64_t next_seq, char *err, size_t errlen);
void fwd_send(struct forwarder *f, const struct delivery *d, uint64_t now_ns);
/* Flushes a batch that waited long enough, sends a heartbeat when idle;
 * sets *next_ns to the time until it needs calling again. */
void fwd_tick(struct forwarder *f, uint64_t now_ns, uint64_t *next_ns);
/* With --retransmit: messages older than the server's store are read
 * back from `channel` (read with o->sub: its ring, else its archive),
 * those o's filters pass only (text forms of chan_width, as the read
 * loop's). */
void fwd_rtx_older(struct forwarder *f, const char *channel,
		   const struct mdsub_opts *o, int chan_width);
/* The address re-requests are answered on (--retransmit), else "" (also
 * for f NULL: a NATS forward has no UDP forwarder). */
void fwd_rtx_where(const struct forwarder *f, char *buf, size_t len);
/* With --retransmit, rtx_allow_warning() (1 with it in buf), else 0. */
int fwd_rtx_warning(const struct forwarder *f, char *buf, size_t len);
/* Sends the end of session; with --retransmit, repeats it and answers
 * re-requests for --linger, then prints the server's counts on stderr. */
void fwd_close(struct forwarder *f);

/* The warning for a --forward URL whose destination (udp://, or a plain
 * nats:// server of the list) is a port of this host that any local user
 * may bind while its receiver is not running: 1 with it in buf, else 0.
 * tls_options: --nats-tls, --nats-ca or --nats-cert (TLS, not plain). */
int fwd_port_warning(const char *url, int tls_options, char *buf,
		     size_t len);

/* fwd_nats.c: --forward nats://HOST:PORT[,...] (only with libnats:
 * fwd_nats_built() is 0 without). The messages published and not yet
 * acknowledged stay in a window of max_pending, which a failed or late
 * acknowledgement resends in order (doc/protocol.md, "NATS framing").
 * Counts are printed on stderr at close. */
struct nats_fwd;
int fwd_nats_built(void);
/* Connects (and finds or creates the stream); returns 0, or a negative
 * code with the reason in err. Prints nothing. */
int nfwd_open(struct nats_fwd **out, const struct mdsub_opts *o,
	      const char *channel, char *err, size_t errlen);
/* Publishes d, waiting at most nats.stall_ns at a time for room in the
 * window (core NATS too: a thread of its own publishes from the window);
 * then skips d (counted) or waits again (until run_stopping()). Returns
 * 0, -EINTR when told to stop while it waited, or the code of what ends
 * the run (nfwd_failed()): -EACCES, the server refused a message for the
 * user's permissions; -EPROTO, the connection cannot come back. */
int nfwd_send(struct nats_fwd *f, const struct delivery *d);
/* Resends after a failure once the broker had time; sets *next_ns.
 * Returns 0, or the code of what ends the run as nfwd_send(). */
int nfwd_tick(struct nats_fwd *f, uint64_t now_ns, uint64_t *next_ns);
/* 0, or a negative code that ends the run, with the reason in err
 * (NFWD_FAILURE_MAX bytes hold it whole). */
#define NFWD_FAILURE_MAX 1400
int nfwd_failed(struct nats_fwd *f, char *err, size_t errlen);
/* Waits (at most a few ack waits, none when the connection cannot come
 * back) for what is unacknowledged, prints the counts, disconnects.
 * Returns 0, the code of what ended the run (printed) or -ETIMEDOUT (core
 * NATS: the server read nothing meanwhile, printed). */
int nfwd_close(struct nats_fwd *f);

/* run.c: 1 once SIGINT or SIGTERM asked the run to end. */
int run_stopping(void);
/* run.c: the number of SIGINT and SIGTERM received so far. */
int run_signals(void);

/* status.c: --list, --status, --watch; return the exit status. */
int status_run(const struct mdsub_opts *o);

/* unlink.c: --unlink; returns the exit status. */
int unlink_run(const struct mdsub_opts *o);

/* recinfo.c: --info and --verify of the recordings o->channels; returns
 * the exit status (--verify's codes: mdsub(1)). */
int recinfo_run(const struct mdsub_opts *o);
/* What is wrong with a recording whose record at off claims size payload
 * bytes (more than MDBUS_REC_PAYLOAD_MAX), and how to keep the records
 * before it. */
void rec_corrupt_text(char *buf, size_t len, const char *path,
		      uint64_t off, uint32_t size);

#endif /* MDSUB_H */
