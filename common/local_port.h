/*
 * local_port.h - ports of this host that any local user may bind: a
 * server there that is not running can be impersonated, and whatever is
 * sent there received, by another user (mdpub.conf(5), mdsub(1)).
 */
#ifndef MDBUS_LOCAL_PORT_H
#define MDBUS_LOCAL_PORT_H

#include <stddef.h>

struct addr_rule;

/* The lowest port a user may bind without CAP_NET_BIND_SERVICE
 * (net.ipv4.ip_unprivileged_port_start; 1024 when it cannot be read). */
unsigned local_port_start(void);

/* 1 when the rule admits an address of this host: loopback (127/8, ::1)
 * or an interface's, which every local user may send from. */
int local_port_on_this_host(const struct addr_rule *r);

/* 1 when text is a numeric ADDRESS:PORT of this host (or the
 * unspecified address, 0.0.0.0 or [::], which reaches this host) with a
 * port not below start: any local user may bind it while its server is
 * not running. Numeric as getaddrinfo() with AI_NUMERICHOST reads it,
 * as the programs connect: 127.1 is 127.0.0.1 (a name is not resolved:
 * 0). */
int local_port_takeable(const char *text, unsigned start);

/* The first of the comma-separated `urls` with a scheme of `schemes`
 * (NULL-terminated, each with its "://") whose HOST:PORT is
 * local_port_takeable(): 1 with that scheme in *scheme and HOST:PORT in
 * out, else 0. A USER[:PASSWORD]@ or TOKEN@ before HOST:PORT, which the
 * NATS client library takes for credentials, is left out of out (never
 * to be printed). */
int local_port_url(const char *urls, const char *const schemes[],
		   unsigned start, const char **scheme, char *out,
		   size_t outlen);

#endif /* MDBUS_LOCAL_PORT_H */
