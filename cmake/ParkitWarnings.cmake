# Warnings for parkit's own C targets: parkit_warnings(target).
function(parkit_warnings target)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic -Wshadow -Wundef -Wconversion
      -Wstrict-prototypes -Wmissing-prototypes>
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wundef>)
  if(PARKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
