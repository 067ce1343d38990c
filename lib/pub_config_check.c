/*
 * pub_config_check.c - what mdbus_pub_open() requires of a publisher's
 * configuration before it touches any segment: a valid channel name, a
 * geometry in range (doc/protocol.md, "Segment layout"), a file mode that
 * lets no one else write, a group that exists and a segment directory
 * that strangers cannot empty nor swap (seg_check_pub_dir()). One place, so that a program can check a
 * configuration (mdpub -t, a reload) exactly as the open will.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"
#include "segment.h"

int pub_config_gid(const char *group, gid_t *gid)
{
	struct group *gr;
	char *end;
	long id;

	*gid = (gid_t)-1;
	if (!group || !*group)
		return 0;
	errno = 0;
	id = strtol(group, &end, 10);
	if (!*end && id >= 0) {
		/* (gid_t)-1 is fchown()'s "no change": a number past it
		 * would be cut to another group's id, or to none */
		if (errno == ERANGE || (unsigned long)id >= (gid_t)-1)
			return err_set(-EINVAL, "group id '%s' out of 0..%u",
				       group, (unsigned)(gid_t)-1 - 1);
		*gid = (gid_t)id;
		return 0;
	}
	gr = getgrnam(group);
	if (!gr)
		return err_set(-EINVAL, "unknown group '%s'", group);
	*gid = gr->gr_gid;
	return 0;
}

MDBUS_EXPORT int mdbus_pub_config_check(const char *channel,
					const struct mdbus_pub_config *cfg)
{
	struct mdbus_pub_config defaults;
	struct seg_geom g;
	gid_t gid;
	int r;

	err_clear();
	if (!cfg) {
		mdbus_pub_config_init(&defaults);
		cfg = &defaults;
	}
	r = seg_check_channel(channel);
	if (r == 0)
		r = seg_geom_make(&g, cfg->slot_size, cfg->slots_per_block,
				  cfg->block_count, cfg->max_consumers, cfg->mode);
	if (r < 0)
		return r;
	if (cfg->file_mode & S_IWOTH)
		return err_set(-EINVAL,
			       "file mode %o is writable by others; readers refuse such segments",
			       (unsigned)cfg->file_mode);
	r = pub_config_gid(cfg->group, &gid);
	if (r == 0)
		r = pub_archive_check(cfg->archive_dir);
	if (r < 0)
		return r;
	r = seg_check_dir(seg_dir(cfg->dir));
	if (r == 0)
		r = seg_check_pub_dir(seg_dir(cfg->dir));
	return r;
}
