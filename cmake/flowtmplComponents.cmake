# flowtmpl_define_components(PREFIX <prefix> [IMPORTED])
#
# Defines flowtmpl's optional targets next to flowtmpl::flowtmpl, each only where what it
# needs is found (a status line says which are defined and why the others are not):
#
#   flowtmpl::io          <flowtmpl/io/safetensors.hpp>: flowtmpl::flowtmpl and nlohmann_json
#   flowtmpl::device_cpp  the thrust device backend on the serial CPP system
#   flowtmpl::device_omp  the thrust device backend on the OMP system (needs OpenMP)
#   flowtmpl::mpi         <flowtmpl/mpi.hpp>: flowtmpl::flowtmpl and MPI's C interface
#                         (find_package(MPI), MPI::MPI_CXX without the C++ bindings)
#
# thrust is looked for in the CUDA toolkit at FLOWTMPL_CUDA_ROOT (<root>/include/cccl,
# or <root>/include for toolkits before 13), else as a system thrust (Debian's
# libthrust-dev); FLOWTMPL_THRUST_INCLUDE_DIR overrides the search.
#
# The source tree's CMakeLists.txt calls it with PREFIX flowtmpl_ (targets flowtmpl_io,
# ... with flowtmpl:: aliases); the installed package's flowtmplConfig.cmake calls it with
# IMPORTED (targets flowtmpl::io, ...), so an installed flowtmpl finds these
# dependencies on the consumer's machine, not where it was built. Sets
# flowtmpl_<component>_FOUND for find_package(flowtmpl COMPONENTS ...).
include_guard(GLOBAL)

function(_flowtmpl_component component imported)
  set(flowtmpl_${component}_FOUND TRUE PARENT_SCOPE)
  if(TARGET flowtmpl::${component})  # the package found a second time in one project
    set(_flowtmpl_target "" PARENT_SCOPE)
    return()
  endif()
  if(imported)
    add_library(flowtmpl::${component} INTERFACE IMPORTED)
    set(target flowtmpl::${component})
  else()
    add_library(flowtmpl_${component} INTERFACE)
    add_library(flowtmpl::${component} ALIAS flowtmpl_${component})
    set(target flowtmpl_${component})
  endif()
  target_link_libraries(${target} INTERFACE flowtmpl::flowtmpl ${ARGN})
  set(_flowtmpl_target ${target} PARENT_SCOPE)
endfunction()

macro(flowtmpl_define_components)
  cmake_parse_arguments(_ftc "IMPORTED;IO;DEVICE;MPI" "" "" ${ARGN})
  set(flowtmpl_io_FOUND FALSE)
  set(flowtmpl_mpi_FOUND FALSE)
  set(flowtmpl_device_cpp_FOUND FALSE)
  set(flowtmpl_device_omp_FOUND FALSE)
  set(_ftc_defined "")

  if(_ftc_IO)
    if(NOT TARGET nlohmann_json::nlohmann_json)
      find_package(nlohmann_json 3 QUIET)
    endif()
    if(TARGET nlohmann_json::nlohmann_json)
      _flowtmpl_component(io "${_ftc_IMPORTED}" nlohmann_json::nlohmann_json)
      list(APPEND _ftc_defined "flowtmpl::io")
    else()
      message(STATUS "flowtmpl: nlohmann_json not found (Debian: nlohmann-json3-dev): flowtmpl::io is not defined")
    endif()
  endif()

  if(_ftc_MPI)
    if(NOT TARGET MPI::MPI_CXX)
      set(MPI_CXX_SKIP_MPICXX TRUE)
      find_package(MPI QUIET COMPONENTS CXX)
    endif()
    if(TARGET MPI::MPI_CXX)
      _flowtmpl_component(mpi "${_ftc_IMPORTED}" MPI::MPI_CXX)
      list(APPEND _ftc_defined "flowtmpl::mpi")
    else()
      message(STATUS "flowtmpl: MPI not found (Debian: libopenmpi-dev, openmpi-bin): flowtmpl::mpi and its tests, "
                     "benchmark and example are skipped")
    endif()
  endif()

  if(_ftc_DEVICE)
    if(NOT DEFINED FLOWTMPL_CUDA_ROOT)
      set(FLOWTMPL_CUDA_ROOT "/usr/local/cuda")
    endif()
    find_path(FLOWTMPL_THRUST_INCLUDE_DIR thrust/version.h
              HINTS ${FLOWTMPL_CUDA_ROOT}/include/cccl ${FLOWTMPL_CUDA_ROOT}/include
              DOC "The folder holding thrust/ (and, for CCCL, cub/ and cuda/)")
    if(FLOWTMPL_THRUST_INCLUDE_DIR)
      _flowtmpl_component(device_cpp "${_ftc_IMPORTED}")
      if(_flowtmpl_target)
        target_include_directories(${_flowtmpl_target} SYSTEM INTERFACE ${FLOWTMPL_THRUST_INCLUDE_DIR})
        target_compile_definitions(${_flowtmpl_target} INTERFACE THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP)
      endif()
      list(APPEND _ftc_defined "flowtmpl::device_cpp")
      if(NOT TARGET OpenMP::OpenMP_CXX)
        find_package(OpenMP QUIET COMPONENTS CXX)
      endif()
      if(TARGET OpenMP::OpenMP_CXX)
        _flowtmpl_component(device_omp "${_ftc_IMPORTED}" OpenMP::OpenMP_CXX)
        if(_flowtmpl_target)
          target_include_directories(${_flowtmpl_target} SYSTEM INTERFACE ${FLOWTMPL_THRUST_INCLUDE_DIR})
          target_compile_definitions(${_flowtmpl_target} INTERFACE THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP)
        endif()
        list(APPEND _ftc_defined "flowtmpl::device_omp")
      else()
        message(STATUS "flowtmpl: OpenMP not found: flowtmpl::device_omp is not defined")
      endif()
      message(STATUS "flowtmpl: thrust for the device backend: ${FLOWTMPL_THRUST_INCLUDE_DIR}")
    else()
      message(STATUS "flowtmpl: thrust not found (no CUDA toolkit at ${FLOWTMPL_CUDA_ROOT}, no libthrust-dev): "
                     "flowtmpl::device_cpp and flowtmpl::device_omp are not defined")
    endif()
  endif()
  if(_ftc_defined)
    string(REPLACE ";" ", " _ftc_defined "${_ftc_defined}")
    message(STATUS "flowtmpl: optional targets defined: ${_ftc_defined}")
  endif()
endmacro()
