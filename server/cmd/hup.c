/*
 * herald serve's SIGHUP: reopen the log file (logrotate moved it away),
 * and read --config again for the options that can change while Herald
 * runs: log-level and log-file. The command line and the environment
 * still win over the file. A file that does not read or check is logged
 * and changes nothing; the other options' changes are logged as waiting
 * for the next start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

#define HR_LOG_MODULE "serve"

static const char *const live[] = { "log-level", "log-file" };

static struct hr_hup_cfg hup;
static struct hr_conf *conf;    /* the file as last read */
static char *log_file;          /* where the log is now; NULL: stderr */

static bool is_live(const char *name)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (!strcmp(name, live[i]))
			return true;
	}
	return false;
}

static bool given(const char *name)
{
	const struct hr_opt *o = hr_opt_find(hup.opts, hup.nopts, name);

	return o && hup.given[o - hup.opts];
}

/* A live option's value with c as the file: the command line's or the
 * environment's, else the file's, else the default. */
static const char *value(const char *name, const struct hr_conf *c,
	const char *start, const char *dflt)
{
	const char *v;

	if (given(name))
		return start;
	v = hr_conf_get(c, name);
	return v ? v : dflt;
}

static const char *file_value(const struct hr_conf *c)
{
	const char *v = value("log-file", c, hup.log_file, NULL);

	return v && *v ? v : NULL;
}

void hr_hup_init(const struct hr_hup_cfg *cfg)
{
	hup = *cfg;
	conf = hr_mem_ref(cfg->conf);
	log_file = cfg->log_file && *cfg->log_file ? strdup(cfg->log_file) :
		NULL;
}

void hr_hup_close(void)
{
	conf = hr_mem_deref(conf);
	free(log_file);
	log_file = NULL;
}

/* The file again, checked as a whole: 0 with *cp, or an errno with why. */
static int reread(struct hr_conf **cp, char *why, size_t size)
{
	struct hr_conf *c = NULL;
	enum hr_log_level lvl;
	const char *level;
	int err;

	err = hr_conf_read(&c, hup.config, why, size);
	if (!err)
		err = hr_opt_conf_check(hup.opts, hup.nopts, c, why, size);
	level = hr_conf_get(c, "log-level");
	if (!err && level && hr_log_level_decode(level, &lvl)) {
		snprintf(why, size, "log-level is debug, info, warn or error, "
			"not '%s'", level);
		err = EINVAL;
	}
	if (err)
		hr_mem_deref(c);
	else
		*cp = c;
	return err;
}

/* Reopen the log, at path if it moved; on failure it stays where it was. */
static void reopen(const char *path)
{
	bool moved = (path == NULL) != (log_file == NULL) ||
		(path && strcmp(path, log_file));
	char *copy = path ? strdup(path) : NULL;
	int err;

	if (path && !copy) {
		HR_ERROR("SIGHUP: %s", hr_strerror(ENOMEM));
		return;
	}
	if (moved)
		hr_log(HR_LOG_INFO, HR_LOG_MODULE, "SIGHUP: the log goes to "
			"%s from now on", path ? path : "stderr");
	err = hr_log_open(path);
	if (err) {
		HR_ERROR("SIGHUP: cannot open the log file %s: %s; the log "
			"stays %s%s", path, hr_strerror(err), log_file ?
			"in " : "on stderr", log_file ? log_file : "");
		free(copy);
		return;
	}
	free(log_file);
	log_file = copy;
}

/* What the new file changes that SIGHUP does not apply. */
static void note_rest(const struct hr_conf *c)
{
	for (size_t i = 0; i < hup.nopts; i++) {
		const char *name = hup.opts[i].name;

		if (!strcmp(name, "config"))
			continue;
		if (is_live(name) && hup.given[i] && hr_conf_get(c, name))
			HR_WARN("SIGHUP: %s in %s does not apply: --%s or its "
				"environment variable overrides it", name,
				hup.config, name);
		else if (!is_live(name) && !hr_conf_same(conf, c, name))
			HR_WARN("SIGHUP: %s changed in %s; it applies at the "
				"next start", name, hup.config);
	}
}

void hr_hup(void)
{
	enum hr_log_level lvl, was = hr_log_default();
	struct hr_conf *c = NULL;
	char why[320];
	int err = 0;

	if (hup.config)
		err = reread(&c, why, sizeof(why));
	if (!c)
		c = hr_mem_ref(conf);
	reopen(file_value(c));
	if (err)
		HR_ERROR("SIGHUP: %s: %s; the options stay as they were",
			hup.config, why);
	if (!hr_log_level_decode(value("log-level", c, hup.log_level,
		hup.log_level_default), &lvl) && lvl != was) {
		hr_log_set_default(lvl);
		hr_log(HR_LOG_INFO, HR_LOG_MODULE, "SIGHUP: log-level %s, was "
			"%s", hr_log_level_name(lvl), hr_log_level_name(was));
	}
	if (!err)
		note_rest(c);
	hr_mem_deref(conf);
	conf = c;
	/* at any level, like "ready": the operator asked for it */
	hr_log(HR_LOG_INFO, HR_LOG_MODULE, "SIGHUP: log %s, log level %s",
		log_file ? "reopened" : "on stderr",
		hr_log_level_name(hr_log_default()));
}
