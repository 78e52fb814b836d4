# CLI tests of squares: the report and its validation line, sweeps, the printed
# values, the overflow boundary at |x| = 3037000499 as a usage error, JSON and CSV
# shapes, fault injection with its origin on stderr, and --quiet.
# 1^2 + ... + 1000^2 = 333833500; 1^2 + ... + 10^6^2 = 333333833333500000.

set(row "[^\n]*\n") # the rest of a table row
if(PARKIT_WITH_OPENMP)
  set(backend omp) # the default without mpirun
else()
  set(backend serial)
endif()

parkit_cli_test(NAME squares.validates COMMAND squares 1000 EXIT 0
  STDOUT "^program += squares\n" "(^|\n)version += ${PARKIT_VERSION_RE}\n"
         "(^|\n)backend += ${backend}\n" "(^|\n)N += 1000\n" "(^|\n)sum += 333833500\n"
         "(^|\n)Validation: PASSED\n" "(^|\n)ranks +threads +pool +min\\(s\\) +median\\(s\\)"
  NOT_STDERR ".")

parkit_cli_test(NAME squares.expressions COMMAND squares 1e6 --repeat 1 --warmup 0 EXIT 0
  STDOUT "(^|\n)N += 1000000\n" "(^|\n)sum += 333333833333500000\n"
         "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME squares.print_mixed COMMAND squares --first -5 11 --print --quiet EXIT 0
  STDOUT "^sum += 110\ncount += 11\nValidation: PASSED\n25\n16\n9\n4\n1\n0\n1\n4\n9\n16\n25\n$")

parkit_cli_test(NAME squares.print_negative COMMAND squares --first=-3 2 --print EXIT 0
  STDOUT "(^|\n)first += -3\n" "(^|\n)sum += 13\n" "\n9\n4\n$")

parkit_cli_test(NAME squares.sum_only COMMAND squares 1e6 --no-store EXIT 0
  STDOUT "(^|\n)stored += no \\(sum only\\)\n" "(^|\n)sum += 333333833333500000\n"
         "(^|\n)Validation: PASSED\n" "values/s")

parkit_cli_test(NAME squares.serial_backend COMMAND squares 1000 --backend serial EXIT 0
  STDOUT "(^|\n)backend += serial\n" "(^|\n)Validation: PASSED\n")
parkit_cli_test(NAME squares.backend_from_env COMMAND squares 1000 EXIT 0
  ENV PARKIT_BACKEND=serial
  STDOUT "(^|\n)backend += serial\n")

# The overflow boundary: 3037000499^2 fits in int64, 3037000500^2 does not.
parkit_cli_test(NAME squares.boundary_ok COMMAND squares --first 3037000499 1 EXIT 0
  STDOUT "(^|\n)sum += 9223372030926249001\n" "(^|\n)Validation: PASSED\n")
parkit_cli_test(NAME squares.boundary_ok_negative COMMAND squares --first -3037000499 1 EXIT 0
  STDOUT "(^|\n)sum += 9223372030926249001\n" "(^|\n)Validation: PASSED\n")
parkit_cli_test(NAME squares.overflow COMMAND squares --first 3037000500 1 EXIT 2
  STDERR "^squares: [^\n]*3037000500[^\n]*\nTry 'squares --help' for more information\\.\n$"
  NOT_STDOUT ".")
parkit_cli_test(NAME squares.overflow_at_range_end COMMAND squares --first 3037000490 11 EXIT 2
  STDERR "^squares: [^\n]*3037000500" "(^|\n)Try 'squares --help'"
  NOT_STDOUT ".")
parkit_cli_test(NAME squares.overflow_negative COMMAND squares --first -3037000500 1 EXIT 2
  STDERR "^squares: [^\n]*-3037000500" "(^|\n)Try 'squares --help'"
  NOT_STDOUT ".")
parkit_cli_test(NAME squares.range_passes_int64_max
  COMMAND squares --first 9223372036854775807 2 EXIT 2
  STDERR "^squares: [^\n]*2\\^63-1" "(^|\n)Try 'squares --help'"
  NOT_STDOUT ".")

# Bad numbers are usage errors that name the argument.
parkit_cli_test(NAME squares.bad_count COMMAND squares abc EXIT 2
  STDERR "^squares: [^\n]*'abc'" "(^|\n)Try 'squares --help'" NOT_STDOUT ".")
parkit_cli_test(NAME squares.negative_count COMMAND squares -- -5 EXIT 2
  STDERR "^squares: [^\n]*'-5'" "(^|\n)Try 'squares --help'" NOT_STDOUT ".")
parkit_cli_test(NAME squares.fractional_count COMMAND squares 1.5 EXIT 2
  STDERR "^squares: [^\n]*'1.5'" NOT_STDOUT ".")
