# run_deploy.cmake: flowtmpl used by a separate CMake project.
#
#   cmake -DMODE=install|subdirectory -DSOURCE_DIR=<flowtmpl source> -DBUILD_DIR=<its build>
#         -DWORK_DIR=<scratch> -DGENERATOR=... [-DMAKE_PROGRAM=...] -DCXX_COMPILER=...
#         [-DBUILD_TYPE=...] [-DCONFIG=...] -DVERSION=<x.y.z> -P run_deploy.cmake
#
# install:       configure SOURCE_DIR afresh as a user installing it would, with no option
#                and with the test and benchmark tools hidden (Catch2, Google Benchmark,
#                nlohmann_json) and no CUDA toolkit, as on a machine with only a compiler,
#                CMake, Eigen and Boost; cmake --install it into WORK_DIR/prefix without
#                building; check the installed files; then configure, build and run
#                tests/deploy/consumer against that prefix twice: with OpenMP (linking
#                flowtmpl::io and flowtmpl::device_omp) and without (the package still
#                found, the host backend serial, device_omp absent).
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
  set(step_output "${out}" PARENT_SCOPE)
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
  set(bare_build "${WORK_DIR}/flowtmpl-build")
  set(prefix "${WORK_DIR}/prefix")
  # the plain commands of the README's install section; the -D's only hide what is
  # installed on this machine but not on a user's
  step("configure flowtmpl without the test tools" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${bare_build}"
       ${configure_args} -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
       -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON "-DFLOWTMPL_CUDA_ROOT=${WORK_DIR}/no-cuda-toolkit")
  foreach(skipped "the unit tests are skipped" "the benchmarks are skipped" "flowtmpl::io is not defined"
                  "flowtmpl::device_cpp and flowtmpl::device_omp are not defined")
    string(FIND "${step_output}" "${skipped}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "deploy: configuring without the test tools did not say '${skipped}'")
    endif()
  endforeach()
  step("install into ${prefix} (nothing built)" "${CMAKE_COMMAND}" --install "${bare_build}" --prefix "${prefix}"
       ${config_args})

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
  foreach(file flowtmplConfig.cmake flowtmplConfigVersion.cmake flowtmplTargets.cmake flowtmplComponents.cmake)
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
  set(consumer_variants with_openmp without_openmp)
  set(consumer_args_with_openmp -DCONSUMER_OPENMP=ON)
  set(consumer_args_without_openmp -DCONSUMER_OPENMP=OFF -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON)
elseif(MODE STREQUAL "subdirectory")
  set(consumer_source "${SOURCE_DIR}/tests/deploy/subdir_consumer")
  set(consumer_args "-DFLOWTMPL_SOURCE_DIR=${SOURCE_DIR}")
  set(consumer_variants vendored)
  set(consumer_args_vendored "")
else()
  message(FATAL_ERROR "run_deploy.cmake: MODE must be install or subdirectory, not '${MODE}'")
endif()

foreach(variant IN LISTS consumer_variants)
  set(consumer_build "${WORK_DIR}/consumer-${variant}")
  step("configure ${consumer_source} (${variant})" "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${consumer_build}"
       ${configure_args} ${consumer_args} ${consumer_args_${variant}})
  step("build the consumer (${variant})" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})
  step("run the consumer (${variant})" "${CMAKE_CTEST_COMMAND}" --test-dir "${consumer_build}" ${ctest_config_args}
       --verbose --no-tests=error)
endforeach()
