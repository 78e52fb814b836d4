# The layer rules, read from the sources: run as
#   cmake -DSRC=<source dir> -P check_layers.cmake
# Fails listing every include line that crosses a boundary.
set(bad "")

function(scan dir regex why)
  file(GLOB_RECURSE files "${SRC}/${dir}/*.c" "${SRC}/${dir}/*.h" "${SRC}/${dir}/*.cpp")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      if(line MATCHES "${regex}")
        file(RELATIVE_PATH rel "${SRC}" "${f}")
        set(bad "${bad}\n  ${rel}: ${line}   (${why})" PARENT_SCOPE)
        set(bad "${bad}\n  ${rel}: ${line}   (${why})")
      endif()
    endforeach()
  endforeach()
endfunction()

set(internal "internal|mpi_impl\\.h|sieve_engine|factorial_plan|\\.\\./")
foreach(dir apps examples bench)
  scan(${dir} "${internal}" "${dir}/ uses public headers only")
endforeach()
scan(kernels "core_internal|omp_internal|mpi_internal|mpi_impl|<omp\\.h>|<mpi\\.h>|parkit/mpi\\.h"
     "kernels/ uses public headers only and names no engine")
scan(core "omp_internal|mpi_internal|mpi_impl|<omp\\.h>|<mpi\\.h>|parkit/mpi\\.h|kernels/"
     "core/ knows no backend and no kernel")
scan(omp "mpi_internal|mpi_impl|<mpi\\.h>|parkit/mpi\\.h" "omp/ knows nothing of mpi/")
scan(mpi "omp_internal|<omp\\.h>" "mpi/ does not name the threads backend it runs on")

# Only parkit/factorial.h includes <gmp.h> among the public headers.
file(GLOB_RECURSE headers "${SRC}/core/include/*.h" "${SRC}/kernels/include/*.h"
     "${SRC}/mpi/include/*.h")
foreach(h IN LISTS headers)
  file(STRINGS "${h}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]gmp\\.h")
  if(lines AND NOT h MATCHES "/parkit/factorial\\.h$")
    file(RELATIVE_PATH rel "${SRC}" "${h}")
    string(APPEND bad "\n  ${rel}: includes <gmp.h> (only parkit/factorial.h may)")
  endif()
endforeach()

# The checks must have had something to read.
file(GLOB_RECURSE kernel_sources "${SRC}/kernels/src/*.c")
list(LENGTH kernel_sources nk)
if(nk LESS 4)
  message(FATAL_ERROR "found ${nk} kernel sources under ${SRC}/kernels/src: wrong SRC?")
endif()

if(bad)
  message(FATAL_ERROR "layer rules broken:${bad}")
endif()
message(STATUS "layers: ${nk} kernel sources and every folder checked, no crossing")
