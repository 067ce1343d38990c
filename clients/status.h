/*
 * status.h - what mdsub's --list, --status and --watch sample (status.c)
 * and the printers of each output format (status_text.c, status_json.c,
 * status_prom.c; mdsub(1), "STATUS").
 */
#ifndef MDSUB_STATUS_H
#define MDSUB_STATUS_H

#include <stdint.h>
#include <sys/types.h>

#include "mdsub.h"

/* Room for a reason: mdbus_last_error() holds up to 511 bytes (lib/error.c). */
#define STATUS_WHY_MAX 512

/* One channel at one moment. */
struct sample {
	char name[MDBUS_CHANNEL_MAX + 1];
	int err;
	char why[STATUS_WHY_MAX]; /* the error's text, taken right after the call */
	uint64_t t_ns;   /* CLOCK_MONOTONIC of the sample */
	struct mdbus_stats st;
	int table_err;         /* 1: the consumer table is missing or
				  spoiled (MDBUS_ETABLE): consumers unknown,
				  the rest read */
	char table_why[STATUS_WHY_MAX];
	int pub_uid_known;     /* 1: pub_uid is a live publisher's */
	uid_t pub_uid;         /* its effective uid (status_owner.c) */
	/* --status and --watch only: */
	struct mdbus_consumer_stat *cons; /* st.consumers of them, or fewer */
	uint32_t ncons;
	struct mdbus_counter ctr[MDBUS_COUNTERS_MAX];
	int nctr;              /* counters copied, or a negative code */
	char ctr_why[STATUS_WHY_MAX]; /* its text */
};

/* Every channel at one moment, and the segment directory. */
struct snapshot {
	struct sample *s;
	size_t n, cap;
	const char *dir;       /* the segment directory in force */
	int dir_err;           /* mdbus_dir_usage()'s code */
	struct mdbus_dir_stats use;
};

/* Per second between the previous snapshot and this sample, or -1 when
 * there is none to compare with (no earlier sample of the same segment
 * and publisher, a counter that went down, a gauge). */
double rate_written(const struct sample *cur, const struct snapshot *prev);
double rate_counter(const struct sample *cur, const struct snapshot *prev,
		    const struct mdbus_counter *c);
double rate_consumer(const struct sample *cur, const struct snapshot *prev,
		     const struct mdbus_consumer_stat *c);

/* The process name (/proc/PID/comm, at most 15 bytes, any bytes: print
 * it with put_str()) of a live pid into out[16]; "" when it cannot be
 * read (gone, hidepid, no /proc). */
void proc_comm(pid_t pid, char out[16]);

/* The publisher's process name: that of a live publisher, else "". */
void pub_comm(const struct mdbus_stats *st, char out[16]);
/* A consumer's, when it is alive, else "". */
void cons_comm(const struct mdbus_consumer_stat *c, char out[16]);

/* status_owner.c: the user name of uid into out (any bytes: print it
 * with put_str()) and 1, or its number when it has none and 0. */
int user_text(uid_t uid, char *out, size_t n);
/* Sets s->pub_uid (and pub_uid_known) to the effective uid of the live
 * publisher the header names, from /proc/PID/status, when it can be
 * read; not for one that is not live (its pid may be another's now). */
void sample_pub_user(struct sample *s);
/* 1 when the segment's owner is not the user of its live publisher, 0
 * when it is or there is no live publisher, -1 when the publisher is live
 * but its user is not known (its /proc entry hidden by hidepid, or gone
 * since). */
int owner_differs(const struct sample *s);
#define OWNER_TEXT_MAX 160 /* room for owner_text(): two names, the words */
/* "nobody", or "nobody, not the publisher's user root" when they differ,
 * or "nobody, the publisher's user unknown" when that is not known. */
void owner_text(const struct sample *s, char *out, size_t n);

/* "alive", "dead" or "evicted". */
const char *cons_state(const struct mdbus_consumer_stat *c);

/* The printers. Channels that could not be read are on stderr already. */
void status_text(const struct mdsub_opts *o, const struct snapshot *cur,
		 const struct snapshot *prev);
int status_json(const struct mdsub_opts *o, const struct snapshot *cur,
		const struct snapshot *prev);
void status_prom(const struct snapshot *cur);

/* prom_labels.c: label values of n series, none twice (a name, else
 * name#N). PROM_LABEL_OUT: a name (at most 40 bytes kept) and "#N". */
#define PROM_LABEL_OUT 64
struct prom_labels;
/* A set for n series, or NULL when memory runs out. */
struct prom_labels *prom_labels_new(size_t n);
void prom_labels_free(struct prom_labels *l);
/* The label of series i (0, 1, ... in order, i < n) named v (at most
 * size bytes) of process pid (0 for all when labels are unique per family):
 * v, or v#N when an earlier series of that pid has v; valid until
 * prom_labels_free(). */
const char *prom_label_add(struct prom_labels *l, size_t i, int32_t pid,
			   const char *v, size_t size);
/* The label prom_label_add() gave series i. */
const char *prom_label(const struct prom_labels *l, size_t i);

#endif /* MDSUB_STATUS_H */
