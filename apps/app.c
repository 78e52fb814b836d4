/* The program driver shared by the four parkit programs (see app.h): one main
 * path, one option parser built from the option tables, one report step that
 * checks every status it gets. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "app.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if PARKIT_WITH_MPI
#include "parkit/mpi.h"
#endif

/* getopt_long values: the program's options from OWN_VAL, the common ones from COMMON_VAL. */
enum { OWN_VAL = 1000, COMMON_VAL = 2000 };

/* ---- interruption ----
 * SIGINT and SIGTERM (which mpirun sends every rank when it gets either) set
 * `interrupted` to the signal's number and remove the temporary output files at
 * once (unlink is async-signal-safe; under mpirun a SIGKILL follows within a
 * second). The pool polls the flag between chunks (pk_ctx_set_interrupt), so the
 * run fails with PK_EINTR on every worker and rank, and the program ends with
 * one message and status 128 + the signal. A second signal kills as usual. */
static atomic_int interrupted;
static _Atomic(char *) pending_tmp[APP_MAX_OUTPUTS]; /* removed by the handler */

static void on_signal(int signo) {
    int none = 0;
    atomic_compare_exchange_strong(&interrupted, &none, signo);
    for (int i = 0; i < APP_MAX_OUTPUTS; i++) {
        char *tmp = atomic_exchange(&pending_tmp[i], NULL);
        if (tmp != NULL)
            unlink(tmp);
    }
}

static int interrupt_fired(void *arg) {
    (void)arg;
    return atomic_load_explicit(&interrupted, memory_order_relaxed) != 0;
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)(SA_RESTART | SA_RESETHAND);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The exit status of an interrupted run: 128 + the signal; 128 alone on a rank
 * that got none (another rank did, and the agreed status is the larger). */
static int interrupted_status(void) {
    return 128 + atomic_load(&interrupted);
}

static const char *signal_name(int signo) {
    return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "a signal";
}

int app_is_root(const app *a) {
    return a->rank == 0;
}

int app_first_error(int rc, int next) {
    return rc != 0 ? rc : next;
}

/* The worse of two exit codes (APP_OK < APP_FAILED < APP_USAGE). */
static int worse(int code, int other) {
    return other > code ? other : code;
}

void app_init(app *a, const char *prog) {
    memset(a, 0, sizeof *a);
    a->prog = prog;
    a->nranks = 1;
    a->mpi_level = -1;
    pk_cli_common_defaults(&a->common);
}

/* What pk_mpi_init's PK_EINVAL means (the variable's value to format in). */
#define BAD_MPI_THREADS "PARKIT_MPI_THREADS=%s: need funneled, serialized or multiple"

