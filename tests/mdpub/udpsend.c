/*
 * udpsend.c - sends files as UDP datagrams from a chosen local address,
 * for the udp source and re-request server tests (forged packets from
 * another address):
 *
 *   udpsend [-b ADDR] [-p LOCALPORT] HOST PORT FILE...
 *
 * Each FILE is one datagram to HOST:PORT (IPv4), sent from ADDR when -b
 * is given, from LOCALPORT when -p is (else any port).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moldudp64.h" /* MOLD_PACKET_MAX */
#include "parse_num.h"

static int addr_of(struct sockaddr_in *sin, const char *host, const char *port)
{
	uint64_t p = 0;

	*sin = (struct sockaddr_in){.sin_family = AF_INET};
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
	    (port && (parse_u64(port, 10, &p) || p > 65535)))
		return -1;
	sin->sin_port = htons((uint16_t)p);
	return 0;
}

static int send_file(int fd, const char *path)
{
	static unsigned char buf[MOLD_PACKET_MAX];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return send(fd, buf, n, 0) == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in local, dest;
	const char *bind_addr = NULL, *bind_port = NULL;
	int opt, fd;

	while ((opt = getopt(argc, argv, "b:p:")) != -1) {
		if (opt == 'b')
			bind_addr = optarg;
		else if (opt == 'p')
			bind_port = optarg;
		else
			goto usage;
	}
	if (argc - optind < 3 || addr_of(&dest, argv[optind], argv[optind + 1]))
		goto usage;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ((bind_addr || bind_port) &&
			(addr_of(&local, bind_addr ? bind_addr : "0.0.0.0",
				 bind_port) ||
			 bind(fd, (void *)&local, sizeof local))) ||
	    connect(fd, (void *)&dest, sizeof dest)) {
		perror("udpsend: socket");
		return 1;
	}
	for (int i = optind + 2; i < argc; i++)
		if (send_file(fd, argv[i]) < 0) {
			perror(argv[i]);
			return 1;
		}
	return 0;
usage:
	fprintf(stderr, "usage: udpsend [-b ADDR] [-p LOCALPORT] HOST PORT "
		"FILE...\n");
	return 2;
}
