/*
 * testtool.c - helpers for mdsub's tests, independent of mdpub:
 *
 *   pub CHANNEL N [OPTIONS]   publish N deterministic messages of every
 *                             type (see make_msg), then close
 *       -t quote              only quotes        -r  timestamps = now
 *       -g SLOTS_PER_BLOCK:BLOCKS   small ring    -l  lossless mode
 *       -k SEC                keep the channel open SEC seconds after
 *       -R                    replace a segment of another geometry
 *       -m                    malformed and odd messages instead (make_bad)
 *       -e SEC                lossless: evict readers stalled SEC seconds
 *       -c                    define counters: published (total, one per
 *                             message), level (gauge, 42), x.y-Z_9 (7)
 *       -C N                  a consumer table of N entries
 *   json                      check that every stdin line is one JSON object
 *   jget PATH...              print the values at PATHs (a.0.b: keys and
 *                             array indexes) of the JSON document on stdin,
 *                             one a line: strings as they are, "absent"
 *                             for a path that is not there
 *   hold CHANNEL NAME COMM SEC
 *                             a registered reader named NAME in a process
 *                             named COMM (prctl), for SEC seconds
 *   poke CHANNEL OFFSET VALUE write the 64-bit VALUE at OFFSET of the
 *                             channel's data file (a hostile segment)
 *   crowd CHANNEL N           write N forged consumer entries into the
 *                             channel's table (cmd_crowd())
 *   evict CHANNEL NAME SEC    free NAME's consumer entry whenever it is
 *                             there, for SEC seconds (cmd_evict())
 *   spoil CHANNEL SEC         the table header's max_consumers wrong for
 *                             SEC seconds (cmd_spoil())
 *   recdump FILE              print a recording as `mdsub -o raw` would
 *   udprecv CHANNEL PORTFILE [GROUP]
 *                             receive MoldUDP64 packets on 127.0.0.1, or
 *                             on multicast GROUP joined on 127.0.0.1 (exit
 *                             77 when it cannot be joined), the port
 *                             written to PORTFILE; print messages as
 *                             `mdsub -o raw`, plus "heartbeat SEQ" and
 *                             "end SEQ" lines; stops at end of session
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "mdbus.h"
#include "mdbus_msg.h"
#include "moldudp64.h"
#include "rec_format.h"

#define BASE_NS 1700000000000000000ULL /* 2023-11-14 22:13:20 UTC */
#define PX(units, cents) ((int64_t)(units) * MDBUS_PX_SCALE + (cents) * 1000000LL)
#define QTY(n) ((int64_t)(n) * MDBUS_QTY_SCALE)
#define UDP_TIMEOUT_MS 10000

static const char *const symbols[] = {"AAPL", "MSFT", "BTC-USD"};

struct pub_opts {
	int quotes_only, realtime, lossless, replace, bad, counters;
	uint32_t spb, blocks, consumers;
	double keep, evict;
};

static void sym(char *dst, uint64_t i)
{
	memset(dst, 0, MDBUS_SYMBOL_LEN);
	memcpy(dst, symbols[i % 3], strlen(symbols[i % 3]));
}

static size_t make_quote(uint64_t i, unsigned char *buf)
{
	struct mdbus_quote q = {.bid_px = PX(100 + i, 25),
				.bid_qty = QTY(100 + i),
				.ask_px = PX(100 + i, 26),
				.ask_qty = QTY(200) + QTY(1) / 2,
				.exch_ns = BASE_NS + i * 1000 - 500,
				.recv_ns = BASE_NS + i * 1000 - 100};

	sym(q.symbol, i);
	memcpy(buf, &q, sizeof q);
	return sizeof q;
}

static size_t make_trade(uint64_t i, unsigned char *buf)
{
	struct mdbus_trade t = {.px = PX(50 + i, 5), .qty = QTY(3),
				.trade_id = 9000 + i,
				.exch_ns = BASE_NS + i, .recv_ns = BASE_NS + 2 * i,
				.aggressor = (uint8_t)(i % 3)};

	sym(t.symbol, i);
	memcpy(buf, &t, sizeof t);
	return sizeof t;
}

