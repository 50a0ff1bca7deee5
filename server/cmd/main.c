/* herald: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>
#include "cmd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: herald COMMAND [OPTIONS]\n"
		"\n"
		"Herald is a SIP registrar, event notifier and presence "
		"server.\n"
		"\n"
		"commands:\n"
		"  serve      run the server\n"
		"  migrate    apply the database migrations\n"
		"  user add USER@DOMAIN [--password PW]   add or change a user\n"
		"  user del USER@DOMAIN                   delete a user\n"
		"  user list                              list the users\n"
		"  version    print the version\n"
		"\n"
		"herald COMMAND --help for a command's options.\n");
}

static int version(int argc, char **argv)
{
	if (argc >= 1 && (!strcmp(argv[0], "--help") ||
		!strcmp(argv[0], "-h"))) {
		printf("usage: herald version\n\nPrint the version.\n");
		return 0;
	}
	if (argc >= 1) {
		fprintf(stderr, "herald: unknown option '%s'\n"
			"usage: herald version\n", argv[0]);
		return 2;
	}
	printf("herald %s\n", HR_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "serve"))
		return hr_cmd_serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "user"))
		return hr_cmd_user(argc - 2, argv + 2);
	if (!strcmp(argv[1], "migrate"))
		return hr_cmd_migrate(argc - 2, argv + 2);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))
		return version(argc - 2, argv + 2);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "herald: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
