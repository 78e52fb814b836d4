# Interrupted runs: SIGINT or SIGTERM during a long run ends it at the pool's
# next chunk or item with one message and status 128 + the signal, leaving no
# output file, temporary or not, and no process behind. Each run would take far
# longer than its TIMEOUT when the signal did not stop it. The signal is sent
# once the program's stderr shows it is computing (progress, or --trace moves).
# Under mpirun the signal goes to the launcher: Open MPI 4.1 sends every rank
# SIGCONT, then SIGTERM (whether it got SIGINT or SIGTERM), then SIGKILL, each
# odls_base_sigkill_timeout seconds (default 1) after the one before, and exits
# with status 1 whatever the ranks returned.
set(sig_dir ${CMAKE_CURRENT_BINARY_DIR}/out/signals)
set(long --repeat 1000000 --progress)

parkit_cli_test(NAME signals.squares_sigint TIMEOUT 60 SIGNAL INT WHEN "%"
  COMMAND squares 3e9 --no-store ${long} EXIT 130
  STDERR "squares: interrupted \\(SIGINT\\)\n$"
  STDERR_LINES "1:interrupted" NOT_STDOUT ".")
parkit_cli_test(NAME signals.squares_sigterm_serial TIMEOUT 60 SIGNAL TERM WHEN "%"
  COMMAND squares 3e9 --no-store --backend serial ${long} EXIT 143
  STDERR "squares: interrupted \\(SIGTERM\\)\n$" NOT_STDOUT ".")
parkit_cli_test(NAME signals.sieve_sigterm TIMEOUT 60 SIGNAL TERM WHEN "%"
  COMMAND sieve 1e13 ${long} EXIT 143
  STDERR "sieve: interrupted \\(SIGTERM\\)\n$" NOT_STDOUT ".")
parkit_cli_test(NAME signals.prodcons_sigint TIMEOUT 60 SIGNAL INT WHEN "Added"
  COMMAND prodcons --trace --format json --items 1e9 --produce-delay 1 EXIT 130
  STDERR "\nprodcons: interrupted \\(SIGINT\\)\n$" NOT_STDOUT ".")
# The temporary file of --output goes with the interrupted run.
foreach(s INT TERM)
  if(s STREQUAL "INT")
    set(status 130)
  else()
    set(status 143)
  endif()
  parkit_cli_test(NAME signals.factorial_output_sig${s} TIMEOUT 60 SIGNAL ${s} WHEN "%"
    DIR ${sig_dir}/factorial_${s}
    COMMAND factorial 2e7 --output ${sig_dir}/factorial_${s}/f.txt ${long} EXIT ${status}
    STDERR "factorial: interrupted \\(SIG${s}\\)\n$" NOT_STDOUT "." DIR_LIST "^$")
endforeach()

# The tests give the ranks 10 s between SIGTERM and SIGKILL so that on a busy
# machine too they end by themselves, rank 0 having said why: killed ranks
# would print nothing.
if(PARKIT_WITH_MPI)
  set(grace OMPI_MCA_odls_base_sigkill_timeout=10)
  parkit_cli_test(NAME signals.mpirun_squares_sigint RANKS 2 TIMEOUT 60 SIGNAL INT WHEN "%"
    COMMAND squares 3e9 --no-store ${long} EXIT 1 ENV ${grace}
    STDERR "squares: interrupted \\(SIGTERM\\)\n$" STDERR_LINES "1:interrupted"
    NOT_STDOUT ".")
  parkit_cli_test(NAME signals.mpirun_sieve_sigterm RANKS 2 TIMEOUT 60 SIGNAL TERM WHEN "%"
    COMMAND sieve 1e13 ${long} EXIT 1 ENV ${grace}
    STDERR "sieve: interrupted \\(SIGTERM\\)\n$" STDERR_LINES "1:interrupted" NOT_STDOUT ".")
  foreach(s INT TERM)
    parkit_cli_test(NAME signals.mpirun_factorial_output_sig${s} RANKS 2 TIMEOUT 60
      SIGNAL ${s} WHEN "%" DIR ${sig_dir}/mpirun_factorial_${s} ENV ${grace}
      COMMAND factorial 2e7 --output ${sig_dir}/mpirun_factorial_${s}/f.txt ${long} EXIT 1
      STDERR "factorial: interrupted \\(SIGTERM\\)\n$" STDERR_LINES "1:interrupted"
      NOT_STDOUT "." DIR_LIST "^$")
  endforeach()
endif()
