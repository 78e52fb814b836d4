# CLI tests under the MPI launcher (RANKS n): the exit code every rank agreed on,
# and what rank 0 alone printed (exact line counts), through the same runner as
# the plain tests.
if(NOT PARKIT_WITH_MPI)
  return()
endif()
set(once 55) # each launch: MPIEXEC_TIMEOUT ends it at 50 s with Open MPI's report

parkit_cli_test(NAME mpirun.squares_ranks_sweep_json RANKS 4 TIMEOUT ${once}
  COMMAND squares 1e6 --ranks 1,2,4 --format json EXIT 0
  JSON "validation=^PASSED$" "backend=^mpi$" "runs#=3" "runs.0.ranks=^1$" "runs.1.ranks=^2$"
       "runs.2.ranks=^4$" "result.sum=^333333833333500000$"
  STDERR_LINES "0:squares")
# A ranks sweep runs every pool with the threads per rank of the whole launch
# (the header's "threads requested"), without OMP_NUM_THREADS too, when the
# default divides the node's cores among the ranks: a 1-rank pool does not get
# the cores of 4 ranks. So each row's pool is its ranks times those threads,
# and speedup and efficiency are against the first row. Every program.
set(sweep_rows "runs.0.ranks=^1$" "runs.1.ranks=^2$" "runs.2.ranks=^4$")
foreach(i 0 1 2)
  list(APPEND sweep_rows "runs.${i}.threads=@params.threads requested"
       "runs.${i}.threads_obtained=@params.threads requested")
endforeach()
list(APPEND sweep_rows "runs.0.pool=@params.threads requested" "runs.0.speedup=^1$"
     "runs.0.efficiency=^1$" "runs#=3")
foreach(cmd "squares 1e6" "sieve 1e7" "factorial 10000" "prodcons --items 1e4 --ranks 2,4,4")
  separate_arguments(cmd)
  list(GET cmd 0 prog)
  set(ranks --ranks 1,2,4)
  set(rows ${sweep_rows})
  if(prog STREQUAL "sieve") # a small sieve takes fewer threads than it asks for
    list(FILTER rows EXCLUDE REGEX "(obtained|pool)=")
  elseif(prog STREQUAL "prodcons") # a team of one producer and one consumer at least
    set(ranks "")
    set(rows "runs.0.ranks=^2$" "runs.1.ranks=^4$" "runs.0.threads=@params.threads requested"
             "runs.1.threads=@params.threads requested" "runs.0.speedup=^1$" "runs#=3")
  endif()
  foreach(t default 2)
    set(threads "")
    if(t EQUAL 2)
      set(threads --threads 2)
    endif()
    parkit_cli_test(NAME mpirun.${prog}_ranks_sweep_threads_${t} RANKS 4 TIMEOUT ${once}
      COMMAND ${cmd} ${ranks} ${threads} --repeat 1 --warmup 0 --format json EXIT 0
      ENV --unset=OMP_NUM_THREADS JSON "validation=^PASSED$" ${rows})
  endforeach()
endforeach()
parkit_cli_test(NAME mpirun.squares_fault_on_rank_2 RANKS 4 TIMEOUT ${once}
  COMMAND squares 1e6 --inject-fault kernel=squares,rank=2,task=0 EXIT 1
  STDERR_LINES "1:^squares: " "1:^squares: rank 2, thread 0, task 0: injected fault$"
  STDOUT_LINES "0:Validation")
parkit_cli_test(NAME mpirun.squares_distributed RANKS 3 TIMEOUT ${once}
  COMMAND squares 1000003 --distributed --repeat 2 EXIT 0
  STDOUT_LINES "1:^Validation: PASSED$" "1:^stored +=.*distributed"
  STDERR_LINES "0:.")
parkit_cli_test(NAME mpirun.squares_usage_error_once RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --ranks 1,4 EXIT 2
  STDERR_LINES "1:^squares: --ranks 4 is more than the 2 ranks launched$"
               "1:^Try 'squares --help' for more information.$")

