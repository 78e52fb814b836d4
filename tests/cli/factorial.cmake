# CLI tests of factorial: the digit count and validation of N!, the printed number,
# the --each table and its 64-bit variant with the overflow error naming 21!,
# usage errors (malformed N, N past 2^32-1 or past memory, bad ranges, conflicting
# options), JSON and CSV shapes, --output, and fault injection with its origin.
# The general contract (--help, --version, bad common options) is in common.cmake.
# 100000! has 456574 digits and starts 28242294079603478742; 1000! has 2568 digits.

set(row "[^\n]*\n") # the rest of a table row
if(PARKIT_WITH_OPENMP)
  set(backend omp)
else()
  set(backend serial)
endif()
set(fast --repeat 1 --warmup 0)

parkit_cli_test(NAME factorial.validates COMMAND factorial 100000 ${fast} EXIT 0
  STDOUT "^program += factorial\n" "(^|\n)backend += ${backend}\n" "(^|\n)N += 100000\n"
         "(^|\n)digits += 456574\n" "(^|\n)leading digits += 28242294079603478742\n"
         "(^|\n)trailing digits += 00000000000000000000\n" "(^|\n)trailing zeros += 24999\n"
         "(^|\n)Validation: PASSED\n" "(^|\n)ranks +threads +pool +min\\(s\\) +median\\(s\\)"
         "digits/s"
  NOT_STDERR ".")

parkit_cli_test(NAME factorial.expressions COMMAND factorial 1e3+0 ${fast} EXIT 0
  STDOUT "(^|\n)N += 1000\n" "(^|\n)digits += 2568\n" "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME factorial.twenty_quiet COMMAND factorial 20 --quiet EXIT 0
  STDOUT "^digits += 19\nleading digits += 2432902008176640000\ntrailing digits += 2432902008176640000\ntrailing zeros += 4\nValidation: PASSED\n$"
  NOT_STDERR ".")

