/*
 * error.c - error codes and their texts, and the per-thread error detail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static __thread char last_error[512];

int err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return code;
}

void err_clear(void)
{
	last_error[0] = '\0';
}

MDBUS_EXPORT const char *mdbus_last_error(void)
{
	return last_error;
}

static const char *lib_text(int err)
{
	switch (err) {
	case MDBUS_EBADMAGIC: return "not an mdbus segment (bad magic)";
	case MDBUS_EVERSION: return "incompatible segment layout version";
	case MDBUS_ECORRUPT: return "fails validation (a corrupt segment, consumer table or recording)";
	case MDBUS_ENOTREADY: return "segment is still being initialised";
	case MDBUS_EOWNED: return "channel is owned by a live publisher";
	case MDBUS_EGEOMETRY: return "existing segment has another geometry";
	case MDBUS_EFULL: return "consumer table is full";
	case MDBUS_EBACKPRESSURE: return "back-pressure: slowest reader is a full ring behind";
	case MDBUS_EEVICTED: return "consumer entry taken away (evicted, or reclaimed as dead)";
	case MDBUS_EREPLACED: return "segment was replaced; reopen";
	case MDBUS_ETOOBIG: return "message larger than the slot payload";
	case MDBUS_ENAME: return "invalid channel or consumer name";
	case MDBUS_ENOSPACE: return "not enough space in the segment directory";
	case MDBUS_ECLAIMED: return "a claimed slot is open; commit or abort it";
	case MDBUS_ENOCLAIM: return "no claimed slot to commit or abort";
	case MDBUS_ETRUNCATED: return "file ends inside a record (cut short)";
	case MDBUS_ENODIR: return "segment directory does not exist";
	case MDBUS_ETABLE: return "consumer table missing or spoiled (consumers unknown)";
	default: return NULL;
	}
}

MDBUS_EXPORT const char *mdbus_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "success";
	s = lib_text(err);
	if (s)
		return s;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown mdbus error";
}