# The MPI thread level: SERIALIZED by default, what PARKIT_MPI_THREADS names
# otherwise, in the header; a value that names no level is a usage error on
# every rank, before MPI starts.
parkit_cli_test(NAME mpirun.thread_level_default RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --repeat 1 --warmup 0 EXIT 0
  STDOUT_LINES "1:^MPI thread level += MPI_THREAD_SERIALIZED$" "1:^Validation: PASSED$")
parkit_cli_test(NAME mpirun.thread_level_funneled RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --repeat 1 --warmup 0 EXIT 0 ENV PARKIT_MPI_THREADS=funneled
  STDOUT_LINES "1:^MPI thread level += MPI_THREAD_FUNNELED$" "1:^Validation: PASSED$")
parkit_cli_test(NAME mpirun.thread_level_unknown RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 EXIT 2 ENV PARKIT_MPI_THREADS=several
  STDERR_LINES "2:^squares: PARKIT_MPI_THREADS=several: need funneled, serialized or multiple$"
  STDOUT_LINES "0:.")
# The same without a launcher, when --backend mpi starts MPI.
parkit_cli_test(NAME mpirun.thread_level_unknown_no_launcher TIMEOUT ${once}
  COMMAND squares 1e6 --backend mpi EXIT 2 ENV PARKIT_MPI_THREADS=several
  STDERR_LINES "1:^squares: PARKIT_MPI_THREADS=several: need funneled, serialized or multiple$"
  STDOUT_LINES "0:.")

parkit_cli_test(NAME mpirun.sieve_1e9 RANKS 4 TIMEOUT ${once}
  COMMAND sieve 1e9 --repeat 1 --warmup 0 EXIT 0
  STDOUT_LINES "1:^count += 50847534$" "1:^Validation: PASSED$"
  STDERR_LINES "0:.")
parkit_cli_test(NAME mpirun.sieve_fault_on_rank_2 RANKS 4 TIMEOUT ${once}
  COMMAND sieve 1e9 --inject-fault kernel=sieve,rank=2,task=0 EXIT 1
  STDERR_LINES "1:^sieve: rank 2, thread 0, task 0: injected fault$" "1:^sieve: ")

parkit_cli_test(NAME mpirun.factorial_100000 RANKS 3 TIMEOUT ${once}
  COMMAND factorial 100000 --repeat 1 --warmup 0 EXIT 0
  STDOUT_LINES "1:^digits += 456574$" "1:^Validation: PASSED$"
  STDERR_LINES "0:.")
# --output under the launcher: rank 0 writes it; a path it cannot write stops
# every rank before anything is computed, with one message.
set(mpi_out ${CMAKE_CURRENT_BINARY_DIR}/out/mpirun)
parkit_cli_test(NAME mpirun.factorial_output RANKS 2 TIMEOUT ${once} DIR ${mpi_out}/ok
  COMMAND factorial 1000 --output ${mpi_out}/ok/f.txt EXIT 0
  STDOUT_LINES "1:^Validation: PASSED$" STDERR_LINES "0:." DIR_LIST "^f\\.txt$")
parkit_cli_test(NAME mpirun.factorial_output_unwritable RANKS 2 TIMEOUT ${once}
  DIR ${mpi_out}/unwritable
  COMMAND factorial 10 --output ${mpi_out}/unwritable/no/such/f.txt EXIT 2
  STDERR_LINES "1:^factorial: cannot write --output '[^']*f\\.txt': No such file or directory$"
               "1:^Try 'factorial --help'"
  STDOUT_LINES "0:." DIR_LIST "^$")
parkit_cli_test(NAME mpirun.factorial_output_failed_run RANKS 2 TIMEOUT ${once}
  DIR ${mpi_out}/failed
  COMMAND factorial 100000 --output ${mpi_out}/failed/f.txt
          --inject-fault kernel=factorial,rank=1,task=1 EXIT 1
  STDERR_LINES "1:injected fault$" STDOUT_LINES "0:Validation" DIR_LIST "^$")
