/*
 * util.c - helpers shared by the cask subcommands: messages, opening and
 * closing a store with the tool's exit codes, reading input whole, writing
 * output without losing an error.
 */
#include "cli.h"
#include "escape.h"
#include "manifest.h"
#include "mountinfo.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void warnx_(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	progress_clear();
	fprintf(stderr, "%s %s: ", progname, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void warn_key(const char *cmd, const char *dir, const void *key, size_t klen,
	      const char *problem)
{
	progress_clear();
	fprintf(stderr, "%s %s: %s: key '", progname, cmd, dir);
	esc_display(stderr, key, klen);
	fprintf(stderr, "': %s\n", problem);
}

int usage_out(const char *usage, bool help)
{
	if (help) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	fputs(usage, stderr);
	return EXIT_USAGE;
}

bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

void store_log(void *arg, const char *msg)
{
	progress_clear();
	if (arg)
		fprintf(stderr, "%s %s: %s\n", progname, (const char *)arg,
			msg);
	else
		fprintf(stderr, "%s: %s\n", progname, msg);
}

int check_store(const char *cmd, const char *dir, bool writing)
{
	struct file_list l;
	bool found = false;
	int err = data_files(dir, &l);

	if (err) {
		warnx_(cmd, "no store at %s: %s", dir, strerror(-err));
		return EXIT_STORE;
	}
	for (size_t i = 0; i < l.n && !found; i++)
		found = cask_file_parse(l.v[i], NULL) == CASK_FILE_SEGMENT;
	file_list_free(&l);
	if (found)
		return EXIT_OK;
	warnx_(cmd,
	       "no store at %s: it holds no segment file (NNNNNNNNNN.cask)%s",
	       dir, writing ? "; put --create or load --create makes one" : "");
	return EXIT_STORE;
}

int refuse_mounted(const char *cmd, const char *dir)
{
	char mnt[4096];

	if (caskfs_mount_of(dir, NULL, mnt, sizeof(mnt)))
		return EXIT_OK;
	warnx_(cmd,
	       "%s is mounted by caskfs on %s: this command writes to the "
	       "store and needs it unmounted (fusermount3 -u %s)",
	       dir, mnt, mnt);
	return EXIT_STORE;
}

int open_store(const char *cmd, const char *dir, bool read_only, bool create,
	       struct cask_db **db)
{
	struct cask_options o;
	int rc;

	if (!create && check_store(cmd, dir, !read_only))
		return EXIT_STORE;
	if (!read_only && refuse_mounted(cmd, dir))
		return EXIT_STORE;
	cask_options_init(&o);
	o.read_only = read_only;
	o.create_if_missing = create && !read_only;
	/* The tool's writes are made durable once, by cask_close(). */
	o.sync_mode = CASK_SYNC_NEVER;
	o.merge_dead_ratio = 0; /* no background merge behind the user's back */
	o.log = store_log;
	o.log_arg = (void *)cmd;
	rc = cask_open(dir, &o, db);
	if (rc == 0)
		return EXIT_OK;
	if (rc == CASK_ELOCKED)
		; /* the store's log said it, naming the process */
	else if (rc == -ENOENT)
		warnx_(cmd, "no store at %s: %s", dir, cask_strerror(rc));
	else
		warnx_(cmd, "cannot open store %s: %s", dir, cask_strerror(rc));
	return EXIT_STORE;
}

int close_store(const char *cmd, const char *dir, struct cask_db *db, int rc)
{
	int err = cask_close(db);

	if (err) {
		warnx_(cmd, "%s: closing the store: %s", dir,
		       cask_strerror(err));
		if (rc == EXIT_OK)
			rc = EXIT_STORE;
	}
	return rc;
}

int path_push(struct path_buf *p, size_t len, const char *name)
{
	size_t n = strlen(name), sep = len > 0 && p->s[len - 1] != '/';

	if (len + sep + n + 1 > p->cap) {
		size_t cap = 2 * (len + sep + n + 1);
		char *s = realloc(p->s, cap);

		if (!s)
			return -ENOMEM;
		p->s = s;
		p->cap = cap;
	}
	if (sep)
		p->s[len++] = '/';
	memcpy(p->s + len, name, n + 1);
	p->len = len + n;
	return 0;
}

int open_parent(char *path, int *dir, const char **name)
{
	size_t n = strlen(path);
	char *slash;

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	if (!slash) {
		*name = path;
		*dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (slash[1] == '\0') {
		*name = "."; /* path is "/" */
		*dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		*name = slash + 1;
		*slash = '\0';
		*dir = open(slash == path ? "/" : path,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return *dir < 0 ? -errno : 0;
}

int read_all(FILE *f, void **buf, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *p = malloc(cap), *q;

	if (!p)
		return -ENOMEM;
	for (;;) {
		size_t got = fread(p + n, 1, cap - n, f);

		n += got;
		if (n < cap) {
			if (ferror(f)) {
				free(p);
				return -EIO;
			}
			break;
		}
		if (cap > SIZE_MAX / 2 || !(q = realloc(p, cap * 2))) {
			free(p);
			return -ENOMEM;
		}
		p = q;
		cap *= 2;
	}
	*buf = p;
	*len = n;
	return 0;
}

int write_out(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len)
		return -(errno ? errno : EIO);
	return 0;
}

bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

const char *human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}
