/*
 * main.c - the cask command-line tool: dispatch to a subcommand. Every
 * subcommand takes --help; exit codes are shared (cli.h, docs/cask.1).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char *progname = "cask";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{"get", cmd_get, "print the value of a key (raw bytes)"},
	{"put", cmd_put, "store a value (argument or stdin)"},
	{"del", cmd_del, "delete a key"},
	{"scan", cmd_scan, "list keys (and values) in order"},
	{"stat", cmd_stat, "keys, bytes and segments of a store"},
	{"merge", cmd_merge, "compact the store now"},
	{"verify", cmd_verify, "check every record and hint; manifests"},
	{"dump", cmd_dump, "write every key and value as text"},
	{"load", cmd_load, "read a dump into a store"},
	{"backup", cmd_backup, "copy a store, also while it is mounted"},
	{"kept", cmd_kept, "files a copy may leave out (merge inputs kept)"},
	{"fs", cmd_fs, "list, extract and put caskfs files in a store"},
	{"fsck", cmd_fsck, "check (and repair) the caskfs in a store"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cask COMMAND DIR [ARGS...]\n"
		"       cask COMMAND --help\n"
		"       cask --version\n\n"
		"libcask %s command-line tool. Commands:\n",
		CASK_VERSION_STRING);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nExit status: 0 success; 1 key or file not found, or "
	      "verification failed;\n2 usage error; 3 store error (missing, "
	      "in use, corrupt, I/O); 4 (fsck) the\nfilesystem does not "
	      "mount.\n"
	      "Read-only commands (get, scan, stat, verify, dump, fs "
	      "ls/cat/get, "
	      "fsck\nwithout --repair) and backup write nothing into the store "
	      "and work while\ncaskfs has it mounted; the others need it "
	      "unmounted. Long commands show a\nprogress line on a terminal "
	      "(-q: none); verify, backup, stat, scan and\nfs ls take --json. "
	      "See cask(1).\n",
	      out);
}

int main(int argc, char **argv)
{
	/* A closed pipe (cask scan | head) ends us with EPIPE, not SIGPIPE
	 * in the middle of a write to the store. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("cask %s\n", CASK_VERSION_STRING);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			int rc = cmds[i].fn(argc - 1, argv + 1);

			/* A reader that stopped early (| head) is not an
			 * error; any other failed write to stdout is. */
			if ((fflush(stdout) || ferror(stdout)) &&
			    errno != EPIPE && rc == EXIT_OK) {
				warnx_(argv[1], "writing to stdout: %s",
				       strerror(errno));
				rc = EXIT_STORE;
			}
			return rc;
		}
	fprintf(stderr, "cask: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
