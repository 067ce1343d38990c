/*
 * mdpub.c - the mdbus publisher daemon: command line, daemonizing, and
 * the main thread's libev loop (signals, reload, stats, the
 * optional --duration), which starts and stops the channels (channel.h).
 * See mdpub(8).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "channel.h"
#include "conf.h"
#include "error_text.h"
#include "log.h"
#include "mdbus_rec.h"
#include "parse_num.h"
#include "pidfile.h"

#define EXIT_USAGE 64 /* EX_USAGE of sysexits.h, as mdsub */
#define EXIT_PARTIAL 2 /* --replay, --lines: not all of the input published */
#define SETS_MAX 64    /* --set options */
#define REPLAY_RING_MAX (1ULL << 30) /* --replay: a ring's bytes at most
					while a recording chose part of its
					geometry (replay_too_big()) */

struct opts {
	const char *conf_path; /* NULL: the embedded default */
	const char *pidfile;
	double duration;       /* seconds, 0 = run until a signal */
	int daemonize;
	int check_only;
	int verbose;
	/* --replay FILE [CHANNEL], --lines FILE|- CHANNEL: no config file */
	const char *source;    /* "replay" or "lines", NULL: a config */
	const char *input;
	const char *channel;
	const char *speed;
	int loop;
	int keep_seq;
	char *sets[SETS_MAX];  /* --set KEY=VALUE */
	size_t nsets;
};

struct mdpub {
	struct opts opts;
	struct ev_loop *loop;
	struct channel **chans;
	size_t nchans;
	ev_signal term_w, int_w, hup_w, usr1_w;
	ev_timer stats_w, duration_w;
	ev_timer limits_w; /* log_limits_tick() */
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
		"  -T, --test          check the configuration and exit\n"
		"  -b, --daemonize     detach into the background and log to syslog\n"
		"                      (default: stay in the foreground, log to stderr)\n"
		"  -p, --pidfile FILE  write the pid to FILE, locked while running\n"
		"  -d, --duration SEC  stop by itself after SEC seconds\n"
		"  -v, --verbose       log more (twice: debug)\n"
		"\n"
		"Without a configuration file:\n"
		"      --replay FILE [CHANNEL]  publish the recording FILE on CHANNEL\n"
		"                      (default: the channel it recorded), made with\n"
		"                      the recorded geometry and mode\n"
		"      --speed X       replay at X times the recorded pace (default 1;\n"
		"                      0: as fast as the channel takes it)\n"
		"      --loop          replay again from the start at the end\n"
		"      --keep-seq      publish each record under its recorded sequence\n"
		"                      number (the numbers between skipped: lost)\n"
		"      --lines FILE|- CHANNEL  publish the CSV lines of FILE (or standard\n"
		"                      input) on CHANNEL: Q/T lines or mdsub -o csv output\n"
		"      --set KEY=VALUE any channel or source key of mdpub.conf(5)\n"
		"                      (e.g. mode=lossless, timestamps=recorded,\n"
		"                      format=binance); repeatable\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n\n"
		"Signals: TERM/INT stop, HUP reloads the configuration, USR1 logs stats.\n"
		"Exit status: 0 success, 1 failure (the reason on stderr or in the log),\n"
		"2 --replay or --lines ended before all of its input was published\n"
		"(malformed lines or records, messages dropped, stopped early), 64 bad\n"
		"command line.\n"
		"See mdpub(8) and mdpub.conf(5).\n",
		MDPUB_CONF_DEFAULT);
}

