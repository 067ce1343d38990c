/*
 * conf_syntax.h - the line syntax of mdpub.conf (mdpub.conf(5)): [section]
 * headers and key = value (or key: value) lines, comments from ; or # at
 * the start of a line and from " ;" inside one, a UTF-8 byte order mark
 * ignored. Every line up to CONF_LINE_MAX bytes is taken whole; a longer
 * one is an error, never cut or split.
 */
#ifndef MDPUB_CONF_SYNTAX_H
#define MDPUB_CONF_SYNTAX_H

#include <stdio.h>

#define CONF_LINE_MAX 8192 /* bytes of a line, its newline included */

struct conf_syntax_ops {
	/* [name] on `line` (name trimmed of blanks) */
	void (*section)(void *user, int line, const char *name);
	/* key = value on `line` (both trimmed, value without its comment) */
	void (*key)(void *user, int line, const char *key, const char *value);
	/* a line that is none of these (reason in text) */
	void (*error)(void *user, int line, const char *text);
};

/* Reads fp to its end, calling ops for each line that is not blank or a
 * comment. Returns the number of lines read, or -ENOMEM, or -EIO on a
 * read error. */
int conf_syntax_read(FILE *fp, const struct conf_syntax_ops *ops, void *user);

#endif /* MDPUB_CONF_SYNTAX_H */
