/*
 * mdpub.c - the mdbus publisher daemon: command line, daemonizing, pid
 * file, and the main thread's libev loop (signals, reload, stats, the
 * optional --duration), which starts and stops the channels (channel.h).
 * See mdpub(8).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <ev.h>

#include "channel.h"
#include "conf.h"
#include "log.h"
#include "parse_num.h"

struct opts {
	const char *conf_path; /* NULL: the embedded default */
	const char *pidfile;
	double duration;       /* seconds, 0 = run until a signal */
	int foreground;
	int check_only;
	int verbose;
};

struct mdpub {
	struct opts opts;
	struct ev_loop *loop;
	struct channel **chans;
	size_t nchans;
	ev_signal term_w, int_w, hup_w, usr1_w;
	ev_timer stats_w, duration_w;
	ev_async done_w;
	int pidfd;
	int detached;  /* in the background: stderr is /dev/null */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mdpub [OPTION]...\n"
		"Publish market data into mdbus shared-memory channels.\n\n"
		"  -c, --config FILE   configuration (default %s if it exists,\n"
		"                      else channel demo fed by the synthetic source)\n"
		"  -t, --test          check the configuration and exit\n"
		"  -f, --foreground    stay in the foreground, log to stderr\n"
		"  -p, --pidfile FILE  write the pid to FILE, locked while running\n"
		"  -d, --duration SEC  stop by itself after SEC seconds\n"
		"  -v, --verbose       log more (twice: debug)\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n\n"
		"Signals: TERM/INT stop, HUP reloads the configuration, USR1 logs stats.\n"
		"See mdpub(8) and mdpub.conf(5).\n",
		MDPUB_CONF_DEFAULT);
}

static int parse_duration(const char *arg, double *out)
{
	if (parse_seconds(arg, out) == 0)
		return 0;
	fprintf(stderr, "mdpub: --duration: '%s' is not a number of "
			"seconds > 0\n", arg);
	return -1;
}

/* One option: 0 to go on, 1 to exit 0 (help, version), -1 to exit 2. */
static int parse_opt(int c, struct opts *o)
{
	switch (c) {
	case 'c':
		o->conf_path = optarg;
		return 0;
	case 't':
		o->check_only = 1;
		return 0;
	case 'f':
		o->foreground = 1;
		return 0;
	case 'p':
		o->pidfile = optarg;
		return 0;
	case 'd':
		return parse_duration(optarg, &o->duration);
	case 'v':
		o->verbose++;
		return 0;
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf("mdpub (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 1;
	default:
		usage(stderr);
		return -1;
	}
}

/* 0 to run, 1 to exit 0 (help, version), -1 to exit 2 (usage error). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 't'},
		{"foreground", no_argument, NULL, 'f'},
		{"pidfile", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:tfp:d:vhV", longopts, NULL)) != -1) {
		int rc = parse_opt(c, o);

		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "mdpub: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static const char *conf_name(const struct opts *o)
{
	return o->conf_path ? o->conf_path : "(embedded default)";
}

static void apply_globals(struct mdpub *m, const struct mdpub_conf *conf)
{
	int level = conf->log_level;

	if (level < LOG_NOTICE + m->opts.verbose)
		level = LOG_NOTICE + m->opts.verbose;
	log_set_level(level > LOG_DEBUG ? LOG_DEBUG : level);
	log_use_syslog(conf->syslog || m->detached);
	ev_timer_stop(m->loop, &m->stats_w);
	if (conf->stats_s > 0) {
		ev_timer_set(&m->stats_w, conf->stats_s, conf->stats_s);
		ev_timer_start(m->loop, &m->stats_w);
	}
}

/* Starts the channel conf->chans[i], which it then owns; logs why not. */
static int start_channel(struct mdpub *m, struct mdpub_conf *conf, size_t i)
{
	struct channel *ch;
	char err[512];
	int rc = channel_start(&ch, conf->chans[i], m->loop, &m->done_w, err,
			       sizeof(err));

	if (rc < 0) {
		log_msg(LOG_ERR, "channel %s: %s", conf->chans[i]->name, err);
		return rc;
	}
	conf->chans[i] = NULL;
	m->chans[m->nchans++] = ch;
	return 0;
}

static void remove_channel(struct mdpub *m, size_t i)
{
	channel_stop(m->chans[i]);
	m->chans[i] = m->chans[--m->nchans];
}

static void stop_all(struct mdpub *m)
{
	while (m->nchans)
		remove_channel(m, m->nchans - 1);
}

static int grow_channels(struct mdpub *m, size_t more)
{
	struct channel **grown =
		realloc(m->chans, (m->nchans + more) * sizeof(*m->chans));

	if (!grown) {
		log_msg(LOG_ERR, "out of memory");
		return -ENOMEM;
	}
	m->chans = grown;
	return 0;
}

static int start_all(struct mdpub *m, struct mdpub_conf *conf)
{
	if (grow_channels(m, conf->nchans) < 0)
		return -1;
	for (size_t i = 0; i < conf->nchans; i++)
		if (start_channel(m, conf, i) < 0)
			return -1;
	return 0;
}

/* Stops the running channels that `conf` drops or changes. */
static void reload_stop(struct mdpub *m, const struct mdpub_conf *conf)
{
	for (size_t i = m->nchans; i-- > 0;) {
		const struct chan_conf *old = channel_conf(m->chans[i]);
		const struct chan_conf *now = conf_channel(conf, old->name);

		if (now && conf_channel_equal(old, now)) {
			log_msg(LOG_INFO, "reload: channel %s unchanged", old->name);
			continue;
		}
		log_msg(LOG_NOTICE, "reload: channel %s %s", old->name,
			now ? "changed: restarting" : "removed");
		remove_channel(m, i);
	}
}

static int running(const struct mdpub *m, const char *name)
{
	for (size_t i = 0; i < m->nchans; i++)
		if (strcmp(channel_conf(m->chans[i])->name, name) == 0)
			return 1;
	return 0;
}

/* Prints every error of a config file as FILE:LINE: reason. */
static void log_report(struct conf_report *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->errs[i].line)
			log_msg(LOG_ERR, "%s:%d: %s", r->file, r->errs[i].line,
				r->errs[i].text);
		else
			log_msg(LOG_ERR, "%s: %s", r->file, r->errs[i].text);
	if (r->n == 0)
		log_msg(LOG_ERR, "%s: out of memory", r->file);
	conf_report_free(r);
}