/* Prints one line about a bad command line and the hint; EXIT_USAGE. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mdpub: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mdpub --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

enum { OPT_REPLAY = 256, OPT_LINES, OPT_SPEED, OPT_LOOP, OPT_SET, OPT_KEEP_SEQ };

/* The options of a run without a configuration file. */
static int parse_input_opt(int c, struct opts *o)
{
	double speed;

	switch (c) {
	case OPT_REPLAY:
	case OPT_LINES:
		if (o->source)
			return usage_error("--replay and --lines exclude each other");
		o->source = c == OPT_REPLAY ? "replay" : "lines";
		o->input = optarg;
		return 0;
	case OPT_SPEED:
		if (parse_double(optarg, &speed) < 0 || speed < 0)
			return usage_error("--speed: '%s' is not a factor >= 0 "
					   "(0: as fast as possible)", optarg);
		o->speed = optarg;
		return 0;
	case OPT_LOOP:
		o->loop = 1;
		return 0;
	case OPT_KEEP_SEQ:
		o->keep_seq = 1;
		return 0;
	case OPT_SET:
		if (o->nsets == SETS_MAX)
			return usage_error("more than %d --set options", SETS_MAX);
		if (!strchr(optarg, '=') || *optarg == '=')
			return usage_error("--set: '%s' is not KEY=VALUE", optarg);
		o->sets[o->nsets++] = optarg;
		return 0;
	default:
		return 1;
	}
}

/* One option: 0 to go on, -1 to exit 0 (help, version), else the exit
 * status of a usage error. */
static int parse_opt(int c, struct opts *o, char **argv)
{
	int rc = parse_input_opt(c, o);

	if (rc <= 0)
		return rc;
	switch (c) {
	case 'c':
		o->conf_path = optarg;
		return 0;
	case 'T':
		o->check_only = 1;
		return 0;
	case 'b':
		o->daemonize = 1;
		return 0;
	case 'p':
		o->pidfile = optarg;
		return 0;
	case 'd':
		if (parse_seconds(optarg, &o->duration) < 0)
			return usage_error("--duration: '%s' is not a number "
					   "of seconds above 0, at most 1e9",
					   optarg);
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	case 'h':
		usage(stdout);
		return -1;
	case 'V':
		printf("mdpub (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return -1;
	case ':':
		return usage_error("option '%s' needs an argument",
				   argv[optind - 1]);
	default:
		if (optopt)
			return usage_error("unknown option '-%c'", optopt);
		return usage_error("unknown option '%s'", argv[optind - 1]);
	}
}

/* Combinations: the input options go without a config file, with each
 * other as they should. */
static int check_args(const struct opts *o)
{
	const char *what = o->source && !strcmp(o->source, "lines") ? "--lines"
								 : "--replay";

	if (!o->source && (o->speed || o->loop || o->keep_seq || o->nsets))
		return usage_error("--speed, --loop, --keep-seq and --set go with "
				   "--replay or --lines");
	if (o->source && o->conf_path)
		return usage_error("%s runs without a configuration file: not "
				   "with -c", what);
	if (o->source && !strcmp(o->source, "lines") && !o->channel)
		return usage_error("--lines needs a CHANNEL");
	if (o->source && !strcmp(o->source, "lines") &&
	    (o->speed || o->loop || o->keep_seq))
		return usage_error("--speed, --loop and --keep-seq go with --replay");
	return 0;
}

/* 0 to run, -1 to exit 0 (help, version), else the exit status of a
 * usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 'T'},
		{"daemonize", no_argument, NULL, 'b'},
		{"pidfile", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"replay", required_argument, NULL, OPT_REPLAY},
		{"lines", required_argument, NULL, OPT_LINES},
		{"speed", required_argument, NULL, OPT_SPEED},
		{"loop", no_argument, NULL, OPT_LOOP},
		{"keep-seq", no_argument, NULL, OPT_KEEP_SEQ},
		{"set", required_argument, NULL, OPT_SET},
		{NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:Tbp:d:vhV", longopts, NULL)) != -1) {
		int rc = parse_opt(c, o, argv);

		if (rc)
			return rc;
	}
	if (o->source && optind < argc)
		o->channel = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return check_args(o);
}

static const char *conf_name(const struct opts *o)
{
	if (o->source)
		return "the command line";
	return o->conf_path ? o->conf_path : "(embedded default)";
}

static void apply_globals(struct mdpub *m, const struct mdpub_conf *conf)
{
	int level = conf->log_level + m->opts.verbose;

	log_set_level(level > LOG_DEBUG ? LOG_DEBUG : level);
	log_use_syslog(conf->syslog || m->detached);
	ev_timer_stop(m->loop, &m->stats_w);
	if (conf->stats_s > 0) {
		ev_timer_set(&m->stats_w, conf->stats_s, conf->stats_s);
		ev_timer_start(m->loop, &m->stats_w);
	}
}

/* Logs why channel `name` did not start: err as it is when it names the
 * channel already (libmdbus's reasons do), else after "channel NAME: ",
 * so that the name is said once. */
static void log_start_error(const char *name, const char *err)
{
	size_t n = strlen(name);

	if (strncmp(err, "channel ", 8) == 0 && strncmp(err + 8, name, n) == 0 &&
	    (err[8 + n] == ' ' || err[8 + n] == ':'))
		log_msg(LOG_ERR, "%s", err);
	else
		log_msg(LOG_ERR, "channel %s: %s", name, err);
}

/* Starts the channel *c, which it then owns (*c = NULL); logs why not. */
static int start_one(struct mdpub *m, struct chan_conf **c)
{
	struct channel *ch;
	char err[512];
	int rc = channel_start(&ch, *c, m->loop, &m->done_w, err, sizeof(err));

	if (rc < 0) {
		log_start_error((*c)->name, err);
		return rc;
	}
	*c = NULL;
	m->chans[m->nchans++] = ch;
	return 0;
}

/* Stops running channel i; returns its settings, which the caller frees. */
static struct chan_conf *take_channel(struct mdpub *m, size_t i)
{
	struct chan_conf *c = channel_stop(m->chans[i]);

	m->chans[i] = m->chans[--m->nchans];
	return c;
}

/* Stops every channel; returns 1 when each had published all of its input
 * (mdpub --replay, --lines: to its end unless --loop), counting what
 * back-pressure still held at the stop as dropped. */
static int stop_all(struct mdpub *m)
{
	int complete = 1;

	for (size_t i = 0; i < m->nchans; i++)
		channel_request_stop(m->chans[i]);
	while (m->nchans) {
		struct channel *ch = m->chans[m->nchans - 1];

		channel_join(ch);
		complete &= channel_complete(ch, !m->opts.loop);
		conf_channel_free(take_channel(m, m->nchans - 1));
	}
	return complete;
}

/* Room for `more` channels besides those running. */
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
		if (start_one(m, &conf->chans[i]) < 0)
			return -1;
	return 0;
}

