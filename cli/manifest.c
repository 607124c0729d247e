/*
 * manifest.c - data file lists and SHA-256 manifests (libcrypto EVP) of a
 * store directory, for cask verify --manifest and cask backup.
 */
#include "manifest.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A segment or a hint file: the store's data. */
static bool is_data_file(const char *n)
{
	return cask_file_parse(n, NULL) != CASK_FILE_OTHER;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int data_files(const char *dir, struct file_list *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int err = 0;

	*out = (struct file_list){0};
	if (!d)
		return -errno;
	while (!err && (e = readdir(d)))
		if (is_data_file(e->d_name))
			err = file_list_add(out, e->d_name);
	closedir(d);
	if (err) {
		file_list_free(out);
		return err;
	}
	file_list_sort(out);
	return 0;
}

int file_list_add(struct file_list *l, const char *name)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n] = strdup(name);
	return l->v[l->n] ? (l->n++, 0) : -ENOMEM;
}

void file_list_sort(struct file_list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(char *), cmp_str);
}

void file_list_free(struct file_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct file_list){0};
}

bool file_list_has(const struct file_list *l, const char *name)
{
	return l->n &&
	       bsearch(&name, l->v, l->n, sizeof(char *), cmp_str) != NULL;
}

int sha256_file(const char *dir, const char *name, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	char path[4096];
	ssize_t n;
	int fd, err = 0;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(1 << 20);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		err = -ENOMEM;
	while (!err && (n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				err = -errno;
			continue;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			err = -EIO;
	}
	if (!err && !EVP_DigestFinal_ex(ctx, md, &mdlen))
		err = -EIO;
	for (unsigned i = 0; !err && i < mdlen && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	return err;
}

int manifest_write(const char *dir, FILE *out)
{
	struct file_list l;
	char hex[65];
	int err = data_files(dir, &l);

	if (err) {
		fprintf(stderr, "%s: %s: %s\n", progname, dir, strerror(-err));
		return err;
	}
	for (size_t i = 0; !err && i < l.n; i++) {
		err = sha256_file(dir, l.v[i], hex);
		if (err)
			fprintf(stderr, "%s: %s/%s: %s\n", progname, dir,
				l.v[i], strerror(-err));
		else
			fprintf(out, "%s  %s\n", hex, l.v[i]);
	}
	file_list_free(&l);
	return err;
}
