# Runs one CLI test: cmake -DPROG=<program> -DSPEC=<spec file> -P run_cli_test.cmake
# The spec (written by parkit_cli_test in CMakeLists.txt) gives the launcher prefix
# (empty, or mpirun and its flags), the arguments, the environment, the expected
# exit code and the checks; plain and MPI runs go through the same code. The
# program runs with OMP_NUM_THREADS=2 (unless the spec's environment says
# otherwise) and without PARKIT_BACKEND or PARKIT_INJECT from outside; on any
# mismatch the script fails and prints the command, the exit code and both streams.
# There is no limit on the number of arguments or checks: each list carries its
# length, and an entry missing from a list is an error, not a skipped check.
# Functions, not macros, handle the captured text: a macro would re-read its
# backslashes as escapes.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED PROG OR NOT DEFINED SPEC)
  message(FATAL_ERROR "usage: cmake -DPROG=program -DSPEC=spec.cmake -P run_cli_test.cmake")
endif()
include(${SPEC})

# Every list of the spec must be whole: <var>_N entries, each defined.
foreach(list CLI_LAUNCH CLI_ARG CLI_ENV CLI_STDOUT CLI_STDERR CLI_NOT_STDOUT CLI_NOT_STDERR
             CLI_STDOUT_LINES CLI_STDERR_LINES CLI_JSON)
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

# Adds one line to `problems` in the caller's scope.
function(problem text)
  set(problems "${problems}  - ${text}\n" PARENT_SCOPE)
endfunction()

# Runs the program. The command is built as code with one bracket argument per
# word, so empty arguments and spaces reach the program exactly as written.
function(run_program)
  set(words ${CMAKE_COMMAND} -E env --unset=PARKIT_BACKEND --unset=PARKIT_INJECT
            OMP_NUM_THREADS=2)
  set(shown "")
  foreach(k RANGE ${CLI_ENV_N})
    if(k LESS CLI_ENV_N)
      list(APPEND words "${CLI_ENV_${k}}")
      string(APPEND shown "${CLI_ENV_${k}} ")
    endif()
  endforeach()
  set(code "execute_process(COMMAND")
  foreach(w IN LISTS words)
    string(APPEND code " [==[\n${w}]==]")
  endforeach()
  foreach(k RANGE ${CLI_LAUNCH_N})
    if(k LESS CLI_LAUNCH_N)
      string(APPEND code " [==[\n${CLI_LAUNCH_${k}}]==]")
      string(APPEND shown "${CLI_LAUNCH_${k}} ")
    endif()
  endforeach()
  string(APPEND code " [==[\n${PROG}]==]")
  string(APPEND shown "${PROG}")
  foreach(k RANGE ${CLI_ARG_N})
    if(k LESS CLI_ARG_N)
      string(APPEND code " [==[\n${CLI_ARG_${k}}]==]")
      string(APPEND shown " '${CLI_ARG_${k}}'")
    endif()
  endforeach()
  string(APPEND code " OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc"
         " TIMEOUT ${CLI_TIMEOUT})")
  cmake_language(EVAL CODE "${code}")
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
  set(rc "${rc}" PARENT_SCOPE)
  set(shown "${shown}" PARENT_SCOPE)
endfunction()

# Each pattern of the spec list `var` must (want TRUE) or must not (FALSE) match
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

# Counts the lines of the text in `textvar` that match regex.
function(count_lines textvar regex result)
  string(REPLACE ";" "\\;" text "${${textvar}}")
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  foreach(line IN LISTS lines)
    if(line MATCHES "${regex}")
      math(EXPR n "${n} + 1")
    endif()
  endforeach()
  set(${result} ${n} PARENT_SCOPE)
endfunction()

