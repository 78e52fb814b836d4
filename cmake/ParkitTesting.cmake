# Test helpers. Every test gets a timeout: a deadlock must fail a test, never hang.
find_package(GTest 1.12 REQUIRED)
include(GoogleTest)

set(PARKIT_TEST_TIMEOUT 120 CACHE STRING "Default ctest timeout (seconds) per test")

# The environment Open MPI needs on these machines (root, oversubscription,
# loopback transports), set on the tests rather than by hand.
set(PARKIT_MPI_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1
  OMPI_MCA_pml=ob1
  OMPI_MCA_btl=self,vader,tcp
  OMPI_MCA_mtl=^ofi,psm,psm2
  OMPI_MCA_osc=^ucx
  OMPI_MCA_btl_vader_single_copy_mechanism=none
  OMPI_MCA_btl_tcp_if_include=lo
  OMPI_MCA_oob_tcp_if_include=lo
  OMPI_MCA_mpi_yield_when_idle=1
  OMPI_MCA_hwloc_base_binding_policy=none
  PMIX_MCA_gds=hash
  MPIEXEC_TIMEOUT=100
  GTEST_COLOR=no)

# parkit_add_gtest(name SOURCES ...): a GoogleTest binary, one ctest per TEST.
function(parkit_add_gtest name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${PARKIT_TEST_TIMEOUT})
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE parkit GTest::gtest GTest::gtest_main ${T_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT "OMP_NUM_THREADS=2;GTEST_COLOR=no")
endfunction()

# parkit_add_mpi_test(name SOURCES ... [LIBS ...] [RANKS 1 2 3 4 8] [TIMEOUT s]):
# a GoogleTest binary with the MPI test main (tests/mpi/mpi_main.cpp, which the
# caller lists in SOURCES), run under mpirun once per rank count as the ctest
# <name>_np<N>. Each run gets the Open MPI environment of these machines, two
# OpenMP threads per rank below 4 ranks and one from 4 up (so 8 ranks do not
# ask for 16 threads on 2 cores), passive OpenMP waiting, PROCESSORS N (ctest -j
# runs them one at a time) and a timeout that kills it; MPIEXEC_TIMEOUT ends a stuck job a little
# earlier with Open MPI's own report.
function(parkit_add_mpi_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;RANKS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${PARKIT_TEST_TIMEOUT})
  endif()
  if(NOT T_RANKS)
    set(T_RANKS 1 2 3 4 8)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE parkit GTest::gtest MPI::MPI_C ${T_LIBS})
  target_compile_definitions(${name} PRIVATE OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  math(EXPR mpi_timeout "${T_TIMEOUT} - 5")
  set(env ${PARKIT_MPI_TEST_ENV})
  list(FILTER env EXCLUDE REGEX "^MPIEXEC_TIMEOUT=")
  list(APPEND env MPIEXEC_TIMEOUT=${mpi_timeout})
  # Ranks x threads exceed the cores here: OpenMP threads that spin between
  # parallel regions would take the cores from the other ranks (10x slower).
  list(APPEND env OMP_WAIT_POLICY=passive)
  if(PARKIT_SANITIZE STREQUAL "address")
    list(APPEND env ASAN_OPTIONS=detect_leaks=0) # Open MPI's own allocations
  endif()
  foreach(n IN LISTS T_RANKS)
    if(n GREATER_EQUAL 4)
      set(threads 1)
    else()
      set(threads 2)
    endif()
    add_test(NAME ${name}_np${n}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${name}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(${name}_np${n} PROPERTIES
      PROCESSORS ${n} TIMEOUT ${T_TIMEOUT} LABELS mpi
      ENVIRONMENT "${env};OMP_NUM_THREADS=${threads}")
  endforeach()
endfunction()

# One more run of an MPI test binary made by parkit_add_mpi_test: `ranks` ranks
# of `threads` threads, extra environment (VAR=VALUE...) and arguments.
function(parkit_add_mpi_run name target)
  cmake_parse_arguments(T "" "RANKS;THREADS;TIMEOUT" "ENV;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${PARKIT_TEST_TIMEOUT})
  endif()
  math(EXPR mpi_timeout "${T_TIMEOUT} - 5")
  set(env ${PARKIT_MPI_TEST_ENV})
  list(FILTER env EXCLUDE REGEX "^MPIEXEC_TIMEOUT=")
  list(APPEND env MPIEXEC_TIMEOUT=${mpi_timeout} OMP_WAIT_POLICY=passive
       OMP_NUM_THREADS=${T_THREADS} ${T_ENV})
  if(PARKIT_SANITIZE STREQUAL "address")
    list(APPEND env ASAN_OPTIONS=detect_leaks=0)
  endif()
  add_test(NAME ${name}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_RANKS} ${MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:${target}> ${MPIEXEC_POSTFLAGS} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES
    PROCESSORS ${T_RANKS} TIMEOUT ${T_TIMEOUT} LABELS mpi ENVIRONMENT "${env}")
endfunction()
