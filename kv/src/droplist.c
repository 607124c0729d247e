/*
 * droplist.c - drop lists (droplist.h): written by merge before it removes
 * its inputs, completed at open if a crash interrupted the removal; and
 * the files they leave only kept for copies (droplist_kept(),
 * cask_kept_files()), which verify, backup and the stats leave out.
 */
#include "droplist.h"

#include "alloc.h"
#include "codec.h"
#include "crc32c.h"
#include "db.h"
#include "io.h"
#include "storedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DROP_MAGIC "CASKDRP1"
#define DROP_HDR   16u

int droplist_write(int dirfd, uint32_t id, const uint32_t *out, size_t nout,
		   const uint32_t *in, size_t nin)
{
	size_t len = DROP_HDR + 4 * (nout + nin) + 4;
	char name[SEG_NAME_MAX];
	uint8_t *buf = mem_alloc(len), *p;
	int rc;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, DROP_MAGIC, 8);
	put_le32(buf + 8, (uint32_t)nout);
	put_le32(buf + 12, (uint32_t)nin);
	p = buf + DROP_HDR;
	for (size_t i = 0; i < nout; i++, p += 4)
		put_le32(p, out[i]);
	for (size_t i = 0; i < nin; i++, p += 4)
		put_le32(p, in[i]);
	put_le32(p, crc32c(0, buf, len - 4));
	segment_name(name, id, "drop");
	rc = io_write_file(dirfd, name, buf, len);
	if (!rc)
		rc = io_fsync(dirfd);
	mem_free(buf);
	return rc;
}

static bool segment_exists(int dirfd, uint32_t id)
{
	char name[SEG_NAME_MAX];

	segment_name(name, id, "cask");
	return faccessat(dirfd, name, F_OK, 0) == 0;
}

static int parse(int dirfd, const uint8_t *buf, size_t len, uint32_t **in,
		 size_t *nin)
{
	uint32_t nout, n;

	if (len < DROP_HDR + 4 || memcmp(buf, DROP_MAGIC, 8) ||
	    crc32c(0, buf, len - 4) != get_le32(buf + len - 4))
		return CASK_ECORRUPT;
	nout = get_le32(buf + 8);
	n = get_le32(buf + 12);
	if ((uint64_t)DROP_HDR + 4 * ((uint64_t)nout + n) + 4 != len)
		return CASK_ECORRUPT;
	for (uint32_t i = 0; i < nout; i++)
		if (!segment_exists(dirfd, get_le32(buf + DROP_HDR + 4 * i)))
			return -ENOENT;
	*in = mem_alloc((n ? n : 1) * sizeof(**in));
	if (!*in)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		(*in)[i] = get_le32(buf + DROP_HDR + 4 * (nout + i));
	*nin = n;
	return 0;
}

int droplist_read(int dirfd, uint32_t id, uint32_t **in, size_t *nin)
{
	char name[SEG_NAME_MAX];
	struct stat st;
	uint8_t *buf = NULL;
	int fd, rc;

	*in = NULL;
	segment_name(name, id, "drop");
	fd = io_open(dirfd, name, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	rc = fstat(fd, &st) ? -errno : 0;
	if (!rc && (st.st_size < DROP_HDR + 4 || st.st_size > (64 << 20)))
		rc = CASK_ECORRUPT;
	if (!rc) {
		buf = mem_alloc((size_t)st.st_size);
		rc = buf ? io_pread_all(fd, buf, (size_t)st.st_size, 0)
			 : -ENOMEM;
	}
	io_close(fd);
	if (!rc)
		rc = parse(dirfd, buf, (size_t)st.st_size, in, nin);
	mem_free(buf);
	return rc;
}

int droplist_finish(int dirfd, uint32_t id)
{
	char name[SEG_NAME_MAX];
	uint32_t *in;
	size_t nin;
	int rc = droplist_read(dirfd, id, &in, &nin);

	if (rc)
		return rc;
	for (size_t i = 0; i < nin; i++) {
		segment_name(name, in[i], "hint");
		io_unlinkat(dirfd, name);
		segment_name(name, in[i], "cask");
		io_unlinkat(dirfd, name);
	}
	mem_free(in);
	/* Only once the inputs are surely gone may the list go. */
	rc = io_fsync(dirfd);
	segment_name(name, id, "drop");
	if (!rc)
		rc = io_unlinkat(dirfd, name);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int push(uint32_t **v, size_t *n, uint32_t id)
{
	uint32_t *nv = mem_realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = id;
	*v = nv;
	return 0;
}

/* Add the inputs of drop list @p id still present to @p k, and the list. */
static int add_drop(int dirfd, uint32_t id, struct kept_files *k)
{
	uint32_t *in;
	size_t nin;
	int rc = droplist_read(dirfd, id, &in, &nin);

	if (rc == -ENOENT || rc == CASK_ECORRUPT)
		return 0; /* not complete: its inputs are the store's */
	for (size_t i = 0; !rc && i < nin; i++)
		if (segment_exists(dirfd, in[i]))
			rc = push(&k->inputs, &k->ninputs, in[i]);
	mem_free(in);
	return rc ? rc : push(&k->drops, &k->ndrops, id);
}

int droplist_kept(int dirfd, struct kept_files *k)
{
	struct dirent *e;
	DIR *d;
	int rc = storedir_list(dirfd, &d);

	*k = (struct kept_files){0};
	if (rc)
		return rc;
	while (!rc && (e = readdir(d))) {
		const char *ext;
		uint32_t id;

		if (segment_parse_name(e->d_name, &id, &ext) &&
		    !strcmp(ext, "drop"))
			rc = add_drop(dirfd, id, k);
	}
	closedir(d);
	if (rc)
		kept_files_free(k);
	else if (k->ninputs)
		qsort(k->inputs, k->ninputs, sizeof(uint32_t), cmp_u32);
	return rc;
}

void kept_files_free(struct kept_files *k)
{
	mem_free(k->inputs);
	mem_free(k->drops);
	*k = (struct kept_files){0};
}

bool kept_has(const struct kept_files *k, uint32_t id)
{
	return k->ninputs && bsearch(&id, k->inputs, k->ninputs,
				     sizeof(uint32_t), cmp_u32) != NULL;
}

/* Call @p fn with file @p name if it exists. */
static int emit(int dirfd, const char *name,
		int (*fn)(void *arg, const char *name, uint64_t size),
		void *arg)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	return fn(arg, name, (uint64_t)st.st_size);
}

int cask_kept_files(const char *dir,
		    int (*fn)(void *arg, const char *name, uint64_t size),
		    void *arg)
{
	static const char *const exts[] = {"cask", "hint"};
	struct kept_files k;
	char name[SEG_NAME_MAX];
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (dirfd < 0)
		return -errno;
	rc = droplist_kept(dirfd, &k);
	for (size_t i = 0; !rc && i < k.ninputs; i++) {
		for (size_t j = 0; !rc && j < 2; j++) {
			segment_name(name, k.inputs[i], exts[j]);
			rc = emit(dirfd, name, fn, arg);
		}
	}
	for (size_t i = 0; !rc && i < k.ndrops; i++) {
		segment_name(name, k.drops[i], "drop");
		rc = emit(dirfd, name, fn, arg);
	}
	kept_files_free(&k);
	close(dirfd);
	return rc;
}
