/*
 * run.c - mdsub's read loop: attaches to each channel, reads with the
 * chosen wait strategy, filters, hands each message to the sinks (print,
 * record, forward, stats), reports loss and publisher changes on stderr,
 * reattaches after a segment replacement, and ends on -n, --duration,
 * --until-caught-up, SIGINT/SIGTERM or a closed stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error_text.h"
#include "mdbus_rec.h"
#include "mdsub.h"
#include "status.h"

#define IDLE_WAIT_MAX_NS 100000000ULL /* re-check signals this often */
#define MULTI_WAIT_MIN_NS 50000ULL    /* several channels: first idle wait */
#define MULTI_WAIT_MAX_NS 20000000ULL /* several channels: longest */
#define CHECK_PUB_NS NS_PER_SEC       /* publisher state poll period */
#define LOSS_REPORT_NS NS_PER_SEC     /* at most one loss line per second */
#define BUSY_CHECK_EVERY 256          /* housekeeping under load */
#define ATTACH_POLL_NS 50000000ULL    /* --wait-for-channel: open retries */
#define REJOIN_SAID_FREE 5 /* rejoins said each, then one line a second
			    * at most: a writer of the table can take the
			    * entry at will */
#define REJOIN_RETRY_NS (3 * NS_PER_SEC) /* a cut consumer table is back on
				      * the publisher's next heartbeat */
#define REGISTER_AGAIN_NS NS_PER_SEC /* read on without an entry: first
				      * try to register again, */
#define REGISTER_AGAIN_MAX_NS (64 * NS_PER_SEC) /* doubling up to this */

struct chan {
	const char *name;
	mdbus_sub_t *sub;
	mdbus_rec_reader_t *file;    /* reading a recording instead */
	struct mdbus_rec_info info;  /* of the recording */
	int from_reached;            /* the file: --from TIME's first record
				      * was delivered */
	struct stats *stats;
	struct mdbus_pub_info pub;   /* last seen publisher state */
	int waiting;                 /* --wait-for-channel: not there yet,
				      * or rejoining */
	int squat_said;              /* --wait-for-channel: another user's
				      * file under the name, said once */
	uid_t trust_said;            /* the owner warn_trust() last named
				      * (0: none; root's is never named) */
	int rejoining;               /* entry taken away: registering again */
	uint64_t rejoin_seq;         /* where to go on reading, */
	uint64_t rejoin_epoch;       /* in the segment of this epoch */
	uint64_t rejoin_end_ns;      /* give up registering again then */
	uint64_t rejoins;            /* entries taken away so far */
	uint64_t rejoins_unsaid;     /* ... not said since the last line */
	uint64_t rejoin_said_ns;     /* when the last was said */
	int unregistered_said;       /* warn_unregistered() said it */
	uint64_t register_at;        /* read on without an entry after a
				      * rejoin: try to register again then
				      * (0: not so), */
	uint64_t register_gap;       /* and this long after a try, */
	uint64_t registered_ns;      /* when a try last succeeded */
	uint64_t loss_msgs, loss_gaps, loss_seq; /* not yet reported */
	uint64_t loss_report_ns;
};

struct app {
	const struct mdsub_opts *o;
	struct chan *ch;
	int n;
	unsigned char *buf;
	size_t buflen;
	struct recorder *rec;
	struct forwarder *fwd;
	struct nats_fwd *nfwd;
	int print;
	int chan_width;
	struct text_form text;       /* --grep, --exclude: the text line */
	uint64_t delivered;
	uint64_t start_ns, end_ns, next_stats_ns, next_pub_ns, next_attach_ns;
	int waiting;                 /* channels not there yet */
	uint64_t multi_wait_ns;
	int rr;
	int done;
	int status;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signals; /* SIGINT and SIGTERM received */

static void on_signal(int sig)
{
	stop_signal = sig;
	signals = signals + 1; /* both signals blocked while it runs */
}

int run_stopping(void)
{
	return stop_signal != 0;
}

int run_signals(void)
{
	return signals;
}

static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Ends the run after saying why; returns err. */
static int fail_text(struct app *a, const char *text, int err)
{
	flockfile(stderr); /* one line: other threads write there too */
	fputs("mdsub: ", stderr);
	put_str(stderr, STR_TEXT, text, SIZE_MAX);
	putc('\n', stderr);
	funlockfile(stderr);
	a->status = EXIT_FAILURE;
	a->done = 1;
	return err;
}

/* The same for a failed libmdbus call on channel. */
static int fail(struct app *a, const char *channel, const char *what, int err)
{
	char text[1024];

	snprintf(text, sizeof text, "%s: %s: %s", channel, what,
		 mdbus_error_text(err));
	return fail_text(a, text, err);
}

/* Ends the run when stdout failed: quietly with 0 on a closed pipe.
 * Returns the negated errno. */
static int output_failed(struct app *a)
{
	int err = errno;

	char text[256];

	a->done = 1;
	if (err == EPIPE)
		return -EPIPE;
	snprintf(text, sizeof text, "standard output: %s", strerror(err));
	return fail_text(a, text, -err);
}

static int flush_output(struct app *a)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	return output_failed(a);
}

/* Ends the run after a write to the recording failed (a write sets no
 * detail text: the code says it all). */
static int recorder_failed(struct app *a, int err)
{
	char text[1024];

	snprintf(text, sizeof text, "%s: write: %s", a->o->record,
		 mdbus_strerror(err));
	return fail_text(a, text, err);
}

static int record_open_failed(struct app *a, int err)
{
	char text[1024];

	if (err != -EEXIST)
		return fail_text(a, mdbus_error_text(err), err);
	snprintf(text, sizeof text, "%s exists: not replaced without --force",
		 a->o->record);
	return fail_text(a, text, err);
}

