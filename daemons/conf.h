/*
 * conf.h - mdpub.conf: an INI file with one [global]
 * section and one [channel NAME] section per channel. See mdpub.conf(5).
 */
#ifndef MDPUB_CONF_H
#define MDPUB_CONF_H

#include <stdint.h>

#include "mdbus.h"
#include "source.h"

struct chan_conf {
	char *name;
	/* the keys of chan_settings[] (conf.c) */
	uint64_t slot_size;
	uint64_t slots_per_block;
	uint64_t block_count;
	uint64_t max_consumers;
	int mode;               /* enum mdbus_mode */
	uint64_t file_mode;
	char *group;
	char *dir;
	char *source;
	double heartbeat_s;     /* heartbeat interval, seconds */
	double reap_s;          /* dead-consumer reaper interval, seconds */
	double stall_evict_s;   /* lossless eviction time, 0 = never */
	int replace;            /* replace a segment of another geometry */
	int nudge;              /* a nudger wakes anonymous readers */
	char *archive;          /* archive directory, NULL = none */
	uint64_t archive_size;  /* rotate files at this many bytes */
	char *archive_rotate;   /* "HH:MM[:SS]" UTC, "none"; NULL = 00:00 */
	double archive_flush_s; /* flush delay, seconds */
	/* the source and its settings (ops->settings) */
	const struct source_ops *ops;
	void *src_conf;
};

struct mdpub_conf {
	int log_level;      /* LOG_ERR .. LOG_DEBUG */
	int syslog;
	double stats_s;     /* stats log interval, 0 = off */
	struct chan_conf **chans;
	size_t nchans;
};

/* The config read when no -c is given and it exists. */
#define MDPUB_CONF_DEFAULT SYSCONFDIR "/mdbus/mdpub.conf"

/* One error of a config file: its line (0: the file as a whole). */
struct conf_err {
	int line;
	unsigned order;
	char text[500];
};

/* Every error found in a config file, sorted by line. */
struct conf_report {
	const char *file;       /* the name to print them with */
	struct conf_err *errs;
	unsigned n;
};

/* Reads the config file `path`, or the embedded default (one channel
 * `demo` fed by the synthetic source) when path is NULL. Returns 0 and
 * sets *out, or -EINVAL (-ENOMEM) with every error in *report, which the
 * caller prints as "FILE:LINE: reason" and frees with conf_report_free().
 * Prints nothing itself. */
int conf_load(struct mdpub_conf **out, const char *path,
	      struct conf_report *report);

/* A config of one channel `channel` from n "KEY=VALUE" settings (channel
 * keys, source = and the source's keys; a later one replaces an earlier
 * one), checked as a file's: mdpub --replay and --lines. Errors as for
 * conf_load(), with `what` as the file name and line 0. The periodic
 * stats log is off. */
int conf_build(struct mdpub_conf **out, const char *what, const char *channel,
	       char *const *settings, size_t n, struct conf_report *report);

void conf_report_free(struct conf_report *report);

void conf_free(struct mdpub_conf *conf);

/* Frees one channel's config (taken out of a struct mdpub_conf). NULL is a
 * no-op. */
void conf_channel_free(struct chan_conf *c);

/* The channel called `name` in conf, or NULL. */
const struct chan_conf *conf_channel(const struct mdpub_conf *conf,
				     const char *name);

/* The libmdbus publisher configuration of channel c (its strings are
 * c's). */
void conf_pub_config(const struct chan_conf *c, struct mdbus_pub_config *cfg);

/* 1 when two channel configs are the same in every setting. */
int conf_channel_equal(const struct chan_conf *a, const struct chan_conf *b);

#endif /* MDPUB_CONF_H */
