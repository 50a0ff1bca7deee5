/* Options: --name value / --name=value, and HERALD_NAME in the
 * environment (DESIGN.md: every flag has a variable of the same name),
 * and "name = value" lines of a config file under both. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define WHY_MAX 256

static void env_name(const char *name, char *out, size_t n)
{
	size_t i = 0;

	i = (size_t)snprintf(out, n, "HERALD_");
	for (; *name && i + 1 < n; name++)
		out[i++] = *name == '-' ? '_' : (char)toupper(*name);
	out[i] = '\0';
}

static int set_uint(const struct hr_opt *o, const char *v, char *why,
	size_t size)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < o->min || x > o->max ||
	    *v == '-') {
		snprintf(why, size, "--%s wants a number from %u to %u, not "
			"'%s'", o->name, o->min, o->max, v);
		return EINVAL;
	}
	*(unsigned *)o->dst = (unsigned)x;
	return 0;
}

static int list_add(const struct hr_opt *o, const char *v, char *why,
	size_t size)
{
	struct hr_strlist *l = o->dst;

	if (l->n >= HR_STRLIST_MAX) {
		snprintf(why, size, "--%s given more than %d times", o->name,
			HR_STRLIST_MAX);
		return EINVAL;
	}
	l->v[l->n++] = v;
	return 0;
}

static int set_flag(const struct hr_opt *o, const char *v, char *why,
	size_t size)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };

	for (size_t i = 0; v && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i]))
			v = NULL;
	}
	if (!v) {
		*(bool *)o->dst = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (!strcmp(v, no[i])) {
			*(bool *)o->dst = false;
			return 0;
		}
	}
	snprintf(why, size, "--%s is on or off, not '%s'", o->name, v);
	return EINVAL;
}

static int set(const struct hr_opt *o, const char *v, char *why,
	size_t size)
{
	switch (o->type) {
	case HR_OPT_STR:
		*(const char **)o->dst = v;
		return 0;
	case HR_OPT_LIST:
		return list_add(o, v, why, size);
	case HR_OPT_UINT:
		return set_uint(o, v, why, size);
	case HR_OPT_FLAG:
		return set_flag(o, v, why, size);
	}
	return EINVAL;
}

/* Copies of list values: options live as long as the process, and
 * these keep the copies reachable until it ends. */
static char *copies[64];
static unsigned ncopies;

/* A list from the environment or a config file: items split at commas
 * or spaces. */
static int list_split(const struct hr_opt *o, const char *v, char *why,
	size_t size)
{
	char *copy, *save = NULL;

	if (ncopies >= sizeof(copies) / sizeof(copies[0])) {
		snprintf(why, size, "too many list values");
		return EINVAL;
	}
	copy = strdup(v);
	if (!copy)
		return ENOMEM;
	copies[ncopies++] = copy;
	for (char *t = strtok_r(copy, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		int err = list_add(o, t, why, size);

		if (err)
			return err;
	}
	return 0;
}

static int from_env(const struct hr_opt *opts, size_t n, bool *given)
{
	for (size_t i = 0; i < n; i++) {
		char name[64], why[WHY_MAX];
		const char *v;
		int err;

		env_name(opts[i].name, name, sizeof(name));
		v = getenv(name);
		if (!v || !*v)
			continue;
		err = opts[i].type == HR_OPT_LIST ?
			list_split(&opts[i], v, why, sizeof(why)) :
			set(&opts[i], v, why, sizeof(why));
		if (err) {
			fprintf(stderr, "herald: %s: %s\n", name, why);
			return err;
		}
		if (given)
			given[i] = true;
	}
	return 0;
}

static const struct hr_opt *find(const struct hr_opt *opts, size_t n,
	const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, name, len))
			return &opts[i];
	}
	return NULL;
}

const struct hr_opt *hr_opt_find(const struct hr_opt *opts, size_t n,
	const char *name)
{
	return find(opts, n, name, strlen(name));
}