/* The running channel called name, or -1. */
static long find_running(const struct mdpub *m, const char *name)
{
	for (size_t i = 0; i < m->nchans; i++)
		if (strcmp(channel_conf(m->chans[i])->name, name) == 0)
			return (long)i;
	return -1;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
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

/*
 * A reload is all or nothing: a channel that is new or changed is started
 * with its new settings (a changed one stopped first, as its segment has
 * one owner), and when any of them cannot start, every one started is
 * stopped again and the changed ones restarted with the settings they
 * ran with. Only then are the channels the file dropped stopped. The
 * channels stopped together are asked to stop first and joined after,
 * so that their waits for back-pressure overlap (mdpub(8), SIGHUP).
 */
struct reload_step {
	char name[MDBUS_CHANNEL_MAX + 1]; /* of the channel started */
	struct chan_conf *old;  /* the settings it ran with; NULL: new */
};

/* Starts *c in place of the running channel of its name, if it differs.
 * Returns 1 when started (step filled in), 0 when unchanged, or the
 * error, with the channel as it was. */
static int reload_one(struct mdpub *m, struct chan_conf **c,
		      struct reload_step *step)
{
	long i = find_running(m, (*c)->name);
	int rc;

	if (i >= 0 && conf_channel_equal(channel_conf(m->chans[i]), *c)) {
		log_msg(LOG_INFO, "reload: channel %s unchanged", (*c)->name);
		return 0;
	}
	log_msg(LOG_NOTICE, "reload: channel %s %s", (*c)->name,
		i >= 0 ? "changed: restarting" : "added");
	snprintf(step->name, sizeof(step->name), "%s", (*c)->name);
	step->old = i >= 0 ? take_channel(m, (size_t)i) : NULL;
	rc = start_one(m, c);
	if (rc == 0)
		return 1;
	if (step->old && start_one(m, &step->old) < 0)
		log_msg(LOG_ERR, "reload: channel %s is down: its previous "
			"settings failed too", (*c)->name);
	conf_channel_free(step->old);
	return rc;
}

/* Starts a channel again with the settings it ran with (NULL: none),
 * which it frees; logs when it cannot. */
static void restart_previous(struct mdpub *m, struct chan_conf *old)
{
	if (old && start_one(m, &old) < 0)
		log_msg(LOG_ERR, "reload: channel %s is down: its previous "
			"settings failed", old->name);
	conf_channel_free(old);
}

/* Asks the running channel called name, if any, to stop. */
static void request_stop_of(struct mdpub *m, const char *name)
{
	long i = find_running(m, name);

	if (i >= 0)
		channel_request_stop(m->chans[i]);
}

/* Undoes the steps done: stops what they started, restarts what they
 * replaced. */
static void reload_undo(struct mdpub *m, struct reload_step *steps, size_t n)
{
	for (size_t k = 0; k < n; k++)
		request_stop_of(m, steps[k].name);
	while (n--) {
		struct reload_step *st = &steps[n];
		long i = find_running(m, st->name);

		if (i >= 0)
			conf_channel_free(take_channel(m, (size_t)i));
		restart_previous(m, st->old);
	}
}

/* Asks every running channel conf changes to stop. */
static void request_changed_stops(struct mdpub *m, const struct mdpub_conf *conf)
{
	for (size_t k = 0; k < conf->nchans; k++) {
		long i = find_running(m, conf->chans[k]->name);

		if (i >= 0 &&
		    !conf_channel_equal(channel_conf(m->chans[i]), conf->chans[k]))
			channel_request_stop(m->chans[i]);
	}
}

/* After a reload that failed: the changed channels asked to stop that it
 * did not reach start again with the settings they ran with. */
static void restart_stopping(struct mdpub *m)
{
	size_t i = 0;

	while (i < m->nchans) {
		if (channel_stop_requested(m->chans[i]))
			restart_previous(m, take_channel(m, i));
		else
			i++;
	}
}

/* The running channels that conf does not have, in *gone (NULL: out of
 * memory). Returns how many. */
static size_t reload_dropped(const struct mdpub *m,
			     const struct mdpub_conf *conf,
			     struct channel ***gone)
{
	size_t n = 0;

	*gone = calloc(m->nchans + 1, sizeof(**gone));
	for (size_t i = 0; *gone && i < m->nchans; i++)
		if (!conf_channel(conf, channel_conf(m->chans[i])->name))
			(*gone)[n++] = m->chans[i];
	return n;
}

/* Stops the channels reload_dropped() found. */
static void reload_remove(struct mdpub *m, struct channel **gone, size_t n)
{
	for (size_t k = 0; k < n; k++)
		channel_request_stop(gone[k]);
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < m->nchans; i++)
			if (m->chans[i] == gone[k]) {
				log_msg(LOG_NOTICE, "reload: channel %s removed",
					channel_conf(gone[k])->name);
				conf_channel_free(take_channel(m, i));
				break;
			}
}

