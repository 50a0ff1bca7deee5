/* Options: --name value / --name=value, and HERALD_NAME in the
 * environment (DESIGN.md: every flag has a variable of the same name). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

static void env_name(const char *name, char *out, size_t n)
{
	size_t i = 0;

	i = (size_t)snprintf(out, n, "HERALD_");
	for (; *name && i + 1 < n; name++)
		out[i++] = *name == '-' ? '_' : (char)toupper(*name);
	out[i] = '\0';
}

static int set_uint(const struct hr_opt *o, const char *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < o->min || x > o->max ||
	    *v == '-') {
		fprintf(stderr, "herald: --%s wants a number from %u to %u, "
			"not '%s'\n", o->name, o->min, o->max, v);
		return EINVAL;
	}
	*(unsigned *)o->dst = (unsigned)x;
	return 0;
}

static int list_add(const struct hr_opt *o, const char *v)
{
	struct hr_strlist *l = o->dst;

	if (l->n >= HR_STRLIST_MAX) {
		fprintf(stderr, "herald: --%s given more than %d times\n",
			o->name, HR_STRLIST_MAX);
		return EINVAL;
	}
	l->v[l->n++] = v;
	return 0;
}

static int set(const struct hr_opt *o, const char *v)
{
	switch (o->type) {
	case HR_OPT_STR:
		*(const char **)o->dst = v;
		return 0;
	case HR_OPT_LIST:
		return list_add(o, v);
	case HR_OPT_UINT:
		return set_uint(o, v);
	case HR_OPT_FLAG:
		*(bool *)o->dst = !v || !strcmp(v, "1") || !strcmp(v, "true")
			|| !strcmp(v, "yes") || !strcmp(v, "on");
		return 0;
	}
	return EINVAL;
}

/* Copies of list variables: options live as long as the process, and
 * these keep the copies reachable until it ends. */
static char *env_copies[64];
static unsigned env_ncopies;

/* A list from the environment: items split at commas or spaces. */
static int env_list(const struct hr_opt *o, const char *v)
{
	char *copy, *save = NULL;

	if (env_ncopies >= sizeof(env_copies) / sizeof(env_copies[0]))
		return EINVAL;
	copy = strdup(v);
	if (!copy)
		return ENOMEM;
	env_copies[env_ncopies++] = copy;
	for (char *t = strtok_r(copy, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		int err = list_add(o, t);

		if (err)
			return err;
	}
	return 0;
}

static int from_env(const struct hr_opt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[64];
		const char *v;
		int err;

		env_name(opts[i].name, name, sizeof(name));
		v = getenv(name);
		if (!v || !*v)
			continue;
		err = opts[i].type == HR_OPT_LIST ? env_list(&opts[i], v) :
			set(&opts[i], v);
		if (err)
			return err;
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

int hr_opt_parse(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv)
{
	bool cleared[64] = { false };
	int err = from_env(opts, n);

	for (int i = 0; !err && i < argc; i++) {
		const char *a = argv[i], *eq, *v;
		const struct hr_opt *o;

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
			fprintf(stderr, "herald: unknown option '%s'\n", argv[i]);
			return EINVAL;
		}
		if (o->type == HR_OPT_FLAG && !eq) {
			err = set(o, NULL);
			continue;
		}
		v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v) {
			fprintf(stderr, "herald: --%s needs a value\n", o->name);
			return EINVAL;
		}
		/* the command line replaces a list from the environment */
		if (o->type == HR_OPT_LIST && (size_t)(o - opts) < 64 &&
		    !cleared[o - opts]) {
			((struct hr_strlist *)o->dst)->n = 0;
			cleared[o - opts] = true;
		}
		err = set(o, v);
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
