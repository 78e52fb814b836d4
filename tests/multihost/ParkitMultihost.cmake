# MPI tests across several test hosts on one machine (scripts/hosts.sh: network
# namespaces joined by a bridge, ranks talking over TCP as between nodes).
# Include this file from any tests CMakeLists.txt, then:
#
#   parkit_multihost_test(NAME name HOSTS n RANKS_PER_HOST k|k1,k2,...
#                         COMMAND prog [args...]
#                         [EXIT code]                 (default 0)
#                         [EXPECT regex...]           (stdout)
#                         [EXPECT_STDERR regex...]
#                         [REJECT regex...]           (matches neither stream)
#                         [STDOUT_LINES count:regex...] [STDERR_LINES count:regex...]
#                         [SAME_AS_ONE_HOST regex...]
#                         [MAX_SECONDS s] [TIMEOUT s]
#                         [ENV VAR=value...] [MPIRUN_ARGS arg...] [LABELS label...])
#
# The ctest multihost.<name> makes the hosts pk-h1..pk-h<n>, runs prog with
# mpirun started on pk-h1, RANKS_PER_HOST[i] ranks on pk-h<i> (one number: that
# many on every host), and removes the hosts whatever happens. prog is a
# program target or a path. Checks, all on what mpirun printed (every rank's
# output): the exit status of mpirun is EXIT; each EXPECT regex matches stdout
# and each EXPECT_STDERR regex stderr; no REJECT regex matches either stream; a
# count:regex wants exactly count lines of that stream to match regex; with
# SAME_AS_ONE_HOST the same command is also run under plain mpirun on this
# machine alone with as many ranks, and the lines of stdout matching any of the
# regexes (in order, at least one) must be the same in both runs, as must the
# exit status; MAX_SECONDS bounds the time of the run across hosts (a failing
# job must end promptly). Regexes are CMake's: '^' and '$' are the ends of the
# whole stream ("(^|\n)text\n" matches a line), and no argument may contain ';'.
#
# The program runs with OMP_NUM_THREADS=1 and OMP_WAIT_POLICY=passive unless ENV
# says otherwise, without the caller's PARKIT_BACKEND and PARKIT_INJECT. The
# ranks on other hosts see only the variables mpirun passes on: Open MPI's own,
# and those hosts.sh run passes with -x (OMP_*, PARKIT_*, GTEST_*, *SAN_OPTIONS);
# MPIRUN_ARGS -x VAR passes another. Each mpirun is ended by Open MPI after
# TIMEOUT seconds (default PARKIT_MULTIHOST_TIMEOUT) and killed 15 s later; the
# ctest timeout covers the runs of a test. The tests carry the label multihost,
# run one at a time (RESOURCE_LOCK), are skipped where the hosts cannot be made
# (hosts.sh check: not root, no network namespaces), and share a cleanup test
# (multihost.down) that removes the hosts even after a test was killed.
include_guard(GLOBAL)

set(PARKIT_MULTIHOST_TIMEOUT 45 CACHE STRING
    "Seconds each mpirun of a multihost test may take before Open MPI ends it")
set(PARKIT_HOSTS_SH ${PROJECT_SOURCE_DIR}/scripts/hosts.sh)
set(PARKIT_MULTIHOST_RUNNER ${CMAKE_CURRENT_LIST_DIR}/run_multihost_test.cmake)
set(PARKIT_MULTIHOST_SKIP 77) # what hosts.sh check and with exit when the hosts cannot be made

# Appends `set(<var>_<i> [==[value]==])` for each element of the list named
# `listvar` and `set(<var>_N n)` to file.
function(_parkit_multihost_write_list file var listvar)
  set(i 0)
  foreach(value IN LISTS ${listvar})
    string(FIND "${value}" "]==]" bad)
    if(NOT bad EQUAL -1)
      message(FATAL_ERROR "parkit_multihost_test: '${value}' may not contain ]==]")
    endif()
    file(APPEND ${file} "set(${var}_${i} [==[\n${value}]==])\n")
    math(EXPR i "${i} + 1")
  endforeach()
  file(APPEND ${file} "set(${var}_N ${i})\n")
endfunction()

