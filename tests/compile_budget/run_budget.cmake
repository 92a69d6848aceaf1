# run_budget.cmake: compiles chain.cpp with LAYERS layers under compile_probe and fails
# when the compiler's CPU time or peak memory is over the budget (budget.cmake).
#   cmake -DPROBE=... -DCONFIG=<failtest config> -DSOURCE=chain.cpp -DLAYERS=16
#         -DBUDGET=budget.cmake -DOUT=<object file> [-DEXTRA_FLAGS=...] -P run_budget.cmake
cmake_minimum_required(VERSION 3.21)
include("${CONFIG}")
include("${BUDGET}")
set(cmd "${FT_CXX}" -std=gnu++20 -O2 ${EXTRA_FLAGS} "-I${FT_INCLUDES}")
foreach(dir IN LISTS FT_SYSTEM_INCLUDES)
  list(APPEND cmd -isystem "${dir}")
endforeach()
list(APPEND cmd "-DFLOWTMPL_BUDGET_LAYERS=${LAYERS}" -c "${SOURCE}" -o "${OUT}")
execute_process(COMMAND "${PROBE}" ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message("${out}${err}")
  message(FATAL_ERROR "chain.cpp (${LAYERS} layers) does not compile")
endif()
if(NOT out MATCHES "cpu_seconds=([0-9.]+) wall_seconds=([0-9.]+) peak_mb=([0-9]+)")
  message(FATAL_ERROR "compile_probe printed no figures: ${out}")
endif()
string(REPLACE "." "" cpu_cs "${CMAKE_MATCH_1}")  # probe prints two decimals
math(EXPR cpu_cs "${cpu_cs}")
set(mb "${CMAKE_MATCH_3}")
# allowed: the recorded figure times its margin, and never more than the absolute limit
math(EXPR allowed_cs "${BUDGET_RECORDED_CPU_CENTISECONDS} * ${BUDGET_MARGIN_CPU_PERCENT} / 100")
if(allowed_cs GREATER BUDGET_LIMIT_CPU_CENTISECONDS)
  set(allowed_cs ${BUDGET_LIMIT_CPU_CENTISECONDS})
endif()
math(EXPR allowed_mb "${BUDGET_RECORDED_PEAK_MB} * ${BUDGET_MARGIN_MEMORY_PERCENT} / 100")
if(allowed_mb GREATER BUDGET_LIMIT_PEAK_MB)
  set(allowed_mb ${BUDGET_LIMIT_PEAK_MB})
endif()
message("chain.cpp, ${LAYERS} layers, g++ -O2: ${CMAKE_MATCH_1} s CPU, ${mb} MB peak; "
        "recorded ${BUDGET_RECORDED_CPU_CENTISECONDS} cs, ${BUDGET_RECORDED_PEAK_MB} MB; "
        "allowed ${allowed_cs} cs, ${allowed_mb} MB")
if(cpu_cs GREATER allowed_cs)
  message(FATAL_ERROR "compile time over budget: ${cpu_cs} cs of CPU > ${allowed_cs} cs allowed")
endif()
if(mb GREATER allowed_mb)
  message(FATAL_ERROR "compiler memory over budget: ${mb} MB > ${allowed_mb} MB allowed")
endif()
