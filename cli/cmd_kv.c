/*
 * cmd_kv.c - cask get / put / del: one key at a time. Values travel as raw
 * bytes (get writes exactly the value to stdout; put - reads stdin), so
 * binary data pipes through unchanged.
 */
#include "cli.h"
#include "escape.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char get_usage[] =
	"usage: cask get [-x] DIR KEY\n"
	"Write the value of KEY to stdout, as raw bytes, nothing added.\n"
	"  -x, --escaped  KEY is in the escaped form scan prints (\\xNN, "
	"\\\\)\n"
	"Opens the store read-only: works while caskfs has it mounted.\n"
	"Exit: 0 found; 1 no such key; 2 usage; 3 store error.\n";

static const char put_usage[] =
	"usage: cask put [-x] [--create] DIR KEY [VALUE | -]\n"
	"Store VALUE under KEY; with - or no VALUE the value is all of "
	"stdin\n(binary-safe). DIR must hold a store, unless --create.\n"
	"  -x, --escaped  KEY (and VALUE) are in the escaped form scan "
	"prints\n"
	"  --create       make a new store in DIR when it holds none (DIR is "
	"\n                 created if missing)\n"
	"Exit: 0 stored; 2 usage; 3 store error (no store, in use, I/O, "
	"full).\n";

static const char del_usage[] =
	"usage: cask del [-x] DIR KEY\n"
	"Delete KEY.\n"
	"  -x, --escaped  KEY is in the escaped form scan prints\n"
	"Exit: 0 deleted; 1 no such key; 2 usage; 3 store error.\n";

static const struct option kv_opts[] = {
	{"escaped", no_argument, NULL, 'x'},
	{"create", no_argument, NULL, 'c'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Parse [-x] [--create] DIR KEY [VALUE...]. @p create is NULL for a
 * command that does not take --create. */
static int parse(int argc, char **argv, const char *usage, int min, int max,
		 bool *escaped, bool *create)
{
	int c;

	*escaped = false;
	while ((c = getopt_long(argc, argv, "+xh", kv_opts, NULL)) != -1) {
		if (c == 'x')
			*escaped = true;
		else if (c == 'c' && create)
			*create = true;
		else if (c == 'h')
			return -usage_out(usage, true) - 1;
		else
			return -usage_out(usage, false) - 1;
	}
	if (argc - optind < min || argc - optind > max)
		return -usage_out(usage, false) - 1;
	return 0;
}

/* The bytes of a KEY or VALUE argument, unescaped with -x. malloc()ed. */
static int arg_bytes(const char *cmd, const char *arg, bool escaped,
		     uint8_t **out, size_t *len)
{
	size_t n = strlen(arg);
	uint8_t *p = malloc(n + 1);
	long got;

	if (!p) {
		warnx_(cmd, "out of memory");
		return EXIT_STORE;
	}
	if (!escaped) {
		memcpy(p, arg, n);
		got = (long)n;
	} else if ((got = esc_undisplay(arg, p)) < 0) {
		warnx_(cmd, "bad escape in '%s'", arg);
		free(p);
		return EXIT_USAGE;
	}
	*out = p;
	*len = (size_t)got;
	return EXIT_OK;
}

static int check_key(const char *cmd, size_t klen)
{
	if (klen == 0 || klen > CASK_MAX_KEY) {
		warnx_(cmd, "a key is 1..%u bytes", CASK_MAX_KEY);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_get(int argc, char **argv)
{
	struct cask_db *db;
	uint8_t *key = NULL;
	size_t klen, vlen;
	void *val = NULL;
	bool esc;
	int rc, err;

	rc = parse(argc, argv, get_usage, 2, 2, &esc, NULL);
	if (rc)
		return -rc - 1;
	rc = arg_bytes("get", argv[optind + 1], esc, &key, &klen);
	if (!rc)
		rc = check_key("get", klen);
	if (!rc)
		rc = open_store("get", argv[optind], true, false, &db);
	if (rc) {
		free(key);
		return rc;
	}
	err = cask_get_alloc(db, key, klen, &val, &vlen);
	if (err == CASK_ENOTFOUND) {
		warn_key("get", argv[optind], key, klen, "no such key");
		rc = EXIT_NOTFOUND;
	} else if (err) {
		warn_key("get", argv[optind], key, klen, cask_strerror(err));
		rc = EXIT_STORE;
	} else if ((err = write_out(val, vlen)) != 0) {
		warnx_("get", "writing the value: %s", strerror(-err));
		rc = EXIT_STORE;
	}
	free(val);
	free(key);
	return close_store("get", argv[optind], db, rc);
}

int cmd_put(int argc, char **argv)
{
	uint8_t *key = NULL, *val = NULL;
	struct cask_db *db;
	size_t klen, vlen;
	bool esc, create = false;
	int rc, err;

	rc = parse(argc, argv, put_usage, 2, 3, &esc, &create);
	if (rc)
		return -rc - 1;
	rc = arg_bytes("put", argv[optind + 1], esc, &key, &klen);
	if (!rc)
		rc = check_key("put", klen);
	if (!rc && optind + 2 < argc && strcmp(argv[optind + 2], "-")) {
		rc = arg_bytes("put", argv[optind + 2], esc, &val, &vlen);
	} else if (!rc) {
		void *p;

		err = read_all(stdin, &p, &vlen);
		if (err) {
			warnx_("put", "reading stdin: %s", strerror(-err));
			rc = EXIT_STORE;
		}
		val = p;
	}
	if (!rc && vlen > CASK_MAX_VALUE) {
		warnx_("put", "a value is at most %u bytes", CASK_MAX_VALUE);
		rc = EXIT_USAGE;
	}
	if (!rc)
		rc = open_store("put", argv[optind], false, create, &db);
	if (rc) {
		free(key);
		free(val);
		return rc;
	}
	err = cask_put(db, key, klen, val, vlen);
	if (err) {
		warn_key("put", argv[optind], key, klen, cask_strerror(err));
		rc = EXIT_STORE;
	}
	free(key);
	free(val);
	return close_store("put", argv[optind], db, rc);
}

int cmd_del(int argc, char **argv)
{
	struct cask_db *db;
	uint8_t *key = NULL;
	size_t klen;
	bool esc;
	int rc, err;

	rc = parse(argc, argv, del_usage, 2, 2, &esc, NULL);
	if (rc)
		return -rc - 1;
	rc = arg_bytes("del", argv[optind + 1], esc, &key, &klen);
	if (!rc)
		rc = check_key("del", klen);
	if (!rc)
		rc = open_store("del", argv[optind], false, false, &db);
	if (rc) {
		free(key);
		return rc;
	}
	err = cask_exists(db, key, klen);
	if (err == 0) {
		warn_key("del", argv[optind], key, klen, "no such key");
		rc = EXIT_NOTFOUND;
	} else if (err > 0) {
		err = cask_delete(db, key, klen);
	}
	if (err < 0) {
		warn_key("del", argv[optind], key, klen, cask_strerror(err));
		rc = EXIT_STORE;
	}
	free(key);
	return close_store("del", argv[optind], db, rc);
}