parkit_cli_test(NAME factorial.print COMMAND factorial 25 --print --quiet EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n15511210043330985984000000\n$")
parkit_cli_test(NAME factorial.print_zero COMMAND factorial 0 --print --quiet EXIT 0
  STDOUT "(^|\n)digits += 1\n" "(^|\n)Validation: PASSED\n1\n$")
parkit_cli_test(NAME factorial.digits_option COMMAND factorial 1000 --digits 5 --quiet EXIT 0
  STDOUT "(^|\n)leading digits += 40238\n" "(^|\n)trailing digits += 00000\n"
         "(^|\n)trailing zeros += 249\n")
parkit_cli_test(NAME factorial.serial_backend COMMAND factorial 5000 --backend serial EXIT 0
  STDOUT "(^|\n)backend += serial\n" "(^|\n)digits += 16326\n" "(^|\n)Validation: PASSED\n")

# --each: the table in order, then the report.
parkit_cli_test(NAME factorial.each_table COMMAND factorial --each 1..10 EXIT 0
  STDOUT "^Factorial of 1 is 1\nFactorial of 2 is 2\nFactorial of 3 is 6\nFactorial of 4 is 24\nFactorial of 5 is 120\nFactorial of 6 is 720\nFactorial of 7 is 5040\nFactorial of 8 is 40320\nFactorial of 9 is 362880\nFactorial of 10 is 3628800\nprogram += factorial\n"
         "(^|\n)range += 1\\.\\.10\n" "(^|\n)values += 10\n" "(^|\n)Validation: PASSED\n"
  NOT_STDERR ".")
parkit_cli_test(NAME factorial.each_bigger COMMAND factorial --each 95..105 ${fast} EXIT 0
  STDOUT "(^|\n)Factorial of 95 is 10329978488239059262599702099394727095397746340117372869212250571234293987594703124871765375385424468563282236864226607350415360000000000000000000000\n"
         "(^|\n)Factorial of 105 is [0-9]+\n" "(^|\n)values += 11\n" "(^|\n)Validation: PASSED\n")
parkit_cli_test(NAME factorial.each_u64 COMMAND factorial --u64 --each 15..20 EXIT 0
  STDOUT "^Factorial of 15 is 1307674368000\n"
         "(^|\n)Factorial of 20 is 2432902008176640000\nprogram"
         "(^|\n)arithmetic += 64-bit\n" "(^|\n)Validation: PASSED\n" "values/s"
  NOT_STDERR ".")

# 64-bit overflow: the first k past 20 is named, with its task (k - A).
parkit_cli_test(NAME factorial.u64_overflow COMMAND factorial --u64 --each 1..25 EXIT 1
  STDERR "^factorial: rank 0, thread [0-9]+, task 20: 21! does not fit in 64 bits\n$"
  NOT_STDOUT "Validation")
parkit_cli_test(NAME factorial.u64_overflow_from_start COMMAND factorial --u64 --each 30..40
  EXIT 1
  STDERR "^factorial: rank 0, thread [0-9]+, task 0: 30! does not fit in 64 bits\n$")

# Usage errors: exit 2, the message names the culprit, nothing on stdout.
set(hint "(^|\n)Try 'factorial --help' for more information\\.\n$")
parkit_cli_test(NAME factorial.missing_n COMMAND factorial EXIT 2
  STDERR "^factorial: missing N" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.bad_n COMMAND factorial abc EXIT 2
  STDERR "^factorial: [^\n]*'abc'" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.fractional_n COMMAND factorial 2.5 EXIT 2
  STDERR "^factorial: [^\n]*'2.5'" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.negative_n COMMAND factorial -- -3 EXIT 2
  STDERR "^factorial: [^\n]*'-3'" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.n_past_64_bits COMMAND factorial 2^64 EXIT 2
  STDERR "^factorial: [^\n]*'2\\^64'" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.n_past_gmp COMMAND factorial 2^32 EXIT 2
  STDERR "^factorial: N = 4294967296 is too large[^\n]*2\\^32-1" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.n_past_memory COMMAND factorial 3e9 EXIT 2
  STDERR "^factorial: N = 3000000000 [^\n]*GiB of memory" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.extra_argument COMMAND factorial 10 20 EXIT 2
  STDERR "^factorial: [^\n]*'20'" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.each_backwards COMMAND factorial --each 10..1 EXIT 2
  STDERR "^factorial: [^\n]*'10\\.\\.1'[^\n]*A > B" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.each_malformed COMMAND factorial --each 1-10 EXIT 2
  STDERR "^factorial: [^\n]*--each" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.each_past_memory COMMAND factorial --each 1..1e6 EXIT 2
  STDERR "^factorial: --each 1\\.\\.1000000 [^\n]*GiB of memory" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.each_and_n COMMAND factorial 5 --each 1..3 EXIT 2
  STDERR "^factorial: give either N or --each" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.u64_without_each COMMAND factorial --u64 5 EXIT 2
  STDERR "^factorial: --u64 [^\n]*--each" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.bad_digits COMMAND factorial 10 --digits 0 EXIT 2
  STDERR "^factorial: [^\n]*--digits" "${hint}" NOT_STDOUT ".")
parkit_cli_test(NAME factorial.print_with_json COMMAND factorial 10 --print --format json EXIT 2
  STDERR "^factorial: --print [^\n]*--output" "${hint}" NOT_STDOUT ".")

parkit_cli_test(NAME factorial.help_own_options COMMAND factorial --help EXIT 0
  STDOUT "--each A\\.\\.B" "--u64" "--print" "--output FILE" "--digits K" "not timed"
  NOT_STDERR ".")

# Machine-readable reports: the table is left out of JSON (one object on stdout).
parkit_cli_test(NAME factorial.json COMMAND factorial 1000 --format json ${fast} EXIT 0
  STDOUT "\"digits\": 2568"
  JSON "program:STRING=^factorial$" "validation:STRING=^PASSED$" "result:OBJECT"
       "result.digits:NUMBER=^2568$" "result.leading digits:STRING=^40238726007709377354$"
       "params.N:STRING=^1000$" "rate_unit:STRING=^digits/s$" "runs.0.median:NUMBER"
  NOT_STDERR ".")
parkit_cli_test(NAME factorial.json_each COMMAND factorial --each 1..10 --format json ${fast}
  EXIT 0
  JSON "validation:STRING=^PASSED$" "result.values:NUMBER=^10$" "result.digits:NUMBER=^33$"
       "params.range:STRING=^1\\.\\.10$"
  NOT_STDOUT "Factorial of")
parkit_cli_test(NAME factorial.csv COMMAND factorial 1000 --format csv ${fast} EXIT 0
  STDOUT "^# program += factorial\n" "(^|\n)# digits += 2568\n" "(^|\n)# Validation: PASSED\n"
         "\nfactorial,1,[^\n]*,digits/s\n$")

# --output writes the number instead of printing it; the time is a note. The
# number goes to a temporary file next to the path, renamed over it at the end:
# nothing else is left in the folder.
set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/out)
parkit_cli_test(NAME factorial.output DIR ${out_dir}/output
  COMMAND factorial 1000 --output ${out_dir}/output/f.txt EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n" "wrote [^\n]*f\\.txt in [0-9.]+ s"
  NOT_STDOUT "4023872600770937735437024339230039857193748642107"
  NOT_STDERR "." DIR_LIST "^f\\.txt$")
