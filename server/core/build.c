/* What this binary is: the values CMake bakes in (core/CMakeLists.txt). */
#include "core.h"

/* git describe, written at each build into the build tree's
 * generated/hr_build_id.c (build_id.cmake) */
extern const char hr_build_commit[];

#ifndef HR_COMPILER
#define HR_COMPILER "unknown"
#endif
#ifndef HR_BUILD_TYPE
#define HR_BUILD_TYPE ""
#endif

const struct hr_build_info *hr_build_info(void)
{
	static const struct hr_build_info info = {
		.version = HR_VERSION,
		.commit = hr_build_commit,
		.compiler = HR_COMPILER,
		.build_type = HR_BUILD_TYPE,
	};

	return &info;
}
