/*
 * error_text.h - the one text for a failed libmdbus call, as mdpub and
 * mdsub print it at their outer edge: the library's detail
 * (mdbus_last_error()) when it has one, since it names the cause, else the
 * code's text (mdbus_strerror()), never both, which would say the same
 * thing twice. Needs mdbus.h.
 */
#ifndef MDBUS_COMMON_ERROR_TEXT_H
#define MDBUS_COMMON_ERROR_TEXT_H

#include "mdbus.h"

/* Call right after the failing libmdbus call, in the same thread. */
static inline const char *mdbus_error_text(int rc)
{
	const char *detail = mdbus_last_error();

	return detail && *detail ? detail : mdbus_strerror(rc);
}

#endif /* MDBUS_COMMON_ERROR_TEXT_H */
