# Runs one multihost test, the hosts being up (hosts.sh with N starts it):
#   cmake -DHOSTS_SH=<scripts/hosts.sh> -DPROG=<program> -DSPEC=<spec> -P run_multihost_test.cmake
# The spec (written by parkit_multihost_test in ParkitMultihost.cmake) gives the
# mpirun options across the hosts and on one host, the program's arguments, the
# environment and the checks. The program runs through `hosts.sh run` across
# the hosts and, for SAME_AS_ONE_HOST, through `hosts.sh local` on this machine
# alone; on any mismatch the script fails and prints each command, its exit
# status, its time and both streams.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED HOSTS_SH OR NOT DEFINED PROG OR NOT DEFINED SPEC)
  message(FATAL_ERROR "usage: cmake -DHOSTS_SH=hosts.sh -DPROG=program -DSPEC=spec.cmake"
                      " -P run_multihost_test.cmake")
endif()
include(${SPEC})

foreach(list MH_LAUNCH MH_ONE_HOST MH_ARG MH_ENV MH_EXPECT MH_EXPECT_STDERR MH_REJECT
             MH_STDOUT_LINES MH_STDERR_LINES MH_SAME)
  if(NOT DEFINED ${list}_N)
    message(FATAL_ERROR "${SPEC}: no ${list}_N (regenerate the spec)")
  endif()
  foreach(k RANGE ${${list}_N})
    if(k LESS ${list}_N AND NOT DEFINED ${list}_${k})
      message(FATAL_ERROR "${SPEC}: ${list}_${k} is missing (${list}_N = ${${list}_N})")
    endif()
  endforeach()
endforeach()

set(problems "")

function(problem text)
  set(problems "${problems}  - ${text}\n" PARENT_SCOPE)
endfunction()

# Runs `hosts.sh <how> <launch options> PROG <arguments>` in the test's
# environment; sets <prefix>_out, _err, _rc, _shown and _seconds in the caller.
# The command is built as code with one bracket argument per word, so empty
# arguments and spaces reach the program exactly as written.
function(run_mpi how launchlist prefix)
  set(code "execute_process(COMMAND [==[\n${CMAKE_COMMAND}]==] -E env"
           " --unset=PARKIT_BACKEND --unset=PARKIT_INJECT")
  set(shown "")
  foreach(k RANGE ${MH_ENV_N})
    if(k LESS MH_ENV_N)
      string(APPEND code " [==[\n${MH_ENV_${k}}]==]")
      string(APPEND shown "${MH_ENV_${k}} ")
    endif()
  endforeach()
  string(APPEND code " [==[\n${HOSTS_SH}]==] ${how}")
  string(APPEND shown "${HOSTS_SH} ${how}")
  foreach(k RANGE ${${launchlist}_N})
    if(k LESS ${launchlist}_N)
      string(APPEND code " [==[\n${${launchlist}_${k}}]==]")
      string(APPEND shown " ${${launchlist}_${k}}")
    endif()
  endforeach()
  string(APPEND code " [==[\n${PROG}]==]")
  string(APPEND shown " ${PROG}")
  foreach(k RANGE ${MH_ARG_N})
    if(k LESS MH_ARG_N)
      string(APPEND code " [==[\n${MH_ARG_${k}}]==]")
      string(APPEND shown " '${MH_ARG_${k}}'")
    endif()
  endforeach()
  # hosts.sh kills mpirun 15 s after MPIEXEC_TIMEOUT; this is the backstop.
  math(EXPR limit "${MH_TIMEOUT} + 25")
  string(APPEND code " OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc"
         " TIMEOUT ${limit})")
  string(TIMESTAMP t0 "%s%f" UTC)
  cmake_language(EVAL CODE "${code}")
  string(TIMESTAMP t1 "%s%f" UTC)
  math(EXPR ms "(${t1} - ${t0}) / 1000")
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
  set(${prefix}_rc "${rc}" PARENT_SCOPE)
  set(${prefix}_shown "${shown}" PARENT_SCOPE)
  set(${prefix}_ms "${ms}" PARENT_SCOPE)
endfunction()

# Each regex of the spec list `var` must (want TRUE) or must not (FALSE) match
# the text in variable `textvar`.
function(check_patterns var textvar stream want)
  foreach(k RANGE ${${var}_N})
    if(k LESS ${var}_N)
      set(re "${${var}_${k}}")
      if("${${textvar}}" MATCHES "${re}")
        if(NOT want)
          problem("${stream} matches '${re}' but must not")
        endif()
      elseif(want)
        problem("${stream} does not match '${re}'")
      endif()
    endif()
  endforeach()
  set(problems "${problems}" PARENT_SCOPE)
