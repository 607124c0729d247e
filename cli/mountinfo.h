/*
 * mountinfo.h - find the caskfs mount of a data directory in
 * /proc/self/mounts (the daemon sets the mount's source to its data
 * directory), so that cask backup can open a backup window through the
 * daemon's user.caskfs.backup xattr.
 */
#ifndef CASK_CLI_MOUNTINFO_H
#define CASK_CLI_MOUNTINFO_H

#include <stddef.h>
#include <stdio.h>

/** Undo the octal escapes of a /proc/mounts field (\040, \011, \012,
 *  \134) in place. */
void mount_unescape(char *s);

/**
 * Find a mount of type fuse.caskfs whose source is @p dir (compared after
 * realpath()) in @p mounts (a /proc/self/mounts-style stream; NULL reads
 * /proc/self/mounts). The mount point goes to @p mnt.
 * @return 0 found, -ENOENT none, or -errno.
 */
int caskfs_mount_of(const char *dir, FILE *mounts, char *mnt, size_t size);

#endif
