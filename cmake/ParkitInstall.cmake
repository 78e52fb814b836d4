# Installs the libraries, headers, programs, a CMake package (find_package(parkit))
# and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PARKIT_INSTALL_TARGETS parkit_core parkit_kernels parkit parkit_gmp)
if(PARKIT_WITH_OPENMP)
  list(APPEND PARKIT_INSTALL_TARGETS parkit_omp)
endif()
if(PARKIT_WITH_MPI)
  list(APPEND PARKIT_INSTALL_TARGETS parkit_mpi)
endif()
install(TARGETS ${PARKIT_INSTALL_TARGETS} EXPORT parkitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY core/include/parkit kernels/include/parkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/parkit/config.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/parkit)
if(PARKIT_WITH_MPI)
  install(FILES mpi/include/parkit/mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/parkit)
endif()
install(EXPORT parkitTargets NAMESPACE parkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parkit)
configure_package_config_file(cmake/parkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/parkitConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/parkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/parkitConfig.cmake ${PROJECT_BINARY_DIR}/parkitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/parkit)
set(PARKIT_PC_LIBS "-lparkit")
set(PARKIT_PC_CFLAGS "")
if(PARKIT_WITH_MPI)
  string(APPEND PARKIT_PC_LIBS " -lparkit_mpi")
  list(JOIN MPI_C_LIBRARIES " " mpi_libs)
  string(APPEND PARKIT_PC_LIBS_MPI " ${mpi_libs}")
  foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND PARKIT_PC_CFLAGS " -I${dir}")
  endforeach()
endif()
if(PARKIT_WITH_OPENMP)
  string(APPEND PARKIT_PC_LIBS " -lparkit_omp -fopenmp")
endif()
string(APPEND PARKIT_PC_LIBS " -lparkit_kernels -lparkit_core${PARKIT_PC_LIBS_MPI} -lgmp -lpthread -lm")
configure_file(cmake/parkit.pc.in ${PROJECT_BINARY_DIR}/parkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/parkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