static int app_start(app *a, const char *prog, int *argc, char ***argv) {
    app_init(a, prog);
#if PARKIT_WITH_MPI
    if (pk_mpi_launched()) {
        int provided;
        int rc = pk_mpi_init(argc, argv, &provided);
        if (rc == PK_EINVAL) {
            /* every rank says it (none knows its rank yet): one call each, so
             * that the launcher does not interleave two ranks' lines */
            fprintf(stderr, "%s: " BAD_MPI_THREADS "\n", prog, getenv("PARKIT_MPI_THREADS"));
            return APP_USAGE;
        }
        if (rc != 0) {
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
    catch_signals();
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
    if (rc == PK_EINTR || atomic_load(&interrupted) != 0)
        return interrupted_status(); /* said once, by app_finish */
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

/* ---- options ---- */

static int print_help(app *a, const app_program *p) {
    printf("Usage: %s %s\n%s\n\nOptions:\n", p->name, p->usage, p->summary);
    int rc = pk_cli_help(p->options, stdout);
    printf("%s\nPool and run options:\n", p->help);
    rc = app_first_error(rc, pk_cli_help(pk_cli_common_options(), stdout));
    printf("\nExit status: 0 when the run validated, 1 on a runtime or validation failure,\n"
           "2 on a usage error (an output file that cannot be written is one, found\n"
           "before any computing), 130 or 143 when SIGINT or SIGTERM ended the run at the\n"
           "workers' next chunk. Under mpirun every rank exits with the same status (mpirun\n"
           "itself: 1 after a signal, which it passes on to the ranks as SIGTERM).\n");
    if (rc != 0 || fflush(stdout) != 0 || ferror(stdout))
        return app_error(a, "error writing the help");
    return APP_DONE;
}

static int print_version(app *a) {
    printf("%s (parkit) %s\n", a->prog, PARKIT_VERSION);
    if (fflush(stdout) != 0 || ferror(stdout))
        return app_error(a, "error writing the version");
    return APP_DONE;
}

/* Appends the getopt entries of a table at lo[at] (values from val) and its
 * one-letter aliases to shorts; returns the next free index. */
static int add_longopts(struct option *lo, int at, const pk_cli_option *table, int val,
                        char *shorts) {
    for (int i = 0; table[i].name != NULL; i++) {
        int arg = table[i].has_arg ? required_argument : no_argument;
        lo[at++] = (struct option){table[i].name, arg, NULL, val + i};
        if (table[i].short_name)
            strncat(shorts, &table[i].short_name, 1);
    }
    return at;
}

/* The getopt_long array from the program's table, then the common one, and the
 * short options (":" first: a missing argument is told apart). NULL: no memory. */
static struct option *build_longopts(const pk_cli_option *own, char **shorts) {
    const pk_cli_option *common = pk_cli_common_options();
    size_t n = (size_t)(pk_cli_count(own) + pk_cli_count(common));
    struct option *lo = calloc(n + 1, sizeof *lo);
    *shorts = calloc(n + 2, 1);
    if (lo == NULL || *shorts == NULL) {
        free(lo);
        free(*shorts);
        return NULL;
    }
    (*shorts)[0] = ':';
    add_longopts(lo, add_longopts(lo, 0, own, OWN_VAL, *shorts), common, COMMON_VAL, *shorts);
    return lo;
}

/* The entry of a one-letter option in the program's table or the common one. */
static const pk_cli_option *find_short(const app_program *p, int c, void **target, app *a) {
    for (const pk_cli_option *o = p->options; o->name != NULL; o++)
        if (o->short_name == c) {
            *target = p->state;
            return o;
        }
    for (const pk_cli_option *o = pk_cli_common_options(); o->name != NULL; o++)
        if (o->short_name == c) {
            *target = &a->common;
            return o;
        }
    return NULL;
}

/* The entry getopt_long returned as c, and the state it applies to. */
static const pk_cli_option *find_option(app *a, const app_program *p, int c, void **target) {
    if (c >= COMMON_VAL) {
        *target = &a->common;
        return &pk_cli_common_options()[c - COMMON_VAL];
    }
    if (c >= OWN_VAL) {
        *target = p->state;
        return &p->options[c - OWN_VAL];
    }
    return find_short(p, c, target, a);
}

/* Applies the option getopt_long returned as c (optarg its argument). */
static int apply_option(app *a, const app_program *p, int c, char **argv) {
    if (c == '?')
        return optopt ? app_usage(a, "unknown option '-%c'", optopt)
                      : app_usage(a, "unknown option '%s'", argv[optind - 1]);
    if (c == ':')
        return app_usage(a, "option '%s' needs an argument", argv[optind - 1]);
    void *target = NULL;
    const pk_cli_option *o = find_option(a, p, c, &target);
    if (o == NULL)
        return app_usage(a, "unknown option '%s'", argv[optind - 1]);
    const char *why = "invalid value";
    if (o->apply(target, optarg, &why) != 0)
        return app_usage(a, "invalid argument '%s' for --%s: %s", optarg ? optarg : "", o->name,
                         why);
    return APP_OK;
}

static int parse_options(app *a, const app_program *p, int argc, char **argv) {
    char *shorts = NULL;
    struct option *lo = build_longopts(p->options, &shorts);
    if (lo == NULL)
        return app_error(a, "out of memory");
    int rc = APP_OK, c, idx = -1;
    opterr = 0;
    optind = 0; /* not 1: 0 also drops getopt's place inside a cluster ("-xh" after '?') */
    while (rc == APP_OK && (c = getopt_long(argc, argv, shorts, lo, &idx)) != -1)
        rc = apply_option(a, p, c, argv);
    free(lo);
    free(shorts);
    return rc;
}

/* Options, then --help / --version (APP_DONE), then the positional arguments. */
static int app_parse(app *a, const app_program *p, int argc, char **argv) {
    int rc = parse_options(a, p, argc, argv);
    if (rc != APP_OK)
        return rc;
    if (a->common.help)
        return app_is_root(a) ? print_help(a, p) : APP_DONE;
    if (a->common.version)
        return app_is_root(a) ? print_version(a) : APP_DONE;
    a->args = argv + optind;
    a->nargs = argc - optind;
    if (a->nargs > p->max_args)
        return app_usage(a, "unexpected argument '%s'", a->args[p->max_args]);
    return APP_OK;
}

/* ---- output files ---- */

int app_output_add(app *a, app_output *o, const char *option, const char *path) {
    if (path == NULL)
        return APP_OK;
    if (a->noutputs == APP_MAX_OUTPUTS)
        return app_error(a, "too many output files");
    memset(o, 0, sizeof *o);
    o->option = option;
    o->path = path;
    o->slot = a->noutputs;
    a->outputs[a->noutputs++] = o;
    return APP_OK;
}

FILE *app_output_file(const app_output *o) {
    return o->file;
}

/* The permissions a new file gets: 0666 less the umask. */
static int new_file_mode(void) {
    mode_t mask = umask(022);
    umask(mask);
    return (int)(0666 & ~mask);
}

/* A temporary file ".NAME.XXXXXX" in the directory of path (which is real: a
 * symbolic link is followed first, so that the rename replaces its target). */
static int open_temporary(app_output *o, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 16;
    o->tmp = malloc(len);
    if (o->tmp == NULL)
        return ENOMEM;
    snprintf(o->tmp, len, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
    int fd = mkstemp(o->tmp);
    if (fd >= 0)
        atomic_store(&pending_tmp[o->slot], o->tmp);
    if (fd < 0 || fchmod(fd, (mode_t)o->mode) != 0 || (o->file = fdopen(fd, "w")) == NULL) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            if (atomic_exchange(&pending_tmp[o->slot], NULL) != NULL)
                unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        return err;
    }
    return 0;
}

/* Opens one output: 0 or an errno value. */
static int open_output(app_output *o) {
    struct stat st;
    o->mode = new_file_mode();
    if (stat(o->path, &st) != 0)
        return errno == ENOENT ? open_temporary(o, o->path) : errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode)) { /* a device or a pipe: written in place */
        o->file = fopen(o->path, "w");
        return o->file ? 0 : errno;
    }
    if (access(o->path, W_OK) != 0)
        return errno;
    char *real = realpath(o->path, NULL);
    if (real == NULL)
        return errno;
    o->mode = (int)(st.st_mode & 07777);
    int err = open_temporary(o, real);
    free(real);
    return err;
}

/* Rank 0 opens every registered output; the status reaches every rank, so that a
 * refusal stops them all before anything is computed. */
static int open_outputs(app *a) {
    int code = APP_OK;
    for (int i = 0; i < a->noutputs && code == APP_OK && app_is_root(a); i++) {
        app_output *o = a->outputs[i];
        int err = open_output(o);
        if (err != 0)
            code = app_usage(a, "cannot write --%s '%s': %s", o->option, o->path, strerror(err));
    }
#if PARKIT_WITH_MPI
    if (a->nranks > 1)
        MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    return code;
}

/* Takes the temporary file from the signal handler: 1 when it is still there
 * for us to rename or remove, 0 when the handler removed it (interrupted). */
static int claim_tmp(app_output *o) {
    return o->tmp != NULL && atomic_exchange(&pending_tmp[o->slot], NULL) != NULL;
}

int app_output_commit(app *a, app_output *o) {
    if (o->file == NULL)
        return app_error(a, "--%s '%s' is not open", o->option, o->path);
    int bad = fflush(o->file) != 0 || ferror(o->file);
    if (!bad && o->tmp != NULL)
        bad = fsync(fileno(o->file)) != 0;
    int err = errno;
    bad |= fclose(o->file) != 0;
    o->file = NULL;
    if (o->tmp == NULL)
        return bad ? app_error(a, "error writing '%s': %s", o->path, strerror(err)) : APP_OK;
    if (!claim_tmp(o) || atomic_load(&interrupted) != 0) {
        unlink(o->tmp); /* the handler may have; harmless again */
        return interrupted_status();
    }
    if (bad || rename(o->tmp, o->path) != 0) {
        err = bad ? err : errno;
        unlink(o->tmp);
        return app_error(a, "%s '%s': %s", bad ? "error writing" : "cannot replace", o->path,
                         strerror(err));
    }
    free(o->tmp);
    o->tmp = NULL;
    return APP_OK;
}

/* Closes and removes what was not committed (a failed or interrupted run). */
static void discard_outputs(app *a) {
    for (int i = 0; i < a->noutputs; i++) {
        app_output *o = a->outputs[i];
        if (o->file != NULL)
            fclose(o->file);
        if (claim_tmp(o))
            unlink(o->tmp);
        free(o->tmp);
        o->file = NULL;
        o->tmp = NULL;
    }
    a->noutputs = 0;
}

static int parse_compare(app *a, const app_program *p);

int app_args(app *a, const app_program *p, int argc, char **argv) {
    int rc = app_parse(a, p, argc, argv);
    rc = rc == APP_OK ? parse_compare(a, p) : rc;
    rc = rc == APP_OK ? p->check(a, p->state) : rc;
    if (rc == APP_OK && a->common.plot != NULL)
        rc = app_output_add(a, &a->plot, "plot", a->common.plot);
    return rc;
}

/* ---- the context ---- */

/* "prog: kernel  42.0%, 1m05s left": the time left assumes the rest goes at
 * the pace seen since this part was first shown (the next run of a sweep, or a
 * fraction going back, begins a new part: runs shorter than the interval show
 * one fraction each, with no time left). */
static void show_progress(void *arg, const char *kernel, double fraction) {
    app *a = arg;
    double now = pk_time_now();
    if (!a->progress_shown || fraction < a->progress_frac || a->runs != a->progress_run) {
        a->progress_start = now;
        a->progress_base = fraction;
        a->progress_run = a->runs;
    }
    char left[48] = "";
    double spent = now - a->progress_start, done = fraction - a->progress_base;
    if (done > 0 && spent > 0) {
        double rest = spent * (1 - fraction) / done;
        if (rest >= 3600)
            snprintf(left, sizeof left, ", %dh%02dm left", (int)(rest / 3600),
                     (int)(rest / 60) % 60);
        else if (rest >= 60)
            snprintf(left, sizeof left, ", %dm%02ds left", (int)(rest / 60), (int)rest % 60);
        else
            snprintf(left, sizeof left, ", %ds left", (int)(rest + 0.5));
    }
    fprintf(stderr, "\r%s: %s %5.1f%%%-20s", a->prog, kernel, 100.0 * fraction, left);
    fflush(stderr);
    a->progress_shown = 1;
    a->progress_frac = fraction;
}

static void end_progress(app *a) {
    if (a->progress_shown && app_is_root(a)) {
        fprintf(stderr, "\r%60s\r", "");
        fflush(stderr);
    }
    a->progress_shown = 0;
}

static const char *inject_spec(const app *a) {
    return a->common.inject ? a->common.inject : getenv("PARKIT_INJECT");
}

/* MPI for --backend mpi (or PARKIT_BACKEND=mpi) outside a launcher. */
static int start_mpi_if_asked(app *a) {
#if PARKIT_WITH_MPI
    const char *want = a->common.backend ? a->common.backend : getenv("PARKIT_BACKEND");
    int listed = 0;
    for (int i = 0; i < a->ncompare; i++)
        listed |= strcmp(a->compare[i], "mpi") == 0;
    if (want != NULL && (strcmp(want, "mpi") == 0 || listed) && a->mpi_level < 0) {
        int provided, rc = pk_mpi_init(NULL, NULL, &provided);
        if (rc == PK_EINVAL)
            return app_usage(a, BAD_MPI_THREADS, getenv("PARKIT_MPI_THREADS"));
        if (rc != 0)
            return app_error(a, "MPI failed to start");
        a->mpi_level = provided;
    }
#else
    (void)a;
#endif
    return APP_OK;
}

/* "serial, omp, mpi": the backends this build has. */
static const char *built_backends(char *list, size_t len) {
    list[0] = '\0';
    for (const char *const *b = pk_backends(); *b; b++)
        snprintf(list + strlen(list), len - strlen(list), "%s%s", b == pk_backends() ? "" : ", ",
                 *b);
    return list;
}

static int new_context(app *a) {
    const char *backend = a->common.backend;
    int rc = pk_ctx_new(&a->ctx, backend);
    if (rc == PK_ENOENT) {
        char list[128];
        return app_usage(a, "unknown backend '%s' (built with: %s)", backend ? backend : "",
                         built_backends(list, sizeof list));
    }
    if (rc != 0)
        return app_error(a, "cannot create the %s backend: %s", backend ? backend : "auto",
                         pk_strerror(rc));
    return APP_OK;
}

/* --ranks against the ranks launched. */
static int check_ranks(app *a) {
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

static int app_open(app *a) {
    int rc = start_mpi_if_asked(a);
    if (rc == APP_OK)
        rc = new_context(a);
    if (rc != APP_OK)
        return rc;
    const char *inject = inject_spec(a);
    if (inject != NULL && pk_ctx_set_fault(a->ctx, inject) != 0)
        return app_usage(a, "invalid fault spec '%s': %s", inject, pk_ctx_error(a->ctx)->message);
    int progress = a->common.progress;
    if (progress < 0)
        progress = a->common.format == PK_FORMAT_TABLE && !a->common.quiet && isatty(2);
    /* rank 0 decides for all; every rank counts its part, rank 0 shows the total */
    if (pk_bcast(a->ctx, &progress, sizeof progress) != 0)
        progress = 0;
    if (progress)
        pk_ctx_set_progress(a->ctx, show_progress, a, 1.0);
    pk_ctx_set_interrupt(a->ctx, interrupt_fired, NULL);
    return check_ranks(a);
}

/* ---- the sweep and the report ---- */

typedef struct {
    app *a;
    const app_program *p;
} app_run;

/* One run of the sweep, counted for the progress display. */
static int run_counted(pk_ctx *ctx, void *arg) {
    app_run *r = arg;
    r->a->runs++;
    return r->p->run_once(ctx, r->p->state);
}

static int app_sweep(app *a, const app_program *p, pk_stats **rows, int *nrows) {
    pk_sweep sw = {
        .threads = a->common.threads,
        .nthreads = a->common.nthreads,
        .ranks = a->common.ranks,
        .nranks = a->common.nranks,
        .repeat = a->common.repeat,
        .warmup = a->common.warmup,
        .work = p->work(a, p->state),
    };
    int n = (sw.nthreads > 0 ? sw.nthreads : 1) * (sw.nranks > 0 ? sw.nranks : 1);
    *rows = calloc((size_t)n, sizeof **rows);
    *nrows = n;
    if (*rows == NULL)
        return app_error(a, "out of memory");
    app_run r = {a, p};
    int rc = pk_sweep_run(a->ctx, &sw, run_counted, &r, *rows);
    end_progress(a);
    if (rc != 0)
        return app_fail(a, rc);
    /* ranks may obtain different thread counts (unequal hosts): the header says so */
    int64_t lo = pk_ctx_threads_obtained(a->ctx), hi = lo;
    if (pk_combine(a->ctx, &pk_min_i64, &lo, PK_ON_ALL) == 0 &&
        pk_combine(a->ctx, &pk_max_i64, &hi, PK_ON_ALL) == 0) {
        a->threads_lo = (int)lo;
        a->threads_hi = (int)hi;
    }
    return APP_OK;
}

/* One backend of --backend omp,mpi: how its run was set up and how it went. */
typedef struct app_phase {
    const char *backend;
    int ranks, threads; /* the pool it was given */
    int cpus;           /* CPUs rank 0 could use for it (0: unknown) */
    int ran, passed, fired;
    pk_stats row;
    char detail[PK_REPORT_VALUE_LEN];
} app_phase;

static int compare_header(const app *a, pk_report *r);
static int compare_results(const app *a, pk_report *r, const pk_stats *rows, int nrows);

/* The header's last lines, after rc (the status so far). */
static int header_end(const app *a, pk_report *r, int rc) {
    (void)a; /* read only when MPI is built in */
#if PARKIT_WITH_MPI
    if (a->mpi_level >= 0)
        rc = app_first_error(rc, pk_report_param(r, "MPI thread level", "%s",
                                                 pk_mpi_thread_level_name(a->mpi_level)));
#endif
    return app_first_error(rc,
                           pk_report_param(r, "timer resolution", "%.3g s", pk_time_resolution()));
}

/* The header lines every report has. */
static int report_header(const app *a, pk_report *r) {
    if (a->ncompare > 0)
        return compare_header(a, r);
    char list[256] = "";
    if (a->common.nthreads > 0) {
        for (int i = 0; i < a->common.nthreads; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "",
                     a->common.threads[i]);
    } else {
        snprintf(list, sizeof list, "%d", pk_ctx_threads(a->ctx));
    }
    int rc = pk_report_param(r, "program", "%s", a->prog);
    rc = app_first_error(rc, pk_report_param(r, "version", "%s", PARKIT_VERSION));
    rc = app_first_error(rc, pk_report_param(r, "backend", "%s", pk_ctx_backend(a->ctx)));
    rc = app_first_error(rc, pk_report_param(r, "ranks", "%d", pk_ctx_size(a->ctx)));
    rc = app_first_error(rc, pk_report_param(r, "threads requested", "%s", list));
    if (a->threads_lo > 0 && a->threads_lo != a->threads_hi)
        rc = app_first_error(rc, pk_report_param(r, "threads obtained",
                                                 "%d on rank 0, %d..%d per rank (pools sum them)",
                                                 pk_ctx_threads_obtained(a->ctx), a->threads_lo,
                                                 a->threads_hi));
    else
        rc = app_first_error(
            rc, pk_report_param(r, "threads obtained", "%d", pk_ctx_threads_obtained(a->ctx)));
    return header_end(a, r, rc);
}

/* Everything the report holds: 0 or the first setter's error. */
static int fill_report(app *a, const app_program *p, pk_report *r, int passed, const char *detail,
                       const pk_stats *rows, int nrows) {
    int rc = report_header(a, r);
    rc = app_first_error(rc, p->report(a, p->state, r));
    rc = app_first_error(rc, pk_report_validation(r, passed, detail));
    rc = app_first_error(rc, pk_report_runs(r, rows, nrows, p->rate_unit(p->state)));
    if (a->ncompare > 0)
        rc = app_first_error(rc, compare_results(a, r, rows, nrows));
    return rc;
}

/* Prints the report on rank 0 (quiet: only results and validation). */
static int print_report(app *a, pk_report *r) {
    if (!app_is_root(a))
        return APP_OK;
    pk_report_set_quiet(r, a->common.quiet);
    if (pk_report_print(r, stdout) != 0)
        return app_error(a, "error writing the report");
    return APP_OK;
}

/* Fills and prints the report (or, when the program hides it, says a failed
 * validation on stderr). */
static int make_report(app *a, const app_program *p, int passed, const char *detail,
                       const pk_stats *rows, int nrows) {
    pk_report *r = NULL;
    int rc = pk_report_new(&r, p->name, a->common.format);
    if (rc != 0)
        return app_error(a, "cannot make the report: %s", pk_strerror(rc));
    int code = APP_OK;
    rc = fill_report(a, p, r, passed, detail, rows, nrows);
    if (rc != 0)
        code = app_error(a, "cannot fill the report: %s", pk_strerror(rc));
    else if (!a->hide_report)
        code = print_report(a, r);
    else if (!passed)
        code = app_error(a, "validation failed");
    pk_report_free(r);
    return code;
}

static void warn_fault_not_fired(app *a, int fired) {
    const char *inject = inject_spec(a);
    if (inject != NULL && inject[0] != '\0' && !fired && app_is_root(a))
        fprintf(stderr,
                "%s: warning: the injected fault '%s' did not fire (no task matched: check the "
                "kernel name, and that the rank, thread and task exist in this run)\n",
                a->prog, inject);
}

/* The output around the report and the report, once validated. */
static int conclude_validated(app *a, const app_program *p, int passed, const char *detail,
                              int fired, const pk_stats *rows, int nrows) {
    int before = p->before_report ? p->before_report(a, p->state) : APP_OK;
    int code = make_report(a, p, passed, detail, rows, nrows);
    code = worse(worse(code, passed ? APP_OK : APP_FAILED), before);
    warn_fault_not_fired(a, fired);
    if (before == APP_OK && p->after_report)
        code = p->after_report(a, p->state, code);
    return code;
}

/* After a sweep that succeeded: validation, the output around the report, the report. */
static int conclude(app *a, const app_program *p, const pk_stats *rows, int nrows) {
    /* An injected fault targets the timed runs (where it did not fire, or the sweep
     * would have failed), not the checks and the output that follow. */
    int fired = pk_ctx_fault_fired(a->ctx);
    pk_ctx_set_fault(a->ctx, NULL);
    char detail[PK_REPORT_VALUE_LEN] = "";
    int passed = p->validate(a, p->state, detail, sizeof detail);
    return conclude_validated(a, p, passed, detail, fired, rows, nrows);
}

/* --plot: rank 0 draws the sweep's rows, titled with the command line. */
static int write_plot(app *a, const pk_stats *rows, int nrows) {
    if (a->common.plot == NULL || !app_is_root(a) || app_output_file(&a->plot) == NULL)
        return APP_OK;
    char title[256];
    int len = snprintf(title, sizeof title, "%s", a->prog);
    for (int i = 0; i < a->nargs && len > 0 && (size_t)len < sizeof title; i++)
        len += snprintf(title + len, sizeof title - (size_t)len, " %s", a->args[i]);
    if (len > 0 && (size_t)len < sizeof title)
        snprintf(title + len, sizeof title - (size_t)len, " (%s)", pk_ctx_backend(a->ctx));
    if (pk_plot_svg(app_output_file(&a->plot), title, rows, nrows) != 0)
        return app_error(a, "error writing --plot '%s'", a->common.plot);
    return app_output_commit(a, &a->plot);
}

static int run(app *a, const app_program *p) {
    pk_stats *rows = NULL;
    int nrows = 0;
    int rc = app_sweep(a, p, &rows, &nrows);
    a->rows = rows;
    a->nrows = nrows;
    int swept = rc == APP_OK;
    if (rc == APP_OK && (!p->root_only || app_is_root(a)))
        rc = conclude(a, p, rows, nrows);
    if (swept && nrows > 0) /* the timings hold even when validation failed */
        rc = worse(rc, write_plot(a, rows, nrows));
    a->rows = NULL;
    a->nrows = 0;
    free(rows);
    return rc;
}

/* ---- --backend omp,mpi: threads or processes? ----
 * Under `mpirun -n K`, the same work on K threads of one process (rank 0 alone;
 * the other ranks wait without spinning) and on K ranks of one thread (or of
 * --threads T each, against K*T threads), in the same launch: each backend
 * starts from the state the options gave, prepares, runs --repeat times and
 * validates; one report has a row per backend, their time ratio and a verdict. */

/* A list in --backend: the backends to compare, or usage errors. */
static int parse_compare(app *a, const app_program *p) {
    const char *list = a->common.backend;
    if (list == NULL || strchr(list, ',') == NULL)
        return APP_OK;
    if (a->common.nthreads > 1 || a->common.nranks > 0)
        return app_usage(a,
                         "--backend %s compares the backends at one pool size: give at most one "
                         "--threads value (threads per rank) and no --ranks",
                         list);
    if (a->common.plot != NULL)
        return app_usage(a,
                         "--plot draws a sweep of pool sizes; --backend %s compares backends "
                         "at one pool size",
                         list);
    char buf[64], built[128];
    if (strlen(list) >= sizeof buf)
        return app_usage(a, "--backend '%s' is too long", list);
    strcpy(buf, list);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        const char *known = NULL;
        for (const char *const *b = pk_backends(); *b; b++)
            if (strcmp(*b, tok) == 0)
                known = *b;
        if (known == NULL)
            return app_usage(a, "unknown backend '%s' in --backend %s (built with: %s)", tok, list,
                             built_backends(built, sizeof built));
        for (int i = 0; i < n; i++)
            if (a->compare[i] == known)
                return app_usage(a, "--backend %s names '%s' twice", list, tok);
        if (n == (int)(sizeof a->compare / sizeof a->compare[0]))
            return app_usage(a, "--backend %s: at most 3 backends", list);
        a->compare[n++] = known;
    }
    if (n < 2)
        return app_usage(a, "--backend %s: a list compares two or more backends, e.g. omp,mpi",
                         list);
    if (p->state_size == 0)
        return app_usage(a, "%s cannot compare backends", a->prog);
    a->ncompare = n;
    return APP_OK;
}

/* The CPUs this process may run on (0 when unknown). */
static int usable_cpus(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    return 0;
}

/* Rank 0's exit code after a part only it ran, on every rank; the others wait
 * in a sleeping poll, so they leave the cores to rank 0's threads. */
static int code_of_root(int launched, int code) {
#if PARKIT_WITH_MPI
    if (launched > 1) {
        MPI_Request req;
        int agreed = code;
        if (MPI_Ibcast(&agreed, 1, MPI_INT, 0, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
            return APP_FAILED;
        int done = 0;
        while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) {
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
        return done ? agreed : APP_FAILED;
    }
#else
    (void)launched;
#endif
    return code;
}

/* One backend's part on the ranks that take part (all for mpi, rank 0 for the
 * others): a context, prepare, the timed runs of one pool size, validation. */
static int run_phase(app *a, const app_program *p, app_phase *ph, int last) {
    a->common.backend = ph->backend;
    a->common.threads[0] = ph->threads;
    a->common.nthreads = ph->threads > 0; /* else the context's default */
    int rc = app_open(a);
    if (rc == APP_OK && p->prepare)
        rc = p->prepare(a, p->state);
    pk_stats *rows = NULL;
    int nrows = 0;
    if (rc == APP_OK)
        rc = app_sweep(a, p, &rows, &nrows);
    ph->ran = rc == APP_OK;
    if (rc == APP_OK) {
        ph->row = rows[0];
        ph->cpus = usable_cpus();
        ph->fired = pk_ctx_fault_fired(a->ctx);
        pk_ctx_set_fault(a->ctx, NULL);
        if (!p->root_only || app_is_root(a))
            ph->passed = p->validate(a, p->state, ph->detail, sizeof ph->detail);
        else
            ph->passed = 1;
    }
    free(rows);
    if (!last || rc != APP_OK) {
        if (p->release)
            p->release(p->state);
        pk_ctx_free(a->ctx);
        a->ctx = NULL;
    }
    return rc;
}

static int run_compare(app *a, const app_program *p) {
    int launched = a->nranks, rank = a->rank;
    /* threads per rank: --threads, else 1 under a launch of several ranks (K
     * ranks of one thread against K threads), else the context's default */
    int per_rank = a->common.nthreads == 1 ? a->common.threads[0] : launched > 1 ? 1 : 0;
    app_phase phases[3];
    memset(phases, 0, sizeof phases);
    void *saved = malloc(p->state_size);
    if (saved == NULL)
        return app_error(a, "out of memory");
    memcpy(saved, p->state, p->state_size);
    pk_cli_common common = a->common;
    a->phases = phases;
    int rc = APP_OK, last_ran = 0;
    for (int i = 0; i < a->ncompare && rc == APP_OK; i++) {
        app_phase *ph = &phases[i];
        int last = i == a->ncompare - 1, everywhere = strcmp(a->compare[i], "mpi") == 0;
        ph->backend = a->compare[i];
        ph->ranks = everywhere ? launched : 1;
        ph->threads = everywhere                           ? per_rank
                      : strcmp(ph->backend, "serial") == 0 ? 1
                                                           : per_rank * launched;
        memcpy(p->state, saved, p->state_size);
        a->common = common;
        ph->passed = 1; /* judged where it ran: rank 0 reports */
        if (everywhere || rank == 0) {
            a->nranks = everywhere ? launched : 1;
            rc = run_phase(a, p, ph, last);
            a->nranks = launched;
            last_ran = last && rc == APP_OK;
            if (!last_ran) /* released: back to the options' state for the next one */
                memcpy(p->state, saved, p->state_size);
        }
        if (!everywhere)
            rc = code_of_root(launched, rc);
    }
    a->common = common;
    free(saved);
    if (rc != APP_OK || !last_ran || (p->root_only && !app_is_root(a))) {
        a->phases = NULL;
        return rc;
    }
    /* the report: a row per backend, times relative to the first */
    pk_stats rows[3];
    int passed = 1, fired = 0;
    char detail[PK_REPORT_VALUE_LEN] = "";
    for (int i = 0; i < a->ncompare; i++) {
        rows[i] = phases[i].row;
        fired |= phases[i].fired;
        if (!phases[i].passed && passed) {
            passed = 0;
            snprintf(detail, sizeof detail, "%s: %s", phases[i].backend, phases[i].detail);
        }
    }
    if (app_is_root(a))
        pk_stats_relative(rows, a->ncompare, p->work(a, p->state));
    rc = conclude_validated(a, p, passed, detail, fired, rows, a->ncompare);
    a->phases = NULL;
    return rc;
}

/* "threads (omp, 1 process x 2)" */
static void describe_phase(const app_phase *ph, char *buf, size_t len) {
    if (strcmp(ph->backend, "mpi") == 0)
        snprintf(buf, len, "ranks (mpi, %d x %d thread%s)", ph->ranks, ph->row.threads_got,
                 ph->row.threads_got == 1 ? "" : "s");
    else if (strcmp(ph->backend, "omp") == 0)
        snprintf(buf, len, "threads (omp, 1 process x %d)", ph->row.threads_got);
    else
        snprintf(buf, len, "%s (1 thread)", ph->backend);
}

static int compare_header(const app *a, pk_report *r) {
    char list[64] = "", asked[256] = "", got[256] = "";
    for (int i = 0; i < a->ncompare; i++) {
        const app_phase *ph = &a->phases[i];
        const char *sep = i ? ", " : "";
        const char *unit = strcmp(ph->backend, "mpi") == 0 ? " per rank" : "";
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "",
                 ph->backend);
        char n[16] = "default";
        if (ph->threads > 0)
            snprintf(n, sizeof n, "%d", ph->threads);
        snprintf(asked + strlen(asked), sizeof asked - strlen(asked), "%s%s%s (%s)", sep, n, unit,
                 ph->backend);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d%s (%s)", sep,
                 ph->row.threads_got, unit, ph->backend);
    }
    int rc = pk_report_param(r, "program", "%s", a->prog);
    rc = app_first_error(rc, pk_report_param(r, "version", "%s", PARKIT_VERSION));
    rc = app_first_error(rc, pk_report_param(r, "backend", "%s (compared)", list));
    rc = app_first_error(rc, pk_report_param(r, "ranks", "%d", a->nranks));
    rc = app_first_error(rc, pk_report_param(r, "threads requested", "%s", asked));
    rc = app_first_error(rc, pk_report_param(r, "threads obtained", "%s", got));
    return header_end(a, r, rc);
}

/* Each row's backend, the time ratios to the first row and the verdict. */
static int compare_results(const app *a, pk_report *r, const pk_stats *rows, int nrows) {
    int rc = 0, best = 0;
    char what[3][64], line[512] = "";
    for (int i = 0; i < nrows; i++) {
        describe_phase(&a->phases[i], what[i], sizeof what[i]);
        snprintf(line + strlen(line), sizeof line - strlen(line), "%srow %d: %s", i ? ", " : "",
                 i + 1, what[i]);
        if (rows[i].median < rows[best].median)
            best = i;
    }
    rc = app_first_error(rc, pk_report_note(r, "%s", line));
    for (int i = 1; i < nrows; i++) {
        char key[PK_REPORT_KEY_LEN];
        snprintf(key, sizeof key, "time %s/%s", a->phases[i].backend, a->phases[0].backend);
        rc = app_first_error(rc,
                             pk_report_result_num(r, key, "%.3f", rows[i].median / rows[0].median));
    }
    /* the verdict: the fastest against the next fastest */
    int next = best == 0 ? 1 : 0;
    for (int i = 0; i < nrows; i++)
        if (i != best && rows[i].median < rows[next].median)
            next = i;
    double ratio = rows[next].median / rows[best].median;
    int pool = rows[best].pool;
    if (ratio < 1.05)
        snprintf(line, sizeof line,
                 "verdict: %s and %s take the same time within 5%% for this work on this machine "
                 "(median %.3g s and %.3g s, pools of %d and %d): either serves",
                 what[best], what[next], rows[best].median, rows[next].median, pool,
                 rows[next].pool);
    else
        snprintf(line, sizeof line,
                 "verdict: faster with %s, %.2fx less time than %s, for this work on this "
                 "machine (median %.3g s against %.3g s, pools of %d and %d)",
                 what[best], ratio, what[next], rows[best].median, rows[next].median, pool,
                 rows[next].pool);
    rc = app_first_error(rc, pk_report_note(r, "%s", line));
    const app_phase *omp = NULL;
    for (int i = 0; i < nrows; i++)
        if (strcmp(a->phases[i].backend, "omp") == 0)
            omp = &a->phases[i];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (omp != NULL && omp->cpus > 0 && omp->cpus < omp->row.threads_got && omp->cpus < online)
        rc = app_first_error(
            rc, pk_report_note(r,
                               "the %d threads had %d of this host's %ld CPUs: the launcher "
                               "bound rank 0 (mpirun --bind-to none, srun --cpu-bind=none give "
                               "it more)",
                               omp->row.threads_got, omp->cpus, online));
    else if (omp != NULL && online > 0 && omp->row.threads_got > online)
        rc = app_first_error(rc, pk_report_note(r,
                                                "%d threads on %ld CPUs: both rows are "
                                                "oversubscribed",
                                                omp->row.threads_got, online));
    return rc;
}

/* Agrees on an exit code over ranks (the worst), frees the context, finalizes MPI. */
static int app_finish(app *a, int code) {
    if (code == APP_DONE)
        code = APP_OK;
    if (atomic_load(&interrupted) != 0)
        code = interrupted_status();
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
    if (code >= 128 && app_is_root(a))
        fprintf(stderr, "%s: interrupted (%s)\n", a->prog, signal_name(code - 128));
    pk_ctx_free(a->ctx);
    a->ctx = NULL;
#if PARKIT_WITH_MPI
    /* Interrupted under a launcher, MPI_Finalize would wait for the launcher,
     * which is busy ending the job (Open MPI: until it kills the ranks). */
    if (code < 128 || a->nranks == 1)
        pk_mpi_finalize();
#endif
    return code;
}

int app_main(const app_program *p, int argc, char **argv) {
    app a;
    int rc = app_start(&a, p->name, &argc, &argv);
    if (rc == APP_OK)
        rc = app_args(&a, p, argc, argv);
    if (rc == APP_OK)
        rc = open_outputs(&a);
    if (rc == APP_OK && a.ncompare > 0) {
        rc = run_compare(&a, p);
    } else {
        if (rc == APP_OK)
            rc = app_open(&a);
        if (rc == APP_OK && p->prepare)
            rc = p->prepare(&a, p->state);
        if (rc == APP_OK)
            rc = run(&a, p);
    }
    discard_outputs(&a);
    if (p->release)
        p->release(p->state);
    return app_finish(&a, rc);
}

double app_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 1e18;
}
