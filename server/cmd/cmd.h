/* The herald command's subcommands. */
#ifndef HR_CMD_H
#define HR_CMD_H

/** herald serve: run the server until SIGTERM or SIGINT. */
int hr_cmd_serve(int argc, char **argv);

#endif