/* The end of a recording: its name, messages and size on stderr. */
static void record_done(struct app *a)
{
	uint64_t msgs = 0;
	struct stat st;
	int err = rec_close(a->rec, &msgs);

	if (err < 0) {
		recorder_failed(a, err);
		return;
	}
	fputs("mdsub: ", stderr);
	if (strcmp(a->o->record, "-") == 0) {
		fprintf(stderr, "standard output: %" PRIu64 " messages recorded\n",
			msgs);
		return;
	}
	put_str(stderr, STR_TEXT, a->o->record, SIZE_MAX);
	fprintf(stderr, ": %" PRIu64 " messages recorded", msgs);
	if (stat(a->o->record, &st) == 0)
		fprintf(stderr, ", %jd bytes", (intmax_t)st.st_size);
	putc('\n', stderr);
}

static int flush_record(struct app *a)
{
	int err = a->rec ? rec_flush(a->rec) : 0;

	return err ? recorder_failed(a, err) : 0;
}

static int grow_buffer(struct app *a, size_t need)
{
	unsigned char *p;

	if (need <= a->buflen)
		return 0;
	p = realloc(a->buf, need);
	if (!p) {
		char text[64];

		snprintf(text, sizeof text, "out of memory (%zu bytes)", need);
		return fail_text(a, text, -ENOMEM);
	}
	a->buf = p;
	a->buflen = need;
	return 0;
}

/* ----------------------------------------------------------- notices */

static void report_loss(struct chan *c, uint64_t now)
{
	if (!c->loss_gaps)
		return;
	if (c->loss_gaps == 1)
		fprintf(stderr, "mdsub: %s: lost %" PRIu64
			" messages before seq %" PRIu64 "\n", c->name,
			c->loss_msgs, c->loss_seq);
	else
		fprintf(stderr, "mdsub: %s: lost %" PRIu64 " messages in %"
			PRIu64 " gaps, the last before seq %" PRIu64 "\n",
			c->name, c->loss_msgs, c->loss_gaps, c->loss_seq);
	c->loss_msgs = c->loss_gaps = 0;
	c->loss_report_ns = now;
}

static void note_loss(struct chan *c, const struct mdbus_msg *m)
{
	uint64_t now = now_monotonic();

	count_add(&c->loss_msgs, m->lost);
	c->loss_gaps++;
	c->loss_seq = m->seq;
	if (c->stats)
		stats_loss(c->stats, m->lost);
	if (now - c->loss_report_ns >= LOSS_REPORT_NS)
		report_loss(c, now);
}

/* Says on stderr when the publisher starts, stops, dies or changes. */
static void note_pub_change(struct chan *c, const struct mdbus_pub_info *p)
{
	if (p->state == c->pub.state && p->pid == c->pub.pid)
		return;
	if (p->state == MDBUS_PUB_ACTIVE)
		fprintf(stderr, "mdsub: %s: publisher pid %d active\n",
			c->name, (int)p->pid);
	else if (p->state != MDBUS_PUB_REPLACED)
		fprintf(stderr, "mdsub: %s: publisher pid %d %s\n", c->name,
			(int)p->pid, mdbus_pub_state_name(p->state));
	c->pub = *p;
}

/* ---------------------------------------------------------- attaching */

/* Says on stderr, at attach, that no publisher is writing: whose, since
 * when, and whether mdsub waits for it. */
static void note_pub_idle(const struct app *a, const struct chan *c)
{
	const struct mdbus_pub_info *p = &c->pub;
	const char *then = a->o->until_caught_up ?
		"--until-caught-up ends once the ring is read" :
		"waiting for it";

	if (p->state == MDBUS_PUB_ACTIVE || p->state == MDBUS_PUB_REPLACED)
		return;
	if (p->state == MDBUS_PUB_NONE)
		fprintf(stderr, "mdsub: %s: no publisher yet; %s\n", c->name,
			then);
	else if (p->heartbeat_age_ns >= 0)
		fprintf(stderr, "mdsub: %s: publisher pid %d %s %.1f s ago; "
			"%s\n", c->name, (int)p->pid,
			mdbus_pub_state_name(p->state),
			(double)p->heartbeat_age_ns / 1e9, then);
	else
		fprintf(stderr, "mdsub: %s: publisher pid %d %s; %s\n",
			c->name, (int)p->pid, mdbus_pub_state_name(p->state),
			then);
}

/* Which open errors a caller that tries again lets pass. */
enum open_retry {
	RETRY_NONE,
	RETRY_MISSING,   /* the channel does not exist (yet) */
	RETRY_TRANSIENT, /* also: its consumer table is cut (the publisher
			  * restores it) or it is being made */
};

/* 1 when the segments must be one user's (--owner, MDBUS_OWNER). */
static int owner_expected(void)
{
	const char *owner = getenv(MDBUS_ENV_OWNER);

	return owner && *owner;
}

/* A channel missing: none under its name, or, when its owner is
 * expected, a file of another user there (-EPERM: squatted, or left; the
 * owner's publisher replaces it). */
static int channel_missing(int err)
{
	return err == -ENOENT || (err == -EPERM && owner_expected());
}

static int open_error_passes(int err, enum open_retry retry)
{
	if (channel_missing(err))
		return retry >= RETRY_MISSING;
	return retry == RETRY_TRANSIENT &&
	       (err == MDBUS_ECORRUPT || err == MDBUS_ENOTREADY);
}

/* Whether directory `dir` was made, or given to its owner, by root or
 * us: its parent is root's or ours and no one else may write there, so
 * that no other user could have made `dir` first (/run/mdbus given to
 * the publisher's user; not /tmp/mdbus made by anyone). */
