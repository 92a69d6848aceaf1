# build_and_run.cmake: the test of a target whose compilation is the test (static/,
# the standalone headers). Brings TARGET up to date in BUILD_DIR, which fails if a file
# no longer compiles, then runs EXECUTABLE.
#   cmake -DBUILD_DIR=... -DTARGET=... -DEXECUTABLE=... [-DCONFIG=...] -P build_and_run.cmake
cmake_minimum_required(VERSION 3.21)
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message("${out}")
  message(FATAL_ERROR "${TARGET} does not build (see above)")
endif()
execute_process(COMMAND "${EXECUTABLE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} exited with ${rc}")
endif()
