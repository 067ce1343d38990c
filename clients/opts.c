/*
 * opts.c - mdsub's command line (getopt_long). Every bad argument gets a
 * message naming it and the usage hint, and exit status 64 (EX_USAGE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "mdsub.h"
#include "addr_allow.h"
#include "moldudp64.h"
#include "natswire.h"
#include "parse_num.h"

#define DEFAULT_BATCH_BYTES 1400   /* fits an Ethernet MTU */
#define DEFAULT_BATCH_DELAY_US 200
#define DEFAULT_HEARTBEAT_SEC 1.0
#define DEFAULT_TTL 1
#define DEFAULT_NATS_PREFIX "mdbus"
#define DEFAULT_NATS_PENDING 4096
#define DEFAULT_NATS_STALL_MS 100
#define DEFAULT_NATS_ACK_WAIT_MS 2000
#define DEFAULT_RTX_DEPTH 262144   /* messages kept for re-requests */
#define DEFAULT_RTX_BYTES (32ULL << 20)
#define DEFAULT_RTX_RATE 10000000  /* answer bytes/s per requester */
#define DEFAULT_LINGER_SEC 1.0
#define RTX_DEPTH_MAX (1ULL << 28)
#define RTX_BYTES_MAX (1ULL << 36)

enum {
	OPT_STATS = 256, OPT_SUMMARY, OPT_TTL, OPT_IFACE,
	OPT_BATCH_BYTES, OPT_BATCH_DELAY, OPT_HEARTBEAT, OPT_SESSION,
	OPT_NO_HEADER, OPT_STATUS, OPT_OWNER, OPT_WAIT_CHANNEL, OPT_FORCE,
	OPT_GREP, OPT_EXCLUDE, OPT_UNLINK, OPT_FILE, OPT_INFO, OPT_VERIFY,
	OPT_NATS_PREFIX, OPT_NATS_STREAM, OPT_NATS_MAX_AGE, OPT_NATS_MAX_BYTES,
	OPT_NATS_MAX_MSGS, OPT_NATS_REPLICAS, OPT_NATS_STORAGE,
	OPT_NATS_MAX_PENDING, OPT_NATS_STALL, OPT_NATS_FULL, OPT_NATS_ACK_WAIT,
	OPT_NATS_TLS, OPT_NATS_CA, OPT_NATS_CERT, OPT_NATS_KEY, OPT_NATS_CREDS,
	OPT_NATS_NKEY,
	OPT_RETRANSMIT, OPT_RTX_DEPTH, OPT_RTX_BYTES, OPT_RTX_RATE, OPT_LINGER,
	OPT_RTX_ALLOW, OPT_BIND,
	OPT_ARCHIVE, OPT_END
};

