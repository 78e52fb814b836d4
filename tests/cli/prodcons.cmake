# CLI tests of prodcons (help, version and the common usage errors are in
# common.cmake): its own help and usage errors, validating runs on each backend,
# batches and delays, the --trace listing (first and last lines are known with one
# producer: values 1..N in order), the JSON result keys, the --threads rule, and
# fault injection on a producer and a consumer with the origin on stderr.
# The values are 1..N: for N = 100000 the sum is 5000050000.

set(hint "(^|\n)Try 'prodcons --help' for more information\\.\n$")
set(small --items 1000 --repeat 1 --warmup 0)
# One line of the listing (CMake regexes allow few groups: none here).
set(trace_line "[AR][a-z]+ [0-9]+ [a-z]+ the list\\. List: \\[[0-9, ]*\\]\n")
string(REPEAT "${trace_line}" 24 trace_24_lines)

parkit_cli_test(NAME prodcons.help_options COMMAND prodcons --help EXIT 0
  STDOUT "--producers P" "--consumers C" "--items N" "--capacity K" "--batch B"
         "--produce-delay MS" "--consume-delay MS" "--trace" "--threads LIST sweeps"
  NOT_STDERR ".")

# ---- usage errors: exit 2, the argument named, the hint, nothing on stdout ----

foreach(bad "producers;0;at least 1" "consumers;-2;at least 1" "producers;1024;at most 1023"
            "items;-1;negative" "items;1e;exponent" "capacity;0;at least 1"
            "batch;0;at least 1" "batch;1e5;at most 65536" "produce-delay;x;not a number"
            "consume-delay;-1;negative" "consume-delay;4e6;more than an hour")
  list(GET bad 0 opt)
  list(GET bad 1 value)
  list(GET bad 2 why)
  string(REGEX REPLACE "[^a-z0-9]" "_" tag "${opt}_${value}")
  parkit_cli_test(NAME prodcons.usage_${tag} COMMAND prodcons --${opt} ${value} EXIT 2
    STDERR "^prodcons: invalid argument '${value}' for --${opt}: [^\n]*${why}" "${hint}"
    NOT_STDOUT ".")
endforeach()

parkit_cli_test(NAME prodcons.usage_positional COMMAND prodcons 1000 EXIT 2
  STDERR "^prodcons: unexpected argument '1000'" "${hint}"
  NOT_STDOUT ".")
parkit_cli_test(NAME prodcons.usage_team_too_big
  COMMAND prodcons --producers 1000 --consumers 100 EXIT 2
  STDERR "^prodcons: 1000 producers \\+ 100 consumers: at most 1024" "${hint}"
  NOT_STDOUT ".")
parkit_cli_test(NAME prodcons.usage_trace_sweep COMMAND prodcons --trace --threads 2,4 EXIT 2
  STDERR "^prodcons: --trace makes one run" "${hint}"
  NOT_STDOUT ".")

# ---- validating runs ----

# The default workload (10^7 items, a warm-up and 3 timed runs): slow on a loaded machine.
parkit_cli_test(NAME prodcons.validates COMMAND prodcons --producers 2 --consumers 2 EXIT 0
  TIMEOUT 180
  STDOUT "^program += prodcons\n" "(^|\n)producers += 2\n" "(^|\n)consumers += 2\n"
         "(^|\n)items += 10000000\n" "(^|\n)capacity += 1024\n"
         "(^|\n)produced += 10000000\n" "(^|\n)consumed += 10000000\n"
         "(^|\n)max depth += [0-9]+\n" "(^|\n)items/s += [0-9.e+]+\n"
         "(^|\n)Validation: PASSED\n" "(^|\n)ranks +threads +pool +min\\(s\\)[^\n]*items/s\n"
  NOT_STDERR ".")

parkit_cli_test(NAME prodcons.defaults_half_the_threads COMMAND prodcons ${small} EXIT 0
  STDOUT "(^|\n)producers += 1 \\(half the pool\\)\n"
         "(^|\n)consumers += 1 \\(half the pool\\)\n" "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME prodcons.serial_backend
  COMMAND prodcons --backend serial --producers 3 --consumers 2 --capacity 1 ${small} EXIT 0
  STDOUT "(^|\n)backend += serial\n" "(^|\n)consumed += 1000\n" "(^|\n)max depth += 1\n"
         "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME prodcons.batches
  COMMAND prodcons --producers 2 --consumers 3 --items 2^17+3 --capacity 64 --batch 100
          --repeat 1 --warmup 0 EXIT 0
  STDOUT "(^|\n)items += 131075\n" "(^|\n)batch += 100\n" "(^|\n)consumed += 131075\n"
         "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME prodcons.delays
  COMMAND prodcons --producers 1 --consumers 2 --items 20 --capacity 2 --produce-delay 0.5
          --consume-delay 2 --repeat 1 --warmup 0 EXIT 0
  STDOUT "(^|\n)produce delay += 0\\.5 ms\n" "(^|\n)consume delay += 2 ms\n"
         "(^|\n)consumed += 20\n" "(^|\n)Validation: PASSED\n")

