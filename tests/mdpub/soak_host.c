/*
 * soak_host.c - loads the soak plugin with dlopen, lets it read a
 * channel for a while, unloads it with dlclose, and again, until the
 * channel's FEED_DOWN or the deadline; prints the merged counts
 * (check.h). Does not link libmdbus.
 *
 * soak_host PLUGIN.so CHANNEL SECONDS
 * Exit 0 when every round read cleanly and nothing was bad, else 1.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "soak.h"

#define ROUND_S 10.0 /* seconds per dlopen .. dlclose */

/* One dlopen .. dlclose round: 1 at FEED_DOWN, 0 time up, -1 error. */
static int round_trip(const char *path, const char *channel, double seconds,
		      struct tally *total)
{
	struct tally t = {0};
	char err[256] = "";
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	soak_plugin_run_fn *run;
	int rc;

	if (!h) {
		fprintf(stderr, "soak_host: %s\n", dlerror());
		return -1;
	}
	run = (soak_plugin_run_fn *)dlsym(h, SOAK_PLUGIN_ENTRY);
	rc = run ? run(channel, seconds, &t, err, sizeof(err)) : -1;
	if (rc < 0)
		fprintf(stderr, "soak_host: %s\n", run ? err : dlerror());
	dlclose(h);
	if (t.messages && t.messages + t.lost != t.last - t.first + 1) {
		fprintf(stderr, "soak_host: accounting: %llu read + %llu "
			"lost != %llu..%llu\n", (unsigned long long)t.messages,
			(unsigned long long)t.lost, (unsigned long long)t.first,
			(unsigned long long)t.last);
		rc = -1;
	}
	tally_merge(total, &t);
	return rc;
}

int main(int argc, char **argv)
{
	struct tally total = {0};
	double end;
	int rc = 0, rounds = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: soak_host PLUGIN CHANNEL SECONDS\n");
		return 2;
	}
	end = tally_now_s() + atof(argv[3]);
	while (rc == 0 && tally_now_s() < end) {
		double left = end - tally_now_s();

		rc = round_trip(argv[1], argv[2], left < ROUND_S ? left : ROUND_S,
				&total);
		rounds++;
	}
	printf("rounds %d\n", rounds);
	tally_print(stdout, &total);
	return rc < 0 || total.bad ? 1 : 0;
}
