/*
 * conf.c - reads mdpub.conf (see conf.h, mdpub.conf(5)).
 *
 * The lines are split by conf_syntax.c, which gives each section and key
 * its line, so every error names FILE:LINE. Keys of a [channel] section
 * that are not channel keys belong to its source, which may be named later
 * in the section, so they are kept and applied once the whole file is
 * read. Last, each channel is checked as libmdbus will check it when it
 * opens the channel (mdbus_pub_config_check()), so that a configuration
 * accepted here is never refused by the library later.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "conf.h"
#include "conf_open.h"
#include "conf_syntax.h"
#include "log.h"
#include "mdbus.h"

#define OFF(field) offsetof(struct chan_conf, field)
#define GOFF(field) offsetof(struct mdpub_conf, field)

static const char *const mode_names[] = {"overwrite", "lossless", NULL};

static const struct setting chan_settings[] = {
	{"slot_size", SET_UINT, OFF(slot_size), 64, 1048576, SET_POW2, NULL},
	{"slots_per_block", SET_UINT, OFF(slots_per_block), 1, 1u << 31,
	 SET_POW2, NULL},
	{"block_count", SET_UINT, OFF(block_count), 1, 1u << 31, SET_POW2,
	 NULL},
	{"max_consumers", SET_UINT, OFF(max_consumers), 1, 4096, 0, NULL},
	{"mode", SET_CHOICE, OFF(mode), 0, 0, 0, mode_names},
	{"file_mode", SET_OCTAL, OFF(file_mode), 0, 0777, 0, NULL},
	{"group", SET_STRING, OFF(group), 0, 0, 0, NULL},
	{"dir", SET_STRING, OFF(dir), 0, 0, 0, NULL},
	{"source", SET_STRING, OFF(source), 0, 0, 0, NULL},
	{"heartbeat", SET_DOUBLE, OFF(heartbeat_s), 0.001, 3600, 0, NULL},
	{"reap_interval", SET_DOUBLE, OFF(reap_s), 0.01, 3600, 0, NULL},
	{"stall_evict", SET_DOUBLE, OFF(stall_evict_s), 0, 86400, 0, NULL},
	{"replace", SET_BOOL, OFF(replace), 0, 0, 0, NULL},
	{"nudge_anonymous", SET_BOOL, OFF(nudge), 0, 0, 0, NULL},
	{"archive", SET_STRING, OFF(archive), 0, 0, 0, NULL},
	{"archive_size", SET_UINT, OFF(archive_size), 65536, 1ULL << 40, 0, NULL},
	{"archive_rotate", SET_STRING, OFF(archive_rotate), 0, 0, 0, NULL},
	{"archive_flush", SET_DOUBLE, OFF(archive_flush_s), 0.001, 60, 0, NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

static const struct setting global_settings[] = {
	{"log_level", SET_CHOICE, GOFF(log_level), 0, 0, 0, log_level_names},
	{"syslog", SET_BOOL, GOFF(syslog), 0, 0, 0, NULL},
	/* 0: off; below 0.01 s the counter lines were a log flood (1 ns:
	 * a line per channel at every pass of the event loop) */
	{"stats_interval", SET_DOUBLE, GOFF(stats_s), 0.01, 86400, SET_OR_0,
	 NULL},
	{NULL, 0, 0, 0, 0, 0, NULL},
};

static const char embedded_conf[] = "[channel demo]\n"
				    "source = synthetic\n";

/* A key of a [channel] section left for its source. */
struct raw_key {
	char *key;
	char *value;
	int line;
};

struct chan_parse {
	struct chan_conf *c;
	int line;         /* of [channel NAME] */
	int source_line;  /* of source = */
	struct raw_key *raw;
	size_t nraw;
};

enum section_kind { SEC_NONE, SEC_GLOBAL, SEC_CHANNEL, SEC_BAD };

/* Errors are kept and logged at the end in line order, as source keys are
 * checked after the whole file is read. */
struct parser {
	const char *file;      /* name in messages */
	FILE *fp;              /* the file, or the embedded text */
	int lineno;            /* lines read */
	enum section_kind kind;
	struct mdpub_conf *conf;
	struct chan_conf defaults;
	struct chan_parse *chans;
	size_t nchans;
	struct conf_report *report;
	unsigned errors;       /* found, even those the report could not keep */
};

