/*
 * relay.c - a lossy link for the network tests, where netem is missing:
 * relays MoldUDP64 datagrams from a UDP port to HOST:PORT and drops every
 * Nth downstream packet that carries messages (heartbeats and ends of
 * session pass: their loss only delays what they show), counting exactly
 * the packets and messages it dropped. Decodes headers with the one codec
 * (common/moldudp64.h). Runs until SIGTERM or SIGINT, then prints
 *
 *   relayed P packets dropped D packets M messages failed F
 *
 * (failed: packets the kernel refused to send: the test wants none).
 *
 * relay LISTEN-ADDR LISTEN-PORT DEST-ADDR DEST-PORT EVERY (0: drop none)
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moldudp64.h"
#include "parse_num.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static int sock(const char *addr, const char *port, int bound)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	uint64_t p;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;

	if (fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    parse_u64(port, 10, &p) || p > 65535)
		return -1;
	sin.sin_port = htons((uint16_t)p);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
	if ((bound ? bind : connect)(fd, (struct sockaddr *)&sin, sizeof sin))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char pkt[MOLD_PACKET_MAX];
	uint64_t every, data = 0, relayed = 0, dropped = 0, lost_msgs = 0,
		 failed = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	struct pollfd pfd = {.events = POLLIN};
	int out;

	if (argc != 6 || parse_u64(argv[5], 10, &every)) {
		fprintf(stderr, "usage: relay LISTEN-ADDR LISTEN-PORT DEST-ADDR "
			"DEST-PORT EVERY\n");
		return 2;
	}
	pfd.fd = sock(argv[1], argv[2], 1);
	out = sock(argv[3], argv[4], 0);
	if (pfd.fd < 0 || out < 0) {
		perror("relay: socket");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		struct mold_header h;
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(pfd.fd, pkt, sizeof pkt, 0);
		if (n < 0 || mold_header_decode(pkt, (size_t)n, &h) < 0)
			continue;
		if (h.count && h.count != MOLD_COUNT_END && every &&
		    ++data % every == 0) {
			dropped++;
			lost_msgs += h.count;
			continue;
		}
		if (send(out, pkt, (size_t)n, 0) == (ssize_t)n)
			relayed++;
		else
			failed++;
	}
	printf("relayed %" PRIu64 " packets dropped %" PRIu64 " packets %" PRIu64
	       " messages failed %" PRIu64 "\n", relayed, dropped, lost_msgs,
	       failed);
	return 0;
}