# A path that cannot be written is a usage error before anything is computed.
foreach(case "no_dir:DIR/no/such/dir/f.txt:No such file or directory"
             "a_dir:DIR/.:Is a directory"
             "under_a_file:${CMAKE_CURRENT_SOURCE_DIR}/factorial.cmake/f.txt:Not a directory")
  string(REPLACE ":" ";" case "${case}")
  list(GET case 0 name)
  list(GET case 1 path)
  list(GET case 2 why)
  set(backends serial ${backend})
  list(REMOVE_DUPLICATES backends) # the minimal build has the serial backend alone
  foreach(b IN LISTS backends)
    string(REPLACE "DIR" "${out_dir}/${name}_${b}" file "${path}")
    string(REGEX REPLACE "[.]" "\\\\." file_re "${file}")
    parkit_cli_test(NAME factorial.output_unwritable_${name}_${b} DIR ${out_dir}/${name}_${b}
      COMMAND factorial 10 --backend ${b} --output ${file} EXIT 2
      STDERR "^factorial: cannot write --output '${file_re}': ${why}\n"
             "\nTry 'factorial --help' for more information\\.\n$"
      NOT_STDOUT "." DIR_LIST "^$")
  endforeach()
endforeach()
# A device is written in place (no temporary file beside it), and a failed
# write is an error with the reason.
if(EXISTS /dev/full)
  parkit_cli_test(NAME factorial.output_write_error COMMAND factorial 1000 --output /dev/full
    EXIT 1 STDERR "^factorial: error writing '/dev/full': No space left on device\n$")
endif()
# A run that fails leaves no file, not even the temporary one.
parkit_cli_test(NAME factorial.output_failed_run DIR ${out_dir}/failed
  COMMAND factorial 100000 --output ${out_dir}/failed/f.txt
          --inject-fault kernel=factorial,task=1 EXIT 1
  STDERR "injected fault" NOT_STDOUT "Validation" DIR_LIST "^$")

# Fault injection: the origin reaches stderr, exit status 1, no report.
parkit_cli_test(NAME factorial.fault_from_env COMMAND factorial 100000 EXIT 1
  ENV PARKIT_INJECT=kernel=factorial,task=2
  STDERR "^factorial: rank 0, thread [0-9]+, task 2: injected fault\n$"
  NOT_STDOUT "Validation")
parkit_cli_test(NAME factorial.fault_never_fires COMMAND factorial 100 --inject-fault kernel=sieve
  EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n"
  STDERR "^factorial: warning: [^\n]*kernel=sieve[^\n]*did not fire")

if(PARKIT_WITH_OPENMP)
  parkit_cli_test(NAME factorial.sweep_two_rows COMMAND factorial 1e5 --threads 1,2 EXIT 0
    STDOUT "(^|\n)threads requested = 1,2\n" "(^|\n)digits += 456574\n"
           "(^|\n)Validation: PASSED\n" "\n +1 +1 +1 +[0-9.]+ ${row} +1 +2 +2 +[0-9.]+ ${row}$")
  parkit_cli_test(NAME factorial.fault COMMAND factorial 100000 --threads 2
    --inject-fault kernel=factorial,thread=1,task=3 EXIT 1
    STDERR "^factorial: rank 0, thread 1, task 3: injected fault\n$"
    NOT_STDOUT "Validation")
  parkit_cli_test(NAME factorial.fault_each COMMAND factorial --each 1..10 --threads 2
    --inject-fault thread=1,task=3 EXIT 1
    STDERR "^factorial: rank 0, thread 1, task 3: injected fault\n$"
    NOT_STDOUT "Factorial of")
endif()
