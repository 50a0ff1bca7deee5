# Turns the console's files into one C source of byte arrays, so that the
# herald binary serves them with nothing beside it (admin/console.c).
# CMake alone, at build time (admin/CMakeLists.txt runs it):
#   cmake -DDIR=admin/console -DFILES=index.html,console.css,console.js
#         -DOUT=console_files.c -P embed.cmake
# Each file: its bytes (and a NUL after them, so that an empty file is
# still an array), its length, and a strong entity-tag made of the
# first 16 hex digits of its SHA-256 (RFC 9110 8.8.3), which changes
# when the file does.
string(REPLACE "," ";" files "${FILES}")
set(arrays "")
set(table "")
set(i 0)
foreach(name IN LISTS files)
	set(path "${DIR}/${name}")
	file(READ "${path}" hex HEX)
	file(SHA256 "${path}" sha)
	string(SUBSTRING "${sha}" 0 16 tag)
	string(LENGTH "${hex}" n)
	math(EXPR len "${n} / 2")
	# 16 bytes a line, each as 0xNN, (CMake's expressions count no {n})
	string(REPEAT "[0-9a-f]" 32 line)
	string(REGEX REPLACE "(${line})" "\\1\n\t" hex "${hex}")
	string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
	string(APPEND arrays "\n/* ${name} */\nstatic const unsigned char f${i}[] = {\n\t${hex}0x00\n};\n")
	string(APPEND table "\t{ \"${name}\", f${i}, ${len}, \"\\\"${tag}\\\"\" },\n")
	math(EXPR i "${i} + 1")
endforeach()
set(text "/* Made by admin/console/embed.cmake from admin/console/: not to be edited. */\n#include \"admin/console_int.h\"\n${arrays}\nconst struct hr_console_file hr_console_files[] = {\n${table}\t{ 0 }\n};\n")
file(WRITE "${OUT}" "${text}")
