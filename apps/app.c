/* The program skeleton shared by the four parkit programs (see app.h). */
#include "app.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if PARKIT_WITH_MPI
#include "parkit/mpi.h"
#endif

int app_is_root(const app *a) {
    return a->rank == 0;
}

int app_start(app *a, const char *prog, int *argc, char ***argv) {
    memset(a, 0, sizeof *a);
    a->prog = prog;
    a->nranks = 1;
    a->mpi_level = -1;
    pk_cli_common_defaults(&a->common);
#if PARKIT_WITH_MPI
    if (pk_mpi_launched()) {
        int provided;
        if (pk_mpi_init(argc, argv, &provided) != 0) {
            fprintf(stderr, "%s: MPI failed to start\n", prog);
            return APP_FAILED;
        }
        a->mpi_level = provided;
        MPI_Comm_rank(MPI_COMM_WORLD, &a->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &a->nranks);
    }
#else
    (void)argc;
    (void)argv;
#endif
    return APP_OK;
}

int app_usage(app *a, const char *fmt, ...) {
    if (app_is_root(a)) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", a->prog);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\nTry '%s --help' for more information.\n", a->prog);
        va_end(ap);
    }
    return APP_USAGE;
}

int app_error(app *a, const char *fmt, ...) {
    if (app_is_root(a)) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", a->prog);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    return APP_FAILED;
}

int app_fail(app *a, int rc) {
    if (a->ctx == NULL)
        return app_error(a, "%s", pk_strerror(rc));
    char buf[512];
    pk_ctx_error_string(a->ctx, buf, sizeof buf);
    const pk_error_info *e = pk_ctx_error(a->ctx);
    if (app_is_root(a)) {
        if (e->kernel[0] != '\0')
            fprintf(stderr, "%s\n", buf);
        else
            fprintf(stderr, "%s: %s\n", a->prog, buf);
    }
    return APP_FAILED;
}

static void print_help(const app *a) {
    printf("Usage: %s %s\n%s\n\n%s\n%s", a->prog, a->usage, a->summary, a->help,
           pk_cli_common_help());
    printf("\nExit status: 0 when the run validated, 1 on a runtime or validation failure,\n"
           "2 on a usage error. Under mpirun every rank exits with the same status.\n");
}