parkit_cli_test(NAME prodcons.no_items COMMAND prodcons --items 0 EXIT 0
  STDOUT "(^|\n)produced += 0\n" "(^|\n)max depth += 0\n" "(^|\n)Validation: PASSED\n")

if(PARKIT_WITH_OPENMP) # needs a second thread
  parkit_cli_test(NAME prodcons.threads_sweep_the_team
    COMMAND prodcons --threads 2,4 --items 20000 --repeat 1 --warmup 0 EXIT 0
    STDOUT "(^|\n)producers += 1 to 2 \\(half the pool of each row\\)\n"
           "(^|\n) +1 +2 +2 [^\n]*\n +1 +4 +4 " "(^|\n)Validation: PASSED\n")
endif()

parkit_cli_test(NAME prodcons.threads_ignored_for_a_fixed_team
  COMMAND prodcons --producers 1 --consumers 1 --threads 2,4 ${small} EXIT 0
  STDOUT "(^|\n)Note: --threads is ignored" "(^|\n)Validation: PASSED\n")

# ---- the trace ----

# One producer: 1 goes in first onto an empty list, 10 comes out last leaving it empty.
parkit_cli_test(NAME prodcons.trace_one_producer
  COMMAND prodcons --producers 1 --consumers 1 --capacity 3 --trace EXIT 0
  STDOUT "^Added 1 to the list\\. List: \\[1\\]\n" "\nRemoved 10 from the list\\. List: \\[\\]\n"
         "(^|\n)items += 10\n" "(^|\n)consumed += 10\n" "(^|\n)Validation: PASSED\n"
         "(^|\n)Note: --trace: one run"
  NOT_STDOUT "List: \\[[0-9]+, [0-9]+, [0-9]+, [0-9]+" # never more than the capacity
  NOT_STDERR ".")

parkit_cli_test(NAME prodcons.trace_tutorial
  COMMAND prodcons --producers 2 --consumers 2 --capacity 3 --produce-delay 2
          --consume-delay 3 --trace --items 12 EXIT 0
  STDOUT "^${trace_24_lines}program += prodcons\n" # 12 added and 12 removed, then the report
         "(^|\n)produced += 12\n" "(^|\n)Validation: PASSED\n"
  NOT_STDOUT "List: \\[[0-9]+, [0-9]+, [0-9]+, [0-9]+")

parkit_cli_test(NAME prodcons.trace_json_listing_on_stderr
  COMMAND prodcons --producers 1 --consumers 1 --items 3 --trace --format json EXIT 0
  JSON "result.produced:NUMBER=^3$" "validation=^PASSED$"
  STDERR "^Added 1 to the list\\. List: \\[1\\]\n" "\nRemoved 3 from the list\\. List: \\[\\]\n$")

# ---- JSON ----

parkit_cli_test(NAME prodcons.json
  COMMAND prodcons --producers 2 --consumers 2 --items 1e5 --format json --repeat 1 --warmup 0
  EXIT 0
  JSON "program=^prodcons$" "result.produced:NUMBER=^100000$" "result.consumed:NUMBER=^100000$"
       "result.max depth:NUMBER" "validation=^PASSED$" "runs.0.pool:NUMBER=^4$"
  NOT_STDERR ".")

# ---- fault injection: exit 1, the counts before the abort and the origin on
# stderr, nothing left hanging ----

# The consumer is the only one, so it takes every item and surely reaches its
# item 100 (with two, one started late may find the items all taken).
parkit_cli_test(NAME prodcons.fault_on_a_consumer
  COMMAND prodcons --producers 3 --consumers 1 --capacity 4 --inject-fault thread=3,task=100
  EXIT 1
  STDERR "^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed\nprodcons: rank 0, thread 3, task 100: injected fault\n$"
  NOT_STDOUT ".")

parkit_cli_test(NAME prodcons.fault_on_a_producer COMMAND prodcons --producers 3 --consumers 1
  EXIT 1
  ENV PARKIT_INJECT=kernel=prodcons,thread=1,task=0
  STDERR "^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed\nprodcons: rank 0, thread 1, task 0: injected fault\n$"
  NOT_STDOUT ".")

parkit_cli_test(NAME prodcons.fault_serial_backend
  COMMAND prodcons --backend serial --producers 1 --consumers 1 --capacity 1
          --inject-fault thread=0,task=5000 EXIT 1
  STDERR "^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed\nprodcons: rank 0, thread 0, task 5000: injected fault\n$")

parkit_cli_test(NAME prodcons.fault_that_never_fires
  COMMAND prodcons --producers 1 --consumers 1 ${small} --inject-fault thread=5,task=1 EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n"
  STDERR "^prodcons: warning: the injected fault 'thread=5,task=1' did not fire")
