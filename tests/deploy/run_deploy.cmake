# run_deploy.cmake: flowtmpl used by a separate CMake project.
#
#   cmake -DMODE=install|subdirectory -DSOURCE_DIR=<flowtmpl source> -DBUILD_DIR=<its build>
#         -DWORK_DIR=<scratch> -DGENERATOR=... [-DMAKE_PROGRAM=...] -DCXX_COMPILER=...
#         [-DBUILD_TYPE=...] [-DCONFIG=...] -DVERSION=<x.y.z> -P run_deploy.cmake
#
# install:       cmake --install BUILD_DIR into WORK_DIR/prefix, check the installed files,
#                then configure, build and run tests/deploy/consumer against that prefix
#                (find_package(flowtmpl CONFIG REQUIRED)).
# subdirectory:  configure, build and run tests/deploy/subdir_consumer, which
#                add_subdirectory()s SOURCE_DIR.
cmake_minimum_required(VERSION 3.21)

foreach(var MODE SOURCE_DIR BUILD_DIR WORK_DIR GENERATOR CXX_COMPILER VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_deploy.cmake: -D${var}=... is required")
  endif()
endforeach()

# step(NAME COMMAND...): runs the command, stops with its output if it fails.
function(step name)
  message(STATUS "deploy (${MODE}): ${name}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    # the output as it is (message(FATAL_ERROR) would reflow it), then the failure
    string(REPLACE ";" " " command "${ARGN}")
    message("${out}\ndeploy (${MODE}): FAILED: ${name} (exit ${rc}): ${command}")
    message(FATAL_ERROR "deploy (${MODE}): ${name} failed (see above)")
  endif()
  message("${out}")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(configure_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
set(ctest_config_args "")
if(CONFIG)
  set(ctest_config_args -C "${CONFIG}")
endif()

if(MODE STREQUAL "install")
  set(prefix "${WORK_DIR}/prefix")
  step("install the build into ${prefix}" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})

  # Every public header is installed, and nothing else under include/.
  file(GLOB_RECURSE source_headers RELATIVE "${SOURCE_DIR}/include" "${SOURCE_DIR}/include/*")
  file(GLOB_RECURSE installed_headers RELATIVE "${prefix}/include" "${prefix}/include/*")
  list(SORT source_headers)
  list(SORT installed_headers)
  if(NOT source_headers STREQUAL installed_headers)
    message("source:    ${source_headers}\ninstalled: ${installed_headers}")
    message(FATAL_ERROR "deploy: the installed headers differ from include/ (see above)")
  endif()
  list(LENGTH installed_headers header_count)
  foreach(file flowtmplConfig.cmake flowtmplConfigVersion.cmake flowtmplTargets.cmake)
    file(GLOB_RECURSE found "${prefix}/*/${file}")
    if(NOT found)
      message(FATAL_ERROR "deploy: the install has no ${file}")
    endif()
  endforeach()
  message(STATUS "deploy: ${header_count} headers and the package files are installed")

  set(consumer_source "${SOURCE_DIR}/tests/deploy/consumer")
  set(consumer_args "-DCMAKE_PREFIX_PATH=${prefix}" "-DFLOWTMPL_EXPECTED_PREFIX=${prefix}"
                    "-DFLOWTMPL_EXPECTED_VERSION=${VERSION}"
                    # only the prefix: no user or system package registry
                    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "subdirectory")
  set(consumer_source "${SOURCE_DIR}/tests/deploy/subdir_consumer")
  set(consumer_args "-DFLOWTMPL_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "run_deploy.cmake: MODE must be install or subdirectory, not '${MODE}'")
endif()

set(consumer_build "${WORK_DIR}/consumer-build")
step("configure ${consumer_source}" "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${consumer_build}" ${configure_args}
     ${consumer_args})
step("build the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})
step("run the consumer" "${CMAKE_CTEST_COMMAND}" --test-dir "${consumer_build}" ${ctest_config_args} --verbose
     --no-tests=error)
