/* herald user add|del|list and herald migrate: the store's CLI side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"
#include "auth/auth.h"
#include "store/store.h"

static const char *database_url;
static const char *password;
static const char *role;
static char db_desc[512];       /* user@host:port/db of database_url */

static const struct hr_opt db_opts[] = {
	{ "database-url", HR_OPT_STR, &database_url, "URL",
	  "PostgreSQL connection URI", 0, 0 },
};

static const struct hr_opt add_opts[] = {
	{ "database-url", HR_OPT_STR, &database_url, "URL",
	  "PostgreSQL connection URI", 0, 0 },
	{ "password", HR_OPT_STR, &password, "PASSWORD",
	  "the password (or give it on standard input)", 0, 0 },
	{ "role", HR_OPT_STR, &role, "ROLE",
	  "user, or monitor: may watch the registrations of every "
	  "address-of-record of its domain (default: user for a new one, "
	  "else unchanged)", 0, 0 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Go on: parse() found nothing to stop at. */
#define GO (-1)

struct cmd {
	const char *usage;        /* after "usage: " */
	const char *what;         /* one line of what it does */
	const struct hr_opt *opts;
	size_t nopts;
};

static const struct cmd cmd_add = { "herald user add USER@DOMAIN "
	"[OPTIONS]", "Add a user, or change its password or role.", add_opts,
	N(add_opts) };
static const struct cmd cmd_del = { "herald user del USER@DOMAIN "
	"[OPTIONS]", "Delete a user.", db_opts, N(db_opts) };
static const struct cmd cmd_list = { "herald user list [OPTIONS]",
	"List the users as user@domain and role.", db_opts, N(db_opts) };
static const struct cmd cmd_migrate = { "herald migrate [OPTIONS]",
	"Apply the schema migrations not yet applied.", db_opts,
	N(db_opts) };

static void usage(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: %s\n\n%s\n\noptions (each also from its "
		"environment variable):\n", c->usage, c->what);
	hr_opt_usage(c->opts, c->nopts, f);
	fprintf(f, "\nWithout --database-url or HERALD_DATABASE_URL the URL "
		"in var/database-url\n(which script/server writes) is used.\n");
}

static bool asks_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

/* --help anywhere, npos positional arguments, then the options. GO, or
 * the exit status. */
static int parse(const struct cmd *c, int argc, char **argv, int npos)
{
	if (asks_help(argc, argv)) {
		usage(c, stdout);
		return 0;
	}
	for (int i = 0; i < npos; i++) {
		if (i >= argc || argv[i][0] == '-') {
			fprintf(stderr, "herald: missing USER@DOMAIN\n");
			fprintf(stderr, "usage: %s\n", c->usage);
			return 2;
		}
	}
	if (hr_opt_parse(c->opts, c->nopts, argc - npos, argv + npos))
		return 2;
	return GO;
}

/* The database's URL, checked before anything is done with it. */
static int need_url(void)
{
	bool from_file;

	if (hr_cmd_database_url(&database_url, db_desc, sizeof(db_desc),
		&from_file))
		return EINVAL;
	if (from_file)
		fprintf(stderr, "herald: database %s (from "
			"var/database-url)\n", db_desc);
	return 0;
}

/* What a store call's failure says: libpq's words for a connection. */
static void failed(const char *what, int err)
{
	if (err == ECONNREFUSED)
		fprintf(stderr, "herald: cannot connect to PostgreSQL "
			"(%s): %s\n", db_desc, hr_store_strerror(err));
	else
		fprintf(stderr, "herald: %s: %s\n", what, hr_strerror(err));
}

/* A schema: the user commands work on a new database too. */
static int need_db(void)
{
	int err = hr_store_migrate(database_url, NULL);

	if (err)
		failed("cannot prepare the database", err);
	return err;
}

/* "alice@example.test" → user and domain (the digest realm). */
static int split_aor(const char *aor, char *user, size_t un, char *domain,
	size_t dn)
{
	int err = hr_user_split(aor, user, un, domain, dn);

	if (err == EILSEQ)
		fprintf(stderr, "herald: a user name may not contain control "
			"characters (CR, LF, tab...)\n");
	else if (err)
		fprintf(stderr, "herald: '%s' is not user@domain\n", aor);
	return err;
}

static int read_password(char *buf, size_t n)
{
	size_t len;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "password: ");
	if (!fgets(buf, (int)n, stdin))
		return EINVAL;
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return len ? 0 : EINVAL;
}

/* Everything a user command checks before it touches the database:
 * usage errors exit 2 before a connection is tried. */
static int user_add_args(int argc, char **argv, char *user, char *domain,
	size_t size)
{
	enum hr_user_role r;
	int rc = parse(&cmd_add, argc, argv, 1);

	if (rc != GO)
		return rc;
	if (role && hr_user_role_decode(role, &r)) {
		fprintf(stderr, "herald: --role must be user or monitor\n");
		return 2;
	}
	if (split_aor(argv[0], user, size, domain, size) || need_url())
		return 2;
	return GO;
}

static int user_add(int argc, char **argv)
{
	char user[256], domain[256], md5[33], sha[65], pw[512];
	struct hr_store_user u = { user, domain, md5, sha,
		HR_USER_CHANGED, NULL };
	int rc = user_add_args(argc, argv, user, domain, sizeof(user));
	int err;

	if (rc != GO)
		return rc;
	u.role = role;
	if (!password) {
		if (read_password(pw, sizeof(pw))) {
			fprintf(stderr, "herald: no password given\n");
			return 2;
		}
		password = pw;
	}
	/* the realm is the user's domain; only HA1s are stored */
	err = hr_digest_ha1s(user, domain, password, md5, sha);
	memset(pw, 0, sizeof(pw));
	if (!err)
		err = need_db();
	else
		failed("cannot add", err);
	if (err)
		return 1;
	err = hr_store_user_put(database_url, &u, NULL, NULL);
	if (err) {
		failed("cannot add", err);
		return 1;
	}
	printf("added %s@%s%s%s\n", user, domain, role ? " as " : "",
		role ? role : "");
	return 0;
}

static int user_del(int argc, char **argv)
{
	char user[256], domain[256];
	int rc = parse(&cmd_del, argc, argv, 1);
	int err;

	if (rc != GO)
		return rc;
	if (split_aor(argv[0], user, sizeof(user), domain, sizeof(domain)) ||
	    need_url())
		return 2;
	if (need_db())
		return 1;
	err = hr_store_user_del(database_url, user, domain);
	if (err == ENOENT) {
		fprintf(stderr, "herald: no user %s@%s\n", user, domain);
		return 1;
	}
	if (err) {
		failed("cannot delete", err);
		return 1;
	}
	printf("deleted %s@%s\n", user, domain);
	return 0;
}

static int print_user(const struct hr_store_user *u, void *arg)
{
	(void)arg;
	printf("%s@%s %s\n", u->user, u->domain, u->role);
	return 0;
}

static int user_list(int argc, char **argv)
{
	int rc = parse(&cmd_list, argc, argv, 0);
	int err;

	if (rc != GO)
		return rc;
	if (need_url())
		return 2;
	if (need_db())
		return 1;
	err = hr_store_user_list(database_url, print_user, NULL);
	if (err) {
		failed("cannot list", err);
		return 1;
	}
	return 0;
}

static void user_usage(FILE *f)
{
	fprintf(f, "usage: herald user add|del|list ...\n\n"
		"  user add USER@DOMAIN [--password PW] [--role ROLE]  add or "
		"change a user\n"
		"  user del USER@DOMAIN                               delete a "
		"user\n"
		"  user list                                          list the "
		"users\n\n"
		"herald user COMMAND --help for its options.\n");
}

int hr_cmd_user(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return user_add(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return user_del(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return user_list(argc - 1, argv + 1);
	if (argc >= 1 && (!strcmp(argv[0], "--help") ||
		!strcmp(argv[0], "-h"))) {
		user_usage(stdout);
		return 0;
	}
	if (argc >= 1)
		fprintf(stderr, "herald: unknown user command '%s'\n",
			argv[0]);
	user_usage(stderr);
	return 2;
}

int hr_cmd_migrate(int argc, char **argv)
{
	unsigned applied = 0;
	int rc = parse(&cmd_migrate, argc, argv, 0);
	int err;

	if (rc != GO)
		return rc;
	if (need_url())
		return 2;
	err = hr_store_migrate(database_url, &applied);
	if (err) {
		/* a failing migration was logged by the store */
		failed("migration failed", err);
		return 1;
	}
	printf("applied %u migration%s\n", applied, applied == 1 ? "" : "s");
	return 0;
}
