/*
 * test_symbol_clash.c - an application that defines a function of the same
 * name as one of libcask's internals (here crc32c(), with another meaning)
 * still gets a libcask that checks its own bytes: the library's internal
 * symbols are invisible to the program it is linked into, from the static
 * archive as from the shared library. Built against each (link_*_static,
 * link_*_shared) with the public header only.
 *
 * The application's crc32c() counts its calls and returns a constant. If
 * libcask called it, its records would carry that constant and a flipped
 * byte would go unnoticed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cask.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned app_crc_calls;

/* The application's own crc32c, unrelated to libcask's. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	(void)buf;
	(void)len;
	app_crc_calls++;
	return crc ^ 0x5a5a5a5au;
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Flip one byte of the first copy of @p pat in a segment file of @p dir. */
static void flip_in_segment(const char *dir, const void *pat, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool flipped = false;

	assert_non_null(d);
	while (!flipped && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char path[4096], buf[65536];
		ssize_t got;
		int fd;

		if (len < 5 || strcmp(e->d_name + len - 5, ".cask"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		got = pread(fd, buf, sizeof(buf), 0);
		assert_true(got > 0);
		void *at = memmem(buf, (size_t)got, pat, n);
		if (at) {
			off_t off = (char *)at - buf + (off_t)n / 2;
			char c = (char)(buf[off] ^ 0x01);

			assert_int_equal(pwrite(fd, &c, 1, off), 1);
			flipped = true;
		}
		close(fd);
	}
	closedir(d);
	assert_true(flipped);
}

static void test_link_crc32c_of_the_application(void **state)
{
	const char *base = getenv("TEST_TMPDIR");
	char dir[4096], val[64], buf[64];
	struct cask_options o;
	struct cask_verify_result res;
	struct cask_db *db;
	size_t vlen;

	(void)state;
	assert_non_null(base);
	snprintf(dir, sizeof(dir), "%s/store", base);
	memset(val, 'v', sizeof(val));
	cask_options_init(&o);
	o.log = quiet;
	o.segment_size = 4096;

	/* The key in a sealed segment: damage there is not a torn tail. */
	assert_int_equal(cask_open(dir, &o, &db), 0);
	assert_int_equal(cask_put(db, "key", 3, val, sizeof(val)), 0);
	for (int i = 0; i < 8; i++) {
		char fill[1024] = {0};

		assert_int_equal(cask_put(db, "fill", 4, fill, sizeof(fill)),
				 0);
	}
	assert_int_equal(cask_close(db), 0);
	assert_int_equal(cask_verify(dir, NULL, &res), 0);
	assert_int_equal(res.puts, 9);

	flip_in_segment(dir, val, sizeof(val));
	assert_int_equal(cask_verify(dir, NULL, &res), CASK_ECORRUPT);
	assert_true(res.damaged >= 1); /* the record, and its hint entry */
	/* The open reads the sealed segment's hint file; the get finds the
	 * damage. */
	assert_int_equal(cask_open(dir, &o, &db), 0);
	assert_int_equal(cask_get(db, "key", 3, buf, sizeof(buf), &vlen),
			 CASK_ECORRUPT);
	assert_int_equal(cask_close(db), 0);

	/* The application's calls still reach its own function. */
	assert_int_equal(app_crc_calls, 0);
	assert_int_equal(crc32c(0, "x", 1), 0x5a5a5a5au);
	assert_int_equal(app_crc_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_crc32c_of_the_application),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
