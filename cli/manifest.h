/*
 * manifest.h - SHA-256 manifests of a store's data files (the format of
 * sha256sum: "HEX  NAME" lines), shared by cask verify and cask backup.
 */
#ifndef CASK_CLI_MANIFEST_H
#define CASK_CLI_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** The data files of a store (NNNNNNNNNN.cask / .hint), sorted. */
struct file_list {
	char **v;
	size_t n;
};

/** List the data files in @p dir. @return 0 or -errno. */
int data_files(const char *dir, struct file_list *out);
void file_list_free(struct file_list *l);
/** Append a copy of @p name (unsorted until file_list_sort()).
 *  @return 0 or -ENOMEM. */
int file_list_add(struct file_list *l, const char *name);
void file_list_sort(struct file_list *l);
bool file_list_has(const struct file_list *l, const char *name);

/** SHA-256 of the file @p dir/@p name as 64 hex digits and a NUL.
 *  @return 0 or -errno. */
int sha256_file(const char *dir, const char *name, char hex[65]);

/** Print the manifest of @p dir to @p out. @return 0 or -errno (the
 *  file is named on stderr). */
int manifest_write(const char *dir, FILE *out);

#endif
