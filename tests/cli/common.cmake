# The CLI contract every program keeps: --help and --version on stdout with exit 0,
# usage errors as "prog: message" plus the --help hint on stderr with exit 2, and
# nothing on the other stream. Checks that need the program to get as far as
# creating its context pass a small valid workload (PARKIT_CLI_SMALL_<prog>).

set(PARKIT_CLI_SMALL_squares 1000)
set(PARKIT_CLI_SMALL_factorial 100)
set(PARKIT_CLI_SMALL_sieve 1000)
set(PARKIT_CLI_SMALL_prodcons --items 100)

foreach(prog squares factorial sieve prodcons)
  set(small ${PARKIT_CLI_SMALL_${prog}})
  set(hint "(^|\n)Try '${prog} --help' for more information\\.\n$")

  parkit_cli_test(NAME ${prog}.help COMMAND ${prog} --help EXIT 0
    STDOUT "^Usage: ${prog} " "--threads" "--format" "Exit status"
    NOT_STDERR ".")
  parkit_cli_test(NAME ${prog}.help_short COMMAND ${prog} -h EXIT 0
    STDOUT "^Usage: ${prog} "
    NOT_STDERR ".")
  parkit_cli_test(NAME ${prog}.version COMMAND ${prog} --version EXIT 0
    STDOUT "^${prog} \\(parkit\\) ${PARKIT_VERSION_RE}\n$"
    NOT_STDERR ".")
  parkit_cli_test(NAME ${prog}.unknown_option COMMAND ${prog} --no-such-option EXIT 2
    STDERR "^${prog}: [^\n]*no-such-option" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.missing_argument COMMAND ${prog} --threads EXIT 2
    STDERR "^${prog}: [^\n]*--threads" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_threads COMMAND ${prog} --threads 0 ${small} EXIT 2
    STDERR "^${prog}: [^\n]*--threads" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_threads_list COMMAND ${prog} --threads 1,,2 ${small} EXIT 2
    STDERR "^${prog}: [^\n]*1,,2" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_format COMMAND ${prog} --format xml ${small} EXIT 2
    STDERR "^${prog}: [^\n]*xml" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_repeat COMMAND ${prog} --repeat 0 ${small} EXIT 2
    STDERR "^${prog}: [^\n]*--repeat" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_backend COMMAND ${prog} --backend nosuch ${small} EXIT 2
    STDERR "^${prog}: [^\n]*nosuch" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_fault_spec COMMAND ${prog} --inject-fault bogus ${small}
    EXIT 2
    STDERR "^${prog}: [^\n]*bogus" "${hint}"
    NOT_STDOUT ".")
  parkit_cli_test(NAME ${prog}.bad_fault_env COMMAND ${prog} ${small} EXIT 2
    ENV PARKIT_INJECT=task=-1
    STDERR "^${prog}: [^\n]*task=-1" "${hint}"
    NOT_STDOUT ".")
endforeach()
