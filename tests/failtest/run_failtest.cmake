# run_failtest.cmake: one compile-fail case.
#
#   cmake -DCONFIG=<failtest_config.cmake> -DSOURCE=<case.cpp> -P run_failtest.cmake
#
# CONFIG sets FT_CXX (the compiler), FT_INCLUDES (-I), FT_SYSTEM_INCLUDES (-isystem) and
# FT_FLAGS (flags for both variants). The case file holds directives, each a whole line:
#   // expect-first: REGEX   the first line of the broken build's output that contains
#                            "error:" or "In instantiation of" must match REGEX (required)
#   // expect: REGEX         the broken build's output must match REGEX (any number, at
#                            least one)
#   // max-errors: N         the broken build reports at most N errors
#   // flags: FLAGS          extra flags for both builds (-fno-exceptions)
# The case is compiled twice with -std=c++20 -fsyntax-only: as it is, which must compile
# without a warning (-Werror), and with -DFLOWTMPL_FAILTEST_BROKEN, which must fail with
# the expected output. REGEX is a CMake regular expression (escape ( ) [ ] . * + ? | ^ $
# with a backslash where they are meant literally).
cmake_minimum_required(VERSION 3.21)

foreach(var CONFIG SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_failtest.cmake: -D${var}=... is required")
  endif()
endforeach()
include("${CONFIG}")
get_filename_component(case_name "${SOURCE}" NAME_WE)

# The directives. The file is searched as one string (a list of lines would split a
# regular expression at every ';').
file(READ "${SOURCE}" source_text)
set(source_text "\n${source_text}")

# ft_directive(KEY OUT): the text after the first "// KEY: " line, empty if none.
function(ft_directive key out)
  string(REGEX MATCH "\n// ${key}: [^\n]*" line "${source_text}")
  string(REGEX REPLACE "^\n// ${key}: " "" line "${line}")
  string(STRIP "${line}" line)
  set(${out} "${line}" PARENT_SCOPE)
endfunction()

ft_directive(expect-first expect_first)
ft_directive(max-errors max_errors)
ft_directive(flags case_flags)
if(expect_first STREQUAL "")
  message(FATAL_ERROR "${case_name}: the case has no '// expect-first: REGEX' line")
endif()
string(FIND "${source_text}" "\n// expect: " has_expect)
if(has_expect EQUAL -1)
  message(FATAL_ERROR "${case_name}: the case has no '// expect: REGEX' line")
endif()
string(FIND "${source_text}" "FLOWTMPL_FAILTEST_BROKEN" has_macro)
if(has_macro EQUAL -1)
  message(FATAL_ERROR "${case_name}: the case never tests FLOWTMPL_FAILTEST_BROKEN")
endif()

separate_arguments(case_flags UNIX_COMMAND "${case_flags}")
set(command "${FT_CXX}" -std=c++20 -fsyntax-only -fdiagnostics-color=never ${FT_FLAGS} ${case_flags})
foreach(dir IN LISTS FT_INCLUDES)
  list(APPEND command "-I${dir}")
endforeach()
foreach(dir IN LISTS FT_SYSTEM_INCLUDES)
  list(APPEND command -isystem "${dir}")
endforeach()

# ft_fail(DETAILS): prints DETAILS as they are (message(FATAL_ERROR) would reflow the
# compiler's output) and fails.
function(ft_fail details)
  message("${case_name}: FAILED: ${details}")
  message(FATAL_ERROR "${case_name}: failed (see above)")
endfunction()

# LC_ALL=C: plain quotes ('...') in g++'s messages, whatever the locale.
function(ft_compile out_rc out_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C LANGUAGE= ${command} ${ARGN} "${SOURCE}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE text)
  set(${out_rc} "${rc}" PARENT_SCOPE)
  set(${out_text} "${text}" PARENT_SCOPE)
endfunction()

# 1. As it is: must compile cleanly, so that the broken variant fails for its one reason.
ft_compile(rc text -Wall -Wextra -Werror)
if(NOT rc EQUAL 0)
  ft_fail("the valid variant (without FLOWTMPL_FAILTEST_BROKEN) does not compile (exit ${rc}):\n${text}")
endif()

# 2. Broken: must fail, with the expected messages.
ft_compile(rc text -DFLOWTMPL_FAILTEST_BROKEN)
if(rc EQUAL 0)
  ft_fail("the broken variant (-DFLOWTMPL_FAILTEST_BROKEN) compiled; it must not\n${text}")
endif()

set(failures "")
string(REGEX MATCH "[^\n]*(error:|In instantiation of)[^\n]*" first_line "${text}")
if(first_line STREQUAL "")
  string(APPEND failures "  no line of the output contains \"error:\" or \"In instantiation of\"\n")
elseif(NOT first_line MATCHES "${expect_first}")
  string(APPEND failures "  the first line with \"error:\" or \"In instantiation of\" does not match\n"
                         "    expected: ${expect_first}\n    actual:   ${first_line}\n")
endif()

set(rest "${source_text}")
while(TRUE)
  string(FIND "${rest}" "\n// expect: " pos)
  if(pos EQUAL -1)
    break()
  endif()
  math(EXPR pos "${pos} + 12")
  string(SUBSTRING "${rest}" ${pos} -1 rest)
  string(REGEX MATCH "^[^\n]*" regex "${rest}")
  string(STRIP "${regex}" regex)
  if(NOT text MATCHES "${regex}")
    string(APPEND failures "  the output does not match\n    expected: ${regex}\n")
  endif()
endwhile()

string(REGEX MATCHALL ": (fatal )?error: " error_lines "${text}")
list(LENGTH error_lines error_count)
if(NOT max_errors STREQUAL "" AND error_count GREATER max_errors)
  string(APPEND failures "  ${error_count} errors, at most ${max_errors} expected\n")
endif()

if(NOT failures STREQUAL "")
  ft_fail("the broken variant failed to compile, but not as expected:\n${failures}full output:\n${text}")
endif()
message(STATUS "${case_name}: the valid variant compiles; the broken one fails with ${error_count} error(s), "
               "first: ${first_line}")