static const struct option long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"count", required_argument, NULL, 'n'},
	{"from", required_argument, NULL, 'F'},
	{"archive", required_argument, NULL, OPT_ARCHIVE},
	{"until-caught-up", no_argument, NULL, 'u'},
	{"symbol", required_argument, NULL, 's'},
	{"type", required_argument, NULL, 't'},
	{"grep", required_argument, NULL, OPT_GREP},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"quiet", no_argument, NULL, 'q'},
	{"wait", required_argument, NULL, 'w'},
	{"duration", required_argument, NULL, 'd'},
	{"stats", optional_argument, NULL, OPT_STATS},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"record", required_argument, NULL, 'r'},
	{"force", no_argument, NULL, OPT_FORCE},
	{"wait-for-channel", no_argument, NULL, OPT_WAIT_CHANNEL},
	{"forward", required_argument, NULL, 'f'},
	{"ttl", required_argument, NULL, OPT_TTL},
	{"interface", required_argument, NULL, OPT_IFACE},
	{"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
	{"batch-delay", required_argument, NULL, OPT_BATCH_DELAY},
	{"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
	{"session", required_argument, NULL, OPT_SESSION},
	{"nats-prefix", required_argument, NULL, OPT_NATS_PREFIX},
	{"nats-stream", required_argument, NULL, OPT_NATS_STREAM},
	{"nats-max-age", required_argument, NULL, OPT_NATS_MAX_AGE},
	{"nats-max-bytes", required_argument, NULL, OPT_NATS_MAX_BYTES},
	{"nats-max-msgs", required_argument, NULL, OPT_NATS_MAX_MSGS},
	{"nats-replicas", required_argument, NULL, OPT_NATS_REPLICAS},
	{"nats-storage", required_argument, NULL, OPT_NATS_STORAGE},
	{"nats-max-pending", required_argument, NULL, OPT_NATS_MAX_PENDING},
	{"nats-stall", required_argument, NULL, OPT_NATS_STALL},
	{"nats-full", required_argument, NULL, OPT_NATS_FULL},
	{"nats-ack-wait", required_argument, NULL, OPT_NATS_ACK_WAIT},
	{"nats-tls", no_argument, NULL, OPT_NATS_TLS},
	{"nats-ca", required_argument, NULL, OPT_NATS_CA},
	{"nats-cert", required_argument, NULL, OPT_NATS_CERT},
	{"nats-key", required_argument, NULL, OPT_NATS_KEY},
	{"nats-creds", required_argument, NULL, OPT_NATS_CREDS},
	{"nats-nkey", required_argument, NULL, OPT_NATS_NKEY},
	{"retransmit", required_argument, NULL, OPT_RETRANSMIT},
	{"retransmit-depth", required_argument, NULL, OPT_RTX_DEPTH},
	{"retransmit-bytes", required_argument, NULL, OPT_RTX_BYTES},
	{"retransmit-rate", required_argument, NULL, OPT_RTX_RATE},
	{"linger", required_argument, NULL, OPT_LINGER},
	{"retransmit-allow", required_argument, NULL, OPT_RTX_ALLOW},
	{"bind", required_argument, NULL, OPT_BIND},
	{"name", required_argument, NULL, 'N'},
	{"anonymous", no_argument, NULL, 'a'},
	{"dir", required_argument, NULL, 'D'},
	{"owner", required_argument, NULL, OPT_OWNER},
	{"no-header", no_argument, NULL, OPT_NO_HEADER},
	{"list", no_argument, NULL, 'l'},
	{"status", no_argument, NULL, OPT_STATUS},
	{"watch", optional_argument, NULL, 'W'},
	{"unlink", no_argument, NULL, OPT_UNLINK},
	{"file", required_argument, NULL, OPT_FILE},
	{"info", no_argument, NULL, OPT_INFO},
	{"verify", no_argument, NULL, OPT_VERIFY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const char short_opts[] = ":o:n:F:us:t:qw:d:r:f:N:aD:lW::hV";

static void usage(FILE *f)
{
	fputs("Usage: mdsub [OPTION]... CHANNEL...\n"
	      "       mdsub --list | --status [CHANNEL]... | --watch[=SEC] [CHANNEL]...\n"
	      "       mdsub --unlink [--force] CHANNEL...\n"
	      "       mdsub [OPTION]... FILE.rec | --file=FILE\n"
	      "       mdsub --info | --verify FILE...\n"
	      "Print, measure, record or forward the messages of mdbus channels,\n"
	      "or of a recording.\n"
	      "\n"
	      "  -o, --output=FMT       text (default), csv, json or raw; with --list\n"
	      "                         and --watch text or json, with --status also\n"
	      "                         prometheus (node_exporter's textfile format);\n"
	      "                         JSON: ids and timestamps are strings, counts\n"
	      "                         numbers up to 2^53 and strings beyond\n"
	      "  -n, --count=N          stop after N messages\n"
	      "  -F, --from=WHERE       latest (default), oldest, a sequence number, or a\n"
	      "                         time: HH:MM[:SS[.F]] (today), YYYY-MM-DDTHH:MM[:SS[.F]],\n"
	      "                         local time, UTC with a Z suffix, or @SECONDS;\n"
	      "                         a sequence is at most 2^62, a time a real one\n"
	      "                         (no leap second) up to 2262-04-11T23:47:16Z;\n"
	      "                         what the ring no longer holds comes from the\n"
	      "                         channel's archive\n"
	      "      --archive=DIR      the channel's archive directory (default: the one\n"
	      "                         its publisher announces)\n"
	      "  -u, --until-caught-up  stop once everything published was read\n"
	      "      --wait-for-channel wait for a channel that does not exist yet\n"
	      "                         (or, with --owner, is another user's file),\n"
	      "                         then read it from its first message\n"
	      "  -s, --symbol=SYM,...   only these symbols (shell patterns allowed)\n"
	      "  -t, --type=TYPE,...    only these types: raw quote trade level snapshot\n"
	      "                         status heartbeat, or a number\n"
	      "      --grep=REGEX       only messages whose text line matches REGEX\n"
	      "                         (POSIX extended; repeated: any of them)\n"
	      "      --exclude=REGEX    not those whose text line matches REGEX\n"
	      "                         (repeated: none of them)\n"
	      "  -q, --quiet            print no messages\n"
	      "  -w, --wait=HOW         adaptive (default), spin, yield or block\n"
	      "  -d, --duration=SEC     stop after SEC seconds\n"
	      "      --stats[=SEC]      print counts, rates, lag, loss and latency every SEC\n"
	      "                         (0.01..86400, default 1) instead of messages\n"
	      "      --summary          print totals on stderr at the end\n"
	      "  -r, --record=FILE      write a recording for mdpub's replay source\n"
	      "      --force            replace an existing FILE\n"
	      "  -f, --forward=udp://HOST:PORT  relay as MoldUDP64 packets\n"
	      "      --ttl=N            multicast TTL (default 1)\n"
	      "      --interface=ADDR   multicast interface address\n"
	      "      --batch-bytes=N    largest datagram (default 1400)\n"
	      "      --batch-delay=USEC longest a message waits in a batch (default 200)\n"
	      "      --heartbeat=SEC    heartbeat packet period when idle, 0.001..3600\n"
	      "                         (default 1)\n"
	      "      --session=NAME     MoldUDP64 session name (default: 10 random\n"
	      "                         letters and digits, hard to forge packets of)\n"
	      "      --bind=ADDR:PORT   send from this address and port\n"
	      "      --retransmit=ADDR:PORT  answer MoldUDP64 re-requests on this\n"
	      "                         address from the messages sent last\n"
	      "      --retransmit-depth=N  messages kept (default 262144)\n"
	      "      --retransmit-bytes=N  bytes of them kept (default 33554432)\n"
	      "      --retransmit-rate=N   answer bytes per second and requester,\n"
	      "                         64 more per archive message read past\n"
	      "                         (default 10000000; all: 4 times that)\n"
	      "      --retransmit-allow=ADDR[/PREFIX][,...]  answer only these\n"
	      "                         (default: loopback and a unicast HOST;\n"
	      "                         a multicast HOST needs this)\n"
	      "      --linger=SEC       at exit, repeat the end of session and answer\n"
	      "                         re-requests this long (default 1;\n"
	      "                         SIGINT or SIGTERM ends it)\n"
	      "  -f, --forward=nats://HOST:PORT[,nats://HOST:PORT]...\n"
	      "                         publish on NATS (tls://HOST:PORT: with TLS), subject\n"
	      "                         PREFIX.CHANNEL.TYPE.SYMBOL\n"
	      "      --nats-prefix=P    subject prefix (default mdbus)\n"
	      "      --nats-stream=NAME publish to this JetStream stream (made when\n"
	      "                         missing), acknowledged; else core NATS\n"
	      "      --nats-max-age=SEC, --nats-max-bytes=N, --nats-max-msgs=N\n"
	      "                         a new stream's limits (default none)\n"
	      "      --nats-replicas=N  a new stream's replicas (default 1)\n"
	      "      --nats-storage=S   a new stream's storage: file (default) or memory\n"
	      "      --nats-max-pending=N  messages unacknowledged at most (default 4096)\n"
	      "      --nats-stall=MSEC  longest wait for room in them (default 100)\n"
	      "      --nats-full=WHAT   then: wait (again) or skip the message (counted);\n"
	      "                         default wait for a lossless channel, else skip\n"
	      "      --nats-ack-wait=MSEC  an acknowledgement later fails (default 2000)\n"
	      "      --nats-tls         TLS (also with tls:// or --nats-ca/--nats-cert)\n"
	      "      --nats-ca=FILE     trusted CA certificates (PEM)\n"
	      "      --nats-cert=FILE, --nats-key=FILE  client certificate and key (PEM)\n"
	      "      --nats-creds=FILE  user credentials (.creds: JWT and NKey seed)\n"
	      "      --nats-nkey=FILE   a user NKey seed (a server's nkey user)\n"
	      "  -N, --name=NAME        consumer name shown in --status\n"
	      "  -a, --anonymous        read without a consumer entry\n"
	      "  -D, --dir=DIR          segment directory (default $MDBUS_DIR or /dev/shm)\n"
	      "      --owner=USER       only read segments of this user (default\n"
	      "                         $MDBUS_OWNER, else any; another user's in a\n"
	      "                         directory anyone may write with a warning)\n"
	      "      --no-header        no header line (text and csv)\n"
	      "  -l, --list             list the channels\n"
	      "      --status           show channels with their publisher's counters,\n"
	      "                         consumers, rates, processes and directory use\n"
	      "  -W, --watch[=SEC]      refresh --status every SEC (0.01..86400, default 1)\n"
	      "      --file=FILE        read the recording FILE instead of a channel (an\n"
	      "                         argument with a '/', or an existing FILE.rec, is one)\n"
	      "      --info             show what recordings hold: header, messages,\n"
	      "                         sequence and time ranges, gaps, a cut tail\n"
	      "      --verify           check recordings end to end; exit status 0 intact,\n"
	      "                         1 unreadable, 2 not a recording, 3 corrupt record,\n"
	      "                         4 cut, 5 sequence goes back, 6 gaps, 7 malformed\n"
	      "                         messages (several: the lowest)\n"
	      "      --unlink           remove the channels' files (segment, consumer\n"
	      "                         table, lock); refused while a live publisher\n"
	      "                         owns one, unless --force; other users' stray\n"
	      "                         table files are left and named\n"
	      "  -h, --help             show this help\n"
	      "  -V, --version          show the version\n"
	      "\n"
	      "An option that would have no effect in the chosen mode is an error.\n"
	      "Exit status: 0 success, 1 run-time failure (a channel named that cannot\n"
	      "be read, a write error), 64 bad arguments. --list and --status show\n"
	      "segments they find unreadable with the reason and still exit 0.\n", f);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mdsub: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mdsub --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static int bad(const char *what, const char *arg)
{
	return usage_error("invalid %s '%s'", what, arg);
}

static int parse_format(const char *s, enum out_format *f)
{
	static const char *const names[] = {"text", "csv", "json", "raw",
					    "prometheus"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*f = (enum out_format)i;
			return 0;
		}
	}
	return -1;
}

static int parse_wait(const char *s, enum mdbus_wait *w)
{
	static const struct {
		const char *name;
		enum mdbus_wait wait;
	} waits[] = {
		{"adaptive", MDBUS_WAIT_ADAPTIVE}, {"spin", MDBUS_WAIT_SPIN},
		{"yield", MDBUS_WAIT_YIELD}, {"block", MDBUS_WAIT_BLOCK},
	};

	for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
		if (strcmp(s, waits[i].name) == 0) {
			*w = waits[i].wait;
			return 0;
		}
	}
	return -1;
}

/* --from: latest, oldest, a sequence number (at most MDBUS_SEQ_MAX,
 * the last a channel reaches) or a time (from_time.c). */
static int parse_from(const char *s, struct mdbus_sub_config *c)
{
	const char *why;

	if (strcmp(s, "latest") == 0) {
		c->start = MDBUS_START_LATEST;
		return 0;
	}
	if (strcmp(s, "oldest") == 0) {
		c->start = MDBUS_START_OLDEST;
		return 0;
	}
	if (strchr(s, ':') || s[0] == '@') {
		c->start = MDBUS_START_TIME;
		if (parse_start_time(s, now_realtime(), &c->start_time_ns, &why))
			return usage_error("invalid --from time '%s': %s", s, why);
		return 0;
	}
	c->start = MDBUS_START_SEQ;
	if (parse_u64(s, 10, &c->start_seq) == -EINVAL)
		return usage_error("invalid --from '%s': latest, oldest, a "
				   "sequence number or a time", s);
	if (parse_u64(s, 10, &c->start_seq) || c->start_seq > MDBUS_SEQ_MAX)
		return usage_error("invalid --from sequence '%s': at most %llu "
				   "(2^62, the last a channel reaches)", s,
				   MDBUS_SEQ_MAX);
	return 0;
}

static int parse_type(const char *s, uint16_t *type)
{
	uint64_t n;

	for (unsigned i = 0; msg_type_name(i); i++) {
		if (strcmp(s, msg_type_name(i)) == 0) {
			*type = (uint16_t)i;
			return 0;
		}
	}
	if (parse_u64(s, 10, &n) || n > UINT16_MAX)
		return -1;
	*type = (uint16_t)n;
	return 0;
}

static int add_type(struct mdsub_opts *o, const char *t)
{
	if (o->ntypes == MDSUB_MAX_TYPES)
		return bad("type (too many)", t);
	if (parse_type(t, &o->types[o->ntypes]))
		return bad("message type", t);
	o->ntypes++;
	return 0;
}

static int add_symbol(struct mdsub_opts *o, const char *s)
{
	if (o->nsymbols == MDSUB_MAX_SYMBOLS)
		return bad("symbol (too many)", s);
	if (strlen(s) > 4 * MDBUS_SYMBOL_LEN)
		return bad("symbol", s);
	o->symbols[o->nsymbols++] = s;
	return 0;
}

/* "a,b,c": calls add() for each item; argv strings are split in place. */
static int add_list(struct mdsub_opts *o, char *arg,
		    int (*add)(struct mdsub_opts *, const char *))
{
	char *save = NULL;
	int err = 0;

	for (char *t = strtok_r(arg, ",", &save); t && !err;
	     t = strtok_r(NULL, ",", &save))
		err = add(o, t);
	return err;
}

static int add_pattern(struct mdsub_opts *o, int exclude, const char *re)
{
	char why[256];

	if (grep_add(&o->grep, exclude, re, why, sizeof why) == 0)
		return 0;
	return usage_error("invalid --%s pattern '%s': %s",
			   exclude ? "exclude" : "grep", re, why);
}

static int parse_name(const char *s, struct mdbus_sub_config *c)
{
	if (!*s || strlen(s) > MDBUS_NAME_MAX)
		return bad("consumer name (1 to 31 characters)", s);
	c->name = s;
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	uint64_t n;

	if (parse_u64(s, 10, &n) || n < 64 || n > MOLD_PACKET_MAX)
		return bad("batch size (64..65507)", s);
	*out = (size_t)n;
	return 0;
}

static int parse_ttl(const char *s, int *ttl)
{
	uint64_t n;

	if (parse_u64(s, 10, &n) || n > 255)
		return bad("TTL (0..255)", s);
	*ttl = (int)n;
	return 0;
}

static int parse_delay(const char *s, uint64_t *ns)
{
	uint64_t us;

	if (parse_u64(s, 10, &us) || us > 10 * 1000 * 1000)
		return bad("batch delay (0..10000000 us)", s);
	*ns = us * 1000;
	return 0;
}

/* A period in [min, max] seconds, in ns; `what` names it and the range
 * in the error. */
static int parse_period(const char *s, double min, double max, uint64_t *ns,
			const char *what)
{
	double sec;

	if (parse_seconds(s, &sec) < 0 || sec < min || sec > max)
		return bad(what, s);
	*ns = (uint64_t)(sec * 1e9);
	return 0;
}

/* --heartbeat: mdpub's heartbeat range; a shorter period would flood the
 * destination (a ns: 127 000 packets a second on loopback). */
static int parse_heartbeat(const char *s, uint64_t *ns)
{
	return parse_period(s, 0.001, 3600, ns, "heartbeat (0.001..3600 seconds)");
}

/* --stats, --watch: a shorter interval printed or redrew the status in a
 * loop (1 ns: a line per channel every pass, a CPU kept busy). */
static int parse_interval(const char *s, uint64_t *ns)
{
	return parse_period(s, 0.01, 86400, ns, "interval (0.01..86400 seconds)");
}

static int parse_nats_url(struct mdsub_opts *o, const char *s)
{
	char why[300];

	if (!fwd_nats_built())
		return usage_error("--forward %s: mdsub was built without NATS "
				   "support (Debian package libnats-dev, then "
				   "configure --with-nats)", s);
	if (natsw_urls_check(s, why, sizeof(why)))
		return usage_error("invalid address: %s", why);
	o->fwd.url = s;
	o->fwd_nats = 1;
	return 0;
}

static int parse_url(struct mdsub_opts *o, const char *s)
{
	char host[FWD_HOST_MAX], *port;
	uint64_t n;

	if (strncmp(s, "nats://", 7) == 0 || strncmp(s, "tls://", 6) == 0)
		return parse_nats_url(o, s);
	if (fwd_split_url(s, host, sizeof host, &port))
		return bad("address (want udp://HOST:PORT or nats://HOST:PORT)", s);
	if (parse_u64(port, 10, &n) || n < 1 || n > 65535)
		return usage_error("invalid port '%s' in '%s' (1..65535)", port,
				   s);
	o->fwd.url = s;
	return 0;
}

static int parse_iface(const char *s, const char **out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return bad("interface address (want an IPv4 address)", s);
	*out = s;
	return 0;
}

static int parse_count(const char *s, uint64_t *n)
{
	return parse_u64(s, 10, n) || *n == 0 ? bad("count", s) : 0;
}

/* Seconds > 0 (fractions allowed) to nanoseconds. */
static int parse_secs_opt(const char *s, uint64_t *ns, const char *what)
{
	double sec;

	if (parse_seconds(s, &sec) < 0 || !(*ns = (uint64_t)(sec * 1e9)))
		return bad(what, s);
	return 0;
}

static int parse_rtx_addr(const char *s, const char **out)
{
	char host[FWD_HOST_MAX], *port;
	uint64_t n;

	if (fwd_split_addr(s, host, sizeof host, &port) ||
	    parse_u64(port, 10, &n) || n > 65535)
		return bad("re-request address (want ADDR:PORT, * for any "
			   "address, port 0 for any port)", s);
	*out = s;
	return 0;
}

/* An integer in [min, max]. */
static int parse_range(const char *s, uint64_t min, uint64_t max,
		       uint64_t *out, const char *what)
{
	uint64_t n;

	if (parse_u64(s, 10, &n) || n < min || n > max)
		return usage_error("invalid %s '%s' (%" PRIu64 "..%" PRIu64 ")",
				   what, s, min, max);
	*out = n;
	return 0;
}

/* Seconds >= 0 to nanoseconds. */
static int parse_linger(const char *s, uint64_t *ns)
{
	double sec = 0;

	if (strcmp(s, "0") && parse_seconds(s, &sec) < 0)
		return bad("linger (seconds)", s);
	*ns = (uint64_t)(sec * 1e9);
	return 0;
}

/* --bind=ADDR:PORT: a numeric address (IPv6 in brackets) and a port. */
static int parse_bind(const char *s, const char **out)
{
	char host[FWD_HOST_MAX], *port;
	unsigned char addr[16];
	uint64_t p;

	if (fwd_split_addr(s, host, sizeof host, &port) < 0 ||
	    (inet_pton(AF_INET, host, addr) != 1 &&
	     inet_pton(AF_INET6, host, addr) != 1) ||
	    parse_u64(port, 10, &p) || p > 65535)
		return bad("--bind address (want ADDR:PORT, numeric)", s);
	*out = s;
	return 0;
}

/* --retransmit-allow: checked here, parsed again by the server. */
static int parse_rtx_allow(const char *s, const char **out)
{
	struct addr_allow allow;
	char err[160];
	int rc = addr_allow_parse(&allow, s, "--retransmit-allow", 0, err,
				  sizeof err);

	addr_allow_free(&allow);
	if (rc < 0)
		return usage_error("%s", err);
	*out = s;
	return 0;
}

/* --retransmit and its settings. */
static int opt_rtx(struct rtx_opts *r, int c, const char *arg)
{
	switch (c) {
	case OPT_RETRANSMIT: return parse_rtx_addr(arg, &r->listen);
	case OPT_RTX_DEPTH:
		return parse_range(arg, 1, RTX_DEPTH_MAX, &r->depth,
				   "retransmit depth");
	case OPT_RTX_BYTES:
		return parse_range(arg, MOLD_BLOCK_MAX, RTX_BYTES_MAX, &r->bytes,
				   "retransmit bytes");
	case OPT_RTX_RATE:
		return parse_range(arg, 1, UINT32_MAX, &r->rate,
				   "retransmit rate");
	case OPT_LINGER: return parse_linger(arg, &r->linger_ns);
	case OPT_RTX_ALLOW: return parse_rtx_allow(arg, &r->allow);
	default: return bad("option", "?");
	}
}

static int parse_session(const char *s, const char **out)
{
	if (!*s || strlen(s) > 10)
		return bad("session name (1 to 10 characters)", s);
	*out = s;
	return 0;
}

/* Output, selection and run-length options. */
static int opt_read(struct mdsub_opts *o, int c, char *arg)
{
	switch (c) {
	case 'o': return parse_format(arg, &o->format) ? bad("format", arg) : 0;
	case 'n': return parse_count(arg, &o->count);
	case 'F':
		o->from_given = 1;
		return parse_from(arg, &o->sub);
	case 'u': o->until_caught_up = 1; return 0;
	case OPT_WAIT_CHANNEL: o->wait_channel = 1; return 0;
	case 's': return add_list(o, arg, add_symbol);
	case 't': return add_list(o, arg, add_type);
	case OPT_GREP: return add_pattern(o, 0, arg);
	case OPT_EXCLUDE: return add_pattern(o, 1, arg);
	case 'q': o->quiet = 1; return 0;
	case 'w': return parse_wait(arg, &o->sub.wait) ? bad("wait", arg) : 0;
	case 'd': return parse_secs_opt(arg, &o->duration_ns, "duration");
	case OPT_STATS:
		o->stats_ns = NS_PER_SEC;
		return arg ? parse_interval(arg, &o->stats_ns) : 0;
	case OPT_SUMMARY: o->summary = 1; return 0;
	case 'N': return parse_name(arg, &o->sub);
	case 'a': o->sub.anonymous = 1; return 0;
	case 'D': o->sub.dir = arg; return 0;
	case OPT_ARCHIVE: o->sub.archive_dir = arg; return 0;
	case OPT_OWNER: /* through the environment, so --list and --status
			 * (mdbus_channel_stats()) check it too */
		return setenv(MDBUS_ENV_OWNER, arg, 1) ? bad("owner", arg) : 0;
	case OPT_NO_HEADER: o->header = 0; return 0;
	default: return -1;
	}
}

static int parse_limit(const char *s, uint64_t *n, const char *what)
{
	return parse_u64(s, 10, n) || *n > INT64_MAX ? bad(what, s) : 0;
}

static int parse_ms(const char *s, uint64_t *ns, uint64_t max_ms,
		    const char *what)
{
	uint64_t ms;

	if (parse_u64(s, 10, &ms) || !ms || ms > max_ms)
		return bad(what, s);
	*ns = ms * 1000000;
	return 0;
}

static int parse_choice(const char *s, const char *a, const char *b,
			int *out, const char *what)
{
	if (strcmp(s, a) && strcmp(s, b))
		return bad(what, s);
	*out = strcmp(s, b) == 0;
	return 0;
}

static int parse_prefix(const char *s, const char **out)
{
	if (natsw_prefix_check(s))
		return bad("subject prefix (tokens separated by dots, no "
			   "wildcards or spaces, at most 128 bytes)", s);
	*out = s;
	return 0;
}

static int parse_stream(const char *s, const char **out)
{
	if (!*s || strlen(s) > 64 || strpbrk(s, ".*> \t/\\"))
		return bad("stream name (1 to 64 characters, no '.', '*', '>', "
			   "'/', '\\' or spaces)", s);
	*out = s;
	return 0;
}

/* The --nats-* options. */
static int opt_nats(struct mdsub_opts *o, int c, char *arg)
{
	struct nats_fwd_opts *n = &o->nats;
	double sec;
	int full = 0;

	switch (c) {
	case OPT_NATS_PREFIX: return parse_prefix(arg, &n->prefix);
	case OPT_NATS_STREAM: return parse_stream(arg, &n->stream);
	case OPT_NATS_MAX_AGE:
		if (parse_seconds(arg, &sec) < 0)
			return bad("age", arg);
		n->max_age_ns = (uint64_t)(sec * 1e9);
		return 0;
	case OPT_NATS_MAX_BYTES: return parse_limit(arg, &n->max_bytes, "bytes");
	case OPT_NATS_MAX_MSGS: return parse_limit(arg, &n->max_msgs, "count");
	case OPT_NATS_REPLICAS:
		return parse_u64(arg, 10, &n->replicas) || !n->replicas ||
		       n->replicas > 5 ? bad("replicas (1..5)", arg) : 0;
	case OPT_NATS_STORAGE:
		return parse_choice(arg, "file", "memory", &n->memory,
				    "storage (file or memory)");
	case OPT_NATS_MAX_PENDING:
		return parse_u64(arg, 10, &n->max_pending) || !n->max_pending ||
		       n->max_pending > 1000000 ? bad("count (1..1000000)", arg) : 0;
	case OPT_NATS_STALL:
		return parse_ms(arg, &n->stall_ns, 60000, "stall (1..60000 ms)");
	case OPT_NATS_FULL:
		if (parse_choice(arg, "wait", "skip", &full, "--nats-full (wait or skip)"))
			return EXIT_USAGE;
		n->full = full ? NATS_FULL_SKIP : NATS_FULL_WAIT;
		return 0;
	case OPT_NATS_ACK_WAIT:
		return parse_ms(arg, &n->ack_wait_ns, 600000,
				"acknowledgement wait (1..600000 ms)");
	case OPT_NATS_TLS: n->tls = 1; return 0;
	case OPT_NATS_CA: n->ca = arg; return 0;
	case OPT_NATS_CERT: n->cert = arg; return 0;
	case OPT_NATS_KEY: n->key = arg; return 0;
	case OPT_NATS_CREDS: n->creds = arg; return 0;
	case OPT_NATS_NKEY: n->nkey = arg; return 0;
	default: return -1;
	}
}

/* Recording, forwarding and inspection options. */
static int opt_sink(struct mdsub_opts *o, int c, char *arg)
{
	switch (c) {
	case 'r':
		o->record = arg; /* "-": standard output */
		return 0;
	case OPT_FORCE: o->force = 1; return 0;
	case 'f': return parse_url(o, arg);
	case OPT_TTL: return parse_ttl(arg, &o->fwd.ttl);
	case OPT_IFACE: return parse_iface(arg, &o->fwd.iface);
	case OPT_BATCH_BYTES: return parse_size(arg, &o->fwd.batch_bytes);
	case OPT_BATCH_DELAY: return parse_delay(arg, &o->fwd.batch_delay_ns);
	case OPT_HEARTBEAT: return parse_heartbeat(arg, &o->fwd.heartbeat_ns);
	case OPT_SESSION: return parse_session(arg, &o->fwd.session);
	case OPT_BIND: return parse_bind(arg, &o->fwd.bind);
	case 'l': o->mode = MODE_LIST; return 0;
	case OPT_STATUS: o->mode = MODE_STATUS; return 0;
	case OPT_UNLINK: o->mode = MODE_UNLINK; return 0;
	case OPT_INFO: o->mode = MODE_INFO; return 0;
	case OPT_VERIFY: o->mode = MODE_VERIFY; return 0;
	case OPT_FILE: o->file = arg; return 0;
	case 'W':
		o->mode = MODE_WATCH;
		return arg ? parse_interval(arg, &o->watch_ns) : 0;
	default: return opt_rtx(&o->fwd.rtx, c, arg);
	}
}

static void defaults(struct mdsub_opts *o)
{
	memset(o, 0, sizeof *o);
	mdbus_sub_config_init(&o->sub);
	o->header = 1;
	o->watch_ns = NS_PER_SEC;
	o->fwd.ttl = DEFAULT_TTL;
	o->fwd.batch_bytes = DEFAULT_BATCH_BYTES;
	o->fwd.batch_delay_ns = DEFAULT_BATCH_DELAY_US * 1000ULL;
	o->fwd.heartbeat_ns = (uint64_t)(DEFAULT_HEARTBEAT_SEC * 1e9);
	o->nats.prefix = DEFAULT_NATS_PREFIX;
	o->nats.replicas = 1;
	o->nats.max_pending = DEFAULT_NATS_PENDING;
	o->nats.stall_ns = DEFAULT_NATS_STALL_MS * 1000000ULL;
	o->nats.ack_wait_ns = DEFAULT_NATS_ACK_WAIT_MS * 1000000ULL;
	o->fwd.rtx.depth = DEFAULT_RTX_DEPTH;
	o->fwd.rtx.bytes = DEFAULT_RTX_BYTES;
	o->fwd.rtx.rate = DEFAULT_RTX_RATE;
	o->fwd.rtx.linger_ns = (uint64_t)(DEFAULT_LINGER_SEC * 1e9);
}

/* An argument that names a recording rather than a channel: one with a
 * '/' (no channel name has one), or an existing FILE.rec. */
static int names_file(const char *arg)
{
	size_t n = strlen(arg);
	struct stat st;

	if (strchr(arg, '/'))
		return 1;
	return n > 4 && strcmp(arg + n - 4, ".rec") == 0 && lstat(arg, &st) == 0;
}

/* A read run of one recording given as an argument: o->file. */
static void take_file(struct mdsub_opts *o)
{
	if (o->mode != MODE_READ || o->file || o->nchannels != 1 ||
	    !names_file(o->channels[0]))
		return;
	o->file = o->channels[0];
	o->nchannels = 0;
}

static int check_channels(const struct mdsub_opts *o)
{
	if (o->mode == MODE_INFO || o->mode == MODE_VERIFY)
		return 0;
	for (int i = 0; i < o->nchannels; i++)
		if (!mdbus_channel_valid(o->channels[i]))
			return bad("channel name", o->channels[i]);
	return 0;
}

/* The options given, by getopt code, for the combination checks. */
struct seen {
	unsigned char opt[OPT_END];
};

/* "--name" of an option code, for messages. */
static const char *opt_name(int c)
{
	for (const struct option *l = long_opts; l->name; l++)
		if (l->val == c)
			return l->name;
	return "?";
}

/* Options that only a read run uses (-o first: --list, --status and
 * --watch take it too). */
static const int read_opts[] = {
	'o', 'n', 'F', 'u', 's', 't', 'q', 'w', OPT_STATS, OPT_SUMMARY, 'r',
	'f', 'N', 'a', OPT_NO_HEADER, OPT_WAIT_CHANNEL, OPT_FORCE,
	OPT_GREP, OPT_EXCLUDE, OPT_ARCHIVE,
};

/* Options that only --forward udp:// uses. */
static const int fwd_opts[] = {
	OPT_TTL, OPT_IFACE, OPT_BATCH_BYTES, OPT_BATCH_DELAY, OPT_HEARTBEAT,
	OPT_SESSION, OPT_RETRANSMIT, OPT_BIND,
};

/* Options that only --retransmit uses. */
static const int rtx_opts[] = {
	OPT_RTX_DEPTH, OPT_RTX_BYTES, OPT_RTX_RATE, OPT_LINGER, OPT_RTX_ALLOW,
};

/* Options that only --forward nats:// uses, then those that only a
 * JetStream stream does. */
static const int nats_opts[] = {
	OPT_NATS_PREFIX, OPT_NATS_STREAM, OPT_NATS_TLS, OPT_NATS_CA,
	OPT_NATS_CERT, OPT_NATS_KEY, OPT_NATS_CREDS, OPT_NATS_NKEY,
	OPT_NATS_MAX_PENDING, OPT_NATS_STALL, OPT_NATS_FULL, OPT_NATS_ACK_WAIT,
};
static const int stream_opts[] = {
	OPT_NATS_MAX_AGE, OPT_NATS_MAX_BYTES, OPT_NATS_MAX_MSGS,
	OPT_NATS_REPLICAS, OPT_NATS_STORAGE,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The first of n codes that was given, or 0. */
static int first_seen(const struct seen *sn, const int *codes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sn->opt[codes[i]])
			return codes[i];
	return 0;
}

static int no_effect(int c, const char *with)
{
	return usage_error("--%s has no effect with %s", opt_name(c), with);
}

/* --list, --status, --watch, --unlink: one of them, and no reading
 * option (but --force with --unlink). */
static int check_inspect(const struct mdsub_opts *o, struct seen *sn)
{
	static const char *const mode[] = {
		[MODE_LIST] = "--list", [MODE_STATUS] = "--status",
		[MODE_WATCH] = "--watch", [MODE_UNLINK] = "--unlink",
		[MODE_INFO] = "--info", [MODE_VERIFY] = "--verify",
	};
	int c;

	if (sn->opt['l'] + sn->opt[OPT_STATUS] + sn->opt['W'] +
	    sn->opt[OPT_UNLINK] + sn->opt[OPT_INFO] + sn->opt[OPT_VERIFY] > 1)
		return usage_error("--list, --status, --watch, --unlink, --info "
				   "and --verify exclude each other");
	if ((o->mode == MODE_INFO || o->mode == MODE_VERIFY) && !o->nchannels)
		return usage_error("%s needs a recording", mode[o->mode]);
	if (o->file)
		return no_effect(OPT_FILE, mode[o->mode]);
	if (o->mode == MODE_LIST && o->nchannels)
		return usage_error("--list takes no channel");
	if (o->mode == MODE_UNLINK && !o->nchannels)
		return usage_error("--unlink needs a channel");
	if (o->mode == MODE_UNLINK) {
		sn->opt[OPT_FORCE] = 0; /* its own --force */
		c = first_seen(sn, read_opts, COUNT(read_opts));
	} else {
		if ((o->format != OUT_TEXT && o->format != OUT_JSON &&
		     (o->format != OUT_PROMETHEUS || o->mode != MODE_STATUS)))
			return usage_error("%s prints text or json%s", mode[o->mode],
					   o->mode == MODE_STATUS ? " or prometheus" : "");
		c = first_seen(sn, read_opts + 1, COUNT(read_opts) - 1); /* not -o */
	}
	if (!c)
		c = first_seen(sn, fwd_opts, COUNT(fwd_opts));
	if (!c)
		c = first_seen(sn, nats_opts, COUNT(nats_opts));
	if (!c)
		c = first_seen(sn, stream_opts, COUNT(stream_opts));
	if (!c)
		c = first_seen(sn, rtx_opts, COUNT(rtx_opts));
	if (!c && o->mode != MODE_WATCH && sn->opt['d'])
		c = 'd';
	return c ? no_effect(c, mode[o->mode]) : 0;
}

/* What prints messages: the format, header and quiet options. */
static int check_output(const struct mdsub_opts *o, const struct seen *sn)
{
	const char *sink = o->record ? "--record" : "--forward";

	if (o->format == OUT_PROMETHEUS)
		return usage_error("-o prometheus is an output of --status");
	if (o->stats_ns && (o->format == OUT_CSV || o->format == OUT_RAW))
		return usage_error("--stats prints text or json, not %s",
				   o->format == OUT_CSV ? "csv" : "raw");
	if (o->stats_ns && (sn->opt[OPT_SUMMARY] || sn->opt['q']))
		return no_effect(sn->opt['q'] ? 'q' : OPT_SUMMARY, "--stats");
	if ((o->record || o->fwd.url) && !o->stats_ns &&
	    (sn->opt['o'] || sn->opt['q']))
		return no_effect(sn->opt['o'] ? 'o' : 'q', sink);
	if (sn->opt[OPT_NO_HEADER] &&
	    (o->stats_ns || o->record || o->fwd.url || o->quiet ||
	     o->format == OUT_JSON || o->format == OUT_RAW))
		return usage_error("--no-header has no effect without a header "
				   "(messages printed as text or csv)");
	return 0;
}

/* Options that have no effect on a recording. */
static const int live_opts[] = {
	'u', 'w', 'N', 'a', OPT_WAIT_CHANNEL, 'f', OPT_OWNER, 'D', OPT_ARCHIVE,
};

/* Reading a recording: alone, and without the options of live channels. */
static int check_file(const struct mdsub_opts *o, const struct seen *sn)
{
	int c = first_seen(sn, live_opts, COUNT(live_opts));

	if (!c)
		c = first_seen(sn, fwd_opts, COUNT(fwd_opts));
	if (o->nchannels)
		return usage_error("a recording is read alone: '%s' is one too "
				   "many", o->channels[0]);
	if (c)
		return no_effect(c, "a recording");
	if (o->stats_ns)
		return usage_error("--stats measures a live channel: use "
				   "--summary (or --info) for a recording");
	if (o->sub.start == MDBUS_START_LATEST && sn->opt['F'])
		return usage_error("--from latest: a recording is read from "
				   "its start, a sequence number or a time");
	if (o->force && !o->record)
		return usage_error("--force needs --record");
	return check_output(o, sn);
}

/* The --nats-* options: with --forward nats:// only, the stream's with
 * --nats-stream only, a certificate with its key. */
static int check_nats(const struct mdsub_opts *o, const struct seen *sn)
{
	int c = first_seen(sn, nats_opts, COUNT(nats_opts));

	if (!c)
		c = first_seen(sn, stream_opts, COUNT(stream_opts));
	if (c && !o->fwd_nats)
		return usage_error("--%s needs --forward nats://", opt_name(c));
	c = first_seen(sn, stream_opts, COUNT(stream_opts));
	if (c && !o->nats.stream)
		return usage_error("--%s needs --nats-stream (core NATS has no "
				   "acknowledgements or stream)", opt_name(c));
	if (!o->nats.cert != !o->nats.key)
		return usage_error("--nats-cert and --nats-key go together");
	if (o->nats.creds && o->nats.nkey)
		return usage_error("--nats-creds or --nats-nkey, not both (a "
				   ".creds file has its own NKey seed)");
	return 0;
}

/* Combinations that make no sense: an option that would change nothing
 * is refused rather than ignored. */
static int check_combination(const struct mdsub_opts *o, struct seen *sn)
{
	int c;

	if (o->mode != MODE_READ)
		return check_inspect(o, sn);
	if (o->file)
		return check_file(o, sn);
	if (!o->nchannels)
		return usage_error("no channel given");
	if (o->record && o->fwd.url)
		return usage_error("--record and --forward exclude each other "
				   "(run one mdsub for each)");
	if ((o->record || o->fwd.url) && o->nchannels != 1)
		return usage_error("--record and --forward take one channel");
	c = first_seen(sn, fwd_opts, COUNT(fwd_opts));
	if (c && (!o->fwd.url || o->fwd_nats))
		return usage_error("--%s needs --forward udp://", opt_name(c));
	c = check_nats(o, sn);
	if (c)
		return c;
	c = first_seen(sn, rtx_opts, COUNT(rtx_opts));
	if (c && !o->fwd.rtx.listen)
		return usage_error("--%s needs --retransmit", opt_name(c));
	if (o->force && !o->record)
		return usage_error("--force needs --record");
	if (o->sub.anonymous && o->sub.name)
		return no_effect('N', "--anonymous");
	return check_output(o, sn);
}

int opts_parse(struct mdsub_opts *o, int argc, char **argv)
{
	struct seen sn = {{0}};
	int c, err;

	defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		if (c == 'V') {
			printf("mdsub (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return -1;
		}
		if (c == ':')
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		if (c == '?' && optopt)
			return usage_error("unknown option '-%c'", optopt);
		if (c == '?')
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		if (c > 0 && c < OPT_END)
			sn.opt[c] = 1;
		err = opt_read(o, c, optarg);
		if (err < 0)
			err = opt_nats(o, c, optarg);
		if (err < 0)
			err = opt_sink(o, c, optarg);
		if (err)
			return err;
	}
	o->channels = argv + optind;
	o->nchannels = argc - optind;
	take_file(o);
	err = check_channels(o);
	return err ? err : check_combination(o, &sn);
}