/* Adds an error to the report (out of memory, it is still counted). */
__attribute__((format(printf, 3, 4)))
static void conf_error(struct parser *p, int line, const char *fmt, ...)
{
	struct conf_report *r = p->report;
	struct conf_err *grown = realloc(r->errs, (r->n + 1) * sizeof(*r->errs));
	va_list ap;

	p->errors++;
	if (!grown)
		return;
	r->errs = grown;
	grown += r->n;
	grown->line = line;
	grown->order = r->n++;
	va_start(ap, fmt);
	vsnprintf(grown->text, sizeof(grown->text), fmt, ap);
	va_end(ap);
}

static int by_line(const void *a, const void *b)
{
	const struct conf_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->order < y->order ? -1 : 1;
}

static void sort_errors(struct parser *p)
{
	struct conf_report *r = p->report;

	if (r->n)
		qsort(r->errs, r->n, sizeof(*r->errs), by_line);
}

void conf_report_free(struct conf_report *report)
{
	free(report->errs);
	report->errs = NULL;
	report->n = 0;
}

void conf_channel_free(struct chan_conf *c)
{
	if (!c)
		return;
	settings_free(chan_settings, c);
	if (c->ops) {
		settings_free(c->ops->settings, c->src_conf);
		free(c->src_conf);
	}
	free(c->name);
	free(c);
}

static void chan_defaults(struct chan_conf *c)
{
	struct mdbus_pub_config lib;

	mdbus_pub_config_init(&lib);
	memset(c, 0, sizeof(*c));
	c->slot_size = lib.slot_size;
	c->slots_per_block = lib.slots_per_block;
	c->block_count = lib.block_count;
	c->max_consumers = lib.max_consumers;
	c->mode = (int)lib.mode;
	c->file_mode = lib.file_mode;
	c->heartbeat_s = 1;
	c->reap_s = 5;
	c->stall_evict_s = (double)lib.stall_evict_ns / 1e9;
	c->replace = 1;
	c->nudge = 1; /* mdpub nudges unless told not to */
	c->archive_size = 256ULL << 20;
	c->archive_flush_s = 0.1;
}

static struct chan_parse *find_chan(struct parser *p, const char *name)
{
	for (size_t i = 0; i < p->nchans; i++)
		if (strcmp(p->chans[i].c->name, name) == 0)
			return &p->chans[i];
	return NULL;
}

static int add_chan(struct parser *p, const char *name, int line)
{
	struct chan_parse *cp;
	struct chan_conf *c = malloc(sizeof(*c));
	void *grown = realloc(p->chans, (p->nchans + 1) * sizeof(*p->chans));

	if (grown)
		p->chans = grown;
	if (!c || !grown) {
		free(c);
		return -1;
	}
	*c = p->defaults;
	c->name = strdup(name);
	if (settings_dup_strings(chan_settings, c, &p->defaults) || !c->name) {
		conf_channel_free(c);
		return -1;
	}
	cp = &p->chans[p->nchans++];
	memset(cp, 0, sizeof(*cp));
	cp->c = c;
	cp->line = line;
	return 0;
}

static void begin_channel(struct parser *p, const char *name, int line)
{
	const struct chan_parse *other = find_chan(p, name);

	p->kind = SEC_BAD;
	if (!mdbus_channel_valid(name)) {
		conf_error(p, line,
			   "invalid channel name '%s' (want [A-Za-z0-9._-]{1,%d})",
			   name, MDBUS_CHANNEL_MAX);
		return;
	}
	if (other) {
		conf_error(p, line,
			   "channel '%s' already defined at line %d", name,
			   other->line);
		return;
	}
	if (add_chan(p, name, line) < 0) {
		conf_error(p, line, "out of memory");
		return;
	}
	p->kind = SEC_CHANNEL;
}