static size_t make_level(uint64_t i, unsigned char *buf)
{
	struct mdbus_book_level l = {.px = -PX(1, 50), .qty = QTY(7),
				     .exch_ns = 1, .recv_ns = 2,
				     .level = (uint16_t)(i % 5),
				     .side = MDBUS_SIDE_SELL,
				     .action = MDBUS_BOOK_DELETE};

	sym(l.symbol, i);
	memcpy(buf, &l, sizeof l);
	return sizeof l;
}

static size_t make_snapshot(uint64_t i, unsigned char *buf)
{
	struct mdbus_book_snapshot s = {.exch_ns = 3, .recv_ns = 4,
					.bids = 2, .asks = 1};
	struct mdbus_level lv[3] = {{PX(10, 0), QTY(1)}, {PX(9, 99), QTY(2)},
				    {PX(10, 1), QTY(5)}};

	sym(s.symbol, i);
	memcpy(buf, &s, sizeof s);
	memcpy(buf + sizeof s, lv, sizeof lv);
	return sizeof s + sizeof lv;
}

static size_t make_status(uint64_t i, unsigned char *buf)
{
	struct mdbus_status s = {.exch_ns = 5, .recv_ns = 6,
				 .state = MDBUS_STATE_HALTED};

	sym(s.symbol, i);
	memcpy(s.text, "halt, \"news\"", 12);
	memcpy(buf, &s, sizeof s);
	return sizeof s;
}

static size_t make_heartbeat(uint64_t i, unsigned char *buf)
{
	struct mdbus_heartbeat h = {.send_ns = BASE_NS, .feed_seq = i,
				    .source_id = 7};

	memcpy(buf, &h, sizeof h);
	return sizeof h;
}

/* Message i: type i % 7 (quote, trade, level, snapshot, status,
 * heartbeat, raw), symbols cycling AAPL MSFT BTC-USD. */
static size_t make_msg(uint64_t i, int quotes_only, uint16_t *type,
		       unsigned char *buf)
{
	static size_t (*const make[])(uint64_t, unsigned char *) = {
		make_quote, make_trade, make_level, make_snapshot,
		make_status, make_heartbeat,
	};
	static const uint16_t types[] = {
		MDBUS_MSG_QUOTE, MDBUS_MSG_TRADE, MDBUS_MSG_BOOK_LEVEL,
		MDBUS_MSG_BOOK_SNAPSHOT, MDBUS_MSG_STATUS, MDBUS_MSG_HEARTBEAT,
	};
	unsigned k = quotes_only ? 0 : (unsigned)(i % 7);

	if (k < 6) {
		*type = types[k];
		return make[k](i, buf);
	}
	*type = MDBUS_MSG_RAW;
	memcpy(buf, "\x00\x01\xfe\xff" "abcd", 8);
	return 8;
}

/* Message i of the malformed set: payloads shorter than their type, a
 * snapshot claiming more levels than it holds, an unknown type, symbols
 * and texts with every byte value the printers must escape. */
static size_t make_bad(uint64_t i, uint16_t *type, unsigned char *buf)
{
	static const char odd[MDBUS_SYMBOL_LEN] = "\x01\xff\",x\\y\tSIXTEEN!";
	struct mdbus_book_snapshot snap = {.bids = 1000, .asks = 1000};
	struct mdbus_status st = {.state = 99};
	size_t n;

	memset(buf, 0xab, 128);
	switch (i % 6) {
	case 0: *type = MDBUS_MSG_QUOTE; return 10;
	case 1: *type = MDBUS_MSG_TRADE; return 0;
	case 2:
		*type = MDBUS_MSG_BOOK_SNAPSHOT;
		memcpy(snap.symbol, odd, sizeof odd);
		memcpy(buf, &snap, sizeof snap);
		return sizeof snap + 16;
	case 3: *type = 999; return 40;
	case 4:
		*type = MDBUS_MSG_STATUS;
		memcpy(st.symbol, odd, sizeof odd);
		memset(st.text, '"', sizeof st.text);
		st.text[3] = '\n';
		st.text[4] = (char)0x80;
		memcpy(buf, &st, sizeof st);
		return sizeof st;
	default:
		n = make_quote(i, buf);
		memcpy(buf, odd, sizeof odd);
		*type = MDBUS_MSG_QUOTE;
		return n;
	}
}

