# Runs one CLI test: cmake -DPROG=<program> -DSPEC=<spec file> -P run_cli_test.cmake
# The spec (written by parkit_cli_test in CMakeLists.txt) gives the arguments, the
# environment, the expected exit code and the patterns. The program runs with
# OMP_NUM_THREADS=2 and without PARKIT_BACKEND or PARKIT_INJECT from outside; on any
# mismatch the script fails and prints the command, the exit code and both streams.
# Functions, not macros, handle the captured text: a macro would re-read its
# backslashes as escapes.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED PROG OR NOT DEFINED SPEC)
  message(FATAL_ERROR "usage: cmake -DPROG=program -DSPEC=spec.cmake -P run_cli_test.cmake")
endif()
include(${SPEC})

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

# One JSON check "path[:TYPE][=regex]" on the text in `textvar`.
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