# Each "count:regex" of the spec list `var`: exactly count lines of the text in
# `textvar` match regex.
function(check_line_counts var textvar stream)
  foreach(k RANGE ${${var}_N})
    if(k LESS ${var}_N)
      set(check "${${var}_${k}}")
      if(NOT check MATCHES "^([0-9]+):(.*)$")
        problem("malformed ${stream} line check '${check}' (expected count:regex)")
        continue()
      endif()
      set(want ${CMAKE_MATCH_1})
      set(re "${CMAKE_MATCH_2}")
      count_lines(${textvar} "${re}" got)
      if(NOT got EQUAL want)
        problem("${got} lines of ${stream} match '${re}', expected ${want}")
      endif()
    endif()
  endforeach()
  set(problems "${problems}" PARENT_SCOPE)
endfunction()

# One JSON check "path[:TYPE][=regex]" or "path#=n" on the text in `textvar`.
function(check_json check textvar)
  set(re "")
  set(has_re FALSE)
  string(FIND "${check}" "=" eq)
  if(eq GREATER -1)
    math(EXPR after "${eq} + 1")
    string(SUBSTRING "${check}" ${after} -1 re)
    string(SUBSTRING "${check}" 0 ${eq} check)
    set(has_re TRUE)
  endif()
  set(type "")
  string(FIND "${check}" ":" colon)
  if(colon GREATER -1)
    math(EXPR after "${colon} + 1")
    string(SUBSTRING "${check}" ${after} -1 type)
    string(SUBSTRING "${check}" 0 ${colon} check)
  endif()
  if(check MATCHES "#$")
    string(REGEX REPLACE "#$" "" check "${check}")
    string(REPLACE "." ";" path "${check}")
    string(JSON n ERROR_VARIABLE json_error LENGTH "${${textvar}}" ${path})
    if(json_error)
      problem("JSON has no array '${check}' (${json_error})")
    elseif(NOT n STREQUAL re)
      problem("JSON '${check}' has ${n} elements, expected ${re}")
    endif()
    set(problems "${problems}" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "." ";" path "${check}")
  string(JSON got_type ERROR_VARIABLE json_error TYPE "${${textvar}}" ${path})
  if(json_error)
    problem("JSON has no '${check}' (${json_error})")
  elseif(type AND NOT got_type STREQUAL type)
    problem("JSON '${check}' is ${got_type}, expected ${type}")
  elseif(has_re)
    string(JSON value GET "${${textvar}}" ${path})
    if(NOT "${value}" MATCHES "${re}")
      problem("JSON '${check}' = '${value}' does not match '${re}'")
    endif()
  endif()
  set(problems "${problems}" PARENT_SCOPE)
endfunction()

run_program()

if(NOT "${rc}" STREQUAL "${CLI_EXIT}")
  problem("exit status '${rc}', expected ${CLI_EXIT}")
endif()
check_patterns(CLI_STDOUT out stdout TRUE)
check_patterns(CLI_STDERR err stderr TRUE)
check_patterns(CLI_NOT_STDOUT out stdout FALSE)
check_patterns(CLI_NOT_STDERR err stderr FALSE)
check_line_counts(CLI_STDOUT_LINES out stdout)
check_line_counts(CLI_STDERR_LINES err stderr)

if(CLI_JSON_N GREATER 0)
  string(JSON root_type ERROR_VARIABLE json_error TYPE "${out}")
  if(json_error OR NOT root_type STREQUAL "OBJECT")
    problem("stdout is not one JSON object (${json_error}${root_type})")
  else()
    foreach(k RANGE ${CLI_JSON_N})
      if(k LESS CLI_JSON_N)
        check_json("${CLI_JSON_${k}}" out)
      endif()
    endforeach()
  endif()
endif()

if(problems)
  message(FATAL_ERROR "CLI test ${CLI_NAME} failed:\n${problems}"
                      "command: ${shown}\n"
                      "exit status: ${rc}\n"
                      "----- stdout -----\n${out}"
                      "----- stderr -----\n${err}"
                      "------------------")
endif()
message(STATUS "${CLI_NAME}: ok (exit ${rc})")