static int parse_pub_opts(int argc, char **argv, struct pub_opts *p)
{
	int c;

	while ((c = getopt(argc, argv, "trg:lk:Rme:cC:")) != -1) {
		if (c == 'c')
			p->counters = 1;
		else if (c == 'C')
			p->consumers = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 't')
			p->quotes_only = 1;
		else if (c == 'r')
			p->realtime = 1;
		else if (c == 'l')
			p->lossless = 1;
		else if (c == 'R')
			p->replace = 1;
		else if (c == 'm')
			p->bad = 1;
		else if (c == 'k')
			p->keep = atof(optarg);
		else if (c == 'e')
			p->evict = atof(optarg);
		else if (c != 'g' ||
			 sscanf(optarg, "%u:%u", &p->spb, &p->blocks) != 2)
			return -1;
	}
	return 0;
}

static int define_counters(mdbus_pub_t *pub)
{
	if (mdbus_pub_counter_new(pub, "published", MDBUS_COUNTER_TOTAL) != 0 ||
	    mdbus_pub_counter_new(pub, "level", MDBUS_COUNTER_GAUGE) != 1 ||
	    mdbus_pub_counter_new(pub, "x.y-Z_9", MDBUS_COUNTER_TOTAL) != 2) {
		fprintf(stderr, "testtool: counters not defined\n");
		return -1;
	}
	mdbus_pub_counter_set(pub, 1, 42);
	mdbus_pub_counter_set(pub, 2, 7);
	return 0;
}

static int cmd_pub(int argc, char **argv)
{
	struct pub_opts p = {0};
	struct mdbus_pub_config cfg;
	mdbus_pub_t *pub;
	unsigned char buf[256];
	uint64_t n;
	int err;

	if (parse_pub_opts(argc, argv, &p) || argc - optind != 2)
		return 2;
	n = strtoull(argv[optind + 1], NULL, 10);
	mdbus_pub_config_init(&cfg);
	cfg.slot_size = 128;
	if (p.spb) {
		cfg.slots_per_block = p.spb;
		cfg.block_count = p.blocks;
	}
	cfg.stall_evict_ns = p.evict ? (uint64_t)(p.evict * 1e9) :
				       cfg.stall_evict_ns;
	cfg.flags = p.replace ? MDBUS_PUB_REPLACE : 0;
	if (p.consumers)
		cfg.max_consumers = p.consumers;
	cfg.mode = p.lossless ? MDBUS_MODE_LOSSLESS : MDBUS_MODE_OVERWRITE;
	err = mdbus_pub_open(&pub, argv[optind], &cfg);
	if (err) {
		fprintf(stderr, "testtool: %s: %s\n", mdbus_strerror(err),
			mdbus_last_error());
		return 1;
	}
	if (p.counters && define_counters(pub) < 0)
		return 1;
	for (uint64_t i = 0; i < n; i++) {
		uint16_t type;
		size_t len = p.bad ? make_bad(i, &type, buf) :
				     make_msg(i, p.quotes_only, &type, buf);
		uint64_t ts = p.realtime ? 0 : BASE_NS + i * 1000;

		while ((err = mdbus_pub_publish(pub, type, buf, len, ts)) ==
		       MDBUS_EBACKPRESSURE) {
			mdbus_pub_reap(pub);
			usleep(1000);
		}
		if (err) {
			fprintf(stderr, "testtool: publish: %s\n",
				mdbus_strerror(err));
			return 1;
		}
		mdbus_pub_counter_add(pub, 0, p.counters);
	}
	usleep((useconds_t)(p.keep * 1e6));
	mdbus_pub_close(pub);
	return 0;
}

static int cmd_json(void)
{
	char line[65536];
	int n = 0;

	while (fgets(line, sizeof line, stdin)) {
		enum json_tokener_error e;
		json_object *o = json_tokener_parse_verbose(line, &e);

		n++;
		if (!o || !json_object_is_type(o, json_type_object)) {
			fprintf(stderr, "line %d: not a JSON object: %s", n, line);
			return 1;
		}
		json_object_put(o);
	}
	return n ? 0 : 1;
}

/* The value at a path of keys and array indexes (NULL: JSON null);
 * *found 0 when the path is not there. */
