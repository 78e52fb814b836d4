# Installs the build into WORK/prefix, builds SOURCE as an outside project with
# find_package(parkit) and with pkg-config, and runs both (cmake -P).
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(check_output what text)
  foreach(want "sum of cubes = 249500250000, 999\\^3 = 997002999"
               "tasks: PK_ERANGE \\(pool: rank 0, thread [0-9]+, task 13: unlucky number 13\\)")
    if(NOT text MATCHES "${want}")
      message(FATAL_ERROR "${what}: output lacks '${want}':\n${text}")
    endif()
  endforeach()
endfunction()

file(REMOVE_RECURSE ${WORK})
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix)
foreach(prog squares factorial sieve prodcons)
  file(GLOB page ${WORK}/prefix/share/man/man1/${prog}.1)
  if(NOT page)
    message(FATAL_ERROR "cmake --install did not install the manual page of ${prog}")
  endif()
endforeach()

file(MAKE_DIRECTORY ${WORK}/app)
configure_file(${SOURCE} ${WORK}/app/main.c COPYONLY)
file(WRITE ${WORK}/app/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.25)\nproject(new_user C)\n"
  "find_package(parkit REQUIRED)\nadd_executable(app main.c)\n"
  "target_link_libraries(app PRIVATE parkit::parkit)\n")
run("configure with find_package" ${CMAKE_COMMAND} -S ${WORK}/app -B ${WORK}/app/build
    -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_C_COMPILER=${CC})
run("build with find_package" ${CMAKE_COMMAND} --build ${WORK}/app/build)
run("run the find_package build" ${WORK}/app/build/app)
check_output("find_package build" "${out}")

find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  file(GLOB_RECURSE pc_files ${WORK}/prefix/*/parkit.pc)
  list(GET pc_files 0 pc_file)
  get_filename_component(pc_dir ${pc_file} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  run("pkg-config" ${PKG_CONFIG} --cflags --libs parkit)
  string(STRIP "${out}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("build with pkg-config" ${CC} ${WORK}/app/main.c -o ${WORK}/app/app_pc ${flags})
  run("run the pkg-config build" ${WORK}/app/app_pc)
  check_output("pkg-config build" "${out}")
endif()