/* Starts what conf adds or changes. Returns 0, or -1 when a channel could
 * not start and everything is as it was. */
static int reload_apply(struct mdpub *m, struct mdpub_conf *conf)
{
	struct reload_step *steps = calloc(conf->nchans + 1, sizeof(*steps));
	size_t n = 0;
	int rc = 0;

	if (!steps || grow_channels(m, conf->nchans) < 0) {
		free(steps);
		return -1;
	}
	request_changed_stops(m, conf);
	for (size_t i = 0; i < conf->nchans && rc >= 0; i++) {
		rc = reload_one(m, &conf->chans[i], &steps[n]);
		n += rc > 0;
	}
	if (rc < 0) {
		reload_undo(m, steps, n);
		restart_stopping(m);
	} else {
		for (size_t i = 0; i < n; i++)
			conf_channel_free(steps[i].old);
	}
	free(steps);
	return rc < 0 ? -1 : 0;
}

static struct mdpub_conf *load_any(const struct opts *o);

/* SIGHUP: the configuration file again, or with --replay, --lines the
 * command line (not the file or embedded default a config-less run
 * never read). */
static void reload(struct mdpub *m)
{
	struct mdpub_conf *conf = load_any(&m->opts);
	struct channel **gone = NULL;
	size_t ngone = conf ? reload_dropped(m, conf, &gone) : 0;

	if (conf && gone && reload_apply(m, conf) == 0) {
		reload_remove(m, gone, ngone);
		apply_globals(m, conf);
		log_msg(LOG_NOTICE, "reload: %s loaded, %zu channel%s running",
			conf_name(&m->opts), m->nchans, plural(m->nchans));
	} else {
		log_msg(LOG_ERR, "reload: %s rejected, the running configuration "
				 "stays: %zu channel%s running", conf_name(&m->opts),
			m->nchans, plural(m->nchans));
	}
	free(gone);
	conf_free(conf);
}

