/*
 * lines_parse.h - turns one text line into a bus message, for the `lines`
 * source: CSV with the columns of mdpub.conf(5), or JSON shaped like
 * Binance's public bookTicker and trade stream messages (parsed with
 * json-c). Pure functions, no I/O.
 */
#ifndef MDPUB_LINES_PARSE_H
#define MDPUB_LINES_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "mdbus_msg.h"

struct line_msg {
	uint16_t type;  /* MDBUS_MSG_QUOTE or MDBUS_MSG_TRADE */
	size_t size;    /* bytes of the struct in u */
	union {
		struct mdbus_quote quote;
		struct mdbus_trade trade;
	} u;
};

/* Results of the parsers. */
#define LINE_OK 0     /* *out holds a message */
#define LINE_SKIP 1   /* blank or comment line: nothing to publish */
#define LINE_BAD (-1) /* malformed: *why says why (a static text) */

/* A CSV line (no newline; modified in place). recv_ns goes in recv_ns. */
int lines_parse_csv(char *line, uint64_t recv_ns, struct line_msg *out,
		    const char **why);

/* A JSON line of `len` bytes, parsed with tok (reset here). */
int lines_parse_json(json_tokener *tok, const char *line, size_t len,
		     uint64_t recv_ns, struct line_msg *out, const char **why);

/* A decimal number ("-12.5") as fixed point with 8 decimals. 0 or -1. */
int lines_parse_fixed(const char *text, int64_t *out);

#endif /* MDPUB_LINES_PARSE_H */