static void begin_section(void *user, int line, const char *section)
{
	struct parser *p = user;

	if (strcmp(section, "global") == 0) {
		p->kind = p->nchans ? SEC_BAD : SEC_GLOBAL;
		if (p->nchans)
			conf_error(p, line,
				   "[global] must come before the first [channel]");
		return;
	}
	if (strncmp(section, "channel", 7) == 0 &&
	    (!section[7] || section[7] == ' ' || section[7] == '\t')) {
		begin_channel(p, section + 7 + strspn(section + 7, " \t"), line);
		return;
	}
	p->kind = SEC_BAD;
	conf_error(p, line,
		   "unknown section [%s] (want [global] or [channel NAME])",
		   section);
}

static void global_key(struct parser *p, int line, const char *key,
		       const char *value)
{
	char err[256];
	int rc = settings_set(global_settings, p->conf, key, value, err,
			      sizeof(err));

	if (rc == 0)
		rc = settings_set(chan_settings, &p->defaults, key, value, err,
				  sizeof(err));
	if (rc == 0)
		conf_error(p, line, "unknown key '%s' in [global]", key);
	else if (rc < 0)
		conf_error(p, line, "%s", err);
}

static int keep_raw(struct chan_parse *cp, const char *key, const char *value,
		    int line)
{
	struct raw_key *grown =
		realloc(cp->raw, (cp->nraw + 1) * sizeof(*cp->raw));
	struct raw_key *r;

	if (!grown)
		return -1;
	cp->raw = grown;
	r = &cp->raw[cp->nraw];
	r->key = strdup(key);
	r->value = strdup(value);
	r->line = line;
	cp->nraw++;
	return r->key && r->value ? 0 : -1;
}

static void channel_key(struct parser *p, int line, const char *key,
			const char *value)
{
	struct chan_parse *cp = &p->chans[p->nchans - 1];
	char err[256];
	int rc = settings_set(chan_settings, cp->c, key, value, err,
			      sizeof(err));

	if (rc < 0)
		conf_error(p, line, "%s", err);
	if (rc > 0 && strcmp(key, "source") == 0)
		cp->source_line = line;
	if (rc == 0 && keep_raw(cp, key, value, line) < 0)
		conf_error(p, line, "out of memory");
}

static void key(void *user, int line, const char *key, const char *value)
{
	struct parser *p = user;

	if (p->kind == SEC_GLOBAL)
		global_key(p, line, key, value);
	else if (p->kind == SEC_CHANNEL)
		channel_key(p, line, key, value);
	else if (p->kind == SEC_NONE)
		conf_error(p, line, "key '%s' before any [section]", key);
}

static void syntax_error(void *user, int line, const char *text)
{
	conf_error(user, line, "%s", text);
}

/* The line of an earlier key of the same name than raw[i], or 0. */
static int set_before(const struct chan_parse *cp, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(cp->raw[j].key, cp->raw[i].key) == 0)
			return cp->raw[j].line;
	return 0;
}

/* The source's keys, each set once in a file: a second value would
 * silently win (a `sender = any` after the address, mdpub.conf(5)); on
 * the command line (line 0) a later --set wins, as mdpub(8) says. */
static void apply_raw(struct parser *p, struct chan_parse *cp)
{
	const struct source_ops *ops = cp->c->ops;
	char err[256];

	for (size_t i = 0; i < cp->nraw; i++) {
		const struct raw_key *r = &cp->raw[i];
		int first = r->line ? set_before(cp, i) : 0;
		int rc;

		if (first) {
			conf_error(p, r->line, "key '%s' set twice in [channel "
				   "%s], at line %d and line %d: keep one",
				   r->key, cp->c->name, first, r->line);
			continue;
		}
		rc = settings_set(ops->settings, cp->c->src_conf, r->key,
				      r->value, err, sizeof(err));
		if (rc == 0)
			conf_error(p, r->line,
				   "unknown key '%s' (neither a channel key "
				   "nor one of source %s)",
				   r->key, ops->name);
		else if (rc < 0)
			conf_error(p, r->line, "%s", err);
	}
}

/* A slot that cannot carry the source's messages: each would be dropped
 * (mdpub -T said OK to slot_size = 64 with the synthetic source, which
 * then dropped all it made). */
