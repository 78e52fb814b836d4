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
