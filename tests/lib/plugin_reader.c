/*
 * plugin_reader.c - the shared object t_dlopen loads and unloads 100
 * times. It links libmdbus itself (the host does not), so every dlopen
 * loads the library afresh and every dlclose can unload it. Exports the two
 * entry points declared in testutil.h; never exits the host on error.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "mdbus.h"
#include "testutil.h"

#define PMAX 104 /* 128-byte slots */

tu_plugin_read_fn plugin_read;
tu_plugin_publish_fn plugin_publish;

struct job {
	const char *channel;
	uint64_t want;
	char why[200];
};

static void *reader_thread(void *arg)
{
	struct job *j = arg;
	struct mdbus_sub_config c;
	unsigned char buf[PMAX];
	struct mdbus_msg m;
	mdbus_sub_t *s = NULL;
	uint64_t got = 0, expect;
	const char *bad;
	int rc;

	mdbus_sub_config_init(&c);
	c.name = "plugin";
	rc = mdbus_sub_open(&s, j->channel, &c);
	if (rc) {
		snprintf(j->why, sizeof(j->why), "sub_open: %s (%s)",
			 mdbus_strerror(rc), mdbus_last_error());
		return NULL;
	}
	expect = mdbus_sub_position(s);
	while (got < j->want) {
		rc = mdbus_sub_read(s, buf, sizeof(buf), &m, 10000000000LL);
		if (rc) {
			snprintf(j->why, sizeof(j->why), "read: %s",
				 mdbus_strerror(rc));
			break;
		}
		if (m.seq != expect + m.lost) {
			snprintf(j->why, sizeof(j->why),
				 "seq %llu lost %llu, expected %llu + lost",
				 (unsigned long long)m.seq,
				 (unsigned long long)m.lost,
				 (unsigned long long)expect);
			break;
		}
		bad = tu_msg_bad(&m, buf, 0, PMAX);
		if (bad) {
			snprintf(j->why, sizeof(j->why), "%s", bad);
			break;
		}
		expect = m.seq + 1;
		got++;
	}
	mdbus_sub_close(s);
	return NULL;
}

int plugin_read(const char *channel, uint64_t want, char *why, size_t len)
{
	struct job j = { channel, want, "" };
	pthread_t t;
	int rc = pthread_create(&t, NULL, reader_thread, &j);

	if (rc) {
		snprintf(why, len, "pthread_create: %s", strerror(rc));
		return -1;
	}
	pthread_join(t, NULL);
	snprintf(why, len, "%s", j.why);
	return j.why[0] ? -1 : 0;
}

int plugin_publish(const char *channel, _Atomic uint32_t *flags)
{
	struct mdbus_pub_config c;
	unsigned char buf[PMAX];
	mdbus_pub_t *p = NULL;
	uint64_t n;
	int rc;

	mdbus_pub_config_init(&c);
	c.slot_size = PMAX + MDBUS_SLOT_HEADER;
	c.slots_per_block = 256;
	c.block_count = 4;
	rc = mdbus_pub_open(&p, channel, &c);
	if (rc) {
		fprintf(stderr, "plugin_publish: %s (%s)\n",
			mdbus_strerror(rc), mdbus_last_error());
		return -1;
	}
	atomic_store(&flags[0], 1);
	for (n = 0; !atomic_load(&flags[1]); n++) {
		rc = tu_publish_seq(p, n, buf, 0, PMAX);
		if (rc) {
			fprintf(stderr, "plugin_publish: %s\n",
				mdbus_strerror(rc));
			break;
		}
		if ((n & 63) == 63)
			tu_sleep_ms(0.02);
	}
	mdbus_pub_close(p);
	return rc ? -1 : 0;
}
