# Writes OUT (hr_build_id.c: hr_build_commit[]) with the commit SRC is at: COMMIT when
# given, else `git describe --always --dirty`, else "unknown". The file
# is rewritten only when it changes, so an unchanged commit rebuilds
# nothing.
set(commit "${COMMIT}")
if(commit STREQUAL "")
	execute_process(COMMAND git describe --always --dirty --tags
		WORKING_DIRECTORY ${SRC}
		OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
		ERROR_QUIET RESULT_VARIABLE rc)
	if(NOT rc EQUAL 0 OR commit STREQUAL "")
		set(commit "unknown")
	endif()
endif()
string(REGEX REPLACE "[^A-Za-z0-9._+-]" "_" commit "${commit}")
set(text "/* made by server/core/build_id.cmake */\nextern const char hr_build_commit[];\nconst char hr_build_commit[] = \"${commit}\";\n")
if(EXISTS ${OUT})
	file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
	file(WRITE ${OUT} "${text}")
endif()
