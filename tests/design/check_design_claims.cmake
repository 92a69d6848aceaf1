# cmake -DSOURCE_DIR=<repo> -P check_design_claims.cmake
#
# Keeps three claims of docs/design.md true:
#   1. the layer folders (bijectors/, transformers/, conditioners/, distributions/) never
#      include a backend (host, device, training, io, the conformance kit), directly;
#   2. OpenMP pragmas appear only in the host backend (host.hpp and host/);
#   3. the number of failtest cases design.md states equals the files in tests/failtest/ and tests/failtest/device/.
# Prints each claim with what it checked; fails naming every violation.
cmake_minimum_required(VERSION 3.21)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "check_design_claims.cmake: -DSOURCE_DIR=<repo> is required")
endif()
set(include_root "${SOURCE_DIR}/include/flowtmpl")
set(violations 0)

# 1. layer folders include no backend
set(backend_regex "[\"<](flowtmpl/)?(\\.\\./)*(host|device|training|testing)(\\.hpp|/[a-z_/]+\\.hpp)[\">]|[\"<](flowtmpl/)?(\\.\\./)*io/")
set(layer_headers "")
foreach(folder bijectors transformers conditioners distributions)
  file(GLOB_RECURSE found "${include_root}/${folder}/*.hpp")
  list(APPEND layer_headers ${found})
endforeach()
list(LENGTH layer_headers layer_count)
if(layer_count EQUAL 0)
  message(FATAL_ERROR "no headers under ${include_root}/{bijectors,transformers,conditioners,distributions}: the check is broken")
endif()
foreach(header IN LISTS layer_headers)
  file(STRINGS "${header}" includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "${backend_regex}")
      message(SEND_ERROR "${header}: a layer header includes a backend: ${line}")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()
message(STATUS "claim 1: ${layer_count} headers of bijectors/, transformers/, conditioners/, distributions/ include no backend")

# 2. OpenMP pragmas only in the host backend
file(GLOB_RECURSE all_headers "${include_root}/*.hpp")
set(pragma_files "")
foreach(header IN LISTS all_headers)
  file(STRINGS "${header}" pragmas REGEX "^[ \t]*#[ \t]*pragma[ \t]+omp")
  if(pragmas)
    file(RELATIVE_PATH rel "${include_root}" "${header}")
    list(APPEND pragma_files "${rel}")
    if(NOT rel MATCHES "^(host\\.hpp|host/)")
      message(SEND_ERROR "${header}: an OpenMP pragma outside the host backend")
      math(EXPR violations "${violations} + 1")
    endif()
  endif()
endforeach()
list(LENGTH all_headers header_count)
message(STATUS "claim 2: of ${header_count} headers, OpenMP pragmas are in: ${pragma_files}")

# 3. the failtest count
file(GLOB failtests "${SOURCE_DIR}/tests/failtest/*.cpp" "${SOURCE_DIR}/tests/failtest/device/*.cpp")
list(LENGTH failtests failtest_count)
file(READ "${SOURCE_DIR}/docs/design.md" design)
string(REGEX MATCHALL "tests/failtest[ \n]+holds[ \n]+[0-9]+[ \n]+cases" stated "${design}")
list(LENGTH stated stated_count)
if(NOT stated_count EQUAL 1)
  message(SEND_ERROR "docs/design.md must say \"tests/failtest holds N cases\" exactly once (found ${stated_count} times)")
  math(EXPR violations "${violations} + 1")
else()
  string(REGEX MATCH "[0-9]+" stated_number "${stated}")
  if(NOT stated_number EQUAL failtest_count)
    message(SEND_ERROR "docs/design.md says tests/failtest holds ${stated_number} cases; it holds ${failtest_count}")
    math(EXPR violations "${violations} + 1")
  endif()
  message(STATUS "claim 3: docs/design.md states ${stated_number} failtest cases; tests/failtest has ${failtest_count}")
endif()

if(violations GREATER 0)
  message(FATAL_ERROR "${violations} claim(s) of docs/design.md are false (see above)")
endif()
message(STATUS "design claims: all three hold")
