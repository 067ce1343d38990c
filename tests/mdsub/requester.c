/*
 * requester.c - a MoldUDP64 re-requester for the tests of `mdsub
 * --retransmit`, hostile when asked: sends TIMES request packets (session,
 * sequence, count; common/moldudp64.h) back to back to 127.0.0.1:PORT,
 * from SOURCES addresses in turn (127.0.1.1, 127.0.1.2, ...: loopback
 * takes all of 127/8), then collects the answers until none came for
 * 300 ms once the server has taken every request from its socket (its
 * rx_queue in /proc/net/udp is 0; 60 s at most: a loaded machine may not
 * run the server for a while), and prints
 *
 *   answers A messages M bytes B largest L seconds S heartbeats H
 *
 * (S: from the first request to the last answer; H: heartbeats or ends
 * of session, the answer to a request past what was sent, not counted
 * in A). Fails when an answer is not a downstream packet starting at the
 * sequence asked for, of the session asked, with at most the count
 * asked, nor a heartbeat or end of session numbered at or before it.
 *
 * requester PORT SESSION SEQ COUNT TIMES [SOURCES]
 * requester PORT --short   (one datagram of 19 bytes: not a request)
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "moldudp64.h"
#include "parse_num.h"

#define SOURCES_MAX 1000
#define QUIET_MS 300
#define TAKEN_S 60 /* longest wait for the server to take the requests */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A socket bound to 127.0.1.(i+1) (127.0.0.1 for a single source) and
 * connected to the server. */
static int open_from(unsigned i, unsigned n, uint16_t port)
{
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	from.sin_addr.s_addr = htonl(n == 1 ? 0x7f000001u : 0x7f000101u + i);
	to.sin_addr.s_addr = htonl(0x7f000001u);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof from) ||
	    connect(fd, (struct sockaddr *)&to, sizeof to)) {
		perror("requester: socket");
		exit(1);
	}
	return fd;
}

struct totals {
	uint64_t answers, messages, bytes, largest, heartbeats;
	double last_s;
};

/* Checks and counts one answer; exits on a wrong one. */
static void count_answer(struct totals *t, const unsigned char *p, size_t n,
			 const struct mold_header *req)
{
	struct mold_header h;

	int next = mold_header_decode(p, n, &h) == 0 &&
		   (!h.count || h.count == MOLD_COUNT_END);

	if ((next && (h.seq > req->seq || n != MOLD_HEADER_LEN)) ||
	    (!next && (h.seq != req->seq || !h.count ||
		       h.count > req->count)) ||
	    memcmp(h.session, req->session, MOLD_SESSION_LEN)) {
		fprintf(stderr, "requester: a wrong answer (%zu bytes)\n", n);
		exit(1);
	}
	t->heartbeats += next;
	t->answers += !next;
	t->messages += h.count;
	t->bytes += n;
	t->largest = n > t->largest ? n : t->largest;
	t->last_s = now_s();
}

/* Whether requests wait in the receive queue of the server's socket,
 * 127.0.0.1:port (its line of /proc/net/udp: "sl local rem st
 * tx_queue:rx_queue ..."; no line, no queue). */
static int server_queued(uint16_t port)
{
	char line[512], local[32], want[32];
	unsigned long tx, rx;
	int queued = 0;
	FILE *f = fopen("/proc/net/udp", "r");

	if (!f)
		return 0;
	snprintf(want, sizeof want, "0100007F:%04X", port);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, " %*s %31s %*s %*s %lx:%lx", local, &tx, &rx) == 3 &&
		    !strcmp(local, want))
			queued |= rx != 0;
	fclose(f);
	return queued;
}

/* Until the server has taken every request sent, TAKEN_S at most. */
static void await_taken(uint16_t port)
{
	double until = now_s() + TAKEN_S;

	while (server_queued(port) && now_s() < until)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static void collect(int *fds, unsigned n, const struct mold_header *req,
		    struct totals *t)
{
	static unsigned char p[MOLD_PACKET_MAX];
	struct pollfd pfd[SOURCES_MAX];

	for (unsigned i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	while (poll(pfd, n, QUIET_MS) > 0) {
		for (unsigned i = 0; i < n; i++) {
			ssize_t len;

			while ((len = recv(fds[i], p, sizeof p, MSG_DONTWAIT)) >= 0)
				count_answer(t, p, (size_t)len, req);
		}
	}
}

int main(int argc, char **argv)
{
	static int fds[SOURCES_MAX];
	unsigned char pkt[MOLD_REQUEST_LEN];
	struct mold_header req = {0};
	struct totals t = {0};
	uint64_t port, times, seq, count, sources = 1;
	double start;

	if (argc == 3 && !strcmp(argv[2], "--short") &&
	    !parse_u64(argv[1], 10, &port) && port < 65536) {
		int fd = open_from(0, 1, (uint16_t)port);

		return send(fd, "0123456789012345678", 19, 0) == 19 ? 0 : 1;
	}
	if ((argc != 6 && argc != 7) || parse_u64(argv[1], 10, &port) ||
	    port > 65535 || strlen(argv[2]) > MOLD_SESSION_LEN ||
	    parse_u64(argv[3], 10, &seq) || parse_u64(argv[4], 10, &count) ||
	    count > 0xFFFF || parse_u64(argv[5], 10, &times) ||
	    (argc == 7 && (parse_u64(argv[6], 10, &sources) || !sources ||
			   sources > SOURCES_MAX))) {
		fprintf(stderr, "usage: requester PORT SESSION SEQ COUNT TIMES "
			"[SOURCES]\n       requester PORT --short\n");
		return 2;
	}
	memset(req.session, ' ', MOLD_SESSION_LEN);
	memcpy(req.session, argv[2], strlen(argv[2]));
	req.seq = seq;
	req.count = (uint16_t)count;
	if (mold_request_encode(pkt, sizeof pkt, &req) < 0) {
		fprintf(stderr, "requester: not a request\n");
		return 2;
	}
	for (unsigned i = 0; i < sources; i++)
		fds[i] = open_from(i, (unsigned)sources, (uint16_t)port);
	start = t.last_s = now_s();
	for (uint64_t i = 0; i < times; i++)
		if (send(fds[i % sources], pkt, sizeof pkt, 0) < 0)
			perror("requester: send");
	await_taken((uint16_t)port);
	collect(fds, (unsigned)sources, &req, &t);
	printf("answers %" PRIu64 " messages %" PRIu64 " bytes %" PRIu64
	       " largest %" PRIu64 " seconds %.3f heartbeats %" PRIu64 "\n",
	       t.answers, t.messages, t.bytes, t.largest, t.last_s - start,
	       t.heartbeats);
	return 0;
}
