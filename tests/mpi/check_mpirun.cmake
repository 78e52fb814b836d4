# Runs one program under mpirun and checks what came out (cmake -P). Variables:
#   CMD_LINE  the command line, arguments separated by '|'
#   EXIT      the exit code every rank must agree on
#   JSON_<i>  "path=value": stdout is one JSON object whose member at path
#             (dots between keys and indices, e.g. runs.1.ranks) is value;
#             "path#=n" checks the length of an array instead
#   LINES_<i> "count:regex": exactly count lines of stderr match regex
#   OUT_LINES_<i> the same for stdout
# On a mismatch it fails and prints the command, the exit code and both streams.
if("${CMD_LINE}" STREQUAL "" OR "${EXIT}" STREQUAL "")
  message(FATAL_ERROR "check_mpirun.cmake needs CMD_LINE and EXIT")
endif()
string(REPLACE "|" ";" cmd "${CMD_LINE}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(problems "")

if(NOT "${rc}" STREQUAL "${EXIT}")
  string(APPEND problems "exit code ${rc}, expected ${EXIT}\n")
endif()

foreach(i RANGE 1 9)
  if(NOT DEFINED JSON_${i})
    continue()
  endif()
  set(check "${JSON_${i}}")
  string(FIND "${check}" "=" eq)
  string(SUBSTRING "${check}" 0 ${eq} path)
  math(EXPR from "${eq} + 1")
  string(SUBSTRING "${check}" ${from} -1 want)
  set(what GET)
  if(path MATCHES "#$")
    set(what LENGTH)
    string(REGEX REPLACE "#$" "" path "${path}")
  endif()
  string(REPLACE "." ";" keys "${path}")
  string(JSON got ERROR_VARIABLE jerr ${what} "${out}" ${keys})
  if(jerr)
    string(APPEND problems "JSON ${path}: ${jerr}\n")
  elseif(NOT "${got}" STREQUAL "${want}")
    string(APPEND problems "JSON ${path} is '${got}', expected '${want}'\n")
  endif()
endforeach()

# Counts the lines of text that match regex.
function(count_lines text regex result)
  string(REPLACE ";" "\\;" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(n 0)
  foreach(line IN LISTS lines)
    if(line MATCHES "${regex}")
      math(EXPR n "${n} + 1")
    endif()
  endforeach()
  set(${result} ${n} PARENT_SCOPE)
endfunction()

foreach(stream LINES OUT_LINES)
  if(stream STREQUAL "LINES")
    set(text "${err}")
    set(name stderr)
  else()
    set(text "${out}")
    set(name stdout)
  endif()
  foreach(i RANGE 1 9)
    if(NOT DEFINED ${stream}_${i})
      continue()
    endif()
    string(REGEX MATCH "^[0-9]+" want "${${stream}_${i}}")
    string(REGEX REPLACE "^[0-9]+:" "" regex "${${stream}_${i}}")
    count_lines("${text}" "${regex}" got)
    if(NOT got EQUAL want)
      string(APPEND problems "${got} lines of ${name} match '${regex}', expected ${want}\n")
    endif()
  endforeach()
endforeach()

if(problems)
  string(REPLACE ";" " " shown "${cmd}")
  message(FATAL_ERROR "${problems}command: ${shown}\nexit: ${rc}\n"
                      "--- stdout\n${out}--- stderr\n${err}---")
endif()