endfunction()

# The lines of the text in `textvar` as a list (';' escaped) in `result`.
function(split_lines textvar result)
  string(REPLACE ";" "\\;" text "${${textvar}}")
  string(REPLACE "\n" ";" lines "${text}")
  set(${result} "${lines}" PARENT_SCOPE)
endfunction()

# Each "count:regex" of the spec list `var`: exactly count lines of the text in
# `textvar` match regex.
function(check_line_counts var textvar stream)
  split_lines(${textvar} lines)
  foreach(k RANGE ${${var}_N})
    if(k LESS ${var}_N)
      set(check "${${var}_${k}}")
      if(NOT check MATCHES "^([0-9]+):(.*)$")
        problem("malformed ${stream} line check '${check}' (expected count:regex)")
        continue()
      endif()
      set(want ${CMAKE_MATCH_1})
      set(re "${CMAKE_MATCH_2}")
      set(got 0)
      foreach(line IN LISTS lines)
        if(line MATCHES "${re}")
          math(EXPR got "${got} + 1")
        endif()
      endforeach()
      if(NOT got EQUAL want)
        problem("${got} lines of ${stream} match '${re}', expected ${want}")
      endif()
    endif()
  endforeach()
  set(problems "${problems}" PARENT_SCOPE)
endfunction()

# The lines of the text in `textvar` that match any regex of MH_SAME, joined
# with newlines, in `result`.
function(compared_lines textvar result)
  split_lines(${textvar} lines)
  set(kept "")
  foreach(line IN LISTS lines)
    foreach(k RANGE ${MH_SAME_N})
      if(k LESS MH_SAME_N AND line MATCHES "${MH_SAME_${k}}")
        string(APPEND kept "${line}\n")
        break()
      endif()
    endforeach()
  endforeach()
  set(${result} "${kept}" PARENT_SCOPE)
endfunction()

run_mpi(run MH_LAUNCH multi)
set(report "command: ${multi_shown}\nexit status: ${multi_rc} after ${multi_ms} ms\n")
string(APPEND report "----- stdout -----\n${multi_out}----- stderr -----\n${multi_err}"
                     "------------------\n")

if(NOT "${multi_rc}" STREQUAL "${MH_EXIT}")
  problem("exit status '${multi_rc}', expected ${MH_EXIT}")
endif()
math(EXPR max_ms "${MH_MAX_SECONDS} * 1000")
if(max_ms GREATER 0 AND multi_ms GREATER_EQUAL max_ms)
  problem("the run took ${multi_ms} ms, more than ${MH_MAX_SECONDS} s")
endif()
check_patterns(MH_EXPECT multi_out stdout TRUE)
check_patterns(MH_EXPECT_STDERR multi_err stderr TRUE)
check_patterns(MH_REJECT multi_out stdout FALSE)
check_patterns(MH_REJECT multi_err stderr FALSE)
check_line_counts(MH_STDOUT_LINES multi_out stdout)
check_line_counts(MH_STDERR_LINES multi_err stderr)

if(MH_SAME_N GREATER 0)
  run_mpi(local MH_ONE_HOST one)
  string(APPEND report "one-host command: ${one_shown}\n"
                       "exit status: ${one_rc} after ${one_ms} ms\n"
                       "----- stdout -----\n${one_out}----- stderr -----\n${one_err}"
                       "------------------\n")
  compared_lines(multi_out multi_lines)
  compared_lines(one_out one_lines)
  if(NOT "${one_rc}" STREQUAL "${multi_rc}")
    problem("exit status '${multi_rc}' across hosts but '${one_rc}' on one host")
  endif()
  if("${multi_lines}" STREQUAL "")
    problem("no line of stdout to compare with the one-host run")
  elseif(NOT "${multi_lines}" STREQUAL "${one_lines}")
    problem("the compared lines differ from the one-host run's:\nacross hosts:\n${multi_lines}on one host:\n${one_lines}")
  endif()
endif()

if(problems)
  message(FATAL_ERROR "multihost test ${MH_NAME} failed:\n${problems}${report}")
endif()
message(STATUS "${MH_NAME}: ok (exit ${multi_rc} after ${multi_ms} ms)")
