# Finds what parkit builds on: GMP (always), OpenMP and MPI (optional), and for
# tests and benchmarks GoogleTest and primesieve. Debian packages provide all.
find_path(GMP_INCLUDE_DIR gmp.h REQUIRED)
find_library(GMP_LIBRARY gmp REQUIRED)
add_library(parkit_gmp INTERFACE)
target_include_directories(parkit_gmp INTERFACE ${GMP_INCLUDE_DIR})
target_link_libraries(parkit_gmp INTERFACE ${GMP_LIBRARY})

find_package(Threads REQUIRED)

# FLINT (optional): its FFT multiplies the factorial's biggest products on several
# threads and its truncated transform beats GMP's on unbalanced ones. Absent, the
# factorial multiplies with GMP alone.
if(PARKIT_WITH_FLINT)
  find_path(FLINT_INCLUDE_DIR flint/fft.h)
  find_library(FLINT_LIBRARY flint)
  if(NOT FLINT_INCLUDE_DIR OR NOT FLINT_LIBRARY)
    message(STATUS "FLINT not found: the factorial multiplies with GMP alone")
    set(PARKIT_WITH_FLINT OFF CACHE BOOL "" FORCE)
  endif()
endif()
if(PARKIT_WITH_FLINT)
  set(PARKIT_WITH_FLINT_01 1)
else()
  set(PARKIT_WITH_FLINT_01 0)
endif()

if(PARKIT_WITH_OPENMP)
  find_package(OpenMP COMPONENTS C)
  if(NOT OpenMP_C_FOUND)
    message(WARNING "OpenMP not found: building without the OpenMP backend")
    set(PARKIT_WITH_OPENMP OFF CACHE BOOL "" FORCE)
  endif()
endif()

if(PARKIT_WITH_MPI)
  find_package(MPI COMPONENTS C)
  if(NOT MPI_C_FOUND)
    message(WARNING "MPI not found: building without the MPI backend")
    set(PARKIT_WITH_MPI OFF CACHE BOOL "" FORCE)
  endif()
endif()

if(PARKIT_WITH_OPENMP)
  set(PARKIT_WITH_OPENMP_01 1)
else()
  set(PARKIT_WITH_OPENMP_01 0)
endif()
if(PARKIT_WITH_MPI)
  set(PARKIT_WITH_MPI_01 1)
else()
  set(PARKIT_WITH_MPI_01 0)
endif()

find_library(PRIMESIEVE_LIBRARY primesieve)
find_path(PRIMESIEVE_INCLUDE_DIR primesieve.h)
