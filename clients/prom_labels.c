/*
 * prom_labels.c - the label values of one family's series, none twice
 * (status_prom.c): a name, or "#N" after it when an earlier series has
 * that label, N the series' place or the first after it that no earlier
 * series has (a forged name may end in "#N" already). Hash sets of the
 * labels given and of the names renamed, each name's next N kept, so
 * that a table of 4096 consumers of one name and pid, forged to make
 * every probe long, costs O(n) lookups: a scan of the earlier labels for
 * each probe cost 2.5 minutes of CPU for one --status -o prometheus
 * (attack run, 2026-12-06).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define NAME_CUT 40 /* bytes of a name kept in its label */

struct label_key {
	const char *text; /* NULL: an empty place */
	int32_t pid;
	size_t next;      /* of a renamed name: the N to try first */
};

struct prom_labels {
	char (*out)[PROM_LABEL_OUT]; /* the labels, one per series */
	char (*names)[PROM_LABEL_OUT]; /* renamed names, at their series */
	struct label_key *given, *renamed;
	size_t mask;
};

static size_t hash(const char *s, int32_t pid)
{
	uint64_t h = 14695981039346656037ULL ^ (uint32_t)pid;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The place of (text, pid) in set, or the empty place where it goes. */
static struct label_key *lookup(const struct prom_labels *l,
				struct label_key *set, const char *text,
				int32_t pid)
{
	size_t i = hash(text, pid) & l->mask;

	while (set[i].text && (set[i].pid != pid || strcmp(set[i].text, text)))
		i = (i + 1) & l->mask;
	return &set[i];
}

struct prom_labels *prom_labels_new(size_t n)
{
	struct prom_labels *l = calloc(1, sizeof(*l));
	size_t places = 2;

	if (!l)
		return NULL;
	if (n > SIZE_MAX / 4) {
		free(l);
		return NULL;
	}
	while (places < 2 * n) /* at most half full */
		places *= 2;
	l->mask = places - 1;
	l->out = calloc(n ? n : 1, sizeof(*l->out));
	l->names = calloc(n ? n : 1, sizeof(*l->names));
	l->given = calloc(places, sizeof(*l->given));
	l->renamed = calloc(places, sizeof(*l->renamed));
	if (l->out && l->names && l->given && l->renamed)
		return l;
	prom_labels_free(l);
	return NULL;
}

void prom_labels_free(struct prom_labels *l)
{
	if (!l)
		return;
	free(l->out);
	free(l->names);
	free(l->given);
	free(l->renamed);
	free(l);
}

const char *prom_label(const struct prom_labels *l, size_t i)
{
	return l->out[i];
}

const char *prom_label_add(struct prom_labels *l, size_t i, int32_t pid,
			   const char *v, size_t size)
{
	int len = (int)strnlen(v, size < NAME_CUT ? size : NAME_CUT);
	struct label_key *at, *name;
	size_t k;

	snprintf(l->out[i], PROM_LABEL_OUT, "%.*s", len, v);
	at = lookup(l, l->given, l->out[i], pid);
	if (at->text) {
		/* taken: v#N, from i or past the last N this name took (the
		 * labels between were taken, and stay taken) */
		memcpy(l->names[i], l->out[i], PROM_LABEL_OUT);
		name = lookup(l, l->renamed, l->names[i], pid);
		if (!name->text)
			*name = (struct label_key){ l->names[i], pid, i };
		for (k = name->next > i ? name->next : i;; k++) {
			snprintf(l->out[i], PROM_LABEL_OUT, "%.*s#%zu", len, v, k);
			at = lookup(l, l->given, l->out[i], pid);
			if (!at->text)
				break;
		}
		name->next = k + 1;
	}
	*at = (struct label_key){ l->out[i], pid, 0 };
	return l->out[i];
}
