/*
 * soak_plugin.c - the consumer of the mdpub soak that lives in a
 * dlopen'ed shared object: it links libmdbus itself (the host does not),
 * reads a channel of the synthetic source in a thread of its own and
 * checks every message (check.h).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

#define BUF_SIZE (1u << 20) /* the largest payload */

struct job {
	const char *channel;
	double seconds;
	struct tally *t;
	int rc;
	char *err;
	size_t errlen;
};

static int is_down(const struct mdbus_msg *m, const void *buf)
{
	const struct mdbus_status *s = buf;

	return m->type == MDBUS_MSG_STATUS && m->size >= sizeof(*s) &&
	       s->state == MDBUS_STATE_FEED_DOWN;
}

/* 1 at FEED_DOWN, 0 when the time is up, -1 on an error. */
static int read_loop(mdbus_sub_t *sub, struct job *j, void *buf)
{
	double end = tally_now_s() + j->seconds;
	struct mdbus_msg m;

	while (tally_now_s() < end) {
		int rc = mdbus_sub_read(sub, buf, BUF_SIZE, &m, 100000000);

		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			snprintf(j->err, j->errlen, "read: %s", mdbus_strerror(rc));
			return -1;
		}
		if (tally_add(j->t, &m, buf) < 0) {
			snprintf(j->err, j->errlen, "sequence error");
			return -1;
		}
		j->t->bad += !synthetic_ok(&m, buf);
		if (is_down(&m, buf))
			return 1;
	}
	return 0;
}

static void *reader(void *arg)
{
	struct job *j = arg;
	struct mdbus_sub_config cfg;
	mdbus_sub_t *sub;
	void *buf = malloc(BUF_SIZE);
	int rc;

	if (!buf) {
		snprintf(j->err, j->errlen, "out of memory");
		return NULL;
	}
	mdbus_sub_config_init(&cfg);
	cfg.name = "soak-plugin";
	rc = mdbus_sub_open(&sub, j->channel, &cfg);
	if (rc < 0) {
		snprintf(j->err, j->errlen, "%s: %s", j->channel,
			 mdbus_strerror(rc));
		free(buf);
		return NULL;
	}
	j->rc = read_loop(sub, j, buf);
	mdbus_sub_close(sub);
	free(buf);
	return NULL;
}

soak_plugin_run_fn soak_plugin_run;

int soak_plugin_run(const char *channel, double seconds, struct tally *t,
		    char *err, size_t errlen)
{
	struct job j = {channel, seconds, t, -1, err, errlen};
	pthread_t th;
	int rc = pthread_create(&th, NULL, reader, &j);

	if (rc) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -1;
	}
	pthread_join(th, NULL);
	return j.rc;
}