static int dir_given(const char *dir)
{
	char parent[PATH_MAX];
	struct stat st;
	size_t len;
	char *slash;

	snprintf(parent, sizeof parent, "%s", dir);
	len = strlen(parent);
	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = '\0';
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof parent, ".");
	else if (slash == parent)
		parent[1] = '\0'; /* "/" */
	else
		*slash = '\0';
	return stat(parent, &st) == 0 &&
	       (st.st_uid == 0 || st.st_uid == geteuid()) &&
	       !(st.st_mode & S_IWOTH) &&
	       (!(st.st_mode & S_IWGRP) || st.st_gid == 0);
}

/* Who besides root and us may make files in directory `dir` (st), into
 * out (n bytes): "any user", "users of its group" (a group not root's,
 * nor the owner's primary group, which the user private group scheme
 * gives each user alone: libmdbus refuses the one without the sticky bit
 * the same way, lib/dir_trust.c), "its owner, user NAME" (another user's
 * directory that another user could have made first, dir_given(): a
 * reader may be pointed at one that publishers of root refuse), or
 * NULL. */
static const char *dir_makers(const char *dir, const struct stat *st,
			      char *out, size_t n)
{
	struct passwd *pw;
	char user[256];

	if (st->st_mode & S_IWOTH)
		return "any user";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 &&
	    (!(pw = getpwuid(st->st_uid)) || pw->pw_gid != st->st_gid))
		return "users of its group";
	if (st->st_uid == 0 || st->st_uid == geteuid() || dir_given(dir))
		return NULL;
	(void)user_text(st->st_uid, user, sizeof user);
	snprintf(out, n, "its owner, user %s (uid %u),", user,
		 (unsigned)st->st_uid);
	return out;
}

/* A segment of another user than ours or root's, in a directory other
 * users may write, read with no owner named (--owner, MDBUS_OWNER): that
 * user is trusted, to feed this reader and to end it (SIGBUS, by
 * truncating the file), and they could have made the file under the
 * channel's name first (libmdbus(3), "Permissions and security"). Said
 * on stderr once for each owner of the channel's segment. */
static void warn_trust(const struct app *a, struct chan *c)
{
	uid_t owner = mdbus_sub_owner(c->sub);
	const char *dir = mdbus_segment_dir(a->o->sub.dir), *makers;
	char user[256], text[320];
	struct stat st;

	if (owner == 0 || owner == geteuid() || owner == c->trust_said ||
	    owner_expected() || stat(dir, &st) < 0 ||
	    !(makers = dir_makers(dir, &st, text, sizeof text)))
		return;
	c->trust_said = owner;
	(void)user_text(owner, user, sizeof user);
	fprintf(stderr, "mdsub: %s: warning: reading user ", c->name);
	put_str(stderr, STR_TEXT, user, sizeof user);
	fprintf(stderr, "'s segment (uid %u) in ", (unsigned)owner);
	put_str(stderr, STR_TEXT, dir, SIZE_MAX);
	fprintf(stderr, ", where ");
	put_str(stderr, STR_TEXT, makers, SIZE_MAX);
	fprintf(stderr, " may make one: name the publisher's user with "
		"--owner (or MDBUS_OWNER) to refuse anyone else's\n");
}

/* Whether registering again may read on without an entry after `err`:
 * a consumer table full of live readers, or one whose header is spoiled
 * past the retries (MDBUS_ECORRUPT: open_error_passes() lets it pass
 * until c->rejoin_end_ns), or otherwise refused. Anyone who may write
 * the table can make any of them (libmdbus(3), "Permissions and
 * security"), and a run that ended there would let him stop root's
 * recorders and forwarders (attack runs: a full table, then a header
 * whose max_consumers was stored wrong every 100 us, which the
 * publisher mends at each heartbeat). */
static int rejoin_refused(int err)
{
	return err == MDBUS_EFULL || err == MDBUS_ECORRUPT || err == MDBUS_ETABLE;
}

/* Registering again (rejoin()) was refused (rejoin_refused()): reads on
 * without an entry, from where it stopped, as mdpub's archive does, and
 * says so once. Returns 0, or the open's code (and `err` said). */
static int rejoin_anonymous(struct chan *c, const struct mdbus_sub_config *cfg,
			    int err)
{
	struct mdbus_sub_config anon = *cfg;
	char why[512];
	int r;

	snprintf(why, sizeof why, "%s", mdbus_error_text(err));
	anon.anonymous = 1;
	anon.name = NULL;
	r = mdbus_sub_open(&c->sub, c->name, &anon);
	if (r)
		return err;
	fprintf(stderr, "mdsub: %s: cannot register again: ", c->name);
	put_str(stderr, STR_TEXT, why, SIZE_MAX);
	fprintf(stderr, ": reading on without an entry from seq %" PRIu64
		"; a lossless publisher no longer waits for this reader "
		"(trying to register again)\n", c->rejoin_seq);
	/* the gap kept from a fallback before: each registration regained
	 * gives a writer of the table an entry to take away again, and the
	 * rejoin a wait (up to a second of faked dead owners, 100 ms of
	 * faked reclaims; race review of c108f58) */
	if (!c->register_gap ||
	    now_monotonic() - c->registered_ns >= REGISTER_AGAIN_MAX_NS)
		c->register_gap = REGISTER_AGAIN_NS;
	c->register_at = now_monotonic() + c->register_gap;
	return 0;
}

