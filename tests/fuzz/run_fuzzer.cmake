# tests/fuzz/run_fuzzer.cmake: one ctest run of a libFuzzer target.
#   cmake -DFUZZER=<executable> -DSEEDS=<seed folder> -DWORK_DIR=<folder in the build tree>
#         -DSECONDS=<n> -DMIN_UNITS=<n> -P run_fuzzer.cmake
# Empties WORK_DIR, then runs the target for SECONDS on WORK_DIR/corpus (first: the new
# inputs go there, never into the source tree) and the seeds, artifacts (crash-, leak-,
# timeout-, oom- files) into WORK_DIR/artifacts/. Fails if the target's exit status is
# not 0 (a finding) or it executed fewer than MIN_UNITS inputs (it did not really run).
foreach(var FUZZER SEEDS WORK_DIR SECONDS MIN_UNITS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT IS_DIRECTORY "${SEEDS}")
  message(FATAL_ERROR "run_fuzzer.cmake: the seed folder ${SEEDS} does not exist")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus" "${WORK_DIR}/artifacts")

execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
          "-artifact_prefix=${WORK_DIR}/artifacts/" "${WORK_DIR}/corpus" "${SEEDS}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)  # libFuzzer writes to stderr; both into one log
file(WRITE "${WORK_DIR}/fuzzer.log" "${out}")

# the last lines (the final stats, or the report of a finding)
string(LENGTH "${out}" length)
if(length GREATER 6000)
  math(EXPR from "${length} - 6000")
  string(SUBSTRING "${out}" ${from} -1 tail)
  message("... (the whole log: ${WORK_DIR}/fuzzer.log)\n${tail}")
else()
  message("${out}")
endif()

file(GLOB findings "${WORK_DIR}/artifacts/*")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "run_fuzzer.cmake: ${FUZZER} exited with status ${status}: a finding "
                      "(reproducer: ${findings}; run the target on it to see the report)")
endif()
if(NOT out MATCHES "stat::number_of_executed_units: *([0-9]+)")
  message(FATAL_ERROR "run_fuzzer.cmake: no stat::number_of_executed_units in the output: the fuzzer did not run to its end")
endif()
set(units ${CMAKE_MATCH_1})
if(units LESS MIN_UNITS)
  message(FATAL_ERROR "run_fuzzer.cmake: ${units} inputs executed in ${SECONDS} s, fewer than ${MIN_UNITS}")
endif()
if(findings)
  message(FATAL_ERROR "run_fuzzer.cmake: the fuzzer exited with 0 but left artifacts: ${findings}")
endif()
message(STATUS "run_fuzzer.cmake: ${units} inputs executed in ${SECONDS} s, no finding")