parkit_cli_test(NAME mpirun.factorial_each_u64_overflow RANKS 3 TIMEOUT ${once}
  COMMAND factorial --each 15..25 --u64 EXIT 1
  STDERR_LINES "1:^factorial: rank [0-2], thread 0, task 6: 21! does not fit in 64 bits$")

parkit_cli_test(NAME mpirun.prodcons RANKS 4 TIMEOUT ${once}
  COMMAND prodcons --items 1e6 --repeat 1 --warmup 0 EXIT 0
  STDOUT_LINES "1:^produced += 1000000$" "1:^consumed += 1000000$" "1:^Validation: PASSED$"
  STDERR_LINES "0:.")
parkit_cli_test(NAME mpirun.prodcons_fault_on_consumer RANKS 4 TIMEOUT ${once}
  COMMAND prodcons --items 1e5 --inject-fault rank=3,task=100 EXIT 1
  STDERR_LINES "1:^prodcons: rank 3, thread 0, task 100: injected fault$")

# The examples, unchanged, under the launcher.
if(PARKIT_BUILD_EXAMPLES)
  parkit_cli_test(NAME mpirun.example_quickstart RANKS 3 TIMEOUT ${once}
    COMMAND example_quickstart EXIT 0
    STDOUT_LINES "1:^mpi pool, 3 rank.s. x 1 thread.s.: sum of cubes = 249500250000, "
                 "1:^tasks: PK_ERANGE .pool: rank [0-2], thread 0, task 13: unlucky number 13.$"
    STDERR_LINES "0:.")
  parkit_cli_test(NAME mpirun.example_factorials RANKS 3 TIMEOUT ${once}
    COMMAND example_factorials EXIT 0
    STDOUT_LINES "10:^Factorial of [0-9]+ is [0-9]+$" "1:^Factorial of 10 is 3628800$"
    STDERR_LINES "0:.")
  parkit_cli_test(NAME mpirun.example_squares_pool RANKS 3 TIMEOUT ${once}
    COMMAND example_squares_pool EXIT 0
    STDOUT_LINES "3:^pool of 3 x [248]: squares.9. = 81, sum = 333332833333500000, ")
  parkit_cli_test(NAME mpirun.example_list_lock RANKS 4 TIMEOUT ${once}
    COMMAND example_list_lock EXIT 0
    STDOUT_LINES "1:^consumed 20 items$")
  # the same count of darts as on threads and serial (examples.cmake): the
  # random numbers follow the chunks, not the workers
  parkit_cli_test(NAME mpirun.example_monte_carlo_pi RANKS 3 TIMEOUT ${once}
    COMMAND example_monte_carlo_pi EXIT 0
    STDOUT_LINES "1:^mpi pool of 3 rank.s. x 1 thread.s.$"
                 "1:^inside = 3140751 of 4000000 darts, pi ~ 3.140751$"
    STDERR_LINES "0:.")
  parkit_cli_test(NAME mpirun.example_monte_carlo_pi_hybrid RANKS 2 TIMEOUT ${once}
    COMMAND example_monte_carlo_pi EXIT 0 ENV OMP_NUM_THREADS=2
    STDOUT_LINES "1:^mpi pool of 2 rank.s. x 2 thread.s.$"
                 "1:^inside = 3140751 of 4000000 darts, pi ~ 3.140751$"
    STDERR_LINES "0:.")
  parkit_cli_test(NAME mpirun.example_worker_error RANKS 3 TIMEOUT ${once}
    COMMAND example_worker_error EXIT 1
    STDOUT_LINES "1:^error callback: PK_ERANGE from rank [0-2], thread 0, task 7: "
    STDERR_LINES "1:^.*inverse: rank [0-2], thread 0, task 7: division by zero in task 7$")
endif()