/*
 * Read on without an entry since a rejoin (rejoin_anonymous()): once the
 * table has a free entry, registers again at the reader's position and
 * goes on with that handle, as mdpub's archive does (attack run of
 * 1154fb0: a table filled for 1 s left a lossless recorder without its
 * entry for good). A try waits up to 100 ms when every entry is being
 * reclaimed (a writer of the table can fake that), so the tries are
 * REGISTER_AGAIN_NS apart, doubling after each up to
 * REGISTER_AGAIN_MAX_NS, and the gap is kept for the next fallback.
 */
static void register_again(struct app *a, struct chan *c, uint64_t now)
{
	struct mdbus_sub_config cfg = a->o->sub;
	struct mdbus_stats st;
	mdbus_sub_t *sub;
	uint64_t pos;

	if (!c->register_at || now < c->register_at || !c->sub)
		return;
	c->register_gap = c->register_gap * 2 < REGISTER_AGAIN_MAX_NS ?
			  c->register_gap * 2 : REGISTER_AGAIN_MAX_NS;
	c->register_at = now + c->register_gap;
	/* the name's segment must still be ours: one that replaced it is
	 * reattached from its oldest message once ours is read to its end
	 * (reattach()), not joined at our position (race review of c108f58:
	 * the old segment's rest and the new one's first messages went
	 * unsaid) */
	if (mdbus_channel_stats(c->name, cfg.dir, &st, NULL, 0) != 0 ||
	    st.consumers >= st.max_consumers ||
	    st.epoch != mdbus_sub_epoch(c->sub))
		return;
	pos = mdbus_sub_position(c->sub);
	cfg.start = MDBUS_START_SEQ;
	cfg.start_seq = pos;
	if (mdbus_sub_open(&sub, c->name, &cfg) != 0)
		return;
	if (!mdbus_sub_registered(sub) ||
	    mdbus_sub_epoch(sub) != mdbus_sub_epoch(c->sub) ||
	    mdbus_sub_owner(sub) != mdbus_sub_owner(c->sub)) {
		mdbus_sub_close(sub);
		return;
	}
	mdbus_sub_close(c->sub);
	c->sub = sub;
	c->register_at = 0;
	c->registered_ns = now;
	fprintf(stderr, "mdsub: %s: registered again at seq %" PRIu64 "\n",
		c->name, pos);
}

/* A reader that asked for an entry and got none, the channel's files not
 * writable to this user, on a lossless channel: its publisher does not
 * wait for it, which is what the user may have counted on. Said on
 * stderr once a channel (not after rejoin_anonymous(), which says so). */
static void warn_unregistered(const struct app *a, struct chan *c,
			      const struct mdbus_sub_config *cfg)
{
	struct mdbus_stats st;
	int r;

	if (cfg->anonymous || c->rejoining || c->unregistered_said ||
	    mdbus_sub_registered(c->sub))
		return;
	/* MDBUS_ETABLE: *st filled all the same */
	r = mdbus_channel_stats(c->name, a->o->sub.dir, &st, NULL, 0);
	if ((r < 0 && r != MDBUS_ETABLE) || st.mode != MDBUS_MODE_LOSSLESS)
		return;
	c->unregistered_said = 1;
	fprintf(stderr, "mdsub: %s: warning: reading without a consumer entry "
		"(its consumer table is not writable to this user): the "
		"lossless publisher does not wait for this reader, and what it "
		"writes over first is counted lost\n", c->name);
}

/* Opens c with cfg. Returns 0; the library's code, c->sub NULL, for an
 * error that retry lets pass (the run goes on); or a negative code (the
 * run ends). */
static int open_chan(struct app *a, struct chan *c,
		     const struct mdbus_sub_config *cfg, enum open_retry retry)
{
	int err = mdbus_sub_open(&c->sub, c->name, cfg);

	if (err && open_error_passes(err, retry)) {
		c->sub = NULL;
		return err;
	}
	if (c->rejoining && rejoin_refused(err))
		err = rejoin_anonymous(c, cfg, err);
	if (err == MDBUS_EFULL) {
		char text[1024];

		snprintf(text, sizeof text, "%s: cannot subscribe: %s: read "
			 "without an entry (-a, --anonymous), or raise the "
			 "publisher's max_consumers", c->name,
			 mdbus_error_text(err));
		return fail_text(a, text, err);
	}
	if (err)
		return fail(a, c->name, "cannot subscribe", err);
	warn_unregistered(a, c, cfg);
	warn_trust(a, c);
	mdbus_sub_pub_info(c->sub, &c->pub);
	return grow_buffer(a, mdbus_sub_payload_max(c->sub));
}

/* --wait-for-channel: one try to attach a channel that was missing. A
 * channel created after the wait began is read from its first message
 * unless --from says otherwise. Returns 0 or a negative code. */
static int try_attach(struct app *a, struct chan *c)
{
	struct mdbus_sub_config cfg = a->o->sub;
	int rc;

	if (!a->o->from_given)
		cfg.start = MDBUS_START_OLDEST;
	rc = open_chan(a, c, &cfg, RETRY_MISSING);
	if (rc == -EPERM && !c->squat_said) {
		c->squat_said = 1;
		fprintf(stderr, "mdsub: %s: %s; not the expected owner's "
			"channel: waiting for it\n", c->name, mdbus_last_error());
	}
	if (rc)
		return channel_missing(rc) ? 0 : rc;
	c->waiting = 0;
	a->waiting--;
	fprintf(stderr, "mdsub: %s: channel appeared, reading from seq %"
		PRIu64 "\n", c->name, mdbus_sub_position(c->sub));
	return 0;
}

/* The first open: a missing channel is waited for with
 * --wait-for-channel, else an error. */