static json_object *jpath(json_object *o, const char *path, int *found)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	*found = 1;
	for (char *k = strtok_r(buf, ".", &save); k;
	     k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array) &&
		    (size_t)atoi(k) < json_object_array_length(o))
			o = json_object_array_get_idx(o, (size_t)atoi(k));
		else if (!json_object_is_type(o, json_type_object) ||
			 !json_object_object_get_ex(o, k, &o))
			*found = 0;
		if (!*found)
			return NULL;
	}
	return o;
}

static int cmd_jget(int argc, char **argv)
{
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof text - 1, stdin);
	json_object *doc;

	text[n] = '\0';
	doc = json_tokener_parse(text);
	if (!doc) {
		fprintf(stderr, "testtool: jget: not JSON\n");
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		int found;
		json_object *v = jpath(doc, argv[i], &found);

		if (!found)
			puts("absent");
		else if (json_object_is_type(v, json_type_string))
			puts(json_object_get_string(v));
		else
			puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(doc);
	return 0;
}

static int cmd_hold(char **argv)
{
	struct mdbus_sub_config cfg;
	mdbus_sub_t *s;
	int err;

	prctl(PR_SET_NAME, argv[2], 0, 0, 0);
	mdbus_sub_config_init(&cfg);
	cfg.name = argv[1];
	err = mdbus_sub_open(&s, argv[0], &cfg);
	if (err) {
		fprintf(stderr, "testtool: hold: %s\n", mdbus_strerror(err));
		return 1;
	}
	usleep((useconds_t)(atof(argv[3]) * 1e6));
	mdbus_sub_close(s);
	return 0;
}

static int cmd_poke(char **argv)
{
	char path[4096];
	uint64_t v = strtoull(argv[2], NULL, 0);
	off_t off = (off_t)strtoll(argv[1], NULL, 0);
	const char *dir = getenv("MDBUS_DIR");
	int fd;

	snprintf(path, sizeof path, "%s/mdbus.%s", dir ? dir : "/dev/shm", argv[0]);
	fd = open(path, O_RDWR | O_NOFOLLOW);
	if (fd < 0 || pwrite(fd, &v, sizeof v, off) != (ssize_t)sizeof v) {
		perror(path);
		return 1;
	}
	close(fd);
	return 0;
}

/* The consumer table file of channel, opened to write (its path in
 * path), or -1 said. */
static int table_open(const char *channel, char *path, size_t len)
{
	const char *dir = getenv("MDBUS_DIR");
	uint64_t epoch = 0;
	int fd;

	snprintf(path, len, "%s/mdbus.%s", dir ? dir : "/dev/shm", channel);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	/* the epoch: 72 bytes into the header (layout.h, doc/protocol.md) */
	if (fd < 0 || pread(fd, &epoch, sizeof epoch, 72) != (ssize_t)sizeof epoch) {
		perror(path);
		return -1;
	}
	close(fd);
	snprintf(path, len, "%s/mdbus.%s+%016llx", dir ? dir : "/dev/shm",
		 channel, (unsigned long long)epoch);
	fd = open(path, O_RDWR | O_NOFOLLOW);
	if (fd < 0)
		perror(path);
	return fd;
}

/* crowd CHANNEL N: writes N consumer entries into CHANNEL's table, as
 * anyone who may write it can: ACTIVE, our pid, the first half named
 * v#N/2 .. v#N-1 and the rest v, which makes every later v's "#N" label
 * (status_prom.c) skip the half the first took. */
static int cmd_crowd(char **argv)
{
	char path[4096];
	unsigned n = (unsigned)strtoul(argv[1], NULL, 0), i;
	int fd = table_open(argv[0], path, sizeof path);

	for (i = 0; fd >= 0 && i < n; i++) {
		struct seg_consumer c;
		off_t at = SEG_HEADER_SIZE + (off_t)i * (off_t)sizeof c;

		memset(&c, 0, sizeof c);
		if (i < n / 2)
			snprintf((char *)c.name, sizeof c.name, "v#%u", n / 2 + i);
		else
			snprintf((char *)c.name, sizeof c.name, "v");
		atomic_init(&c.state, (uint64_t)getpid() << 32 | 1u << 8 | CONS_ACTIVE);
		if (pwrite(fd, &c, sizeof c, at) != (ssize_t)sizeof c)
			break;
	}
	if (fd < 0 || i < n) {
		perror(path);
		return 1;
	}
	close(fd);
	return 0;
}

