/*
 * cmd_scan.c - cask scan: keys (and values) in order, one line each, in the
 * display escape (escape.h) or as JSON lines. Read-only: runs beside a
 * caskfs daemon and sees the store as it was when the scan opened it.
 */
#include "cli.h"
#include "escape.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char scan_usage[] =
	"usage: cask scan DIR [--prefix P] [--reverse] [--keys-only] "
	"[--limit N] [--json] [-x]\n"
	"List keys in byte order, one per line: KEY<TAB>VALUE, or KEY alone\n"
	"with --keys-only. Bytes that are not printable ASCII (tab and "
	"newline\nincluded) are shown as \\xNN and a backslash as \\\\.\n"
	"  -p, --prefix P    only keys starting with P\n"
	"  -r, --reverse     descending order\n"
	"  -k, --keys-only   keys only\n"
	"  -n, --limit N     at most N keys\n"
	"  -j, --json        one JSON object per line: {\"key\":...,"
	"\"value\":...};\n"
	"                    every byte is one character U+0000..U+00FF\n"
	"                    (decode the strings as Latin-1 to get the "
	"bytes)\n"
	"  -x, --escaped     P is in the escaped form (\\xNN)\n"
	"Exit: 0 (also when nothing matches); 2 usage; 3 store error.\n";

static const struct option scan_opts[] = {
	{"prefix", required_argument, NULL, 'p'},
	{"reverse", no_argument, NULL, 'r'},
	{"keys-only", no_argument, NULL, 'k'},
	{"limit", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, 'j'},
	{"escaped", no_argument, NULL, 'x'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int print_one(struct cask_iter *it, bool keys_only, bool json)
{
	const void *key, *val = NULL;
	size_t klen, vlen = 0;
	int err;

	key = cask_iter_key(it, &klen);
	if (!keys_only) {
		err = cask_iter_value(it, &val, &vlen);
		if (err == CASK_ENOTFOUND)
			return 0; /* removed since the step */
		if (err)
			return err;
	}
	if (json) {
		err = fputs("{\"key\":", stdout) < 0 ? -EIO : 0;
		if (!err)
			err = esc_json(stdout, key, klen);
		if (!err && !keys_only) {
			err = fputs(",\"value\":", stdout) < 0 ? -EIO : 0;
			if (!err)
				err = esc_json(stdout, val, vlen);
		}
		if (!err)
			err = fputs("}\n", stdout) < 0 ? -EIO : 0;
		return err;
	}
	err = esc_display(stdout, key, klen);
	if (!err && !keys_only) {
		err = putchar('\t') < 0 ? -EIO : 0;
		if (!err)
			err = esc_display(stdout, val, vlen);
	}
	if (!err)
		err = putchar('\n') < 0 ? -EIO : 0;
	return err;
}

int cmd_scan(int argc, char **argv)
{
	struct cask_iter_options io = {0};
	bool keys_only = false, json = false, esc = false;
	uint64_t limit = UINT64_MAX, n = 0;
	const char *prefix = NULL;
	uint8_t *pbuf = NULL;
	struct cask_iter *it;
	struct cask_db *db;
	int c, rc, err;

	while ((c = getopt_long(argc, argv, "p:rkn:jxh", scan_opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			prefix = optarg;
			break;
		case 'r':
			io.reverse = true;
			break;
		case 'k':
			keys_only = true;
			break;
		case 'n':
			if (!parse_u64(optarg, &limit)) {
				warnx_("scan", "bad --limit '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'x':
			esc = true;
			break;
		case 'h':
			return usage_out(scan_usage, true);
		default:
			return usage_out(scan_usage, false);
		}
	}
	if (argc - optind != 1)
		return usage_out(scan_usage, false);
	if (prefix) {
		long plen = (long)strlen(prefix);

		pbuf = malloc((size_t)plen + 1);
		if (!pbuf)
			return EXIT_STORE;
		if (esc)
			plen = esc_undisplay(prefix, pbuf);
		else
			memcpy(pbuf, prefix, (size_t)plen);
		if (plen < 0) {
			warnx_("scan", "bad escape in '%s'", prefix);
			free(pbuf);
			return EXIT_USAGE;
		}
		io.prefix = pbuf;
		io.prefix_len = (size_t)plen;
	}
	rc = open_store("scan", argv[optind], true, false, &db);
	if (rc) {
		free(pbuf);
		return rc;
	}
	err = cask_iter_new(db, &io, &it);
	free(pbuf);
	if (err) {
		warnx_("scan", "%s: %s", argv[optind], cask_strerror(err));
		return close_store("scan", argv[optind], db, EXIT_STORE);
	}
	for (; !err && n < limit && cask_iter_valid(it); n++) {
		err = print_one(it, keys_only, json);
		if (!err)
			err = cask_iter_next(it);
		if (err == CASK_ENOTFOUND)
			err = 0;
	}
	if (err == -EPIPE) {
		err = 0; /* the reader has seen enough */
	} else if (err) {
		warnx_("scan", "%s: %s", argv[optind], cask_strerror(err));
		rc = EXIT_STORE;
	}
	cask_iter_free(it);
	return close_store("scan", argv[optind], db, rc);
}
