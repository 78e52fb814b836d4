# CLI tests of sieve: the report and each kind of validation, bounds as
# expressions up to 2^64-1, usage errors that name the argument, --print with and
# without --quiet, JSON and CSV shapes, and fault injection with its origin.
# pi(10^7) = 664579; the primes in [100, 200] are 21, from 101 to 199.

if(PARKIT_WITH_OPENMP)
  set(sieve_backend omp)
else()
  set(sieve_backend serial)
endif()
set(sieve_hint "(^|\n)Try 'sieve --help' for more information\\.\n$")

parkit_cli_test(NAME sieve.help_mentions_print COMMAND sieve --help EXIT 0
  STDOUT "^Usage: sieve \\[OPTION\\]\\.\\.\\. \\[LO\\] HI\n" "--print" "--count" "2\\^64-1"
  NOT_STDERR ".")

parkit_cli_test(NAME sieve.table_validation COMMAND sieve 1e7 EXIT 0
  STDOUT "^program += sieve\n" "(^|\n)backend += ${sieve_backend}\n" "(^|\n)LO += 0\n"
         "(^|\n)HI += 10000000\n" "(^|\n)check += pi\\(10\\^7\\) from the table"
         "(^|\n)count += 664579\n" "(^|\n)Validation: PASSED\n"
         "(^|\n)ranks +threads +pool +min\\(s\\) +median\\(s\\) +max\\(s\\)[^\n]*numbers/s\n"
  NOT_STDERR ".")

parkit_cli_test(NAME sieve.from_one COMMAND sieve 1 10^6 --repeat 1 --warmup 0 EXIT 0
  STDOUT "(^|\n)LO += 1\n" "(^|\n)count += 78498\n" "(^|\n)check += pi\\(10\\^6\\)"
         "(^|\n)Validation: PASSED\n")

# Not a power of ten: small intervals are checked number by number, large ones on
# sub-intervals plus the li(x) bound.
parkit_cli_test(NAME sieve.whole_check COMMAND sieve 1e9 1e9+1e5 --repeat 1 EXIT 0
  STDOUT "(^|\n)count += 4832\n" "(^|\n)check += Miller-Rabin on every number"
         "(^|\n)Validation: PASSED\n")
parkit_cli_test(NAME sieve.sub_interval_check COMMAND sieve 1e7 2e7 --repeat 1 EXIT 0
  STDOUT "(^|\n)count += 606028\n" "(^|\n)check += Miller-Rabin on 3 sub-intervals"
         "li\\(x\\) bound" "(^|\n)Validation: PASSED\n")
if(PARKIT_WITH_OPENMP) # needs a second thread
  parkit_cli_test(NAME sieve.threads_sweep COMMAND sieve 1e8 --threads 1,2 --repeat 1 EXIT 0
    STDOUT "(^|\n)threads requested += 1,2\n" "(^|\n)count += 5761455\n"
           "(^|\n)Validation: PASSED\n" "\n +1 +1 +1 [^\n]*\n +1 +2 +2 ")
endif()

# The top of the range.
parkit_cli_test(NAME sieve.top_of_range COMMAND sieve 2^64-100 2^64-1 --repeat 1 --warmup 0
  --print EXIT 0 TIMEOUT 120
  STDOUT "(^|\n)HI += 18446744073709551615\n" "(^|\n)count += 3\n" "(^|\n)Validation: PASSED\n"
         "\n18446744073709551521\n18446744073709551533\n18446744073709551557\n$")

# Usage errors name the argument.
parkit_cli_test(NAME sieve.missing_hi COMMAND sieve EXIT 2
  STDERR "^sieve: [^\n]*HI" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.bad_hi COMMAND sieve 12x EXIT 2
  STDERR "^sieve: invalid HI '12x'" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.bad_lo COMMAND sieve 1e3.5 100 EXIT 2
  STDERR "^sieve: invalid LO '1e3\\.5'" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.hi_above_2_64 COMMAND sieve 2^64 EXIT 2
  STDERR "^sieve: invalid HI '2\\^64': [^\n]*2\\^64-1" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.lo_above_2_64 COMMAND sieve 1e20 1e21 EXIT 2
  STDERR "^sieve: invalid LO '1e20'" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.lo_above_hi COMMAND sieve 200 100 EXIT 2
  STDERR "^sieve: LO = 200 is above HI = 100\n" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.too_many_arguments COMMAND sieve 1 2 3 EXIT 2
  STDERR "^sieve: [^\n]*'3'" "${sieve_hint}" NOT_STDOUT ".")
parkit_cli_test(NAME sieve.print_needs_table COMMAND sieve 100 --print --format json EXIT 2
  STDERR "^sieve: [^\n]*--print" "${sieve_hint}" NOT_STDOUT ".")

# --print: after the report, or alone with --quiet.
parkit_cli_test(NAME sieve.print COMMAND sieve 100 200 --print --repeat 1 EXIT 0
  STDOUT "(^|\n)count += 21\n" "(^|\n)Validation: PASSED\n[^\n]*\n[^\n]*\n101\n103\n107\n"
         "\n193\n197\n199\n$"
  NOT_STDERR ".")
parkit_cli_test(NAME sieve.print_quiet COMMAND sieve 0 30 --print --quiet EXIT 0
  STDOUT "^2\n3\n5\n7\n11\n13\n17\n19\n23\n29\n$" NOT_STDERR ".")
parkit_cli_test(NAME sieve.print_many COMMAND sieve 1e7 --print --quiet --repeat 1 EXIT 0
  STDOUT "^2\n3\n5\n7\n11\n" "\n9999971\n9999973\n9999991\n$" NOT_STDERR ".")
parkit_cli_test(NAME sieve.quiet COMMAND sieve 1e6 --quiet EXIT 0
  STDOUT "^count += 78498\nValidation: PASSED\n$")

# Report shapes.
parkit_cli_test(NAME sieve.json COMMAND sieve 1e6 --format json --repeat 1 EXIT 0
  JSON "program:STRING=^sieve$" "result.count:NUMBER=^78498$" "params.LO:STRING=^0$"
       "params.HI:STRING=^1000000$" "validation:STRING=^PASSED$" "runs.0.rate:NUMBER"
  STDOUT "\"count\": 78498")
parkit_cli_test(NAME sieve.csv COMMAND sieve 1e6 --format csv --repeat 1 EXIT 0
  STDOUT "(^|\n)# count += 78498\n" "(^|\n)# Validation: PASSED\n" "(^|\n)sieve,1,")

# Faults: the origin names the thread and the task (chunk number).
if(PARKIT_WITH_OPENMP) # needs a second thread
  parkit_cli_test(NAME sieve.fault COMMAND sieve 1e9 --inject-fault kernel=sieve,thread=1,task=3
    --threads 2 EXIT 1
    STDERR "^sieve: rank 0, thread 1, task 3: injected fault\n$"
    NOT_STDOUT "Validation: PASSED")
endif()
parkit_cli_test(NAME sieve.fault_env COMMAND sieve 1e8 --threads 1 EXIT 1
  ENV PARKIT_INJECT=kernel=sieve,task=2
  STDERR "^sieve: rank 0, thread 0, task 2: injected fault\n$")
parkit_cli_test(NAME sieve.fault_other_kernel COMMAND sieve 1e6 --repeat 1 EXIT 0
  ENV PARKIT_INJECT=kernel=squares
  STDOUT "(^|\n)Validation: PASSED\n" STDERR "did not fire")
