# cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> -P selftest_design_claims.cmake
#
# check_design_claims.cmake must fail, naming each claim, on a tree that breaks all
# three: a bijector that includes the host backend, an OpenMP pragma in a layer
# header, and a design.md whose failtest count is off by one.
cmake_minimum_required(VERSION 3.21)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/include/flowtmpl/bijectors" "${WORK_DIR}/tests/failtest" "${WORK_DIR}/docs")
file(WRITE "${WORK_DIR}/include/flowtmpl/bijectors/bad.hpp" "#pragma once\n#include \"../host/batch.hpp\"\n")
file(WRITE "${WORK_DIR}/include/flowtmpl/bijectors/omp.hpp" "#pragma once\ninline void f() {\n#pragma omp parallel\n  {}\n}\n")
file(WRITE "${WORK_DIR}/include/flowtmpl/host.hpp" "#pragma once\n#pragma omp declare simd\n")
file(WRITE "${WORK_DIR}/tests/failtest/one.cpp" "")
file(WRITE "${WORK_DIR}/tests/failtest/two.cpp" "")
file(WRITE "${WORK_DIR}/docs/design.md" "tests/failtest holds 3 cases.\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${WORK_DIR} -P ${CMAKE_CURRENT_LIST_DIR}/check_design_claims.cmake
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
string(REGEX REPLACE "[ \n]+" " " out "${out}")  # message() wraps long lines
if(rc EQUAL 0)
  message(FATAL_ERROR "selftest: the check passed a tree that breaks every claim")
endif()
foreach(expected "bad.hpp: a layer header includes a backend" "omp.hpp: an OpenMP pragma outside the host backend"
                 "says tests/failtest holds 3 cases; it holds 2" "3 claim\\(s\\) of docs/design.md are false")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "selftest: the check's output lacks '${expected}'")
  endif()
endforeach()
if(out MATCHES "host.hpp: an OpenMP pragma")
  message(FATAL_ERROR "selftest: the check rejected a pragma in host.hpp")
endif()
message(STATUS "selftest: check_design_claims.cmake rejects each broken claim")