/* conf_load() that prints its errors. NULL when there were any. */
static struct mdpub_conf *load(const char *path)
{
	struct conf_report report;
	struct mdpub_conf *conf;

	if (conf_load(&conf, path, &report) == 0)
		return conf;
	log_report(&report);
	return NULL;
}

static void reload(struct mdpub *m)
{
	struct mdpub_conf *conf = load(m->opts.conf_path);

	if (!conf) {
		log_msg(LOG_ERR, "reload: %s rejected, the running configuration "
				 "stays", conf_name(&m->opts));
		return;
	}
	apply_globals(m, conf);
	reload_stop(m, conf);
	if (grow_channels(m, conf->nchans) == 0)
		for (size_t i = 0; i < conf->nchans; i++)
			if (!running(m, conf->chans[i]->name))
				start_channel(m, conf, i);
	conf_free(conf);
	log_msg(LOG_NOTICE, "reload: %s loaded, %zu channels running",
		conf_name(&m->opts), m->nchans);
}

static void log_stats(const struct mdpub *m)
{
	for (size_t i = 0; i < m->nchans; i++)
		channel_log_stats(m->chans[i]);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct mdpub *m = w->data;

	switch (w->signum) {
	case SIGHUP:
		log_msg(LOG_NOTICE, "SIGHUP: reloading %s", conf_name(&m->opts));
		reload(m);
		break;
	case SIGUSR1:
		log_stats(m);
		break;
	default:
		log_msg(LOG_NOTICE, "%s: stopping", strsignal(w->signum));
		ev_break(loop, EVBREAK_ALL);
	}
}

static void stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_stats(w->data);
}

static void duration_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_msg(LOG_NOTICE, "duration reached: stopping");
	ev_break(loop, EVBREAK_ALL);
}

static void done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mdpub *m = w->data;

	for (size_t i = 0; i < m->nchans; i++)
		if (!channel_finished(m->chans[i]))
			return;
	log_msg(LOG_NOTICE, "every source ended: stopping");
	ev_break(loop, EVBREAK_ALL);
}

