/* The program skeleton shared by squares, factorial, sieve and prodcons: MPI
 * start-up when launched by mpirun, option parsing (the common options of
 * parkit/cli.h plus the program's own), the context, the sweep, the report,
 * messages printed once (rank 0) and the exit code every rank agrees on. */
#ifndef PARKIT_APP_H
#define PARKIT_APP_H

#include <stdio.h>

#include "parkit/parkit.h"

enum { APP_OK = 0, APP_FAILED = 1, APP_USAGE = 2, APP_DONE = 3 /* help/version printed */ };

typedef struct app_opt {
    const char *name; /* long option name */
    int has_arg;      /* 0 or 1 */
    int id;           /* passed to the handler */
} app_opt;

/* Handles one of the program's options: 0, or PK_EINVAL with *why set. */
typedef int (*app_opt_fn)(void *state, int id, const char *arg, const char **why);

typedef struct app {
    const char *prog;
    const char *usage;   /* "[OPTION]... [N]" */
    const char *summary; /* one line */
    const char *help;    /* the program's own options and examples */
    pk_cli_common common;
    char *pos[4];
    int npos;
    pk_ctx *ctx;
    int rank, nranks;
    int mpi_level; /* provided thread level, -1 without MPI */
    int progress_shown;
} app;

/* Starts MPI when the program was launched by an MPI launcher. */
int app_start(app *a, const char *prog, int *argc, char ***argv);
/* Parses argv. APP_OK, APP_USAGE (message printed) or APP_DONE (help/version). */
int app_parse(app *a, int argc, char **argv, const app_opt *opts, app_opt_fn fn, void *state,
              int max_pos);
/* Prints "prog: message" and the --help hint once; returns APP_USAGE. */
int app_usage(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "prog: message" once (rank 0) to stderr; returns APP_FAILED. */
int app_error(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the context's last error once; returns APP_FAILED (or APP_USAGE for PK_EINVAL
 * when usage is set). */
int app_fail(app *a, int rc);
/* Creates the context from the common options. APP_OK or an exit code. */
int app_open(app *a);
/* The header lines every report has. */
void app_header(const app *a, pk_report *r);
/* Runs the sweep; rows allocated. APP_OK or APP_FAILED (printed). */
int app_sweep(app *a, pk_run_fn fn, void *arg, double work, pk_stats **rows, int *nrows);
/* Prints the report on rank 0 (quiet: only results and validation). */
int app_print(app *a, pk_report *r);
/* Warns when an injected fault never fired. */
void app_check_fault(app *a);
/* 1 on rank 0: the rank that prints. */
int app_is_root(const app *a);
/* Agrees on an exit code over ranks (max), frees the context, finalizes MPI. */
int app_finish(app *a, int code);
/* Bytes of physical memory, for "would not fit in memory" checks. */
double app_physical_memory(void);

#endif
