/* A config file: "name = value" lines with the names of the options
 * (--log-level ↔ log-level), '#' comments, blank lines. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define CONF_SIZE_MAX (1024 * 1024)

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	}
	return true;
}

int hr_conf_line(char *line, char **name, char **value)
{
	char *eq, *n, *v;
	size_t len;

	line = trim(line);
	*name = *value = NULL;
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return EBADMSG;
	*eq = '\0';
	n = trim(line);
	v = trim(eq + 1);
	if (!name_ok(n))
		return EBADMSG;
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v[len - 1] = '\0';
		v++;
	}
	*name = n;
	*value = v;
	return 0;
}

static void conf_destroy(void *arg)
{
	struct hr_conf *conf = arg;

	free(conf->text);
}

/* Split conf->text in place, line by line. */
static int split(struct hr_conf *conf, char *why, size_t size)
{
	char *line = conf->text;
	unsigned no = 0;

	for (char *p = line; p; line = p) {
		char *name, *value;

		p = strchr(line, '\n');
		if (p)
			*p++ = '\0';
		no++;
		if (hr_conf_line(line, &name, &value)) {
			snprintf(why, size, "line %u: not 'name = value'", no);
			return EBADMSG;
		}
		if (!name)
			continue;
		if (conf->n >= HR_CONF_MAX) {
			snprintf(why, size, "line %u: more than %d settings", no,
				HR_CONF_MAX);
			return EBADMSG;
		}
		conf->v[conf->n++] = (struct hr_conf_item){ name, value, no };
	}
	return 0;
}

int hr_conf_parse(struct hr_conf **confp, const char *text, char *why,
	size_t size)
{
	struct hr_conf *conf;
	int err;

	if (!confp || !text)
		return EINVAL;
	conf = hr_mem_zalloc(sizeof(*conf), conf_destroy);
	if (!conf)
		return ENOMEM;
	conf->text = strdup(text);
	err = conf->text ? split(conf, why, size) : ENOMEM;
	if (err == ENOMEM)
		snprintf(why, size, "%s", hr_strerror(err));
	if (err) {
		hr_mem_deref(conf);
		return err;
	}
	*confp = conf;
	return 0;
}

int hr_conf_read(struct hr_conf **confp, const char *path, char *why,
	size_t size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f) {
		err = errno;
		snprintf(why, size, "%s", hr_strerror(err));
		return err;
	}
	text = malloc(CONF_SIZE_MAX + 1);
	if (!text)
		err = ENOMEM;
	if (!err)
		len = fread(text, 1, CONF_SIZE_MAX + 1, f);
	if (!err && ferror(f))
		err = EIO;
	if (!err && len > CONF_SIZE_MAX)
		err = EFBIG;
	if (err)
		snprintf(why, size, "%s", hr_strerror(err));
	else if (memchr(text, '\0', len))
		err = EBADMSG;
	if (err == EBADMSG)
		snprintf(why, size, "not a text file");
	fclose(f);
	if (!err) {
		text[len] = '\0';
		err = hr_conf_parse(confp, text, why, size);
	}
	free(text);
	return err;
}

const char *hr_conf_get(const struct hr_conf *conf, const char *name)
{
	const char *v = NULL;

	for (unsigned i = 0; conf && i < conf->n; i++) {
		if (!strcmp(conf->v[i].name, name))
			v = conf->v[i].value;
	}
	return v;
}

/* The next value of name from index *at on (moving *at past it), or NULL. */
static const char *next(const struct hr_conf *conf, const char *name,
	unsigned *at)
{
	for (; conf && *at < conf->n; (*at)++) {
		if (!strcmp(conf->v[*at].name, name))
			return conf->v[(*at)++].value;
	}
	return NULL;
}

bool hr_conf_same(const struct hr_conf *a, const struct hr_conf *b,
	const char *name)
{
	unsigned i = 0, j = 0;

	for (;;) {
		const char *x = next(a, name, &i), *y = next(b, name, &j);

		if (!x || !y)
			return !x && !y;
		if (strcmp(x, y))
			return false;
	}
}
