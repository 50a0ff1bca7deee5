/* The herald command's subcommands. */
#ifndef HR_CMD_H
#define HR_CMD_H

/** herald serve: run the server until SIGTERM or SIGINT. */
int hr_cmd_serve(int argc, char **argv);
/** herald user add|del|list. */
int hr_cmd_user(int argc, char **argv);
/** herald migrate: apply the schema migrations. */
int hr_cmd_migrate(int argc, char **argv);

#endif
