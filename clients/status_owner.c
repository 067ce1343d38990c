/*
 * status_owner.c - who owns a channel's segment, and whether that is the
 * user of the live publisher its header names, for --list, --status and
 * --watch (mdsub(1), "STATUS"): another user can put a file under a
 * channel's name that names root's mdpub as its publisher.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"

/* A passwd entry's buffer grows to this at most: an entry larger than
 * the buffer is ERANGE, not "no such user" (a long gecos or home, as a
 * directory service may give). */
#define PW_BUF_MAX (1u << 20)

int user_text(uid_t uid, char *out, size_t n)
{
	struct passwd pw, *found = NULL;
	size_t len = 1024;
	char *buf = NULL, *b;
	int r = ERANGE, named;

	while (r == ERANGE && len <= PW_BUF_MAX && (b = realloc(buf, len))) {
		buf = b;
		r = getpwuid_r(uid, &pw, buf, len, &found);
		len *= 2;
	}
	named = r == 0 && found && *pw.pw_name;
	if (named)
		snprintf(out, n, "%s", pw.pw_name);
	else
		snprintf(out, n, "%u", (unsigned)uid);
	free(buf);
	return named;
}

/* The effective uid on the "Uid:" line of /proc/PID/status: 0, or -1
 * when it cannot be read (gone, hidden by hidepid, no /proc). The line,
 * not the owner of /proc/PID, which is root's for a process that is not
 * dumpable. */
static int proc_euid(pid_t pid, uid_t *uid)
{
	char path[64], buf[4096], *line;
	unsigned real, eff;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	line = strstr(buf, "\nUid:");
	if (!line || sscanf(line + 5, "%u %u", &real, &eff) != 2)
		return -1;
	*uid = (uid_t)eff;
	return 0;
}

void sample_pub_user(struct sample *s)
{
	s->pub_uid_known = 0;
	if (s->st.pub.state != MDBUS_PUB_ACTIVE) /* a dead pid may be reused */
		return;
	s->pub_uid_known = proc_euid(s->st.pub.pid, &s->pub_uid) == 0;
}

int owner_differs(const struct sample *s)
{
	if (s->st.pub.state != MDBUS_PUB_ACTIVE)
		return 0;
	if (!s->pub_uid_known)
		return -1;
	return s->pub_uid != s->st.owner;
}

void owner_text(const struct sample *s, char *out, size_t n)
{
	char owner[64], pub[64];

	user_text(s->st.owner, owner, sizeof owner);
	switch (owner_differs(s)) {
	case 0:
		snprintf(out, n, "%s", owner);
		return;
	case -1:
		snprintf(out, n, "%s, the publisher's user unknown", owner);
		return;
	}
	user_text(s->pub_uid, pub, sizeof pub);
	snprintf(out, n, "%s, not the publisher's user %s", owner, pub);
}
