# PARKIT_BUILD_FUZZ: the libFuzzer targets of fuzz/ (clang only). Every target
# of the build is then compiled with libFuzzer's coverage instrumentation, so
# the fuzzer sees the library's branches, not only the target's; the fuzz
# binaries alone link libFuzzer's main. Use with PARKIT_SANITIZE=address
# (the "fuzz" preset: build-fuzz/).
option(PARKIT_BUILD_FUZZ "Build the libFuzzer targets of fuzz/ (needs clang)" OFF)

if(PARKIT_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PARKIT_BUILD_FUZZ needs clang (e.g. -DCMAKE_C_COMPILER=clang-14 "
                        "-DCMAKE_CXX_COMPILER=clang++-14, or the fuzz preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
