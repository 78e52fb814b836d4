# Build options. Every option is prefixed PARKIT_.
option(PARKIT_WITH_OPENMP "Build the OpenMP backend" ON)
option(PARKIT_WITH_MPI "Build the MPI backend" ON)
option(PARKIT_WITH_FLINT "Multiply the factorial's biggest products with FLINT's threaded FFT when FLINT is found" ON)
option(PARKIT_BUILD_TESTS "Build the GoogleTest suite" ON)
option(PARKIT_BUILD_BENCH "Build the benchmarks against the anchors" ON)
option(PARKIT_BUILD_EXAMPLES "Build the examples" ON)
option(PARKIT_WERROR "Treat warnings as errors" OFF)
set(PARKIT_SANITIZE "" CACHE STRING "Sanitizers: empty, address (ASan+UBSan) or thread (TSan)")
set_property(CACHE PARKIT_SANITIZE PROPERTY STRINGS "" address thread)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

if(PARKIT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(PARKIT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT PARKIT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PARKIT_SANITIZE must be empty, address or thread")
endif()

# Off (the default), the build targets baseline x86-64 and runs on any x86-64
# processor and under valgrind; the kernels' hot loops are compiled in several
# versions and choose AVX2 or AVX-512 at run time (kernels/src/isa.h). On, the
# build is for the processor that builds it (-march=native) and may stop with
# "illegal instruction" on another; the hot loops are then compiled once.
option(PARKIT_NATIVE "Build for this machine's processor alone (-march=native)" OFF)
if(PARKIT_NATIVE)
  include(CheckCCompilerFlag)
  check_c_compiler_flag(-march=native PARKIT_HAS_MARCH_NATIVE)
  if(PARKIT_HAS_MARCH_NATIVE)
    add_compile_options(-march=native)
  endif()
endif()
