/* Private to admin/: the console's files, compiled in (console.c). */
#ifndef HR_CONSOLE_INT_H
#define HR_CONSOLE_INT_H

#include <stddef.h>

/* One file of admin/console/ as admin/console/embed.cmake made it. */
struct hr_console_file {
	const char *name;            /* its name in admin/console/; NULL ends */
	const unsigned char *data;
	size_t len;
	const char *etag;            /* "\"<16 hex digits of its SHA-256>\"" */
};

/** Every file, in the order admin/CMakeLists.txt lists them, then one
 * with a NULL name. */
extern const struct hr_console_file hr_console_files[];

#endif
