# Builds one probe target and checks the outcome:
#   cmake -DBUILD_DIR=<dir> -DTARGET=<probe> -DEXPECT=pass|fail [-DMATCH=<regex>] -P check_probe.cmake
# EXPECT=fail also needs the compiler's message to match MATCH, so that a build
# failing for any other reason does not count as the rule holding.
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} should compile and did not:\n${all}")
  endif()
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} compiled, but it must not:\n${all}")
  endif()
  if(NOT all MATCHES "${MATCH}")
    message(FATAL_ERROR "${TARGET} failed, but not with /${MATCH}/:\n${all}")
  endif()
endif()
message(STATUS "${TARGET}: ${EXPECT} as expected")
