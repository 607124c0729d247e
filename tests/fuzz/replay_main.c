/*
 * replay_main.c - run a libFuzzer target without libFuzzer: feed it the
 * empty input, then every regular file of the corpus directories (or the
 * files) named on the command line, in name order so a run is repeatable.
 * Linked with each tests/fuzz/fuzz_*.c into fuzz_NAME_replay, which ctest
 * runs on tests/fuzz/corpus/NAME/ under any compiler and sanitizer.
 *
 * Exit status: 0 when every input ran (a crash or sanitizer report ends the
 * process before that), 77 (ctest: skipped) when the corpus directory does
 * not exist, 1 on a usage or I/O error.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target; NULL here when the target does not define it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto close_file;
	/* An exact-size heap copy, so ASan sees any read past the input. */
	buf = malloc(len ? (size_t)len : 1);
	if (!buf)
		goto close_file;
	if (len && fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto free_buf;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	ret = 0;
free_buf:
	free(buf);
close_file:
	if (ret)
		fprintf(stderr, "replay: cannot read %s\n", path);
	fclose(f);
	return ret;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of @dir; count them in @n. */
static int run_dir(const char *dir, unsigned long *n)
{
	struct dirent **names;
	int count = scandir(dir, &names, NULL, by_name);
	int ret = 0;

	if (count < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < count; i++) {
		char path[4096];
		struct stat st;

		if (ret == 0 && names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir,
			     names[i]->d_name) < (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			ret = run_file(path);
			if (ret == 0)
				(*n)++;
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 1;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);

	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			if (errno == ENOENT && argc == 2) {
				printf("SKIP: no corpus at %s\n", argv[i]);
				return 77;
			}
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &n) != 0
					: run_file(argv[i]) != 0)
			return 1;
		if (!S_ISDIR(st.st_mode))
			n++;
	}
	printf("replayed %lu input(s) and the empty input: no crash\n", n);
	return 0;
}