static int first_open(struct app *a, struct chan *c)
{
	int rc = open_chan(a, c, &a->o->sub,
			   a->o->wait_channel ? RETRY_MISSING : RETRY_NONE);

	if (channel_missing(rc) && a->o->wait_channel) {
		c->waiting = 1;
		a->waiting++;
		c->squat_said = rc == -EPERM;
		fprintf(stderr, "mdsub: %s: %s%swaiting for it\n", c->name,
			rc == -EPERM ? mdbus_last_error() : "no such channel yet",
			rc == -EPERM ? "; not the expected owner's channel: " :
				       "; ");
		return 0;
	}
	if (rc == 0)
		note_pub_idle(a, c);
	return rc;
}

static int reattach(struct app *a, struct chan *c)
{
	int err;

	fprintf(stderr, "mdsub: %s: segment replaced, reattaching\n", c->name);
	err = mdbus_sub_reopen(c->sub, MDBUS_START_OLDEST, 0);
	if (err) {
		fprintf(stderr, "mdsub: %s: reattach failed: ", c->name);
		put_str(stderr, STR_TEXT, mdbus_error_text(err), SIZE_MAX);
		fputs(" (retrying)\n", stderr);
		return 0;
	}
	warn_trust(a, c);
	mdbus_sub_pub_info(c->sub, &c->pub);
	return grow_buffer(a, mdbus_sub_payload_max(c->sub));
}

/* One try to register c again at c->rejoin_seq. A consumer table that
 * is cut or not there is tried again (attach_tick) until
 * c->rejoin_end_ns. Returns 0 or a negative code (the run ends). */
static int try_rejoin(struct app *a, struct chan *c)
{
	struct mdbus_sub_config cfg = a->o->sub;
	int rc;

	cfg.start = MDBUS_START_SEQ;
	cfg.start_seq = c->rejoin_seq;
	rc = open_chan(a, c, &cfg, now_monotonic() < c->rejoin_end_ns ?
			      RETRY_TRANSIENT : RETRY_NONE);
	if (rc)
		return a->done ? rc : 0;
	c->rejoining = c->waiting = 0;
	a->waiting--;
	if (mdbus_sub_epoch(c->sub) == c->rejoin_epoch)
		return 0;
	/* the name's segment replaced meanwhile: not our position in it
	 * (race review of 74ac609: a reader evicted while behind, then its
	 * segment replaced, went on at its old position in the new one and
	 * never said so) */
	fprintf(stderr, "mdsub: %s: the old segment's messages from seq %"
		PRIu64 " on were not read\n", c->name, c->rejoin_seq);
	return reattach(a, c);
}

/* Our consumer entry was taken away: a lossless publisher evicted us, a
 * reclaimer judged us dead, a writer of the table freed it, or a reader
 * cut the consumer table file (the publisher gives it its size back on
 * its next heartbeat). Said rate-limited (REJOIN_SAID_FREE). Registers
 * again where we stopped, trying for up to REJOIN_RETRY_NS. */
static int rejoin(struct app *a, struct chan *c)
{
	uint64_t now = now_monotonic();

	c->rejoin_seq = mdbus_sub_position(c->sub);
	c->rejoin_epoch = mdbus_sub_epoch(c->sub);
	if (++c->rejoins <= REJOIN_SAID_FREE ||
	    now - c->rejoin_said_ns >= NS_PER_SEC) {
		fprintf(stderr, "mdsub: %s: consumer entry taken away "
			"(evicted, reclaimed as dead, freed by a writer of the "
			"consumer table, or the table was cut); rejoining at "
			"seq %" PRIu64, c->name, c->rejoin_seq);
		if (c->rejoins_unsaid)
			fprintf(stderr, " (%" PRIu64 " more since the last "
				"such line)", c->rejoins_unsaid);
		fputc('\n', stderr);
		c->rejoins_unsaid = 0;
		c->rejoin_said_ns = now;
	} else {
		c->rejoins_unsaid++;
	}
	mdbus_sub_close(c->sub);
	c->sub = NULL;
	c->rejoin_end_ns = now_monotonic() + REJOIN_RETRY_NS;
	c->rejoining = c->waiting = 1;
	a->waiting++;
	return try_rejoin(a, c);
}

/* Channels not attached (--wait-for-channel) or registering again: one
 * try each every ATTACH_POLL_NS. */