static void check_msg_max(struct parser *p, const struct chan_parse *cp)
{
	const struct chan_conf *c = cp->c;
	size_t need = c->ops->msg_max;
	uint64_t fits = 64;

	if (!need || c->slot_size - MDBUS_SLOT_HEADER >= need)
		return;
	while (fits - MDBUS_SLOT_HEADER < need)
		fits *= 2;
	conf_error(p, cp->line, "[channel %s]: source %s makes messages of "
		   "%zu bytes, a slot of %llu carries %llu: set slot_size = "
		   "%llu or more", c->name, c->ops->name, need,
		   (unsigned long long)c->slot_size,
		   (unsigned long long)(c->slot_size - MDBUS_SLOT_HEADER),
		   (unsigned long long)fits);
}

static void finish_chan(struct parser *p, struct chan_parse *cp)
{
	struct chan_conf *c = cp->c;
	char err[256];

	if (!c->source) {
		conf_error(p, cp->line, "[channel %s] has no source = key",
			   c->name);
		return;
	}
	c->ops = source_find(c->source);
	if (!c->ops && strcmp(c->source, "nats") == 0) {
		conf_error(p, cp->source_line, "source: nats: mdpub was built "
			   "without NATS support (Debian package libnats-dev, "
			   "then configure --with-nats)");
		return;
	}
	if (!c->ops) {
		conf_error(p, cp->source_line,
			   "source: '%s' is not one of %s", c->source,
			   source_names());
		return;
	}
	c->src_conf = calloc(1, c->ops->conf_size);
	if (!c->src_conf) {
		c->ops = NULL;
		conf_error(p, cp->line, "out of memory");
		return;
	}
	if (c->ops->conf_init)
		c->ops->conf_init(c->src_conf);
	apply_raw(p, cp);
	if (c->ops->conf_check &&
	    c->ops->conf_check(c->src_conf, err, sizeof(err)) < 0)
		conf_error(p, cp->line, "[channel %s]: %s", c->name, err);
	if (archive_conf_check(c, err, sizeof(err)) < 0)
		conf_error(p, cp->line, "[channel %s]: %s", c->name, err);
	check_msg_max(p, cp);
}

void conf_pub_config(const struct chan_conf *c, struct mdbus_pub_config *cfg)
{
	mdbus_pub_config_init(cfg);
	cfg->slot_size = (uint32_t)c->slot_size;
	cfg->slots_per_block = (uint32_t)c->slots_per_block;
	cfg->block_count = (uint32_t)c->block_count;
	cfg->max_consumers = (uint32_t)c->max_consumers;
	cfg->mode = c->mode ? MDBUS_MODE_LOSSLESS : MDBUS_MODE_OVERWRITE;
	cfg->file_mode = (mode_t)c->file_mode;
	cfg->group = c->group;
	cfg->dir = c->dir;
	cfg->stall_evict_ns = (uint64_t)(c->stall_evict_s * 1e9);
	cfg->flags = (c->replace ? MDBUS_PUB_REPLACE : 0) |
		     (c->nudge ? MDBUS_PUB_NUDGE : 0);
	cfg->archive_dir = c->archive;
}

/* What libmdbus would refuse when it opens the channel. */
static void check_pub(struct parser *p, const struct chan_parse *cp)
{
	struct mdbus_pub_config cfg;

	conf_pub_config(cp->c, &cfg);
	if (mdbus_pub_config_check(cp->c->name, &cfg) < 0)
		conf_error(p, cp->line, "[channel %s]: %s", cp->c->name,
			   mdbus_last_error());
}

static void free_raw(struct chan_parse *cp)
{
	for (size_t i = 0; i < cp->nraw; i++) {
		free(cp->raw[i].key);
		free(cp->raw[i].value);
	}
	free(cp->raw);
}

/* Moves the parsed channels into p->conf (or frees them on error). */
static void finish(struct parser *p)
{
	for (size_t i = 0; i < p->nchans; i++) {
		finish_chan(p, &p->chans[i]);
		check_pub(p, &p->chans[i]);
	}
	if (!p->errors && !p->nchans)
		conf_error(p, p->lineno ? p->lineno : 1, "no [channel NAME] section");
	p->conf->chans = calloc(p->nchans + 1, sizeof(*p->conf->chans));
	if (!p->conf->chans)
		conf_error(p, p->lineno, "out of memory");
	for (size_t i = 0; i < p->nchans; i++) {
		free_raw(&p->chans[i]);
		if (p->conf->chans)
			p->conf->chans[p->conf->nchans++] = p->chans[i].c;
		else
			conf_channel_free(p->chans[i].c);
	}
	free(p->chans);
	settings_free(chan_settings, &p->defaults);
}