/* One argument (and the value after it) of argv at *i. */
static int parse_arg(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv, int *i, bool *cleared, bool *given)
{
	const char *a = argv[*i], *eq, *v;
	const struct hr_opt *o;
	char why[WHY_MAX];
	int err;

	if (!strcmp(a, "--help") || !strcmp(a, "-h"))
		return EAGAIN;
	if (strncmp(a, "--", 2)) {
		fprintf(stderr, "herald: unexpected argument '%s'\n", a);
		return EINVAL;
	}
	a += 2;
	eq = strchr(a, '=');
	o = find(opts, n, a, eq ? (size_t)(eq - a) : strlen(a));
	if (!o) {
		fprintf(stderr, "herald: unknown option '%s'\n", argv[*i]);
		return EINVAL;
	}
	if (o->type == HR_OPT_FLAG && !eq) {
		v = NULL;
	} else {
		v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
		if (!v) {
			fprintf(stderr, "herald: --%s needs a value\n",
				o->name);
			return EINVAL;
		}
	}
	/* the command line replaces a list from the environment */
	if (o->type == HR_OPT_LIST && !cleared[o - opts]) {
		((struct hr_strlist *)o->dst)->n = 0;
		cleared[o - opts] = true;
	}
	err = set(o, v, why, sizeof(why));
	if (err)
		fprintf(stderr, "herald: %s\n", why);
	if (given)
		given[o - opts] = true;
	return err;
}

int hr_opt_parse_given(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv, bool *given)
{
	bool *cleared = calloc(n ? n : 1, sizeof(*cleared));
	int err;

	if (!cleared)
		return ENOMEM;
	err = from_env(opts, n, given);
	for (int i = 0; !err && i < argc; i++)
		err = parse_arg(opts, n, argc, argv, &i, cleared, given);
	free(cleared);
	return err;
}

int hr_opt_parse(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv)
{
	return hr_opt_parse_given(opts, n, argc, argv, NULL);
}

/* Whether item may be applied: its option exists, is not "config", and
 * is given once unless it is a list. */
static int conf_item_check(const struct hr_opt *opts, size_t n,
	const struct hr_conf *conf, unsigned k, char *why, size_t size)
{
	const struct hr_conf_item *it = &conf->v[k];
	const struct hr_opt *o = hr_opt_find(opts, n, it->name);
	union {
		const char *s;
		struct hr_strlist l;
		unsigned u;
		bool b;
	} scratch = { 0 };
	struct hr_opt dry;
	char msg[WHY_MAX];

	if (!o || !strcmp(it->name, "config")) {
		snprintf(why, size, "line %u: %s '%s'", it->line, o ?
			"a config file cannot name another:" :
			"unknown option", it->name);
		return EINVAL;
	}
	for (unsigned j = 0; o->type != HR_OPT_LIST && j < k; j++) {
		if (!strcmp(conf->v[j].name, it->name)) {
			snprintf(why, size, "line %u: %s already given on "
				"line %u", it->line, it->name,
				conf->v[j].line);
			return EINVAL;
		}
	}
	/* the value into a scratch copy: a check changes nothing */
	dry = *o;
	dry.dst = &scratch;
	if (o->type == HR_OPT_LIST || !set(&dry, it->value, msg, sizeof(msg)))
		return 0;
	snprintf(why, size, "line %u: %s", it->line, msg);
	return EINVAL;
}

int hr_opt_conf_check(const struct hr_opt *opts, size_t n,
	const struct hr_conf *conf, char *why, size_t size)
{
	for (unsigned k = 0; conf && k < conf->n; k++) {
		int err = conf_item_check(opts, n, conf, k, why, size);

		if (err)
			return err;
	}
	return 0;
}

int hr_opt_conf_apply(const struct hr_opt *opts, size_t n,
	const struct hr_conf *conf, const bool *given, char *why,
	size_t size)
{
	int err = hr_opt_conf_check(opts, n, conf, why, size);

	for (unsigned k = 0; !err && conf && k < conf->n; k++) {
		const struct hr_conf_item *it = &conf->v[k];
		const struct hr_opt *o = hr_opt_find(opts, n, it->name);
		char msg[WHY_MAX];

		if (given && given[o - opts])
			continue;
		err = o->type == HR_OPT_LIST ?
			list_split(o, it->value, msg, sizeof(msg)) :
			set(o, it->value, msg, sizeof(msg));
		if (err)
			snprintf(why, size, "line %u: %s", it->line, msg);
	}
	return err;
}

void hr_opt_usage(const struct hr_opt *opts, size_t n, void *f)
{
	for (size_t i = 0; i < n; i++) {
		char env[64], left[80];

		env_name(opts[i].name, env, sizeof(env));
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
			opts[i].metavar ? " " : "",
			opts[i].metavar ? opts[i].metavar : "");
		fprintf(f, "  %-34s %s\n  %-34s (%s)\n", left, opts[i].help, "",
			env);
	}
}
