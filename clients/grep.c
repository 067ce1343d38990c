/*
 * grep.c - --grep and --exclude: POSIX extended regular expressions
 * matched against the text form of each message (the line `-o text`
 * prints for it, without its newline). A message passes when it matches
 * one --grep pattern or there is none, and matches no --exclude pattern.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mdsub.h"

int grep_add(struct grep *g, int exclude, const char *pattern, char *err,
	     size_t errlen)
{
	regex_t *set = exclude ? g->exclude : g->include;
	int *n = exclude ? &g->nexclude : &g->ninclude;
	int rc;

	if (*n == MDSUB_MAX_PATTERNS) {
		snprintf(err, errlen, "more than %d --%s patterns",
			 MDSUB_MAX_PATTERNS, exclude ? "exclude" : "grep");
		return -EINVAL;
	}
	rc = regcomp(&set[*n], pattern, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &set[*n], err, errlen);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

void grep_free(struct grep *g)
{
	for (int i = 0; i < g->ninclude; i++)
		regfree(&g->include[i]);
	for (int i = 0; i < g->nexclude; i++)
		regfree(&g->exclude[i]);
	g->ninclude = g->nexclude = 0;
}

void text_form_close(struct text_form *t)
{
	if (t->mem)
		fclose(t->mem);
	t->mem = NULL;
}

int grep_active(const struct grep *g)
{
	return g->ninclude || g->nexclude;
}

static int any_match(const regex_t *set, int n, const char *text)
{
	for (int i = 0; i < n; i++)
		if (regexec(&set[i], text, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

int text_form(struct text_form *t, int chan_width, const struct delivery *d)
{
	long len;

	if (!t->mem) {
		t->mem = fmemopen(t->line, sizeof t->line, "w");
		if (!t->mem)
			return -errno;
		setvbuf(t->mem, NULL, _IONBF, 0);
	}
	rewind(t->mem);
	print_msg(t->mem, OUT_TEXT, chan_width, d);
	len = ftell(t->mem);
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof t->line)
		len = sizeof t->line - 1; /* never: a line is < 1 KiB */
	if (len > 0 && t->line[len - 1] == '\n')
		len--;
	t->line[len] = '\0';
	return 0;
}

int grep_wanted(const struct grep *g, struct text_form *t, int chan_width,
		const struct delivery *d)
{
	int rc;

	if (!grep_active(g))
		return 1;
	rc = text_form(t, chan_width, d);
	if (rc < 0)
		return rc;
	if (g->ninclude && !any_match(g->include, g->ninclude, t->line))
		return 0;
	return !any_match(g->exclude, g->nexclude, t->line);
}
