# run_budget.cmake: compiles calibration.cpp and then chain.cpp with LAYERS layers under
# compile_probe, and fails when the ratio of the two compilers' CPU times or the chain's
# peak memory is over the budget (budget.cmake). The ratio, not chain.cpp's own time:
# calibration.cpp uses no flowtmpl header, so it measures the machine and the hour.
#   cmake -DPROBE=... -DCONFIG=<failtest config> -DSOURCE=chain.cpp -DCALIBRATION=calibration.cpp
#         -DLAYERS=16 -DBUDGET=budget.cmake -DOUT=<object file> [-DEXTRA_FLAGS=...] -P run_budget.cmake
cmake_minimum_required(VERSION 3.21)
foreach(arg PROBE CONFIG SOURCE CALIBRATION LAYERS BUDGET OUT)
  if(NOT DEFINED ${arg})
    message(FATAL_ERROR "run_budget.cmake: -D${arg}=... is missing (usage at the top of this file)")
  endif()
endforeach()
include("${CONFIG}")
include("${BUDGET}")
set(cmd "${FT_CXX}" -std=gnu++20 -O2 ${EXTRA_FLAGS} "-I${FT_INCLUDES}")
foreach(dir IN LISTS FT_SYSTEM_INCLUDES)
  list(APPEND cmd -isystem "${dir}")
endforeach()

# compile_once(<source> <prefix> [defines...]): sets <prefix>_cs (CPU, hundredths of a
# second) and <prefix>_mb (peak resident memory) in the caller
function(compile_once source prefix)
  execute_process(COMMAND "${PROBE}" ${cmd} ${ARGN} -c "${source}" -o "${OUT}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message("${out}${err}")
    message(FATAL_ERROR "${source} does not compile")
  endif()
  if(NOT out MATCHES "cpu_seconds=([0-9.]+) wall_seconds=([0-9.]+) peak_mb=([0-9]+)")
    message(FATAL_ERROR "compile_probe printed no figures: ${out}")
  endif()
  string(REPLACE "." "" cs "${CMAKE_MATCH_1}")  # probe prints two decimals
  math(EXPR cs "${cs}")
  set(${prefix}_cs ${cs} PARENT_SCOPE)
  set(${prefix}_mb ${CMAKE_MATCH_3} PARENT_SCOPE)
endfunction()

compile_once("${CALIBRATION}" calibration)
compile_once("${SOURCE}" chain "-DFLOWTMPL_BUDGET_LAYERS=${LAYERS}")
if(calibration_cs LESS 1)
  message(FATAL_ERROR "calibration.cpp compiled in no measurable CPU time (${calibration_cs} cs)")
endif()
math(EXPR ratio_percent "${chain_cs} * 100 / ${calibration_cs}")
math(EXPR allowed_percent "${BUDGET_RECORDED_RATIO_PERCENT} * ${BUDGET_MARGIN_RATIO_PERCENT} / 100")
math(EXPR allowed_mb "${BUDGET_RECORDED_PEAK_MB} * ${BUDGET_MARGIN_MEMORY_PERCENT} / 100")
if(allowed_mb GREATER BUDGET_LIMIT_PEAK_MB)
  set(allowed_mb ${BUDGET_LIMIT_PEAK_MB})
endif()
message("chain.cpp, ${LAYERS} layers, g++ -O2: ${chain_cs} cs CPU, ${chain_mb} MB peak; calibration.cpp "
        "${calibration_cs} cs; ratio ${ratio_percent}% (recorded ${BUDGET_RECORDED_RATIO_PERCENT}%, allowed "
        "${allowed_percent}%); memory allowed ${allowed_mb} MB")
if(ratio_percent GREATER allowed_percent)
  message(FATAL_ERROR "compile time over budget: chain.cpp took ${ratio_percent}% of calibration.cpp's "
                      "CPU time > ${allowed_percent}% allowed")
endif()
if(chain_mb GREATER allowed_mb)
  message(FATAL_ERROR "compiler memory over budget: ${chain_mb} MB > ${allowed_mb} MB allowed")
endif()