function(parkit_multihost_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;HOSTS;RANKS_PER_HOST;EXIT;MAX_SECONDS;TIMEOUT"
    "COMMAND;EXPECT;EXPECT_STDERR;REJECT;STDOUT_LINES;STDERR_LINES;SAME_AS_ONE_HOST;ENV;MPIRUN_ARGS;LABELS")
  if(T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "parkit_multihost_test(${T_NAME}): unknown arguments ${T_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT T_NAME OR NOT T_HOSTS OR "${T_RANKS_PER_HOST}" STREQUAL "" OR NOT T_COMMAND)
    message(FATAL_ERROR "parkit_multihost_test needs NAME, HOSTS, RANKS_PER_HOST and COMMAND")
  endif()
  if(NOT T_HOSTS MATCHES "^[1-9][0-9]*$" OR T_HOSTS GREATER 32)
    message(FATAL_ERROR "parkit_multihost_test(${T_NAME}): HOSTS must be 1 to 32, not '${T_HOSTS}'")
  endif()
  if("${T_EXIT}" STREQUAL "")
    set(T_EXIT 0)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${PARKIT_MULTIHOST_TIMEOUT})
  endif()
  if(NOT T_MAX_SECONDS)
    set(T_MAX_SECONDS 0)
  endif()

  # Ranks per host: one number for every host, or one per host.
  string(REPLACE "," ";" per_host "${T_RANKS_PER_HOST}")
  list(LENGTH per_host n)
  if(n EQUAL 1)
    foreach(i RANGE 2 ${T_HOSTS})
      if(i LESS_EQUAL T_HOSTS)
        list(APPEND per_host ${T_RANKS_PER_HOST})
      endif()
    endforeach()
  elseif(NOT n EQUAL T_HOSTS)
    message(FATAL_ERROR "parkit_multihost_test(${T_NAME}): RANKS_PER_HOST '${T_RANKS_PER_HOST}'"
                        " does not give one count per host (${T_HOSTS})")
  endif()
  set(ranks 0)
  set(hostlist "")
  set(i 0)
  foreach(k IN LISTS per_host)
    math(EXPR i "${i} + 1")
    if(NOT k MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "parkit_multihost_test(${T_NAME}): bad rank count '${k}'")
    endif()
    math(EXPR ranks "${ranks} + ${k}")
    list(APPEND hostlist pk-h${i}:${k})
  endforeach()
  list(JOIN hostlist "," hostlist)

  list(POP_FRONT T_COMMAND prog)
  if(TARGET ${prog})
    set(prog_path $<TARGET_FILE:${prog}>)
  else()
    set(prog_path ${prog})
  endif()

  set(env OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive MPIEXEC_TIMEOUT=${T_TIMEOUT} ${T_ENV})
  if(PARKIT_SANITIZE STREQUAL "address")
    list(PREPEND env ASAN_OPTIONS=detect_leaks=0) # Open MPI's own allocations
  endif()
  set(launch -n ${ranks} --host ${hostlist} ${T_MPIRUN_ARGS})
  set(one_host -n ${ranks} ${T_MPIRUN_ARGS})

  set(spec ${CMAKE_CURRENT_BINARY_DIR}/multihost/${T_NAME}.cmake)
  file(WRITE ${spec} "# Generated by parkit_multihost_test(${T_NAME}).\n")
  file(APPEND ${spec} "set(MH_NAME [==[${T_NAME}]==])\nset(MH_EXIT [==[${T_EXIT}]==])\n")
  file(APPEND ${spec} "set(MH_TIMEOUT ${T_TIMEOUT})\nset(MH_MAX_SECONDS ${T_MAX_SECONDS})\n")
  _parkit_multihost_write_list(${spec} MH_LAUNCH launch)
  _parkit_multihost_write_list(${spec} MH_ONE_HOST one_host)
  _parkit_multihost_write_list(${spec} MH_ARG T_COMMAND)
  _parkit_multihost_write_list(${spec} MH_ENV env)
  _parkit_multihost_write_list(${spec} MH_EXPECT T_EXPECT)
  _parkit_multihost_write_list(${spec} MH_EXPECT_STDERR T_EXPECT_STDERR)
  _parkit_multihost_write_list(${spec} MH_REJECT T_REJECT)
  _parkit_multihost_write_list(${spec} MH_STDOUT_LINES T_STDOUT_LINES)
  _parkit_multihost_write_list(${spec} MH_STDERR_LINES T_STDERR_LINES)
  _parkit_multihost_write_list(${spec} MH_SAME T_SAME_AS_ONE_HOST)

  # The cleanup test, once for all: removes the hosts after the last test that
  # needs them, even when ctest killed one.
  get_property(have_cleanup GLOBAL PROPERTY PARKIT_MULTIHOST_CLEANUP)
  if(NOT have_cleanup)
    set_property(GLOBAL PROPERTY PARKIT_MULTIHOST_CLEANUP TRUE)
    add_test(NAME multihost.down COMMAND ${PARKIT_HOSTS_SH} down)
    set_tests_properties(multihost.down PROPERTIES
      FIXTURES_CLEANUP parkit_multihost RESOURCE_LOCK parkit_multihost
      LABELS multihost TIMEOUT 60)
  endif()

  # hosts.sh with: check (exit 77: skip), make the hosts, run the runner,
  # remove the hosts whatever happened.
  set(test multihost.${T_NAME})
  add_test(NAME ${test}
           COMMAND ${PARKIT_HOSTS_SH} with ${T_HOSTS}
                   ${CMAKE_COMMAND} -DHOSTS_SH=${PARKIT_HOSTS_SH} -DPROG=${prog_path}
                   -DSPEC=${spec} -P ${PARKIT_MULTIHOST_RUNNER})
  set(runs 1)
  if(T_SAME_AS_ONE_HOST)
    set(runs 2)
  endif()
  math(EXPR backstop "${runs} * (${T_TIMEOUT} + 20) + 15")
  set_tests_properties(${test} PROPERTIES
    LABELS "multihost;mpi;${T_LABELS}" TIMEOUT ${backstop} PROCESSORS ${ranks}
    RESOURCE_LOCK parkit_multihost FIXTURES_REQUIRED parkit_multihost
    SKIP_RETURN_CODE ${PARKIT_MULTIHOST_SKIP})
endfunction()