# The sharing primitives (parkit/sync.h) under the launcher: 3 ranks of one
# thread, and hybrid, 2 ranks of 2 threads. The teams are the ranks; the pool
# calls of lock_counter and manager_list run on every thread of every rank.
if(PARKIT_BUILD_EXAMPLES)
  foreach(layout "3;1" "2;2")
    list(GET layout 0 ranks)
    list(GET layout 1 threads)
    math(EXPR adds "${ranks} * ${threads} * 10000")
    math(EXPR others "${ranks} - 1")
    set(lines
      "lock_counter=counter = ${adds} .expected ${adds}.$"
      "semaphore=most inside at once = 2$"
      "event=woken = ${others}$"
      "condition=consumed = 400 .expected 400.$"
      "shared_array=sum = 500500 .expected 500500.$"
      "manager_list=length = 1000 .expected 1000.$")
    if(threads EQUAL 1)
      set(suffix "")
    else()
      set(suffix "_hybrid")
    endif()
    foreach(case IN LISTS lines)
      string(REGEX REPLACE "=.*" "" ex "${case}")
      string(REGEX REPLACE "^[a-z_]+=" "" line "${case}")
      parkit_cli_test(NAME mpirun.example_${ex}${suffix} RANKS ${ranks} TIMEOUT ${once}
        COMMAND example_${ex} EXIT 0 ENV OMP_NUM_THREADS=${threads}
        STDOUT_LINES "1:^${line}" "1:."
        STDERR_LINES "0:.")
    endforeach()
  endforeach()
endif()

# The executor's examples under the launcher: 3 ranks of one thread, and
# hybrid, 2 ranks of 2 threads. Rank 0 submits; every other worker runs tasks.
if(PARKIT_BUILD_EXAMPLES)
  foreach(layout "3;1" "2;2")
    list(GET layout 0 ranks)
    list(GET layout 1 threads)
    if(threads EQUAL 1)
      set(suffix "")
    else()
      set(suffix "_hybrid")
    endif()
    parkit_cli_test(NAME mpirun.example_apply_async${suffix} RANKS ${ranks} TIMEOUT ${once}
      COMMAND example_apply_async EXIT 0 ENV OMP_NUM_THREADS=${threads}
      STDOUT "\nerrors reported = 3 .expected 3.\n$"
      STDOUT_LINES "3:^error callback: square" "7:^square.[0-9]+. = [0-9]+$"
                   "1:^error callback: square.6.: PK_EINVAL: 6 is a multiple of 3$"
      STDERR_LINES "0:.")
    parkit_cli_test(NAME mpirun.example_executor_factorials${suffix} RANKS ${ranks}
      TIMEOUT ${once} COMMAND example_executor_factorials EXIT 0 ENV OMP_NUM_THREADS=${threads}
      STDOUT "^Factorial of 1 is 1\n" "\nFactorial of 10 is 3628800\n$"
      STDOUT_LINES "10:^Factorial of [0-9]+ is [0-9]+$"
      STDERR_LINES "0:.")
    parkit_cli_test(NAME mpirun.example_task_farm${suffix} RANKS ${ranks} TIMEOUT ${once}
      COMMAND example_task_farm EXIT 0 ENV OMP_NUM_THREADS=${threads}
      STDOUT "\ntasks run = 240\n" "\ntotal = 22938602 .expected 22938602.\n$"
      STDERR_LINES "0:.")
  endforeach()
  # A fault injected into task 3 (k = 4) on rank 2: exactly that future fails,
  # with its origin, rank 0 reports it once and every rank exits 1.
  parkit_cli_test(NAME mpirun.example_executor_factorials_fault_on_rank_2 RANKS 3
    TIMEOUT ${once} COMMAND example_executor_factorials EXIT 1
    ENV PARKIT_INJECT=rank=2,task=3
    STDOUT "\nFactorial of 10 is 3628800\n$"
    STDOUT_LINES "9:^Factorial of [0-9]+ is [0-9]+$"
                 "1:^Factorial of 4 failed: PK_EINJECTED on rank 2, thread 0, task 3: injected fault$"
    STDERR_LINES "1:executor_factorials: 1 of 10 factorials failed$")
endif()

# --progress over runs far shorter than the interval, as on threads.
parkit_cli_test(NAME mpirun.squares_progress_over_short_runs RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e8 --no-store --repeat 400 --warmup 0 --progress EXIT 0
  STDERR "squares: squares +[0-9.]+%.*squares: squares +[0-9.]+%" NOT_STDERR "left")
