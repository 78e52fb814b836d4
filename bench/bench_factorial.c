/* Side-by-side benchmark of pk_factorial against GMP's mpz_fac_ui, the anchor,
 * measured in the same run: the three are interleaved round by round so that
 * the load of a shared machine falls on all of them alike, and medians are
 * compared. Prints ratios; never fails on speed (only on a wrong result). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/factorial.h"
#include "parkit/parkit.h"

enum { MAX_ROUNDS = 101 };

typedef struct contender {
    const char *name;
    int threads; /* 0: the anchor */
    pk_ctx *ctx;
    double t[MAX_ROUNDS];
} contender;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* One timed computation; the result is checked against the anchor's. */
static int run_one(contender *c, uint64_t n, mpz_t out, const mpz_t want, int round) {
    double t0 = pk_time_now();
    int rc = 0;
    if (c->threads == 0)
        mpz_fac_ui(out, (unsigned long)n);
    else
        rc = pk_factorial(c->ctx, n, out);
    c->t[round] = pk_time_now() - t0;
    if (rc != 0) {
        char buf[512];
        pk_ctx_error_string(c->ctx, buf, sizeof buf);
        fprintf(stderr, "bench_factorial: %s\n", buf);
        return 1;
    }
    if (want != NULL && mpz_cmp(out, want) != 0) {
        fprintf(stderr, "bench_factorial: %s gave a wrong %llu!\n", c->name, (unsigned long long)n);
        return 1;
    }
    return 0;
}

static int open_pools(contender *c, int nc) {
    for (int i = 0; i < nc; i++) {
        if (c[i].threads == 0)
            continue;
        if (pk_ctx_new(&c[i].ctx, "omp") != 0 && pk_ctx_new(&c[i].ctx, "serial") != 0)
            return 1;
        pk_ctx_set_threads(c[i].ctx, c[i].threads);
    }
    return 0;
}

static int parse_args(int argc, char **argv, uint64_t *n, int *rounds) {
    for (int i = 1; i < argc; i++) {
        const char *why = "invalid number";
        uint64_t v;
        if (strcmp(argv[i], "--help") == 0) {
            printf("Usage: bench_factorial [N] [--rounds R]\n"
                   "Times pk_factorial(N) on 1 and 2 OpenMP threads and GMP's mpz_fac_ui(N)\n"
                   "(default N = 10^6, R = 7 interleaved rounds after one warm-up) and\n"
                   "prints the medians and their ratios.\n");
            exit(0);
        }
        int is_rounds = strcmp(argv[i], "--rounds") == 0 && i + 1 < argc;
        const char *text = is_rounds ? argv[++i] : argv[i];
        if (pk_parse_u64(text, &v, &why) != 0 || (is_rounds && (v < 1 || v > MAX_ROUNDS))) {
            fprintf(stderr, "bench_factorial: invalid argument '%s': %s\n", text,
                    is_rounds ? "rounds must be 1..101" : why);
            return 2;
        }
        if (is_rounds)
            *rounds = (int)v;
        else
            *n = v;
    }
    return 0;
}

/* The machine's state, which decides what a thread count can show: the load
 * average (Linux) and the OpenMP wait policy (idle threads that spin steal time
 * from the serial parts on a loaded machine). */
static void print_conditions(void) {
    const char *policy = getenv("OMP_WAIT_POLICY");
    double l1 = -1, l5 = -1, l15 = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) != 3)
            l1 = -1;
        fclose(f);
    }
    if (l1 >= 0)
        printf("load average %.2f %.2f %.2f (1, 5, 15 min); ", l1, l5, l15);
    printf("OMP_WAIT_POLICY %s\n", policy ? policy : "unset");
}

static void report(contender *c, int nc, uint64_t n, int rounds) {
    double med[8];
    for (int i = 0; i < nc; i++)
        med[i] = median(c[i].t, rounds);
    printf("n = %llu, %d rounds (medians, interleaved)\n", (unsigned long long)n, rounds);
    print_conditions();
    for (int i = 0; i < nc; i++)
        printf("  %-28s %10.4f s   %5.2fx the anchor's time\n", c[i].name, med[i], med[i] / med[0]);
    printf("  speedup of pk_factorial, 2 threads over 1: %.2f\n", med[1] / med[2]);
    printf("  anchor / pk_factorial on 2 threads: %.2f (above 1: parkit is faster)\n",
           med[0] / med[2]);
}

int main(int argc, char **argv) {
    uint64_t n = 1000000;
    int rounds = 7;
    int rc = parse_args(argc, argv, &n, &rounds);
    if (rc != 0)
        return rc;
    contender c[] = {
        {.name = "mpz_fac_ui (anchor)", .threads = 0},
        {.name = "pk_factorial, 1 thread", .threads = 1},
        {.name = "pk_factorial, 2 threads", .threads = 2},
    };
    int nc = (int)(sizeof c / sizeof c[0]);
    if (open_pools(c, nc) != 0) {
        fprintf(stderr, "bench_factorial: cannot create a context\n");
        return 1;
    }
    mpz_t want, out;
    mpz_init(want);
    mpz_init(out);
    for (int i = 0; i < nc && rc == 0; i++) /* warm-up, and the anchor's answer */
        rc = run_one(&c[i], n, i == 0 ? want : out, i == 0 ? NULL : want, 0);
    for (int r = 0; r < rounds && rc == 0; r++)
        for (int i = 0; i < nc && rc == 0; i++)
            rc = run_one(&c[(i + r) % nc], n, out, want, r);
    if (rc == 0)
        report(c, nc, n, rounds);
    for (int i = 0; i < nc; i++)
        pk_ctx_free(c[i].ctx);
    mpz_clear(want);
    mpz_clear(out);
    return rc;
}