static void log_stats(const struct mdpub *m)
{
	for (size_t i = 0; i < m->nchans; i++)
		channel_request_stats(m->chans[i]);
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

/* Counts of rate-limited lines, once their second has passed: a flood
 * that stops is counted then, not at the channel's stop. */
static void limits_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_limits_tick();
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
	ev_timer_init(&m->limits_w, limits_cb, 1.0, 1.0);
	ev_async_init(&m->done_w, done_cb);
	m->term_w.data = m->int_w.data = m->hup_w.data = m->usr1_w.data = m;
	m->stats_w.data = m->duration_w.data = m->done_w.data = m;
	ev_signal_start(m->loop, &m->term_w);
	ev_signal_start(m->loop, &m->int_w);
	ev_signal_start(m->loop, &m->hup_w);
	ev_signal_start(m->loop, &m->usr1_w);
	ev_async_start(m->loop, &m->done_w);
	ev_timer_start(m->loop, &m->limits_w);
	if (m->opts.duration > 0)
		ev_timer_start(m->loop, &m->duration_w);
}

static int write_pidfile(struct mdpub *m)
{
	char err[512];

	if (!m->opts.pidfile)
		return 0;
	m->pidfd = pidfile_take(m->opts.pidfile, err, sizeof(err));
	if (m->pidfd >= 0)
		return 0;
	log_msg(LOG_ERR, "%s", err);
	return -1;
}

/*
 * Forks into the background. The parent waits for the child to report
 * through a pipe whether it started, and exits with that status, so that
 * start-up errors still give a non-zero exit. Returns the pipe's write end
 * in the child.
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

/* Appends a printf-made "KEY=VALUE" to kv (n of them). 0 or -1. */
__attribute__((format(printf, 3, 4)))
static int add_kv(char **kv, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&kv[*n], fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	(*n)++;
	return 0;
}

/* How many of the ring's three geometry keys --set names. */
static int geometry_named(const struct opts *o)
{
	static const char *const keys[] = {"slot_size=", "slots_per_block=",
					   "block_count="};
	size_t i, k;
	int named = 0;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (i = 0; i < o->nsets; i++)
			if (strncmp(o->sets[i], keys[k], strlen(keys[k])) == 0) {
				named++;
				break;
			}
	return named;
}

/*
 * --replay: the geometry and mode the recording's header names, when
 * libmdbus would take them for channel (a header is hostile input: the
 * defaults otherwise). 1 when they were added (replay_too_big() then
 * checks what they make), 0 when not, -1 out of memory.
 */
