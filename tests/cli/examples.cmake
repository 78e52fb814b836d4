# The examples (examples/) run as a new user would run them, on threads.
if(NOT PARKIT_BUILD_EXAMPLES)
  return()
endif()

parkit_cli_test(NAME examples.factorials COMMAND example_factorials EXIT 0
  STDOUT "(^|\n)Factorial of 1 is 1\n" "\nFactorial of 10 is 3628800\n$"
  NOT_STDERR ".")
parkit_cli_test(NAME examples.factorials_serial COMMAND example_factorials EXIT 0
  ENV PARKIT_BACKEND=serial STDOUT "\nFactorial of 5 is 120\n")
parkit_cli_test(NAME examples.squares_pool COMMAND example_squares_pool EXIT 0
  STDOUT "pool of 1 x 2: squares\\[9\\] = 81, sum = 333332833333500000"
         "pool of 1 x 4: squares\\[9\\] = 81, sum = 333332833333500000"
         "pool of 1 x 8: squares\\[9\\] = 81, sum = 333332833333500000")
parkit_cli_test(NAME examples.list_lock COMMAND example_list_lock EXIT 0
  STDOUT "(^|\n)consumed 20 items\n")
parkit_cli_test(NAME examples.list_lock_serial COMMAND example_list_lock EXIT 0
  ENV PARKIT_BACKEND=serial STDOUT "(^|\n)consumed 20 items\n")
parkit_cli_test(NAME examples.worker_error COMMAND example_worker_error EXIT 1
  STDOUT "error callback: PK_ERANGE from rank 0, thread [0-9]+, task 7: division by zero in task 7"
         "pk_tasks returned PK_ERANGE on rank 0"
  STDERR "inverse: rank 0, thread [0-9]+, task 7: division by zero in task 7")
parkit_cli_test(NAME examples.quickstart COMMAND example_quickstart EXIT 0
  STDOUT "(^|\n)(omp|serial) pool, 1 rank\\(s\\) x [12] thread\\(s\\): sum of cubes = 249500250000, 999\\^3 = 997002999\n"
         "\ntasks: PK_ERANGE \\(pool: rank 0, thread [01], task 13: unlucky number 13\\)\n")
parkit_cli_test(NAME examples.quickstart_serial COMMAND example_quickstart EXIT 0
  ENV PARKIT_BACKEND=serial
  STDOUT "(^|\n)serial pool, 1 rank\\(s\\) x 1 thread\\(s\\): sum of cubes = 249500250000"
         "\ntasks: PK_ERANGE \\(pool: rank 0, thread 0, task 13: unlucky number 13\\)\n")
# One count of darts on every pool (also under mpirun: mpirun.cmake).
set(pools 1)
if(PARKIT_WITH_OPENMP)
  set(pools 1 2 4)
endif()
foreach(threads IN LISTS pools)
  parkit_cli_test(NAME examples.monte_carlo_pi_${threads}_threads COMMAND example_monte_carlo_pi
    EXIT 0 ENV OMP_NUM_THREADS=${threads}
    STDOUT "(^|\n)(omp|serial) pool of 1 rank\\(s\\) x ${threads} thread\\(s\\)\n"
           "\ninside = 3140751 of 4000000 darts, pi ~ 3.140751\n$")
endforeach()
parkit_cli_test(NAME examples.monte_carlo_pi_serial COMMAND example_monte_carlo_pi EXIT 0
  ENV PARKIT_BACKEND=serial
  STDOUT "(^|\n)serial pool of 1 rank\\(s\\) x 1 thread\\(s\\)\n"
         "\ninside = 3140751 of 4000000 darts, pi ~ 3.140751\n$")
# The sharing primitives (parkit/sync.h): one exact last line on 1 and 2 threads
# (also under mpirun: mpirun.cmake). The teams of semaphore, event, condition
# and shared_array are four threads whatever the pool.
set(sync_threads 1)
if(PARKIT_WITH_OPENMP)
  set(sync_threads 1 2)
endif()
foreach(threads IN LISTS sync_threads)
  math(EXPR adds "${threads} * 10000")
  set(lines
    "lock_counter=counter = ${adds} \\(expected ${adds}\\)"
    "semaphore=most inside at once = 2"
    "event=woken = 3"
    "condition=consumed = 400 \\(expected 400\\)"
    "shared_array=sum = 500500 \\(expected 500500\\)"
    "manager_list=length = 1000 \\(expected 1000\\)")
  foreach(case IN LISTS lines)
    string(REGEX REPLACE "=.*" "" ex "${case}")
    string(REGEX REPLACE "^[a-z_]+=" "" line "${case}")
    parkit_cli_test(NAME examples.${ex}_${threads}_threads COMMAND example_${ex} EXIT 0
      ENV OMP_NUM_THREADS=${threads}
      STDOUT "^${line}\n$"
      NOT_STDERR ".")
  endforeach()
endforeach()
# The executor (parkit/exec.h): the tutorial's apply_async, submit/as_completed
# and a farm of tasks that submit tasks, one exact last line on 1 and 2 threads
# and on the serial backend (also under mpirun: mpirun.cmake).
foreach(threads IN LISTS sync_threads ITEMS serial)
  if(threads STREQUAL "serial")
    set(env PARKIT_BACKEND=serial)
    set(suffix serial)
  else()
    set(env OMP_NUM_THREADS=${threads})
    set(suffix ${threads}_threads)
  endif()
  parkit_cli_test(NAME examples.apply_async_${suffix} COMMAND example_apply_async
    EXIT 0 ENV ${env}
    STDOUT "\nerrors reported = 3 \\(expected 3\\)\n$"
    STDOUT_LINES "3:^error callback: square" "7:^square\\([0-9]+\\) = [0-9]+$"
                 "1:^error callback: square\\(3\\): PK_EINVAL: 3 is a multiple of 3$"
                 "1:^error callback: square\\(6\\): PK_EINVAL: 6 is a multiple of 3$"
                 "1:^error callback: square\\(9\\): PK_EINVAL: 9 is a multiple of 3$"
                 "1:^square\\(10\\) = 100$"
    NOT_STDERR ".")
  parkit_cli_test(NAME examples.executor_factorials_${suffix}
    COMMAND example_executor_factorials EXIT 0 ENV ${env}
    STDOUT "^Factorial of 1 is 1\n" "\nFactorial of 10 is 3628800\n$"
    STDOUT_LINES "10:^Factorial of [0-9]+ is [0-9]+$" "1:^Factorial of 7 is 5040$"
    NOT_STDERR ".")
  parkit_cli_test(NAME examples.task_farm_${suffix} COMMAND example_task_farm
    EXIT 0 ENV ${env}
    STDOUT "\ntasks run = 240\n" "\ntotal = 22938602 \\(expected 22938602\\)\n$"
    NOT_STDERR ".")
endforeach()
# A fault injected into one task (number 3, k = 4) on thread 1: that future
# alone fails, the other nine factorials are printed, and the program exits 1.
if(PARKIT_WITH_OPENMP)
  parkit_cli_test(NAME examples.executor_factorials_fault COMMAND example_executor_factorials
    EXIT 1 ENV OMP_NUM_THREADS=2 PARKIT_INJECT=kernel=exec,thread=1,task=3
    STDOUT "\nFactorial of 10 is 3628800\n$"
    STDOUT_LINES "9:^Factorial of [0-9]+ is [0-9]+$"
                 "1:^Factorial of 4 failed: PK_EINJECTED on rank 0, thread 1, task 3: injected fault$"
    STDERR_LINES "1:executor_factorials: 1 of 10 factorials failed$")
endif()
