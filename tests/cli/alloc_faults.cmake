# An allocation failure injected inside each kernel (--inject-fault ...,fail=alloc):
# exit 1, one "out of memory (injected)" message naming the worker that
# allocated, nothing on stdout; and the abort report of prodcons (one line with
# the counts before the abort, besides the error line). The MPI runs are in
# mpirun.cmake's style: the same checks under the launcher.

# squares allocates nothing inside its chunks: the pool's buffer of partial
# sums is the rank's allocation (by its thread 0), for a spec naming no thread
# nor task.
parkit_cli_test(NAME alloc_fault.squares
  COMMAND squares 1e6 --inject-fault kernel=squares,rank=0,fail=alloc EXIT 1
  STDERR "^squares: rank 0, thread 0: out of memory \\(injected\\): [0-9]+ bytes\n$"
  NOT_STDOUT ".")
# The sieve allocates its engine (its segment) once per worker, outside any
# task; its chunks allocate nothing of their own when counting (the listing's
# per-chunk bitmaps, which are, run after the timed runs: see the unit tests).
# factorial: a leaf's product (GMP's memory, announced before it multiplies).
parkit_cli_test(NAME alloc_fault.sieve_engine_serial
  COMMAND sieve 1e9 --backend serial --inject-fault kernel=sieve,thread=0,fail=alloc EXIT 1
  STDERR "^sieve: rank 0, thread 0: out of memory \\(injected\\): 262208 bytes\n$"
  NOT_STDOUT ".")
parkit_cli_test(NAME alloc_fault.factorial_serial
  COMMAND factorial 200000 --backend serial --inject-fault kernel=factorial,task=2,fail=alloc
  EXIT 1
  STDERR "^factorial: rank 0, thread 0, task 2: out of memory \\(injected\\): [0-9]+ bytes\n$"
  NOT_STDOUT ".")
if(PARKIT_WITH_OPENMP) # a second thread
  parkit_cli_test(NAME alloc_fault.sieve_engine
    COMMAND sieve 1e9 --inject-fault kernel=sieve,thread=1,fail=alloc EXIT 1
    STDERR "^sieve: rank 0, thread 1: out of memory \\(injected\\): 262208 bytes\n$"
    NOT_STDOUT ".")
  parkit_cli_test(NAME alloc_fault.factorial
    COMMAND factorial 200000 --inject-fault kernel=factorial,thread=1,task=2,fail=alloc EXIT 1
    STDERR "^factorial: rank 0, thread 1, task 2: out of memory \\(injected\\): [0-9]+ bytes\n$"
    NOT_STDOUT ".")
endif()
# A task that allocates nothing: the fault does not fire, and the program says so.
parkit_cli_test(NAME alloc_fault.sieve_task_without_allocation
  COMMAND sieve 1e8 --repeat 1 --warmup 0 --inject-fault kernel=sieve,task=3,fail=alloc
  EXIT 0
  STDOUT "(^|\n)Validation: PASSED\n"
  STDERR "^sieve: warning: the injected fault '[^']*fail=alloc' did not fire")
# prodcons: a worker's batch buffer, allocated as its item 0 (the other
# consumer may have taken items before the abort; at two ranks the failed
# consumer is the only one, so nothing was consumed).
parkit_cli_test(NAME alloc_fault.prodcons
  COMMAND prodcons --producers 2 --consumers 2 --items 1e5
          --inject-fault kernel=prodcons,thread=3,task=0,fail=alloc EXIT 1
  STDERR_LINES "1:^prodcons: rank 0, thread 3, task 0: out of memory \\(injected\\): 8 bytes$"
               "1:^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed$" "2:."
  NOT_STDOUT ".")
parkit_cli_test(NAME alloc_fault.bad_spec COMMAND squares 10 --inject-fault fail=heap EXIT 2
  STDERR "fail=heap: expected fail=task or fail=alloc")

# The abort report: the consumer fails at its item 100; the counts printed
# before the error line reconcile (the report of the kernel is checked in the
# unit tests, item by item). One consumer, so that it surely reaches item 100.
parkit_cli_test(NAME prodcons.abort_report
  COMMAND prodcons --producers 3 --consumers 1 --capacity 4 --items 1e5 --repeat 1 --warmup 0
          --inject-fault thread=3,task=100 EXIT 1
  STDERR "^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed\nprodcons: rank 0, thread 3, task 100: injected fault\n$"
  NOT_STDOUT ".")

if(PARKIT_WITH_MPI)
  set(alloc_once 120)
  parkit_cli_test(NAME mpirun.alloc_fault_squares RANKS 2 TIMEOUT ${alloc_once}
    COMMAND squares 1e6 --inject-fault kernel=squares,rank=1,fail=alloc EXIT 1
    STDERR_LINES "1:^squares: rank 1, thread 0: out of memory \\(injected\\): [0-9]+ bytes$")
  parkit_cli_test(NAME mpirun.alloc_fault_sieve RANKS 2 TIMEOUT ${alloc_once}
    COMMAND sieve 1e9 --inject-fault kernel=sieve,rank=1,thread=0,fail=alloc EXIT 1
    STDERR_LINES "1:^sieve: rank 1, thread 0: out of memory \\(injected\\): 262208 bytes$")
  parkit_cli_test(NAME mpirun.alloc_fault_factorial RANKS 2 TIMEOUT ${alloc_once}
    COMMAND factorial 200000 --inject-fault kernel=factorial,rank=1,thread=0,task=2,fail=alloc
    EXIT 1
    STDERR_LINES
      "1:^factorial: rank 1, thread 0, task 2: out of memory \\(injected\\): [0-9]+ bytes$")
  parkit_cli_test(NAME mpirun.alloc_fault_prodcons RANKS 2 TIMEOUT ${alloc_once}
    COMMAND prodcons --items 1e5 --inject-fault kernel=prodcons,rank=1,task=0,fail=alloc EXIT 1
    STDERR_LINES "1:^prodcons: rank 1, thread 0, task 0: out of memory \\(injected\\): [0-9]+ bytes$"
                 "1:^prodcons: aborted after [0-9]+ produced, 0 consumed$")
  parkit_cli_test(NAME mpirun.prodcons_abort_report RANKS 4 TIMEOUT ${alloc_once}
    COMMAND prodcons --items 1e5 --repeat 1 --warmup 0 --inject-fault rank=3,task=100 EXIT 1
    STDERR_LINES "1:^prodcons: aborted after [0-9]+ produced, [0-9]+ consumed$"
                 "1:^prodcons: rank 3, thread 0, task 100: injected fault$")
endif()
