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

#define LINE_PAYLOAD_MAX 2048 /* a line of 4096 bytes holds no more */

struct line_msg {
	uint16_t type;  /* Q/T lines and JSON: MDBUS_MSG_QUOTE or _TRADE;
			   mdsub's CSV: any */
	size_t size;    /* bytes of the message in u */
	union {
		struct mdbus_quote quote;
		struct mdbus_trade trade;
		struct mdbus_book_level level;
		struct mdbus_status status;
		struct mdbus_heartbeat heartbeat;
		unsigned char bytes[LINE_PAYLOAD_MAX];
	} u;
};

/* Results of the parsers. */
#define LINE_OK 0     /* *out holds a message */
#define LINE_SKIP 1   /* blank or comment line: nothing to publish */
#define LINE_BAD (-1) /* malformed: *why says why (a static text) */

/* A CSV line (no newline; modified in place): a Q or T line (recv_ns
 * goes in recv_ns), or a line of `mdsub -o csv` (lines_parse_mdsub()). */
int lines_parse_csv(char *line, uint64_t recv_ns, struct line_msg *out,
		    const char **why);

/* A JSON line of `len` bytes, parsed with tok (reset here). */
int lines_parse_json(json_tokener *tok, const char *line, size_t len,
		     uint64_t recv_ns, struct line_msg *out, const char **why);

/* 1 when line is mdsub's CSV header or has its 28 fields. */
int lines_mdsub_row(const char *line);

/* A line of `mdsub -o csv` (lines_mdsub.c): its header is LINE_SKIP, a row
 * the message it shows (type, fields, payload bytes of raw, unknown and
 * malformed ones; not channel, seq, ts_ns, lost). Modified in place. */
int lines_parse_mdsub(char *line, struct line_msg *out, const char **why);

/* A decimal number ("-12.5") as fixed point with 8 decimals, from
 * -92233720368.54775808 to 92233720368.54775807 (int64). 0 or -1. */
int lines_parse_fixed(const char *text, int64_t *out);

#endif /* MDPUB_LINES_PARSE_H */