/* evict CHANNEL NAME SECONDS: for SECONDS, frees every ACTIVE entry named
 * NAME in CHANNEL's table as soon as it is there (a new generation), as
 * anyone who may write the table can; prints how many times. */
/* The channel's consumer table, mapped writable, and its size; NULL
 * said. */
static void *table_map(const char *channel, size_t *size)
{
	char path[4096];
	int fd = table_open(channel, path, sizeof path);
	struct stat st;
	void *t;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < SEG_HEADER_SIZE)
		return NULL;
	t = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (t == MAP_FAILED) {
		perror(path);
		return NULL;
	}
	*size = (size_t)st.st_size;
	return t;
}

/* Whether CLOCK_MONOTONIC is still before *end. */
static int before(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < end->tv_sec ||
	       (now.tv_sec == end->tv_sec && now.tv_nsec < end->tv_nsec);
}

static int cmd_evict(char **argv)
{
	struct timespec end;
	unsigned long freed = 0;
	struct seg_consumer *table;
	size_t i, n, size;
	void *t = table_map(argv[0], &size);

	if (!t)
		return 1;
	/* the entries start SEG_HEADER_SIZE (a page) into the mapping */
	table = (void *)((char *)t + SEG_HEADER_SIZE);
	n = (size - SEG_HEADER_SIZE) / sizeof(*table);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[2]);
	do {
		for (i = 0; i < n; i++) {
			struct seg_consumer *c = &table[i];
			uint64_t w = atomic_load(&c->state);

			if (cons_state(w) == CONS_ACTIVE &&
			    strncmp((const char *)c->name, argv[1], sizeof(c->name)) == 0 &&
			    atomic_compare_exchange_strong(&c->state, &w,
							   cons_next(w, CONS_FREE, 0)))
				freed++;
		}
		usleep(200); /* leave the CPUs to those it evicts */
	} while (before(&end));
	printf("%lu\n", freed);
	return 0;
}

/* Spoils the table's header for SEC seconds: its max_consumers one more
 * than the data file's, stored again every 100 us (the publisher mends
 * it at each heartbeat), as anyone who may write the table can; then
 * puts it back. */
static int cmd_spoil(char **argv)
{
	struct seg_table_header *h;
	struct timespec end;
	size_t size;
	uint32_t was;

	h = table_map(argv[0], &size);
	if (!h)
		return 1;
	was = atomic_load(&h->max_consumers);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[1]);
	do {
		atomic_store(&h->max_consumers, was + 1);
		usleep(100);
	} while (before(&end));
	atomic_store(&h->max_consumers, was);
	return 0;
}

static void print_raw(const char *ch, uint64_t seq, uint64_t ts,
		      unsigned type, const unsigned char *p, size_t size)
{
	printf("%s %" PRIu64 " %" PRIu64 " %u %zu 0 ", ch, seq, ts, type, size);
	for (size_t i = 0; i < size; i++)
		printf("%02x", p[i]);
	putchar('\n');
}