static int attach_tick(struct app *a, uint64_t now)
{
	if (!a->waiting || now < a->next_attach_ns)
		return 0;
	a->next_attach_ns = now + ATTACH_POLL_NS;
	for (int i = 0; i < a->n; i++) {
		struct chan *c = &a->ch[i];
		int rc = !c->waiting ? 0 :
			 c->rejoining ? try_rejoin(a, c) : try_attach(a, c);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int check_pub(struct app *a, struct chan *c)
{
	struct mdbus_pub_info p;

	if (!c->sub || mdbus_sub_pub_info(c->sub, &p))
		return 0;
	note_pub_change(c, &p);
	return p.state == MDBUS_PUB_REPLACED ? reattach(a, c) : 0;
}

/* ---------------------------------------------------------- delivering */

/* nfwd_send() or nfwd_tick() ended the run: told to stop while it
 * waited for the broker (-EINTR), or the broker refused us or the
 * connection cannot come back (printed). */
static int nats_failed(struct app *a, int err)
{
	char why[NFWD_FAILURE_MAX];

	if (err == -EINTR || nfwd_failed(a->nfwd, why, sizeof why) == 0) {
		a->done = 1;
		return -EINTR;
	}
	return fail_text(a, why, err);
}

static int to_sinks(struct app *a, const struct delivery *d)
{
	int err = a->rec ? rec_write(a->rec, d) : 0;

	if (err)
		return recorder_failed(a, err);
	if (a->fwd)
		fwd_send(a->fwd, d, now_monotonic());
	if (a->nfwd && (err = nfwd_send(a->nfwd, d)) < 0)
		return nats_failed(a, err);
	if (!a->print)
		return 0;
	if (a->o->format == OUT_TEXT && grep_active(&a->o->grep))
		printf("%s\n", a->text.line); /* rendered for the patterns */
	else
		print_msg(stdout, a->o->format, a->chan_width, d);
	return ferror(stdout) ? output_failed(a) : 0;
}

/* Returns 1 (a message was read) or a negative code (the run ends). */
static int deliver(struct app *a, struct chan *c, const struct mdbus_msg *m)
{
	struct delivery d = {c->name, m, a->buf,
			     c->sub ? mdbus_sub_epoch(c->sub) : 0};
	int rc;

	if (m->lost)
		note_loss(c, m);
	rc = filter_wanted(a->o, &a->text, a->chan_width, &d);
	if (rc < 0)
		return fail_text(a, "cannot render a message for --grep", rc);
	if (!rc)
		return 1;
	if (c->stats)
		stats_add(c->stats, m, c->file ? m->ts_ns : now_realtime());
	rc = to_sinks(a, &d);
	if (rc < 0)
		return rc;
	if (a->o->count && ++a->delivered >= a->o->count)
		a->done = 1;
	return 1;
}

/* The end of a recording that is cut or corrupt (a record claiming
 * size bytes), said on stderr: a cut one ends the run as its end would,
 * a corrupt one as a failure. */
static int file_trouble(struct app *a, struct chan *c, int err, uint32_t size)
{
	char text[2 * PATH_MAX + 512], why[PATH_MAX + 512];

	if (err != MDBUS_ETRUNCATED) {
		rec_corrupt_text(why, sizeof why, a->o->file,
				 mdbus_rec_offset(c->file), size);
		snprintf(text, sizeof text, "%s: %s; not read further",
			 a->o->file, why);
		return fail_text(a, text, err);
	}
	snprintf(text, sizeof text, "%s: the recording is cut: it ends inside "
		 "a record at offset %" PRIu64 "; every record before it was "
		 "read", a->o->file, mdbus_rec_offset(c->file));
	fputs("mdsub: ", stderr);
	put_str(stderr, STR_TEXT, text, SIZE_MAX);
	putc('\n', stderr);
	a->done = 1;
	return 0;
}

/* Whether record m comes before --from (a sequence number, or a time:
 * records are skipped until the first stamped at or after it, as the
 * library starts a channel). */
static int before_from(const struct app *a, struct chan *c,
		       const struct mdbus_msg *m)
{
	const struct mdbus_sub_config *s = &a->o->sub;

	if (s->start == MDBUS_START_SEQ)
		return m->seq < s->start_seq;
	if (s->start != MDBUS_START_TIME || c->from_reached)
		return 0;
	c->from_reached = m->ts_ns >= s->start_time_ns;
	return !c->from_reached;
}

/* The next record of the recording c (--file). Returns 1 when one was
 * read (or skipped: before --from), 0 at the end, a negative code
 * when the run must end. */
static int read_file(struct app *a, struct chan *c)
{
	struct mdbus_msg m;
	int err = mdbus_rec_read(c->file, a->buf, a->buflen, &m);

	switch (err) {
	case 0:
		if (before_from(a, c, &m))
			return 1;
		return deliver(a, c, &m);
	case -EMSGSIZE: return grow_buffer(a, m.size) < 0 ? -ENOMEM : 1;
	case -ENODATA: a->done = 1; return 0;
	case MDBUS_ETRUNCATED: case MDBUS_ECORRUPT:
		return file_trouble(a, c, err, m.size);
	default: return fail(a, a->o->file, "read", err);
	}
}

/* A file of the archive being replayed that is corrupt, or refused (a
 * symbolic link, not a regular file, another owner's or of more than one
 * link, unreadable, gone since the listing): after any of them the
 * library goes on with the next file (libmdbus(3), mdbus_sub_fd()). */
static int archive_file_error(const struct chan *c, int err)
{
	return mdbus_sub_replaying(c->sub) &&
	       (err == MDBUS_ECORRUPT || err == -ELOOP || err == -EINVAL ||
		err == -EPERM || err == -EACCES || err == -ENOENT);
}

/* A corrupt or refused file in the archive being replayed: said, and
 * read on at once (the library goes on with the next file and counts
 * what it hid as lost, doc/protocol.md "Replay, then live"). Returns 1:
 * the channel is not idle. */
static int archive_trouble(struct chan *c)
{
	fprintf(stderr, "mdsub: %s: ", c->name);
	/* it names files of the archive: any bytes their makers chose */
	put_str(stderr, STR_TEXT, mdbus_last_error(), SIZE_MAX);
	fputs("; reading on (what it hid is counted lost)\n", stderr);
	return 1;
}

/* Reads one message from c, waiting up to timeout_ns (0 = no wait).
 * Returns 1 when one was read (or the archive said a file of it is
 * corrupt), 0 when none, a negative code when the run must end. */
static int read_one(struct app *a, struct chan *c, uint64_t timeout_ns)
{
	struct mdbus_msg m;
	int err;

	if (c->file)
		return read_file(a, c);
	if (!c->sub) { /* --wait-for-channel: not there yet */
		if (timeout_ns)
			sleep_ns(timeout_ns < ATTACH_POLL_NS ? timeout_ns :
							       ATTACH_POLL_NS);
		return 0;
	}
	if (timeout_ns)
		err = mdbus_sub_read(c->sub, a->buf, a->buflen, &m,
				     (int64_t)timeout_ns);
	else
		err = mdbus_sub_try_read(c->sub, a->buf, a->buflen, &m);
	switch (err) {
	case 0: return deliver(a, c, &m);
	case -EAGAIN: case -ETIMEDOUT: case -EINTR: return 0;
	case -EMSGSIZE: return grow_buffer(a, m.size);
	case MDBUS_EREPLACED: return reattach(a, c);
	case MDBUS_EEVICTED: return rejoin(a, c);
	default:
		if (archive_file_error(c, err))
			return archive_trouble(c);
		return fail(a, c->name, "read", err);
	}
}

/* One non-blocking pass over every channel: messages read, or a negative
 * code. */
static int poll_all(struct app *a)
{
	int got = 0;

	for (int i = 0; i < a->n && !a->done; i++) {
		int r = read_one(a, &a->ch[i], 0);

		if (r < 0)
			return r;
		got += r;
	}
	return got;
}

/* ------------------------------------------------------- housekeeping */

static void stats_tick(struct app *a, uint64_t now)
{
	struct mdbus_pub_info p;

	if (!a->o->stats_ns || now < a->next_stats_ns)
		return;
	for (int i = 0; i < a->n; i++) {
		struct chan *c = &a->ch[i];
		uint64_t pos = c->sub ? mdbus_sub_position(c->sub) : 0;

		if (!c->sub || mdbus_sub_pub_info(c->sub, &p))
			p.write_num = pos;
		stats_line(c->stats, p.write_num > pos ? p.write_num - pos : 0,
			   a->o->stats_ns);
	}
	a->next_stats_ns += a->o->stats_ns;
	if (a->next_stats_ns <= now)
		a->next_stats_ns = now + a->o->stats_ns;
}

static int pub_tick(struct app *a, uint64_t now)
{
	if (now < a->next_pub_ns)
		return 0;
	a->next_pub_ns = now + CHECK_PUB_NS;
	for (int i = 0; i < a->n; i++) {
		int rc;

		if (now - a->ch[i].loss_report_ns >= LOSS_REPORT_NS)
			report_loss(&a->ch[i], now);
		register_again(a, &a->ch[i], now);
		rc = check_pub(a, &a->ch[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Time-driven work; returns the ns until the next deadline, capped. */
static uint64_t housekeeping(struct app *a)
{
	uint64_t now = now_monotonic(), wait = IDLE_WAIT_MAX_NS, fwd_next;

	if (stop_signal || (a->end_ns && now >= a->end_ns)) {
		a->done = 1;
		return 0;
	}
	stats_tick(a, now);
	if (pub_tick(a, now) || attach_tick(a, now) || flush_output(a) ||
	    flush_record(a))
		return 0;
	if (a->waiting && a->next_attach_ns - now < wait)
		wait = a->next_attach_ns - now;
	if (a->fwd) {
		fwd_tick(a->fwd, now, &fwd_next);
		wait = fwd_next < wait ? fwd_next : wait;
	}
	if (a->nfwd) {
		int err = nfwd_tick(a->nfwd, now, &fwd_next);

		if (err < 0) {
			nats_failed(a, err);
			return 0;
		}
		wait = fwd_next < wait ? fwd_next : wait;
	}
	if (a->o->stats_ns && a->next_stats_ns - now < wait)
		wait = a->next_stats_ns - now;
	if (a->end_ns && a->end_ns - now < wait)
		wait = a->end_ns - now;
	return wait ? wait : 1;
}

/* Nothing was ready anywhere: wait the configured way. */
static void wait_idle(struct app *a, uint64_t max_ns)
{
	enum mdbus_wait w = a->o->sub.wait;
	uint64_t t;

	if (a->n == 1) {
		read_one(a, &a->ch[0], max_ns);
		return;
	}
	if (w == MDBUS_WAIT_SPIN)
		return;
	if (w == MDBUS_WAIT_YIELD) {
		sched_yield();
		return;
	}
	t = a->multi_wait_ns < max_ns ? a->multi_wait_ns : max_ns;
	if (read_one(a, &a->ch[a->rr], t) == 0 &&
	    a->multi_wait_ns < MULTI_WAIT_MAX_NS)
		a->multi_wait_ns *= 2;
	a->rr = (a->rr + 1) % a->n;
}

/* --until-caught-up: every channel read up to its write count (a read
 * that found nothing may only have stepped over messages before --from
 * TIME). */
static int caught_up(const struct app *a)
{
	for (int i = 0; i < a->n; i++)
		if (a->ch[i].sub && !mdbus_sub_caught_up(a->ch[i].sub))
			return 0;
	return !a->waiting;
}

static void loop(struct app *a)
{
	unsigned busy = 0;
	uint64_t wait;
	int got;

	while (!a->done) {
		got = poll_all(a);
		if (got < 0 || a->done)
			return;
		if (got)
			a->multi_wait_ns = MULTI_WAIT_MIN_NS;
		if (got && ++busy % BUSY_CHECK_EVERY)
			continue;
		wait = housekeeping(a);
		if (got || a->done)
			continue;
		if (a->o->until_caught_up && caught_up(a)) {
			a->done = 1;
			return;
		}
		wait_idle(a, wait);
	}
}

/* ------------------------------------------------------------ set-up */

static int open_sinks(struct app *a)
{
	const struct mdsub_opts *o = a->o;
	int err;

	if (o->record) {
		struct mdbus_rec_info info = a->ch[0].info;

		err = a->ch[0].file ? 0 : rec_info_of(&info, a->ch[0].name, &o->sub);
		if (!err)
			err = rec_open(&a->rec, o->record, &info, o->force);
		if (err)
			return record_open_failed(a, err);
	}
	if (o->fwd.url) {
		char why[512];

		if (fwd_port_warning(o->fwd.url, o->nats.tls || o->nats.ca ||
				     o->nats.cert, why, sizeof why))
			fprintf(stderr, "mdsub: %s: %s\n", a->ch[0].name, why);
		err = o->fwd_nats ?
			nfwd_open(&a->nfwd, o, a->ch[0].name, why, sizeof why) :
			fwd_open(&a->fwd, &o->fwd,
				 mdbus_sub_position(a->ch[0].sub), why,
				 sizeof why);
		if (err)
			return fail_text(a, why, err);
		if (!o->fwd_nats)
			fwd_rtx_older(a->fwd, a->ch[0].name, o,
				      a->chan_width);
		fwd_rtx_where(a->fwd, why, sizeof why);
		if (*why)
			fprintf(stderr, "mdsub: %s: answering re-requests on "
				"%s\n", a->ch[0].name, why);
		if (fwd_rtx_warning(a->fwd, why, sizeof why))
			fprintf(stderr, "mdsub: %s: warning: %s\n",
				a->ch[0].name, why);
	}
	a->print = !o->quiet && !o->stats_ns && !a->rec && !o->fwd.url;
	if (a->print && o->header)
		print_header(stdout, o->format, a->chan_width);
	return 0;
}

/* --record and --forward need their one channel before they start. */
static int wait_first(struct app *a)
{
	while (a->waiting && !stop_signal &&
	       (!a->end_ns || now_monotonic() < a->end_ns)) {
		int rc;

		sleep_ns(ATTACH_POLL_NS);
		rc = attach_tick(a, now_monotonic());
		if (rc < 0)
			return rc;
	}
	a->done = a->waiting;
	return 0;
}

/* --file: the recording instead of channels; its header names the
 * channel. */
static int open_file(struct app *a)
{
	struct chan *c = &a->ch[0];
	int err = mdbus_rec_open(&c->file, a->o->file, &c->info);

	if (err)
		return fail_text(a, mdbus_error_text(err), err);
	/* a hostile file's bytes, printed as the channel's name in what
	 * mdsub says on stderr: a valid channel name or nothing (as mdpub
	 * --replay) */
	if (!mdbus_channel_valid(c->info.channel)) {
		char text[PATH_MAX + 160];

		snprintf(text, sizeof text, "%s: the channel it recorded has no "
			 "valid channel name (mdsub --info shows it, escaped)",
			 a->o->file);
		return fail_text(a, text, -EINVAL);
	}
	c->name = c->info.channel;
	if (a->o->summary &&
	    !(c->stats = stats_new(c->name, a->o->format == OUT_JSON, 1)))
		return fail_text(a, "out of memory", -ENOMEM);
	if (grow_buffer(a, 64 * 1024) < 0)
		return -ENOMEM;
	return open_sinks(a);
}

static int open_all(struct app *a)
{
	int rc;

	if (a->o->file)
		return open_file(a);

	for (int i = 0; i < a->n; i++) {
		struct chan *c = &a->ch[i];
		int len = (int)strlen(a->o->channels[i]);

		c->name = a->o->channels[i];
		if (a->n > 1 && len > a->chan_width)
			a->chan_width = len;
		if ((a->o->stats_ns || a->o->summary) &&
		    !(c->stats = stats_new(c->name, a->o->format == OUT_JSON, 0)))
			return fail_text(a, "out of memory", -ENOMEM);
		rc = first_open(a, c);
		if (rc < 0)
			return rc;
	}
	if ((a->o->record || a->o->fwd.url) && (rc = wait_first(a)) < 0)
		return rc;
	return a->done ? 0 : open_sinks(a);
}

static void finish(struct app *a)
{
	uint64_t elapsed = now_monotonic() - a->start_ns;
	FILE *sum = a->o->stats_ns ? stdout : stderr;

	fflush(stdout);
	for (int i = 0; i < a->n; i++) {
		struct chan *c = &a->ch[i];

		report_loss(c, 0);
		if (c->stats)
			stats_summary(c->stats, sum, elapsed);
		stats_free(c->stats);
		mdbus_sub_close(c->sub);
		mdbus_rec_close(c->file);
	}
	if (a->rec)
		record_done(a);
	if (a->fwd)
		fwd_close(a->fwd);
	text_form_close(&a->text);
	if (a->nfwd && nfwd_close(a->nfwd) < 0)
		a->status = EXIT_FAILURE;
	if (fflush(stdout) && errno != EPIPE && !a->status) {
		fprintf(stderr, "mdsub: standard output: %s\n", strerror(errno));
		a->status = EXIT_FAILURE;
	}
}

int run_read(const struct mdsub_opts *o)
{
	struct app a;

	memset(&a, 0, sizeof a);
	a.o = o;
	a.n = o->file ? 1 : o->nchannels;
	a.ch = calloc((size_t)a.n, sizeof *a.ch);
	if (!a.ch) {
		fputs("mdsub: out of memory\n", stderr);
		return EXIT_FAILURE;
	}
	setup_signals();
	a.start_ns = now_monotonic();
	a.end_ns = o->duration_ns ? a.start_ns + o->duration_ns : 0;
	a.next_stats_ns = a.start_ns + o->stats_ns;
	a.next_pub_ns = a.start_ns + CHECK_PUB_NS;
	a.multi_wait_ns = MULTI_WAIT_MIN_NS;
	if (open_all(&a) == 0)
		loop(&a);
	else if (!a.status)
		a.status = EXIT_FAILURE;
	finish(&a);
	free(a.ch);
	free(a.buf);
	return a.status;
}
