/*
 * cli.h - what the files of the cask command-line tool share: exit codes,
 * the subcommand entry points, and small helpers (opening a store with a
 * clear message, reading input, writing output).
 */
#ifndef CASK_CLI_H
#define CASK_CLI_H

#include <cask.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes, the same for every subcommand (documented in docs/cask.1). */
#define EXIT_OK	      0
#define EXIT_NOTFOUND 1 /* key or file not found, or verification failed */
#define EXIT_USAGE    2 /* bad command line */
#define EXIT_STORE    3 /* store error: missing, locked, corrupt, I/O */
#define EXIT_NOMOUNT  4 /* cask fsck: the filesystem does not mount */

extern const char *progname;

/* Subcommands: argv[0] is the subcommand's name. Return an exit code. */
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_kept(int argc, char **argv);
int cmd_fs(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
/* cask fs put (cmd_fsput.c): argv[0] is "put". */
int fs_put(int argc, char **argv);

struct fs_fsck_result;
/*
 * Run fs_fsck() on @p dir, one line per problem to @p out (each starting
 * with @p prefix), messages about the run as @p cmd. With @p repair,
 * refuses a store that is mounted or open elsewhere.
 * @return EXIT_OK when the check ran (@p r says what it found), or
 *   EXIT_STORE (printed).
 */
int fsck_run(const char *cmd, const char *dir, bool repair, FILE *out,
	     const char *prefix, struct fs_fsck_result *r);

/* Print "cask CMD: message" to stderr. */
void warnx_(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "cask CMD: DIR: key 'KEY': PROBLEM" to stderr, KEY in the display
 * escape (escape.h). */
void warn_key(const char *cmd, const char *dir, const void *key, size_t klen,
	      const char *problem);

/* The log callback of the stores the tool opens (libcask's and fs/'s):
 * "cask CMD: MSG" on stderr, CMD being @p arg (a string that outlives the
 * store; NULL: "cask: MSG"). Each line names its directory or file
 * itself. */
void store_log(void *arg, const char *msg);

/* Print @p usage to stdout (--help) and return EXIT_OK, or to stderr with a
 * hint and return EXIT_USAGE. */
int usage_out(const char *usage, bool help);

/* True if argv holds -h or --help. */
bool want_help(int argc, char **argv);

/*
 * Whether @p dir holds a store: a directory with at least one segment file
 * (NNNNNNNNNN.cask). Reads the directory only. Prints a message naming
 * @p dir when it is missing or holds no store (for @p writing, one that
 * mentions --create).
 * @return 0 or EXIT_STORE.
 */
int check_store(const char *cmd, const char *dir, bool writing);

/*
 * Open the store in @p dir: read-only (no lock, nothing written, works
 * beside a caskfs daemon) or for writing. Without @p create, @p dir must
 * hold a store (check_store()); with it (and not @p read_only) a missing
 * directory or one without a store is made one. Prints a message naming the
 * store on failure, once: a store a caskfs daemon has mounted is refused
 * before the open (refuse_mounted()); for a store locked by another
 * process the store's log line says it, naming the process.
 * @return 0 or an exit code (EXIT_STORE).
 */
int open_store(const char *cmd, const char *dir, bool read_only, bool create,
	       struct cask_db **db);

/* For a command that writes to the store in @p dir: when a caskfs daemon
 * has it mounted, say so, naming the mount point, and how to unmount it.
 * @return EXIT_OK (not mounted) or EXIT_STORE (said). */
int refuse_mounted(const char *cmd, const char *dir);

/* Close @p db (the store in @p dir), printing any error. @return @p rc,
 * or EXIT_STORE if it was EXIT_OK and the close failed. */
int close_store(const char *cmd, const char *dir, struct cask_db *db, int rc);

/* A path grown and cut back while a tree is walked (cask fs get, put). */
struct path_buf {
	char *s; /* NUL-terminated; malloc()ed, the owner frees it */
	size_t len, cap;
};

/* Make @p p its first @p len bytes + "/" + @p name (no "/" added after a
 * "/"). @return 0, -ENOMEM. */
int path_push(struct path_buf *p, size_t len, const char *name);

/* Open the directory @p path is in (*@p dir, the caller closes it) and
 * point *@p name at its last component ("." for "/"); trailing slashes are
 * cut. @p path is changed: on failure it names the directory that could
 * not be opened. @return 0 or -errno. */
int open_parent(char *path, int *dir, const char **name);

/* Read all of @p f into a malloc()ed buffer. @return 0 or -errno. */
int read_all(FILE *f, void **buf, size_t *len);

/* Write @p len bytes to stdout. @return 0 or -errno (EPIPE included). */
int write_out(const void *buf, size_t len);

/* Parse a decimal count. @return false if @p s is not one. */
bool parse_u64(const char *s, uint64_t *v);

/* "12.3 MiB" into @p buf. */
const char *human_bytes(uint64_t n, char *buf, size_t size);

#endif