static int add_recorded(char **kv, size_t *n, const char *channel,
			const struct mdbus_rec_info *info)
{
	struct mdbus_pub_config cfg;

	mdbus_pub_config_init(&cfg);
	cfg.slot_size = info->slot_size;
	cfg.slots_per_block = info->slots_per_block;
	cfg.block_count = info->block_count;
	if (!info->slot_size || !info->slots_per_block || !info->block_count ||
	    (unsigned)info->mode > MDBUS_MODE_LOSSLESS ||
	    mdbus_pub_config_check(channel, &cfg) < 0)
		return 0; /* unknown or unusable: the defaults */
	if (add_kv(kv, n, "slot_size=%u", info->slot_size) |
	    add_kv(kv, n, "slots_per_block=%u", info->slots_per_block) |
	    add_kv(kv, n, "block_count=%u", info->block_count) |
	    add_kv(kv, n, "mode=%s", mdbus_mode_name(info->mode)))
		return -1;
	return 1;
}

/*
 * Whether the ring of the channel --replay made (c) is more than
 * REPLAY_RING_MAX bytes while the recording chose part of its geometry:
 * a header must not make mdpub take the segment directory's memory. The
 * bytes are the segment's, each block a whole number of pages (a ring of
 * 64-byte slots one to a block takes 64 times its slots' bytes), and the
 * geometry the one in effect, --set keys included (naming one key does
 * not bound what the others make). Logs the refusal.
 */
static int replay_too_big(const struct opts *o, const struct chan_conf *c)
{
	/* each at most 2^20, 2^31 and 2^31 (conf.c): no overflow here */
	uint64_t block = c->slot_size * c->slots_per_block, bytes;

	if (block < 4096)
		block = 4096; /* a block is page-aligned (doc/protocol.md) */
	if (!c->block_count || block <= REPLAY_RING_MAX / c->block_count)
		return 0;
	bytes = block > UINT64_MAX / c->block_count ? UINT64_MAX
						    : block * c->block_count;
	log_msg(LOG_ERR, "%s: the recording's geometry makes a ring of %" PRIu64
		" MiB (slot_size %" PRIu64 ", slots_per_block %" PRIu64
		", block_count %" PRIu64 "), more than the %llu MiB --replay "
		"takes from a recording: name a smaller geometry with --set "
		"(block_count=N), or all three keys (mdpub(8))", o->input,
		bytes >> 20, c->slot_size, c->slots_per_block, c->block_count,
		REPLAY_RING_MAX >> 20);
	return 1;
}

/* The settings of --replay or --lines in kv (n of them); the channel in
 * *channel. 0, or -1 after logging why. */
static int cli_settings(const struct opts *o, char **kv, size_t *n,
			const char **channel, char *name, size_t namelen,
			int *recorded)
{
	int replay = strcmp(o->source, "replay") == 0, have = 0, rc = 0;
	struct mdbus_rec_info info;
	mdbus_rec_reader_t *r;

	*channel = o->channel;
	if (replay && (rc = mdbus_rec_open(&r, o->input, &info)) == 0) {
		mdbus_rec_close(r);
		/* a hostile file's bytes: never logged */
		if (!o->channel && !mdbus_channel_valid(info.channel)) {
			log_msg(LOG_ERR, "%s: the channel it recorded has no "
				"valid channel name: name one (mdpub --replay "
				"FILE CHANNEL)", o->input);
			return -1;
		}
		snprintf(name, namelen, "%s", info.channel);
		*channel = o->channel ? o->channel : name;
		have = 1;
	}
	if (!*channel) {
		log_msg(LOG_ERR, "%s", mdbus_error_text(rc));
		return -1;
	}
	rc = add_kv(kv, n, "source=%s", o->source) |
	     add_kv(kv, n, "file=%s", o->input);
	if (replay && o->speed)
		rc |= add_kv(kv, n, "speed=%s", o->speed);
	if (o->loop)
		rc |= add_kv(kv, n, "loop=yes");
	if (o->keep_seq)
		rc |= add_kv(kv, n, "keep_seq=yes");
	if (have && rc == 0) {
		int got = add_recorded(kv, n, *channel, &info);

		*recorded = got > 0;
		rc = got < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < o->nsets; i++)
		rc |= add_kv(kv, n, "%s", o->sets[i]);
	if (rc)
		log_msg(LOG_ERR, "out of memory");
	return rc ? -1 : 0;
}

