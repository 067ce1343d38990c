/*
 * fuzz_conf.c - libFuzzer harness for mdpub.conf (daemons/conf_syntax.c,
 * conf.c, settings.c and each source's settings): the input is written
 * as the config file and read with conf_load(), as mdpub and mdpub -T
 * read it. Invariants: a config that loads compares equal to itself
 * (conf_channel_equal(), what a reload relies on); its errors are sorted
 * by line and NUL-terminated.
 */
#include "config.h"

#include <assert.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

static char dir[] = "/dev/shm/fuzz_conf.XXXXXX", path[64]; /* no disk */

static void remove_path(void)
{
	unlink(path);
	rmdir(dir);
}

/* The config file, in a directory of its own removed at exit. */
static void make_path(void)
{
	assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/mdpub.conf", dir);
	atexit(remove_path);
}

/* Host names are not looked up (a config's listen = or connect = would
 * wait for DNS): only numeric addresses resolve. */
int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);
	struct addrinfo h = {0};

	if (!real)
		real = (int (*)(const char *, const char *,
				const struct addrinfo *,
				struct addrinfo **))dlsym(RTLD_NEXT,
							  "getaddrinfo");
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mdpub_conf *conf;
	struct conf_report rep;
	int fd;

	if (!path[0])
		make_path();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	close(fd);
	if (conf_load(&conf, path, &rep) == 0) {
		for (size_t i = 0; i < conf->nchans; i++)
			assert(conf_channel_equal(conf->chans[i],
						  conf->chans[i]));
		conf_free(conf);
	}
	for (unsigned i = 0; i < rep.n; i++) {
		assert(memchr(rep.errs[i].text, '\0', sizeof rep.errs[i].text));
		assert(!i || rep.errs[i - 1].line <= rep.errs[i].line);
	}
	conf_report_free(&rep);
	return 0;
}