parkit_cli_test(NAME squares.bad_first COMMAND squares --first 2^64 10 EXIT 2
  STDERR "^squares: [^\n]*--first" "(^|\n)Try 'squares --help'" NOT_STDOUT ".")
parkit_cli_test(NAME squares.extra_argument COMMAND squares 10 20 EXIT 2
  STDERR "^squares: [^\n]*'20'" "(^|\n)Try 'squares --help'" NOT_STDOUT ".")
# An empty argument reaches the program as one (the harness keeps it).
parkit_cli_test(NAME squares.empty_argument COMMAND squares 10 "" EXIT 2
  STDERR "^squares: unexpected argument ''\n" NOT_STDOUT ".")

# Fault injection: the origin reaches stderr, the exit status is 1, no report.
parkit_cli_test(NAME squares.fault_from_env COMMAND squares 1e6 EXIT 1
  ENV PARKIT_INJECT=task=2
  STDERR "^squares: rank 0, thread [0-9]+, task 2: injected fault\n$"
  NOT_STDOUT "Validation")
parkit_cli_test(NAME squares.fault_never_fires COMMAND squares 1000 --inject-fault kernel=sieve
  EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n"
  STDERR "^squares: warning: [^\n]*kernel=sieve[^\n]*did not fire")

parkit_cli_test(NAME squares.quiet COMMAND squares 1000 --quiet EXIT 0
  STDOUT "^sum += 333833500\ncount += 1000\nValidation: PASSED\n$"
  NOT_STDERR ".")

# Sweeps over thread counts and faults on thread 1 need a threaded backend.
if(PARKIT_WITH_OPENMP)
  parkit_cli_test(NAME squares.sweep_two_rows COMMAND squares 1e6 --threads 1,2 EXIT 0
    STDOUT "(^|\n)threads requested = 1,2\n" "(^|\n)Validation: PASSED\n"
           "\n +1 +1 +1 +[0-9.]+ ${row} +1 +2 +2 +[0-9.]+ ${row}$"
    NOT_STDERR ".")

  parkit_cli_test(NAME squares.sweep_range COMMAND squares 1e6 --threads 1..3 --repeat 2 EXIT 0
    STDOUT "\n +1 +1 +1 ${row} +1 +2 +2 ${row} +1 +3 +3 ${row}$")

  parkit_cli_test(NAME squares.json COMMAND squares 1000 --format json --threads 1,2 EXIT 0
    STDOUT "\"sum\": \"333833500\""
    JSON "program:STRING=^squares$" "version:STRING=^${PARKIT_VERSION_RE}$"
         "backend:STRING=^${backend}$" "validation:STRING=^PASSED$" "result:OBJECT"
         "result.sum:STRING=^333833500$" "result.count:NUMBER=^1000$" "runs:ARRAY"
         "runs.0.pool:NUMBER=^1$" "runs.1.threads:NUMBER=^2$" "runs.1.median:NUMBER"
         "runs.1.min:NUMBER" "runs.1.max:NUMBER" "runs.1.speedup:NUMBER"
         "runs.1.efficiency:NUMBER" "runs.1.rate:NUMBER" "params.N:STRING=^1000$"
    NOT_STDERR ".")

  parkit_cli_test(NAME squares.csv COMMAND squares 1e6 --format csv --threads 1,2 EXIT 0
    STDOUT "^# program += squares\n" "(^|\n)# sum += 333333833333500000\n"
           "(^|\n)# Validation: PASSED\n"
           "\nprogram,ranks,threads,threads_obtained,pool,runs,min,median,max,speedup,efficiency,rate,rate_unit\nsquares,1,1,1,1,3,[^\n]*,GB/s\nsquares,1,2,2,2,3,[^\n]*,GB/s\n$"
    NOT_STDERR ".")

  parkit_cli_test(NAME squares.fault COMMAND squares 1e6 --threads 2
    --inject-fault kernel=squares,thread=1,task=3 EXIT 1
    STDERR "^squares: rank 0, thread 1, task 3: injected fault\n$"
    NOT_STDOUT "Validation")
  parkit_cli_test(NAME squares.fault_in_sweep COMMAND squares 1e6 --threads 1,2
    --inject-fault thread=1,task=0 EXIT 1
    STDERR "^squares: rank 0, thread 1, task 0: injected fault\n$")
endif()

# --progress over a sweep of runs far shorter than the interval (a second):
# reports still come, about one a second, each the fraction of the run then
# going, with no time left (each run is a part of its own).
parkit_cli_test(NAME squares.progress_over_short_runs TIMEOUT 60
  COMMAND squares 1e8 --no-store --repeat 300 --warmup 0 --progress EXIT 0
  STDERR "squares: squares +[0-9.]+%.*squares: squares +[0-9.]+%" NOT_STDERR "left")
