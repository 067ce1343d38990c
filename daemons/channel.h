/*
 * channel.h - one published channel: its mdbus publisher handle, the
 * pthread that is its single producer, running its own libev loop with the
 * channel's source, heartbeat timer and dead-consumer reaper.
 *
 * The main thread starts and stops channels and reads their counters; all
 * the rest runs in the channel's thread.
 */
#ifndef MDPUB_CHANNEL_H
#define MDPUB_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"

struct channel;

/* Opens the channel's segment, starts its source and its thread, and sets
 * *out. Takes ownership of conf on success. `done` (a watcher of
 * main_loop) is sent when the source has no more input and all of it is
 * published. Returns 0, or a negative code (negated errno, MDBUS_E*) with
 * the reason in err (e.g. MDBUS_EOWNED, "channel NAME is owned by live
 * publisher pid N"; the source's start() reason, source.h, as it gave
 * it). Logs nothing when it fails. */
int channel_start(struct channel **out, struct chan_conf *conf,
		  struct ev_loop *main_loop, ev_async *done, char *err,
		  size_t errlen);

/* Stops the source, publishes a final FEED_DOWN status behind what
 * back-pressure holds, waits for readers to take all of it for 2 s at
 * most, counts and logs what is left as dropped, marks the channel stopped, joins the thread and frees
 * everything but the channel's config, which it returns (the caller frees
 * it with conf_channel_free(), or starts the channel again with it). */
struct chan_conf *channel_stop(struct channel *ch);

/* Starts the stop channel_stop() waits for, and returns at once: stopping
 * all channels, mdpub starts every stop first, so that their waits for
 * back-pressure overlap. */
void channel_request_stop(struct channel *ch);

/* Stops the channel as channel_stop() does, up to the end of its thread:
 * its counters are final then (channel_complete()); channel_stop() still
 * frees it. */
void channel_join(struct channel *ch);

/* 1 once channel_request_stop() was called: the channel publishes no
 * more, and is to be stopped with channel_stop(). */
int channel_stop_requested(const struct channel *ch);

const struct chan_conf *channel_conf(const struct channel *ch);

/* 1 once the source has ended and everything it gave is published. */
int channel_finished(const struct channel *ch);

/* 1 when none of the source's input was malformed and none of its
 * messages was dropped (the channel's own status messages do not count),
 * and (unless !to_end) it ended: all of its input was published (mdpub
 * --replay, --lines). Once channel_join() returned. */
int channel_complete(const struct channel *ch, int to_end);

/* Has the channel log its counters at LOG_NOTICE, then the source's own
 * counters, if it has any, on a second line (mdpub(8), LOGGING), and
 * returns at once: its thread logs them between two of its callbacks, so
 * a message a reader has already seen is counted in "out"; this thread
 * logs them itself once the channel's thread has ended. A request made
 * while one is pending gives one line. */
void channel_request_stats(struct channel *ch);

/* ---- for sources, from the channel's thread ---- */

/* Publishes one message (ts_ns 0 = now). In lossless mode a message the
 * ring refuses (back-pressure) is queued in order and the channel pauses
 * until the queue is published, then calls the source's resume(); a source
 * reads no new input while channel_paused(). Returns 0, or -1 when the
 * message was dropped (larger than a slot: logged and counted). */
int channel_publish(struct channel *ch, uint16_t type, const void *data,
		    size_t size, uint64_t ts_ns);

int channel_paused(const struct channel *ch);

/* How many of the messages given to channel_publish() back-pressure
 * holds queued, not yet in the ring: the last ones given. In the
 * source's stop() after its stop_input() (source.h): those dropped at
 * the stop. */
uint64_t channel_held(const struct channel *ch);

/* Skips n sequence numbers (mdbus_pub_skip(): readers count them lost),
 * queued in order under back-pressure as a message is. Returns 0, or -1
 * when the library refused (logged). */
int channel_skip(struct channel *ch, uint64_t n);

/* The sequence number the next message given to channel_publish() gets
 * (the write count, plus what back-pressure holds queued). */
uint64_t channel_next_seq(const struct channel *ch);

/* The source's input is over (end of file, count reached). */
void channel_source_done(struct channel *ch);

/* Counters kept for the source: malformed input, and feed gaps with the
 * number of messages lost in them. */
void channel_count_malformed(struct channel *ch);
void channel_count_gap(struct channel *ch, uint64_t lost);

/* Adds `by` to the source's own counter number `which` (an index in its
 * source_ops counters), logged with the channel's counters. */
void channel_count(struct channel *ch, unsigned which, uint64_t by);

const char *channel_name(const struct channel *ch);

/* Largest payload a message of this channel can have. */
size_t channel_payload_max(const struct channel *ch);

#endif /* MDPUB_CHANNEL_H */
