/*
 * test_file_names.c - the names of a store's files (cask_file_parse,
 * cask_file_name): every name a store writes is recognised for what it
 * is, names round-trip for every kind and the id range's ends, and near
 * misses (short, long, non-digit, other extensions, library files) are
 * CASK_FILE_OTHER.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <dirent.h>

static void test_file_names_round_trip(void **state)
{
	static const uint32_t ids[] = {0, 1, 42, 999999999, UINT32_MAX};
	static const enum cask_file_kind kinds[] = {CASK_FILE_SEGMENT,
						    CASK_FILE_HINT};
	char name[CASK_FILE_NAME_MAX];
	uint32_t id;

	(void)state;
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			assert_int_equal(cask_file_name(kinds[k], ids[i], name,
							sizeof(name)),
					 0);
			id = 7;
			assert_int_equal(cask_file_parse(name, &id), kinds[k]);
			assert_int_equal(id, ids[i]);
			assert_int_equal(cask_file_parse(name, NULL), kinds[k]);
		}
	assert_int_equal(
		cask_file_name(CASK_FILE_SEGMENT, 1, name, sizeof(name)), 0);
	assert_string_equal(name, "0000000001.cask");
	assert_int_equal(
		cask_file_name(CASK_FILE_HINT, 4294967295u, name, sizeof(name)),
		0);
	assert_string_equal(name, "4294967295.hint");
	assert_int_equal(cask_file_name(CASK_FILE_OTHER, 1, name, sizeof(name)),
			 CASK_EINVAL);
	assert_int_equal(
		cask_file_name((enum cask_file_kind)9, 1, name, sizeof(name)),
		CASK_EINVAL);
	assert_int_equal(cask_file_name(CASK_FILE_SEGMENT, 1, name, 15),
			 CASK_EINVAL);
}

static void test_file_names_others(void **state)
{
	static const char *const others[] = {
		"",
		"LOCK",
		"RESERVE",
		"HELD",
		"CLOSED",
		"0000000001",
		"0000000001.",
		"000000001.cask",
		"00000000001.cask",
		"000000000a.cask",
		"4294967296.cask",
		"9999999999.hint",
		"0000000001.cask.tmp",
		"0000000001.hint.tmp",
		"0000000001.drop",
		"0000000001.cask.damaged-4096",
		"0000000001.caskx",
		"0000000001.CASK",
		" 000000001.cask",
	};
	uint32_t id = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		assert_int_equal(cask_file_parse(others[i], &id),
				 CASK_FILE_OTHER);
		assert_int_equal(id, 7);
	}
}

/* Of what a store writes, only segments and hints are its data. */
static void test_file_names_of_a_store(void **state)
{
	char dir[TU_PATH];
	struct cask_options o = tu_opts(4096);
	struct cask_merge_options mo = tu_merge_all();
	struct cask_db *db;
	char val[1000] = {0};
	int segs = 0, hints = 0, others = 0;
	struct dirent *e;
	DIR *d;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "names");
	db = tu_open(dir, &o);
	for (int i = 0; i < 20; i++)
		assert_int_equal(cask_put(db, "k", 1, val, sizeof(val)), 0);
	assert_int_equal(cask_merge(db, &mo), 0);
	assert_int_equal(cask_close(db), 0);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		uint32_t id;

		switch (cask_file_parse(e->d_name, &id)) {
		case CASK_FILE_SEGMENT:
			segs++;
			break;
		case CASK_FILE_HINT:
			hints++;
			break;
		case CASK_FILE_OTHER:
			others++;
			break;
		}
	}
	closedir(d);
	assert_int_equal(segs, tu_count_suffix(dir, ".cask"));
	assert_int_equal(hints, tu_count_suffix(dir, ".hint"));
	assert_true(segs >= 1 && hints >= 1);
	assert_true(others >= 3); /* ., .., LOCK and the library's files */
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_names_round_trip),
		cmocka_unit_test(test_file_names_others),
		cmocka_unit_test(test_file_names_of_a_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
