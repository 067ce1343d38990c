/*
 * conf_syntax.c - see conf_syntax.h.
 *
 * The lines are read with getline(), so their length is known and none is
 * ever cut: inih, which read them before, handed its handler the first 199
 * bytes of a line and then its tail as a line of its own, and cut section
 * names at 49 bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf_syntax.h"

static const char bom[] = "\xEF\xBB\xBF";

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (blank(*s))
		s++;
	while (end > s && blank(end[-1]))
		*--end = '\0';
	return s;
}

/* Cuts a comment started by ';' after a blank. */
static void cut_comment(char *s)
{
	for (char *c = strchr(s, ';'); c; c = strchr(c + 1, ';'))
		if (c > s && blank(c[-1])) {
			*c = '\0';
			return;
		}
}

static void section_line(char *s, int line, const struct conf_syntax_ops *ops,
			 void *user)
{
	char *end;

	cut_comment(s);
	s = trim(s);
	end = s + strlen(s) - 1;
	if (*end != ']') {
		ops->error(user, line,
			   "syntax error: section header without ']'");
		return;
	}
	*end = '\0';
	ops->section(user, line, trim(s + 1));
}

static void key_line(char *s, int line, const struct conf_syntax_ops *ops,
		     void *user)
{
	char *sep = s + strcspn(s, "=:");

	if (!*sep) {
		ops->error(user, line,
			   "syntax error: neither [section] nor key = value");
		return;
	}
	*sep = '\0';
	s = trim(s);
	if (!*s) {
		ops->error(user, line, "key = value without a key");
		return;
	}
	cut_comment(sep + 1);
	ops->key(user, line, s, trim(sep + 1));
}

static void one_line(char *s, int line, const struct conf_syntax_ops *ops,
		     void *user)
{
	if (line == 1 && strncmp(s, bom, 3) == 0)
		s += 3;
	s = trim(s);
	if (!*s || *s == ';' || *s == '#')
		return;
	if (*s == '[')
		section_line(s, line, ops, user);
	else
		key_line(s, line, ops, user);
}

/* A line that cannot be taken: too long, or with a NUL byte (a C string
 * would end there and leave its tail unread). */
static int unreadable(const char *buf, size_t len, int line,
		      const struct conf_syntax_ops *ops, void *user)
{
	char why[64];

	if (len > CONF_LINE_MAX) {
		snprintf(why, sizeof(why), "line longer than %d bytes",
			 CONF_LINE_MAX);
		ops->error(user, line, why);
		return 1;
	}
	if (memchr(buf, '\0', len)) {
		ops->error(user, line, "NUL byte in the line");
		return 1;
	}
	return 0;
}

int conf_syntax_read(FILE *fp, const struct conf_syntax_ops *ops, void *user)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int line = 0;

	while ((len = getline(&buf, &cap, fp)) >= 0) {
		line++;
		if (!unreadable(buf, (size_t)len, line, ops, user))
			one_line(buf, line, ops, user);
	}
	free(buf);
	if (ferror(fp))
		return -EIO;
	return feof(fp) ? line : -ENOMEM;
}
