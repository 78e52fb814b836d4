/* The program driver shared by squares, factorial, sieve and prodcons. Each
 * program is one declarative app_program (its name, usage and help, its own
 * option table and its callbacks) and its main() is one call to app_main(),
 * which does, in this order and in one place for all four:
 *
 *   MPI start-up when launched by an MPI launcher;
 *   the options: the program's table and the common one (parkit/cli.h) drive
 *     getopt_long, the applying and --help; --help and --version print and stop;
 *   check     the positional arguments and option combinations (usage errors);
 *   the output files the program registered (app_output_add): each created as a
 *     temporary file next to its path before anything is computed, so a path
 *     that cannot be written is a usage error up front;
 *   the context: --backend, --inject-fault (or PARKIT_INJECT), progress, --ranks;
 *   prepare   what the runs need once the context exists;
 *   the sweep of run_once over the pool sizes (work units per run);
 *     with a list of backends (--backend omp,mpi) instead: prepare, one run
 *     of the same pool size and validate on each backend in turn, from the
 *     state the options gave, then one report whose rows are the backends,
 *     with their time ratio and a verdict;
 *   validate, then before_report, the report (header, the program's report
 *     items, the validation line, the rows with rate_unit) printed by rank 0,
 *     the warning for an injected fault that never fired, then after_report;
 *   release, and one exit code agreed by every rank: APP_OK (0), APP_FAILED (1,
 *     a runtime or validation failure) or APP_USAGE (2).
 *
 * Messages are printed once, by rank 0: usage errors as "prog: message" and the
 * --help hint on stderr, runtime errors as "prog: message" or the context's error
 * with its origin. */
#ifndef PARKIT_APP_H
#define PARKIT_APP_H

#include <stddef.h>
#include <stdio.h>

#include "parkit/parkit.h"

enum { APP_OK = 0, APP_FAILED = 1, APP_USAGE = 2, APP_DONE = 3 /* help/version printed */ };

enum { APP_MAX_OUTPUTS = 4 };

/* A file an option names (--output FILE), written by rank 0. Between the check
 * and the commit, the data goes to a temporary file in the same directory
 * (".NAME.XXXXXX"); app_output_commit renames it over the path, so the path
 * never holds a half-written file; the driver removes a temporary file that was
 * not committed (a failed or interrupted run). A path that exists and is not a
 * regular file (/dev/null, a pipe) is written directly. */
typedef struct app_output {
    const char *option; /* the option's name, for messages ("output") */
    const char *path;
    char *tmp; /* the temporary file until committed; NULL when writing directly */
    FILE *file;
    int mode; /* the permissions the file gets */
    int slot; /* its place among the registered outputs */
} app_output;

/* One run of a program, as the driver and the callbacks see it. */
typedef struct app {
    const char *prog;
    pk_cli_common common;
    char **args; /* the positional arguments */
    int nargs;
    pk_ctx *ctx;
    const pk_stats *rows; /* the sweep's rows, once it ran */
    int nrows;
    int rank, nranks;
    int mpi_level;   /* provided thread level, -1 without MPI */
    int hide_report; /* set by a program that prints only its own output */
    int progress_shown;
    int64_t runs;                         /* runs of the sweep started so far */
    int64_t progress_run;                 /* the run of the part now shown */
    double progress_start;                /* when the part now shown was first shown... */
    double progress_base;                 /* ...and its fraction then */
    double progress_frac;                 /* its fraction last shown */
    app_output *outputs[APP_MAX_OUTPUTS]; /* registered by the program's check */
    app_output plot;                      /* --plot FILE */
    int threads_lo, threads_hi;           /* threads obtained, least and most over ranks */
    int noutputs;
    const char *compare[3]; /* --backend omp,mpi: the backends compared, in order */
    int ncompare;
    struct app_phase *phases; /* their rows and validation, while comparing */
} app;

/* A program. Callbacks get the program's state; those returning an exit code
 * return APP_OK or what app_usage / app_error / app_fail returned. NULL callbacks
 * (those marked optional) are skipped. */
typedef struct app_program {
    const char *name;
    const char *usage;                   /* after the name: "[OPTION]... [N]" */
    const char *summary;                 /* what it does */
    const pk_cli_option *options;        /* its own options; their apply gets the state */
    const char *help;                    /* after its options: notes and examples */
    int max_args;                        /* positional arguments it takes at most */
    int root_only;                       /* validate and report on rank 0 alone */
    void *state;                         /* the program's state, holding its defaults */
    size_t state_size;                   /* its size: --backend omp,mpi starts each backend from the
                                            state the options gave (0: the program cannot compare) */
    int (*check)(app *a, void *state);   /* arguments into the state; exit code */
    int (*prepare)(app *a, void *state); /* optional; exit code */
    pk_run_fn run_once;                  /* one timed run; its arg is the state */
    double (*work)(const app *a, const void *state); /* work units of one run */
    const char *(*rate_unit)(const void *state);     /* what the rate counts per second */
    /* 1 when the result is right, else 0 with why in detail. */
    int (*validate)(app *a, void *state, char *detail, size_t len);
    /* Optional; output that goes before the report; exit code. */
    int (*before_report)(app *a, void *state);
    /* The program's parameters, results and notes: 0 or the first report setter's error. */
    int (*report)(app *a, void *state, pk_report *r);
    /* Optional; output after the report, given the exit code so far; returns the new one. */
    int (*after_report)(app *a, void *state, int code);
    void (*release)(void *state); /* optional; frees what the state holds */
} app_program;

/* Runs a program from its command line and returns its exit code. */
int app_main(const app_program *p, int argc, char **argv);

/* The first two steps of app_main, which the fuzz targets call alone: app_init
 * gives a run its defaults (one rank, no MPI); app_args reads the command line
 * into it and the program's state (the options, --help and --version, the
 * positional arguments, the program's check). app_args prints usage errors,
 * starts nothing and never exits: it returns APP_OK, APP_USAGE, APP_DONE (help
 * or version printed) or APP_FAILED (no memory). */
void app_init(app *a, const char *prog);
int app_args(app *a, const app_program *p, int argc, char **argv);

/* Prints "prog: message" and the --help hint once (rank 0); returns APP_USAGE. */
int app_usage(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "prog: message" once (rank 0) to stderr; returns APP_FAILED. */
int app_error(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the context's last error (with its origin) once; returns APP_FAILED. */
int app_fail(app *a, int rc);
/* Registers an output file (from the program's check; path NULL: none). The
 * driver opens it on rank 0 after the check; APP_OK or APP_FAILED (too many). */
int app_output_add(app *a, app_output *o, const char *option, const char *path);
/* The open stream of a registered output, on rank 0. */
FILE *app_output_file(const app_output *o);
/* Closes the output and renames it over its path; APP_OK or app_error's code
 * (the temporary file is removed then). */
int app_output_commit(app *a, app_output *o);

/* 1 on rank 0: the rank that prints. */
int app_is_root(const app *a);
/* Bytes of physical memory, for "would not fit in memory" checks. */
double app_physical_memory(void);
/* The first of two statuses that is not 0, for chains of report setters. */
int app_first_error(int rc, int next);

#endif
