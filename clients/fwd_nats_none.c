/*
 * fwd_nats_none.c - fwd_nats.c's functions in a build without the NATS
 * client library (configure found no libnats, or --without-nats):
 * opts.c refuses --forward nats:// with fwd_nats_built() 0, so that the
 * others are never called.
 */
#include "config.h"

#include <errno.h>

#include "mdsub.h"

int fwd_nats_built(void)
{
	return 0;
}

int nfwd_open(struct nats_fwd **out, const struct mdsub_opts *o,
	      const char *channel, char *err, size_t errlen)
{
	(void)out, (void)o, (void)channel;
	snprintf(err, errlen, "mdsub was built without NATS support");
	return -ENOTSUP;
}

int nfwd_send(struct nats_fwd *f, const struct delivery *d)
{
	(void)f, (void)d;
	return -ENOTSUP;
}

int nfwd_tick(struct nats_fwd *f, uint64_t now_ns, uint64_t *next_ns)
{
	(void)f, (void)now_ns;
	*next_ns = NS_PER_SEC;
	return 0;
}

int nfwd_failed(struct nats_fwd *f, char *err, size_t errlen)
{
	(void)f, (void)err, (void)errlen;
	return 0;
}

int nfwd_close(struct nats_fwd *f)
{
	(void)f;
	return 0;
}