/* The getopt table: the program's options, then the common ones. */
static struct option *build_longopts(const app_opt *opts, int *nown) {
    static const char *const common[] = {"backend",     "threads",      "ranks", "repeat",
                                         "warmup",      "format",       "quiet", "progress",
                                         "no-progress", "inject-fault", "help",  "version"};
    int n = 0;
    while (opts && opts[n].name)
        n++;
    int nc = (int)(sizeof common / sizeof common[0]);
    struct option *lo = calloc((size_t)(n + nc + 1), sizeof *lo);
    if (lo == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        lo[i] = (struct option){opts[i].name, opts[i].has_arg ? required_argument : no_argument,
                                NULL, 1000 + i};
    for (int i = 0; i < nc; i++)
        lo[n + i] = (struct option){
            common[i], pk_cli_common_has_arg(common[i]) ? required_argument : no_argument, NULL,
            2000 + i};
    *nown = n;
    return lo;
}

static int handle_opt(app *a, const struct option *lo, int c, const app_opt *opts, app_opt_fn fn,
                      void *state) {
    (void)lo;
    const char *why = "invalid value";
    if (c == 'h') {
        a->common.help = 1;
        return APP_OK;
    }
    if (c >= 1000 && c < 2000) {
        const app_opt *o = &opts[c - 1000];
        if (fn(state, o->id, optarg, &why) != 0)
            return app_usage(a, "invalid argument '%s' for --%s: %s", optarg ? optarg : "", o->name,
                             why);
        return APP_OK;
    }
    return APP_USAGE;
}

int app_parse(app *a, int argc, char **argv, const app_opt *opts, app_opt_fn fn, void *state,
              int max_pos) {
    int nown = 0;
    struct option *lo = build_longopts(opts, &nown);
    if (lo == NULL)
        return app_error(a, "out of memory");
    int rc = APP_OK;
    opterr = 0;
    optind = 1;
    int c, idx = -1;
    while (rc == APP_OK && (c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
        if (c == '?') {
            rc = optopt ? app_usage(a, "unknown option '-%c'", optopt)
                        : app_usage(a, "unknown option '%s'", argv[optind - 1]);
        } else if (c == ':') {
            rc = app_usage(a, "option '%s' needs an argument", argv[optind - 1]);
        } else if (c >= 2000) {
            const char *why = "invalid value";
            const char *name = lo[nown + (c - 2000)].name;
            if (pk_cli_common_apply(&a->common, name, optarg, &why) < 0)
                rc = app_usage(a, "invalid argument '%s' for --%s: %s", optarg ? optarg : "", name,
                               why);
        } else {
            rc = handle_opt(a, lo, c, opts, fn, state);
        }
    }
    free(lo);
    if (rc != APP_OK)
        return rc;
    if (a->common.help) {
        if (app_is_root(a))
            print_help(a);
        return APP_DONE;
    }
    if (a->common.version) {
        if (app_is_root(a))
            printf("%s (parkit) %s\n", a->prog, PARKIT_VERSION);
        return APP_DONE;
    }
    for (int i = optind; i < argc; i++) {
        if (a->npos == max_pos || a->npos == 4)
            return app_usage(a, "unexpected argument '%s'", argv[i]);
        a->pos[a->npos++] = argv[i];
    }
    return APP_OK;
}

static void show_progress(void *arg, const char *kernel, double fraction) {
    app *a = arg;
    fprintf(stderr, "\r%s: %s %5.1f%%", a->prog, kernel, 100.0 * fraction);
    fflush(stderr);
    a->progress_shown = 1;
}

static void end_progress(app *a) {
    if (a->progress_shown && app_is_root(a)) {
        fprintf(stderr, "\r%60s\r", "");
        fflush(stderr);
    }
    a->progress_shown = 0;
}

int app_open(app *a) {
    const char *backend = a->common.backend;
    int rc;
#if PARKIT_WITH_MPI
    const char *want = backend ? backend : getenv("PARKIT_BACKEND");
    if (want != NULL && strcmp(want, "mpi") == 0 && a->mpi_level < 0) {
        int provided;
        if (pk_mpi_init(NULL, NULL, &provided) != 0)
            return app_error(a, "MPI failed to start");
        a->mpi_level = provided;
    }
#endif
    rc = pk_ctx_new(&a->ctx, backend);
    if (rc == PK_ENOENT) {
        char list[128] = "";
        for (const char *const *b = pk_backends(); *b; b++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     b == pk_backends() ? "" : ", ", *b);
        return app_usage(a, "unknown backend '%s' (built with: %s)", backend ? backend : "", list);
    }
    if (rc != 0)
        return app_error(a, "cannot create the %s backend: %s", backend ? backend : "auto",
                         pk_strerror(rc));
    const char *inject = a->common.inject ? a->common.inject : getenv("PARKIT_INJECT");
    if (inject != NULL && pk_ctx_set_fault(a->ctx, inject) != 0)
        return app_usage(a, "invalid fault spec '%s': %s", inject, pk_ctx_error(a->ctx)->message);
    int progress = a->common.progress;
    if (progress < 0)
        progress = a->common.format == PK_FORMAT_TABLE && !a->common.quiet && isatty(2);
    if (progress && app_is_root(a))
        pk_ctx_set_progress(a->ctx, show_progress, a, 1.0);
    if (a->common.nranks > 0 && pk_ctx_size(a->ctx) == 1) {
        for (int i = 0; i < a->common.nranks; i++)
            if (a->common.ranks[i] != 1)
                return app_usage(a,
                                 "--ranks %d needs a launch with at least %d MPI ranks "
                                 "(e.g. mpirun -n %d %s ...)",
                                 a->common.ranks[i], a->common.ranks[i], a->common.ranks[i],
                                 a->prog);
    }
    for (int i = 0; i < a->common.nranks; i++)
        if (a->common.ranks[i] > pk_ctx_size(a->ctx))
            return app_usage(a, "--ranks %d is more than the %d ranks launched", a->common.ranks[i],
                             pk_ctx_size(a->ctx));
    return APP_OK;
}

void app_header(const app *a, pk_report *r) {
    pk_report_param(r, "program", "%s", a->prog);
    pk_report_param(r, "version", "%s", PARKIT_VERSION);
    pk_report_param(r, "backend", "%s", pk_ctx_backend(a->ctx));
    pk_report_param(r, "ranks", "%d", pk_ctx_size(a->ctx));
    char list[256] = "";
    if (a->common.nthreads > 0) {
        for (int i = 0; i < a->common.nthreads; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "",
                     a->common.threads[i]);
    } else {
        snprintf(list, sizeof list, "%d", pk_ctx_threads(a->ctx));
    }
    pk_report_param(r, "threads requested", "%s", list);
    pk_report_param(r, "threads obtained", "%d", pk_ctx_threads_obtained(a->ctx));
#if PARKIT_WITH_MPI
    if (a->mpi_level >= 0)
        pk_report_param(r, "MPI thread level", "%s", pk_mpi_thread_level_name(a->mpi_level));
#endif
    pk_report_param(r, "timer resolution", "%.3g s", pk_time_resolution());
}

int app_sweep(app *a, pk_run_fn fn, void *arg, double work, pk_stats **rows, int *nrows) {
    pk_sweep sw = {
        .threads = a->common.threads,
        .nthreads = a->common.nthreads,
        .ranks = a->common.ranks,
        .nranks = a->common.nranks,
        .repeat = a->common.repeat,
        .warmup = a->common.warmup,
        .work = work,
    };
    int n = (sw.nthreads > 0 ? sw.nthreads : 1) * (sw.nranks > 0 ? sw.nranks : 1);
    *rows = calloc((size_t)n, sizeof **rows);
    *nrows = n;
    if (*rows == NULL)
        return app_error(a, "out of memory");
    int rc = pk_sweep_run(a->ctx, &sw, fn, arg, *rows);
    end_progress(a);
    if (rc != 0)
        return app_fail(a, rc);
    return APP_OK;
}

void app_check_fault(app *a) {
    const char *inject = a->common.inject ? a->common.inject : getenv("PARKIT_INJECT");
    if (inject != NULL && inject[0] != '\0' && !pk_ctx_fault_fired(a->ctx) && app_is_root(a))
        fprintf(stderr,
                "%s: warning: the injected fault '%s' did not fire (no task matched: check the "
                "kernel name, and that the rank, thread and task exist in this run)\n",
                a->prog, inject);
}

int app_print(app *a, pk_report *r) {
    if (!app_is_root(a))
        return APP_OK;
    pk_report_set_quiet(r, a->common.quiet);
    if (pk_report_print(r, stdout) != 0)
        return app_error(a, "error writing the report");
    return APP_OK;
}

int app_finish(app *a, int code) {
    if (code == APP_DONE)
        code = APP_OK;
#if PARKIT_WITH_MPI
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) {
        int agreed = code;
        MPI_Allreduce(&code, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        code = agreed;
    }
#endif
    pk_ctx_free(a->ctx);
    a->ctx = NULL;
#if PARKIT_WITH_MPI
    pk_mpi_finalize();
#endif
    return code;
}

double app_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 1e18;
}
