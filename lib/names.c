/*
 * names.c - the library's version and the names of its enumerations.
 */
#include "internal.h"

MDBUS_EXPORT const char *mdbus_version(void)
{
	return MDBUS_VERSION;
}

MDBUS_EXPORT const char *mdbus_mode_name(enum mdbus_mode mode)
{
	switch (mode) {
	case MDBUS_MODE_OVERWRITE: return "overwrite";
	case MDBUS_MODE_LOSSLESS: return "lossless";
	}
	return "?";
}

MDBUS_EXPORT const char *mdbus_pub_state_name(enum mdbus_pub_state state)
{
	switch (state) {
	case MDBUS_PUB_NONE: return "none";
	case MDBUS_PUB_ACTIVE: return "active";
	case MDBUS_PUB_STOPPED: return "stopped";
	case MDBUS_PUB_REPLACED: return "replaced";
	case MDBUS_PUB_DEAD: return "dead";
	}
	return "?";
}
