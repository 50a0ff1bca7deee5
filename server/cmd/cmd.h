/* The herald command's subcommands. */
#ifndef HR_CMD_H
#define HR_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include "core/core.h"

/** herald serve: run the server until SIGTERM or SIGINT. */
int hr_cmd_serve(int argc, char **argv);
/** herald user add|del|list. */
int hr_cmd_user(int argc, char **argv);
/** herald migrate: apply the schema migrations. */
int hr_cmd_migrate(int argc, char **argv);

/**
 * The database to use: *urlp (--database-url or HERALD_DATABASE_URL), or
 * else the URL in var/database-url (*from_file true), which script/server
 * writes. 0 with desc "user@host:port/db"; EINVAL when there is none or
 * libpq cannot read it, said on stderr.
 */
int hr_cmd_database_url(const char **urlp, char *desc, size_t size,
	bool *from_file);

/* What herald serve's start applied, for SIGHUP. */
struct hr_hup_cfg {
	const struct hr_opt *opts;
	size_t nopts;
	const bool *given;            /* set by environment or command line */
	const char *config;           /* --config, or NULL */
	struct hr_conf *conf;         /* that file as read at start */
	const char *log_level;        /* as started */
	const char *log_level_default;
	const char *log_file;         /* as started; NULL: stderr */
};

/** Remember what the start applied (conf gets a reference). */
void hr_hup_init(const struct hr_hup_cfg *cfg);
/** On SIGHUP, on the core thread: reopen the log, apply the config
 * file's log-level and log-file, log what changed. */
void hr_hup(void);
/** Drop what hr_hup_init() kept. */
void hr_hup_close(void);

#endif