/* The config of --replay or --lines: one channel, no file. NULL after
 * logging why. */
static struct mdpub_conf *load_cli(const struct opts *o)
{
	char *kv[SETS_MAX + 16], name[MDBUS_CHANNEL_MAX + 1] = "";
	struct conf_report report;
	struct mdpub_conf *conf = NULL;
	const char *channel;
	size_t n = 0;
	int recorded = 0;

	if (cli_settings(o, kv, &n, &channel, name, sizeof(name),
			 &recorded) == 0 &&
	    conf_build(&conf, "command line", channel, kv, n, &report) < 0)
		log_report(&report);
	/* the one channel; all three keys named: the recording chose none */
	if (conf && recorded && geometry_named(o) < 3 && conf->nchans == 1 &&
	    replay_too_big(o, conf->chans[0])) {
		conf_free(conf);
		conf = NULL;
	}
	while (n)
		free(kv[--n]);
	return conf;
}

/* The configuration: a file, the embedded default, or the command line. */
static struct mdpub_conf *load_any(const struct opts *o)
{
	return o->source ? load_cli(o) : load(o->conf_path);
}

/* The warnings each channel's source would log at start. */
static void print_warnings(const struct mdpub_conf *conf)
{
	char warning[1536];

	for (size_t i = 0; i < conf->nchans; i++) {
		const struct chan_conf *c = conf->chans[i];

		if (c->ops->conf_warning &&
		    c->ops->conf_warning(c->src_conf, warning, sizeof(warning)))
			log_msg(LOG_WARNING, "channel %s: %s", c->name, warning);
	}
}

static int check(const struct opts *o)
{
	struct mdpub_conf *conf;

	log_plain(1);
	conf = load_any(o);
	if (!conf)
		return 1;
	print_warnings(conf);
	printf("%s: OK, %zu channel%s\n", conf_name(o), conf->nchans,
	       conf->nchans == 1 ? "" : "s");
	conf_free(conf);
	return 0;
}

static int run(struct mdpub *m, struct mdpub_conf *conf, int fd)
{
	int rc;

	apply_globals(m, conf);
	log_msg(LOG_NOTICE, "mdpub %s starting with %s", PACKAGE_VERSION,
		conf_name(&m->opts));
	rc = write_pidfile(m);
	if (rc == 0)
		rc = start_all(m, conf);
	conf_free(conf);
	report_started(m, fd, rc == 0 ? 0 : 1);
	if (rc == 0)
		ev_run(m->loop, 0);
	if (!stop_all(m) && rc == 0 && m->opts.source)
		rc = EXIT_PARTIAL;
	pidfile_release(m->pidfd, m->opts.pidfile);
	free(m->chans);
	log_msg(LOG_NOTICE, "mdpub %s", rc == 0 ? "stopped" :
		rc == EXIT_PARTIAL ? "stopped before all of its input was "
		"published" : "failed to start");
	return rc == 0 || rc == EXIT_PARTIAL ? rc : 1;
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
		return rc < 0 ? 0 : rc;
	default_conf(&m.opts);
	if (m.opts.check_only)
		return check(&m.opts);
	conf = load_any(&m.opts);
	if (!conf)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* a file size limit makes an archive write fail with EFBIG, logged
	 * and counted like a full disk, instead of killing mdpub */
	signal(SIGXFSZ, SIG_IGN);
	fd = m.opts.daemonize ? detach() : -1;
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
