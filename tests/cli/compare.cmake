# --backend with a list: the same work on each backend at one pool size, one
# report with a row per backend, their time ratio and a one-line verdict.
# Under mpirun -n K: K threads in one process (rank 0 alone) against K ranks of
# one thread, or K*T threads against K ranks of T threads with --threads T.

# Usage errors need no launch (the minimal build has the serial backend alone,
# so the names are checked against what was built).
parkit_cli_test(NAME compare.same_backend_twice COMMAND squares 1e3 --backend serial,serial
  EXIT 2 STDERR_LINES "1:^squares: --backend serial,serial names 'serial' twice$")
parkit_cli_test(NAME compare.unknown_backend COMMAND sieve 1e3 --backend serial,nosuch
  EXIT 2 STDERR "unknown backend 'nosuch' in --backend serial,nosuch \\(built with: serial")
parkit_cli_test(NAME compare.one_name COMMAND factorial 10 --backend serial,
  EXIT 2 STDERR "a list compares two or more backends")
parkit_cli_test(NAME compare.thread_sweep_refused COMMAND prodcons --backend serial,serial
  --threads 1,2 EXIT 2 STDERR "compares the backends at one pool size")
parkit_cli_test(NAME compare.rank_sweep_refused COMMAND squares --backend serial,serial --ranks 1
  EXIT 2 STDERR "compares the backends at one pool size")
parkit_cli_test(NAME compare.plot_refused COMMAND squares --backend serial,serial --plot x.svg
  EXIT 2 STDERR "--plot draws a sweep of pool sizes")

if(NOT PARKIT_WITH_OPENMP)
  return()
endif()

# Without a launcher: serial against the default threads (OMP_NUM_THREADS=2).
parkit_cli_test(NAME compare.serial_omp COMMAND sieve 1e7 --backend serial,omp --repeat 2
  --format json EXIT 0
  JSON "validation=^PASSED$" "params.backend=^serial,omp \\(compared\\)$" "runs#=2"
       "runs.0.threads=^1$" "runs.1.threads=^2$" "runs.0.speedup=^1$"
       "result.time omp/serial:NUMBER" "result.count=^664579$"
       "notes.0=^row 1: serial \\(1 thread\\), row 2: threads \\(omp, 1 process x [12]\\)$"
       "notes.1=^verdict: ")

if(NOT PARKIT_WITH_MPI)
  return()
endif()
set(once 55) # each launch: MPIEXEC_TIMEOUT ends it at 50 s with Open MPI's report

# Every program under mpirun -n 2: 2 threads of rank 0, then 2 ranks of one
# thread; both validated, the ratio a number, the verdict one line.
foreach(cmd "squares 1e6" "sieve 1e8" "factorial 20000" "prodcons --items 1e4")
  separate_arguments(cmd)
  list(GET cmd 0 prog)
  parkit_cli_test(NAME compare.${prog}_omp_mpi RANKS 2 TIMEOUT ${once}
    COMMAND ${cmd} --backend omp,mpi --repeat 2 --format json EXIT 0
    JSON "validation=^PASSED$" "params.backend=^omp,mpi \\(compared\\)$" "params.ranks=^2$"
         "params.threads requested=^2 \\(omp\\), 1 per rank \\(mpi\\)$" "runs#=2"
         "runs.0.ranks=^1$" "runs.0.threads=^2$" "runs.1.ranks=^2$" "runs.1.threads=^1$"
         "runs.0.speedup=^1$" "result.time mpi/omp:NUMBER"
         "notes.0=^row 1: threads \\(omp, 1 process x [12]\\), row 2: ranks \\(mpi, 2 x 1 thread\\)$"
         "notes.1=^verdict: (faster with .*x less time than|.* take the same time within 5%)"
    STDERR_LINES "0:${prog}")
endforeach()

# The table: one validation line, two rows, one verdict, printed by rank 0 alone.
parkit_cli_test(NAME compare.squares_table RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --backend omp,mpi --repeat 2 EXIT 0
  STDOUT_LINES "1:^backend += omp,mpi \\(compared\\)$" "1:^Validation: PASSED$"
               "1:^ +1 +2 +[12] +[0-9.]+ " "1:^ +2 +1 +2 +[0-9.]+ " "1:^Note: verdict: "
               "1:^time mpi/omp += [0-9]+\\.[0-9]+$")

# Hybrid, the other order: 2 ranks of 2 threads first, then 4 threads of rank 0.
parkit_cli_test(NAME compare.hybrid_mpi_first RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --backend mpi,omp --threads 2 --repeat 2 --format json EXIT 0
  JSON "validation=^PASSED$" "runs#=2" "runs.0.ranks=^2$" "runs.0.threads=^2$"
       "runs.1.ranks=^1$" "runs.1.threads=^4$" "result.time omp/mpi:NUMBER"
       "params.threads requested=^2 per rank \\(mpi\\), 4 \\(omp\\)$")

# A fault in either part: one message with its origin, every rank ends with 1.
# Thread 1 of rank 0 exists only in the threads part; rank 1 only in the ranks part.
parkit_cli_test(NAME compare.fault_in_threads_part RANKS 2 TIMEOUT ${once}
  COMMAND squares 1e6 --backend omp,mpi --inject-fault rank=0,thread=1,task=3 EXIT 1
  STDERR_LINES "1:^squares: rank 0, thread 1, task 3: injected fault$"
  NOT_STDOUT "Validation")
parkit_cli_test(NAME compare.fault_in_ranks_part RANKS 2 TIMEOUT ${once}
  COMMAND factorial 20000 --backend omp,mpi --inject-fault rank=1,task=0 EXIT 1
  STDERR_LINES "1:^factorial: rank 1, thread 0, task 0: injected fault$"
  NOT_STDOUT "Validation")