static int cmd_recdump(const char *path)
{
	static unsigned char payload[MDBUS_REC_PAYLOAD_MAX];
	struct rec_header h;
	struct rec_record r;
	FILE *f = fopen(path, "rb");

	if (!f || fread(&h, sizeof h, 1, f) != 1 ||
	    memcmp(h.magic, REC_MAGIC, REC_MAGIC_LEN)) {
		fprintf(stderr, "testtool: %s: not a recording\n", path);
		return 1;
	}
	fprintf(stderr, "version %#x msg_version %u channel %s slot %u "
		"geometry %ux%u mode %u header %u\n", h.version, h.msg_version,
		h.channel, h.slot_size, h.slots_per_block, h.block_count,
		h.mode, h.header_size);
	while (fread(&r, sizeof r, 1, f) == 1 && r.size <= sizeof payload &&
	       fread(payload, 1, r.size, f) == r.size)
		print_raw(h.channel, r.seq, r.ts_ns, r.type, payload, r.size);
	fclose(f);
	return 0;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Prints one packet; returns 1 at end of session. */
static int print_packet(const char *ch, const unsigned char *p, size_t len)
{
	uint64_t seq = get_be(p + MOLD_SESSION_LEN, 8);
	unsigned count = (unsigned)get_be(p + MOLD_SESSION_LEN + 8, 2);
	size_t off = MOLD_HEADER_LEN;

	if (count == MOLD_COUNT_HEARTBEAT || count == MOLD_COUNT_END) {
		printf("%s %" PRIu64 "\n", count ? "end" : "heartbeat", seq);
		return count == MOLD_COUNT_END;
	}
	for (unsigned i = 0; i < count && off + 2 <= len; i++) {
		size_t mlen = get_be(p + off, 2);

		if (off + 2 + mlen > len || mlen < MDBUS_UDP_MSG_LEN)
			break;
		print_raw(ch, seq + i - 1, get_le(p + off + 2, 8),
			  (unsigned)get_le(p + off + 2 + MDBUS_UDP_TYPE_OFF, 2),
			  p + off + 2 + MDBUS_UDP_MSG_LEN,
			  mlen - MDBUS_UDP_MSG_LEN);
		off += 2 + mlen;
	}
	return 0;
}

/* Joins group on the loopback interface; -1 when the host cannot. */
static int join_group(int fd, struct in_addr group)
{
	struct ip_mreq mreq = {.imr_multiaddr = group};

	mreq.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
	return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
			  sizeof mreq);
}

static int bind_udp(const char *portfile, const char *group)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	FILE *f;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (group && inet_pton(AF_INET, group, &sa.sin_addr) != 1)
		return -1;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	if (group && join_group(fd, sa.sin_addr))
		return -2;
	f = fopen(portfile, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", ntohs(sa.sin_port));
	fclose(f);
	return fd;
}

/* $TESTTOOL_RCVBUF bytes of receive buffer, when set (SO_RCVBUFFORCE as
 * root, else what rmem_max allows): for a test whose feed must arrive
 * whole under a sanitizer's slowdown or a loaded machine. Not the
 * default: a receiver stopped through a replay then keeps more of it. */
static void receive_buffer(int fd)
{
	const char *env = getenv("TESTTOOL_RCVBUF");
	int bytes = env ? atoi(env) : 0;

	if (bytes <= 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

static int cmd_udprecv(const char *ch, const char *portfile,
		       const char *group)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	int fd = bind_udp(portfile, group);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (fd < 0) {
		perror("testtool: udp");
		return fd == -2 ? 77 : 1;
	}
	receive_buffer(fd);
	while (poll(&pfd, 1, UDP_TIMEOUT_MS) == 1) {
		ssize_t n = recv(fd, pkt, sizeof pkt, 0);

		if (n < MOLD_HEADER_LEN)
			continue;
		if (print_packet(ch, pkt, (size_t)n))
			return fflush(stdout) ? 1 : 0;
		fflush(stdout);
	}
	fputs("testtool: udp: timed out\n", stderr);
	return 1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "pub") == 0)
		return cmd_pub(argc - 1, argv + 1);
	if (strcmp(cmd, "json") == 0)
		return cmd_json();
	if (strcmp(cmd, "jget") == 0)
		return cmd_jget(argc - 2, argv + 2);
	if (strcmp(cmd, "hold") == 0 && argc == 6)
		return cmd_hold(argv + 2);
	if (strcmp(cmd, "poke") == 0 && argc == 5)
		return cmd_poke(argv + 2);
	if (strcmp(cmd, "crowd") == 0 && argc == 4)
		return cmd_crowd(argv + 2);
	if (strcmp(cmd, "evict") == 0 && argc == 5)
		return cmd_evict(argv + 2);
	if (strcmp(cmd, "spoil") == 0 && argc == 4)
		return cmd_spoil(argv + 2);
	if (strcmp(cmd, "recdump") == 0 && argc == 3)
		return cmd_recdump(argv[2]);
	if (strcmp(cmd, "udprecv") == 0 && (argc == 4 || argc == 5))
		return cmd_udprecv(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	fputs("usage: testtool pub|json|jget|hold|poke|crowd|evict|spoil|recdump|udprecv ...\n",
	      stderr);
	return 2;
}
