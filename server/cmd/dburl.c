/* Which database a command uses: --database-url, HERALD_DATABASE_URL, or
 * the URL script/server left in var/database-url; refused at once when
 * libpq cannot read it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cmd.h"
#include "store/store.h"

/* relative to the current directory, like var/admin-token */
#define URL_FILE "var/database-url"

/* The first line of URL_FILE, or NULL when there is none. */
static const char *url_from_file(void)
{
	static char buf[4096];
	FILE *f = fopen(URL_FILE, "re");
	size_t len;

	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	len = strcspn(buf, "\r\n");
	while (len && buf[len - 1] == ' ')
		len--;
	buf[len] = '\0';
	return *buf ? buf : NULL;
}

int hr_cmd_database_url(const char **urlp, char *desc, size_t size,
	bool *from_file)
{
	const char *url = *urlp;

	*from_file = false;
	if (!url || !*url) {
		url = url_from_file();
		*from_file = url != NULL;
	}
	if (!url) {
		fprintf(stderr, "herald: no database: give --database-url "
			"postgresql://USER@HOST:PORT/DB or HERALD_DATABASE_URL "
			"(script/server leaves the URL of the database it runs "
			"in " URL_FILE ", read from the current directory)\n");
		return EINVAL;
	}
	if (hr_store_url_check(url, desc, size)) {
		fprintf(stderr, "herald: %s is not a PostgreSQL URL "
			"(postgresql://USER@HOST:PORT/DB): %s\n", *from_file ?
			"the URL in " URL_FILE : "--database-url", desc);
		return EINVAL;
	}
	*urlp = url;
	return 0;
}