static void init_watchers(struct mdpub *m)
{
	ev_signal_init(&m->term_w, signal_cb, SIGTERM);
	ev_signal_init(&m->int_w, signal_cb, SIGINT);
	ev_signal_init(&m->hup_w, signal_cb, SIGHUP);
	ev_signal_init(&m->usr1_w, signal_cb, SIGUSR1);
	ev_init(&m->stats_w, stats_cb);
	ev_timer_init(&m->duration_w, duration_cb, m->opts.duration, 0);
	ev_async_init(&m->done_w, done_cb);
	m->term_w.data = m->int_w.data = m->hup_w.data = m->usr1_w.data = m;
	m->stats_w.data = m->duration_w.data = m->done_w.data = m;
	ev_signal_start(m->loop, &m->term_w);
	ev_signal_start(m->loop, &m->int_w);
	ev_signal_start(m->loop, &m->hup_w);
	ev_signal_start(m->loop, &m->usr1_w);
	ev_async_start(m->loop, &m->done_w);
	if (m->opts.duration > 0)
		ev_timer_start(m->loop, &m->duration_w);
}

static int write_pidfile(struct mdpub *m)
{
	char text[32];
	int len;

	if (!m->opts.pidfile)
		return 0;
	m->pidfd = open(m->opts.pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->pidfd < 0 || flock(m->pidfd, LOCK_EX | LOCK_NB) < 0) {
		log_msg(LOG_ERR, "pid file %s: %s", m->opts.pidfile,
			errno == EWOULDBLOCK ? "locked by a running mdpub"
					     : strerror(errno));
		return -1;
	}
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(m->pidfd, 0) < 0 || write(m->pidfd, text, (size_t)len) != len) {
		log_msg(LOG_ERR, "pid file %s: %s", m->opts.pidfile, strerror(errno));
		return -1;
	}
	return 0;
}

static void remove_pidfile(struct mdpub *m)
{
	if (m->pidfd < 0)
		return;
	unlink(m->opts.pidfile);
	close(m->pidfd);
}

/*
 * Forks into the background. The parent waits for the child to report
 * through a pipe whether it started, and exits with that status, so that
 * start-up errors still give a non-zero exit. Returns the pipe's write end
 * in the child (-1 in the foreground).
 */
static int detach(void)
{
	int fds[2];
	char status = 1;
	pid_t pid;

	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		log_msg(LOG_ERR, "cannot detach: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	return fds[1];
}

static void report_started(struct mdpub *m, int fd, char status)
{
	int null;

	if (fd < 0)
		return;
	m->detached = 1;
	log_use_syslog(1);
	if (write(fd, &status, 1) != 1)
		log_msg(LOG_WARNING, "cannot report start-up: %s", strerror(errno));
	close(fd);
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
}

static int check(const struct opts *o)
{
	struct mdpub_conf *conf;

	log_plain(1);
	conf = load(o->conf_path);
	if (!conf)
		return 1;
	printf("%s: OK, %zu channel%s\n", conf_name(o), conf->nchans,
	       conf->nchans == 1 ? "" : "s");
	conf_free(conf);
	return 0;
}

static int run(struct mdpub *m, struct mdpub_conf *conf, int fd)
{
	int rc = write_pidfile(m);

	apply_globals(m, conf);
	log_msg(LOG_NOTICE, "mdpub %s starting with %s", PACKAGE_VERSION,
		conf_name(&m->opts));
	if (rc == 0)
		rc = start_all(m, conf);
	conf_free(conf);
	report_started(m, fd, rc == 0 ? 0 : 1);
	if (rc == 0)
		ev_run(m->loop, 0);
	stop_all(m);
	remove_pidfile(m);
	free(m->chans);
	log_msg(LOG_NOTICE, "mdpub %s", rc == 0 ? "stopped" : "failed to start");
	return rc == 0 ? 0 : 1;
}

static void default_conf(struct opts *o)
{
	if (!o->conf_path && access(MDPUB_CONF_DEFAULT, F_OK) == 0)
		o->conf_path = MDPUB_CONF_DEFAULT;
}

int main(int argc, char **argv)
{
	struct mdpub m = {.pidfd = -1};
	struct mdpub_conf *conf;
	int fd, rc = parse_args(argc, argv, &m.opts);

	if (rc)
		return rc > 0 ? 0 : 2;
	default_conf(&m.opts);
	if (m.opts.check_only)
		return check(&m.opts);
	conf = load(m.opts.conf_path);
	if (!conf)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	fd = m.opts.foreground ? -1 : detach();
	m.loop = ev_default_loop(EVFLAG_AUTO);
	if (!m.loop) {
		log_msg(LOG_ERR, "cannot create the event loop");
		conf_free(conf);
		report_started(&m, fd, 1);
		return 1;
	}
	init_watchers(&m);
	return run(&m, conf, fd);
}
