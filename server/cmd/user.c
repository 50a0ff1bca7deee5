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

static int need_url(void)
{
	if (database_url && *database_url)
		return 0;
	fprintf(stderr, "herald: --database-url (or HERALD_DATABASE_URL) is "
		"needed\n");
	return EINVAL;
}

/* A URL, and a schema: the user commands work on a new database too. */
static int need_db(void)
{
	int err = need_url();

	if (err)
		return err;
	err = hr_store_migrate(database_url, NULL);
	if (err)
		fprintf(stderr, "herald: cannot prepare the database: %s\n",
			hr_strerror(err));
	return err;
}

/* "alice@example.test" → user and domain (the digest realm). */
static int split_aor(const char *aor, char *user, size_t un, char *domain,
	size_t dn)
{
	int err = hr_user_split(aor, user, un, domain, dn);

	if (err)
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

static int user_add(int argc, char **argv)
{
	char user[256], domain[256], md5[33], sha[65], pw[512];
	struct hr_store_user u = { user, domain, md5, sha,
		HR_USER_CHANGED, NULL };
	enum hr_user_role r;
	int err;

	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: herald user add USER@DOMAIN "
			"[--password PASSWORD] [--role user|monitor] "
			"[--database-url URL]\n");
		return 2;
	}
	if (hr_opt_parse(add_opts, N(add_opts), argc - 1, argv + 1))
		return 2;
	if (role && hr_user_role_decode(role, &r)) {
		fprintf(stderr, "herald: --role must be user or monitor\n");
		return 2;
	}
	u.role = role;
	if (need_db() || split_aor(argv[0], user, sizeof(user), domain,
		sizeof(domain)))
		return 2;
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
		err = hr_store_user_put(database_url, &u, NULL, NULL);
	if (err) {
		fprintf(stderr, "herald: cannot add %s: %s\n", argv[0],
			hr_strerror(err));
		return 1;
	}
	printf("added %s@%s%s%s\n", user, domain, role ? " as " : "",
		role ? role : "");
	return 0;
}

static int user_del(int argc, char **argv)
{
	char user[256], domain[256];
	int err;

	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: herald user del USER@DOMAIN "
			"[--database-url URL]\n");
		return 2;
	}
	if (hr_opt_parse(db_opts, N(db_opts), argc - 1, argv + 1) ||
	    need_db() || split_aor(argv[0], user, sizeof(user), domain,
		sizeof(domain)))
		return 2;
	err = hr_store_user_del(database_url, user, domain);
	if (err == ENOENT) {
		fprintf(stderr, "herald: no user %s@%s\n", user, domain);
		return 1;
	}
	if (err) {
		fprintf(stderr, "herald: cannot delete: %s\n", hr_strerror(err));
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
	int err;

	if (hr_opt_parse(db_opts, N(db_opts), argc, argv) || need_db())
		return 2;
	err = hr_store_user_list(database_url, print_user, NULL);
	if (err) {
		fprintf(stderr, "herald: cannot list: %s\n", hr_strerror(err));
		return 1;
	}
	return 0;
}

int hr_cmd_user(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return user_add(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return user_del(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return user_list(argc - 1, argv + 1);
	fprintf(stderr, "usage: herald user add|del|list ...\n");
	return 2;
}

int hr_cmd_migrate(int argc, char **argv)
{
	unsigned applied = 0;
	int err;

	if (hr_opt_parse(db_opts, N(db_opts), argc, argv) || need_url())
		return 2;
	err = hr_store_migrate(database_url, &applied);
	if (err) {
		fprintf(stderr, "herald: migration failed: %s\n",
			hr_strerror(err));
		return 1;
	}
	printf("applied %u migration%s\n", applied, applied == 1 ? "" : "s");
	return 0;
}
