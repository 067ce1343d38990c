/*
 * source.h - the feed sources of a channel. A source lives in its
 * channel's thread: it is started with that thread's libev loop, reads its
 * input from watchers on it and hands every message to channel_publish()
 * (channel.h). Each source describes its mdpub.conf keys in a settings
 * table, so config checking, reload comparison and freeing are generic.
 */
#ifndef MDPUB_SOURCE_H
#define MDPUB_SOURCE_H

#include <stddef.h>

#include <ev.h>

#include "mdbus_msg.h"
#include "settings.h"

struct channel;

/* What every source has; each embeds it first in its own struct. */
struct source {
	struct channel *ch;
	struct ev_loop *loop;
};

#define SOURCE_OF(src, type) ((type *)(void *)(src))

struct source_ops {
	const char *name;                /* value of the `source` key */
	const struct setting *settings;  /* the source's own keys */
	size_t conf_size;                /* of its settings struct */
	void (*conf_init)(void *conf);   /* the defaults (NULL: all 0) */
	/* Checks the settings as a whole once every key is set: 0, or -1
	 * with the reason in err. NULL when there is nothing to check. */
	int (*conf_check)(const void *conf, char *err, size_t errlen);
	/* What mdpub accepts but warns of, in settings that conf_check()
	 * passed: 1 with the warning in buf, else 0. mdpub -T prints it;
	 * the source logs it when it starts. NULL when there is none. */
	int (*conf_warning)(const void *conf, char *buf, size_t len);
	/* Starts feeding ch from loop and sets *out. Returns 0, or a
	 * negative code (negated errno, MDBUS_E*) with the reason in err,
	 * naming the file or address (e.g. -ENOENT, "FILE: No such file or
	 * directory"), having logged nothing and freed everything. Once
	 * started, a source logs what happens in its own thread itself
	 * (where it listens, malformed input): it is that thread's outer
	 * edge. */
	int (*start)(struct source **out, const void *conf, struct channel *ch,
		     struct ev_loop *loop, char *err, size_t errlen);
	/* The channel was paused (back-pressure) and can take messages
	 * again: restart reading input. Also called when the source read
	 * nothing while the channel was paused (a FEED_UP status held at
	 * the start paused it: channel.c), so with its watchers still
	 * running. */
	void (*resume)(struct source *src);
	/* At the channel's stop, for a source that must learn what became
	 * of its messages back-pressure held (NULL: stop() does it all at
	 * once): stops taking input. The source publishes nothing after it;
	 * the channel then publishes its FEED_DOWN, waits for what is held
	 * (mdpub(8), "Channel life cycle") and calls no op of the source but
	 * stop(), not resume() even when what was held got published. */
	void (*stop_input)(struct source *src);
	/* Stops every watcher and frees the source. With stop_input(), it
	 * follows it in the channel's thread once the stop's wait ended (at
	 * once when the thread never ran): channel_held() (channel.h) then
	 * counts the source's last messages, those the stop dropped; 0 when
	 * all it gave is in the ring. */
	void (*stop)(struct source *src);
	/* 1 when the source, so configured, numbers the channel's sequence
	 * itself (channel_skip()): the channel then publishes no message of
	 * its own (no feed status at start and stop, no idle heartbeat
	 * message). NULL: never. */
	int (*numbers_seq)(const void *conf);
	/* Names of the source's own counters (channel_count(), channel.h),
	 * at most SOURCE_COUNTERS_MAX, NULL-terminated; NULL for none. */
	const char *const *counters;
	/* The largest message the source makes (its own records, not its
	 * input's bytes), so that a slot too small for it is refused at the
	 * config check rather than every message dropped; 0 when the input
	 * sets the size. */
	size_t msg_max;
};

/* The largest of the quote and trade records (mdbus_msg.h), which the
 * synthetic and lines sources make. */
#define SOURCE_MARKET_MSG_MAX \
	(sizeof(struct mdbus_quote) > sizeof(struct mdbus_trade) ? \
		 sizeof(struct mdbus_quote) : sizeof(struct mdbus_trade))

#define SOURCE_COUNTERS_MAX 12

extern const struct source_ops src_synthetic;
extern const struct source_ops src_replay;
extern const struct source_ops src_udp;
extern const struct source_ops src_lines;
extern const struct source_ops src_nats; /* only with HAVE_NATS */

/* The source named `name`, or NULL. */
const struct source_ops *source_find(const char *name);

/* The names of the sources built in, for messages. */
const char *source_names(void);

/* A zeroed source struct of `size` bytes with its base set, or NULL (out
 * of memory: see source_nomem()). Logs nothing. */
void *source_alloc(size_t size, struct channel *ch, struct ev_loop *loop);

/* For a start() out of memory: puts "out of memory" in err and returns
 * -ENOMEM. */
int source_nomem(char *err, size_t errlen);

#endif /* MDPUB_SOURCE_H */