static int parse(struct parser *p)
{
	static const struct conf_syntax_ops ops = {begin_section, key,
						   syntax_error};
	int rc = conf_syntax_read(p->fp, &ops, p);

	if (rc >= 0)
		p->lineno = rc;
	else
		conf_error(p, 0, "%s", strerror(-rc));
	finish(p);
	sort_errors(p);
	return p->errors ? -1 : 0;
}

static int open_file(struct parser *p, const char *path)
{
	char why[sizeof(p->report->errs->text)];

	if (!path) {
		p->fp = fmemopen((void *)embedded_conf, strlen(embedded_conf),
				 "r");
		snprintf(why, sizeof why, "%s", strerror(errno));
	} else if (conf_open(path, &p->fp, why, sizeof why) < 0) {
		p->fp = NULL;
	}
	if (p->fp)
		return 0;
	conf_error(p, 0, "%s", why);
	return -1;
}

/* A parser of a new config named `what` (its errors in report); -ENOMEM
 * with the error reported. */
static int parser_init(struct parser *p, const char *what,
		       struct conf_report *report)
{
	memset(p, 0, sizeof(*p));
	p->file = what;
	p->report = report;
	report->file = what;
	report->errs = NULL;
	report->n = 0;
	p->conf = calloc(1, sizeof(*p->conf));
	if (!p->conf) {
		conf_error(p, 0, "out of memory");
		return -ENOMEM;
	}
	p->conf->log_level = LOG_NOTICE - LOG_ERR;
	p->conf->stats_s = 60;
	chan_defaults(&p->defaults);
	return 0;
}

/* The parsed config in *out, or -EINVAL (freed) when there were errors. */
static int parser_done(struct parser *p, int rc, struct mdpub_conf **out)
{
	if (rc < 0) {
		conf_free(p->conf);
		return -EINVAL;
	}
	p->conf->log_level += LOG_ERR;
	*out = p->conf;
	return 0;
}

int conf_load(struct mdpub_conf **out, const char *path,
	      struct conf_report *report)
{
	struct parser p;
	int rc;

	*out = NULL;
	if (parser_init(&p, path ? path : "(embedded default)", report) < 0)
		return -ENOMEM;
	if (open_file(&p, path) < 0) {
		free(p.conf);
		return -EINVAL;
	}
	rc = parse(&p);
	fclose(p.fp);
	return parser_done(&p, rc, out);
}

int conf_build(struct mdpub_conf **out, const char *what, const char *channel,
	       char *const *settings, size_t n, struct conf_report *report)
{
	struct parser p;

	*out = NULL;
	if (parser_init(&p, what, report) < 0)
		return -ENOMEM;
	p.conf->stats_s = 0;
	begin_channel(&p, channel, 0);
	for (size_t i = 0; i < n && p.kind == SEC_CHANNEL; i++) {
		char key[64];
		const char *eq = strchr(settings[i], '=');

		if (!eq || eq == settings[i] || (size_t)(eq - settings[i]) >= sizeof(key)) {
			conf_error(&p, 0, "'%s' is not KEY=VALUE", settings[i]);
			continue;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - settings[i]),
			 settings[i]);
		channel_key(&p, 0, key, eq + 1);
	}
	finish(&p);
	sort_errors(&p);
	return parser_done(&p, p.errors ? -1 : 0, out);
}

void conf_free(struct mdpub_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->nchans; i++)
		conf_channel_free(conf->chans[i]);
	free(conf->chans);
	free(conf);
}

const struct chan_conf *conf_channel(const struct mdpub_conf *conf,
				     const char *name)
{
	for (size_t i = 0; i < conf->nchans; i++)
		if (strcmp(conf->chans[i]->name, name) == 0)
			return conf->chans[i];
	return NULL;
}

int conf_channel_equal(const struct chan_conf *a, const struct chan_conf *b)
{
	return strcmp(a->name, b->name) == 0 && a->ops == b->ops &&
	       settings_equal(chan_settings, a, b) &&
	       settings_equal(a->ops->settings, a->src_conf, b->src_conf);
}
