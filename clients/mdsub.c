/*
 * mdsub.c - the command-line consumer of mdbus channels: parses the
 * options and runs the read loop or the inspection modes. See mdsub(1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdsub.h"

int main(int argc, char **argv)
{
	struct mdsub_opts o;
	int status = opts_parse(&o, argc, argv);

	if (status) {
		grep_free(&o.grep);
		return status < 0 ? EXIT_SUCCESS : status;
	}
	if (o.mode == MODE_READ) {
		status = run_read(&o);
		grep_free(&o.grep);
		return status;
	}
	if (o.mode == MODE_INFO || o.mode == MODE_VERIFY)
		status = recinfo_run(&o);
	else
		status = o.mode == MODE_UNLINK ? unlink_run(&o) : status_run(&o);
	if (fflush(stdout) && errno != EPIPE) {
		fprintf(stderr, "mdsub: standard output: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return status;
}
