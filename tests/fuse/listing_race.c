/*
 * listing_race.c - for test_listing.sh: two listings of one directory
 * through the kernel's directory cache, a file created between them.
 * A reads its first batch (one getdents64), a file is created, B reads
 * the whole directory, then A reads the rest. Prints A's names, one per
 * line; exits 2 on a failed system call.
 *
 * usage: listing_race DIR NEWNAME
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One getdents64 of at most 4 KiB (one FUSE READDIR); prints the names
 * when @p print. @return bytes read, 0 at the end, -1 on error. */
static long batch(int fd, int print)
{
	char buf[4096];
	long n = (long)getdents64(fd, buf, sizeof(buf));

	for (long off = 0; n > 0 && off < n;) {
		struct dirent64 *d = (struct dirent64 *)(buf + off);

		if (print && strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			printf("%s\n", d->d_name);
		off += d->d_reclen;
	}
	return n;
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "listing_race: %s %s: %m\n", what, path);
	return 2;
}

int main(int argc, char **argv)
{
	int a, b, fd;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: listing_race DIR NEWNAME\n");
		return 2;
	}
	a = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (a < 0 || batch(a, 1) <= 0)
		return fail("first batch of", argv[1]);
	if (chdir(argv[1]) || (fd = creat(argv[2], 0644)) < 0 || close(fd))
		return fail("create", argv[2]);
	b = open(".", O_RDONLY | O_DIRECTORY);
	if (b < 0)
		return fail("open", argv[1]);
	while ((n = batch(b, 0)) > 0)
		;
	if (n < 0)
		return fail("second listing of", argv[1]);
	while ((n = batch(a, 1)) > 0)
		;
	if (n < 0)
		return fail("rest of the first listing of", argv[1]);
	close(a);
	close(b);
	return 0;
}
