/* factorial: the exact n! with GMP on threads or ranks, or k! for every k in a
 * range as unequal tasks, with a pool-size sweep. Validates without recomputing
 * the result: residues modulo primes above n (Wilson's theorem), the power of
 * two, the digit count and leading digits against log-gamma, and for ranges
 * k! = k (k-1)! between neighbours and the known values up to 20!. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* MADV_POPULATE_WRITE */
#endif
#include <math.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>   /* mallopt */
#include <sys/mman.h> /* madvise */
#include <unistd.h>   /* sysconf */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "parkit/factorial.h"

enum { SHOW_DEFAULT = 20, SHOW_MAX = 1000 };
#define MAX_N UINT64_C(4294967295) /* beyond, n! passes GMP's integer size */

typedef struct fact_state {
    uint64_t n, a, b; /* N, or the range A..B */
    int each, u64, print, show;
    const char *output;
    app_output out; /* --output FILE */
    int64_t count;  /* values in the range */
    int ready;      /* result initialized (and results allocated on rank 0) */
    mpz_t result;
    mpz_t *results;
    uint64_t *results64;
    int output_written; /* --output done: the note says how long it took */
    double output_seconds;
} fact_state;

/* 0! .. 20!, the known values (20! is the last below 2^64). */
/* clang-format off */
static const uint64_t known[21] = {
    1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800, 479001600, 6227020800,
    87178291200, 1307674368000, 20922789888000, 355687428096000, 6402373705728000,
    121645100408832000, UINT64_C(2432902008176640000)};
/* clang-format on */

static int set_each(void *p, const char *arg, const char **why) {
    fact_state *s = p;
    s->each = 1;
    return pk_parse_u64_range(arg, &s->a, &s->b, why);
}

static int set_u64(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((fact_state *)p)->u64 = 1;
    return 0;
}

static int set_print(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((fact_state *)p)->print = 1;
    return 0;
}

static int set_output(void *p, const char *arg, const char **why) {
    (void)why;
    ((fact_state *)p)->output = arg;
    return 0;
}

static int set_digits(void *p, const char *arg, const char **why) {
    uint64_t v;
    if (pk_parse_u64(arg, &v, why) != 0)
        return PK_EINVAL;
    if (v < 1 || v > SHOW_MAX) {
        *why = "must be between 1 and 1000";
        return PK_EINVAL;
    }
    ((fact_state *)p)->show = (int)v;
    return 0;
}

static const pk_cli_option options[] = {
    {"each", 0, 1, "A..B",
     "compute k! for every k in A..B as tasks under a dynamic\n"
     "schedule and print the table 'Factorial of k is ...'\n"
     "(table format; with csv or json use --output FILE)",
     set_each},
    {"u64", 0, 0, NULL, "with --each: compute in 64-bit integers (fails from 21!)", set_u64},
    {"print", 0, 0, NULL, "print the whole N! after the report", set_print},
    {"output", 0, 1, "FILE",
     "write N! (or the --each table) to FILE instead; checked\n"
     "before computing, written to a temporary file next to it\n"
     "and renamed over FILE when complete",
     set_output},
    {"digits", 0, 1, "K", "leading and trailing digits to show (default 20)", set_digits},
    {NULL, 0, 0, NULL, NULL, NULL},
};

/* ---- sizes ---- */

static double log10_factorial(uint64_t n) {
    return (double)(lgammal((long double)n + 1.0L) / logl(10.0L));
}

/* Decimal digits of k! summed over [a, b]: exact for short ranges, else the
 * trapezoid rule, which errs high (log10 k! is convex): right for a memory check. */
static double range_digits(uint64_t a, uint64_t b) {
    if (b - a < 100000) {
        double d = 0;
        for (uint64_t k = a; k <= b; k++)
            d += floor(log10_factorial(k)) + 1;
        return d;
    }
    return ((double)(b - a) + 1) * (0.5 * (log10_factorial(a) + log10_factorial(b)) + 1);
}

/* Bytes to compute n!: the result, the square before the last product, the
 * pieces of the split product and GMP's FFT scratch come to about five times the
 * result; printing it adds the decimal text and GMP's conversion scratch. */
static double bytes_for(uint64_t n, int printing) {
    double bytes = log10_factorial(n) * 3.33 / 8.0;
    return 6.0 * bytes + (printing ? 3.5 * bytes * 8.0 / 3.33 : 0) + 64.0 * 1024 * 1024;
}

static int too_big(app *a, const char *what, double need) {
    double have = app_physical_memory();
    if (need <= 0.8 * have)
        return APP_OK;
    return app_usage(a, "%s needs about %.1f GiB of memory but this machine has %.1f GiB", what,
                     need / (1 << 30), have / (1 << 30));
}

static int check_single(app *a, fact_state *s) {
    char what[96];
    if (s->n > MAX_N)
        return app_usage(a,
                         "N = %llu is too large: n! must fit in a GMP integer, so N is at "
                         "most 2^32-1 = 4294967295",
                         (unsigned long long)s->n);
    snprintf(what, sizeof what, "N = %llu (n! has about %.4g digits)", (unsigned long long)s->n,
             floor(log10_factorial(s->n)) + 1);
    return too_big(a, what, bytes_for(s->n, s->print || s->output));
}

static int check_range(app *a, fact_state *s) {
    char what[128];
    if (s->b - s->a >= (uint64_t)INT64_MAX / 64)
        return app_usage(a, "the range %llu..%llu has too many values", (unsigned long long)s->a,
                         (unsigned long long)s->b);
    s->count = (int64_t)(s->b - s->a + 1);
    snprintf(what, sizeof what, "--each %llu..%llu (%lld values)", (unsigned long long)s->a,
             (unsigned long long)s->b, (long long)s->count);
    if (s->u64)
        return too_big(a, what, 8.0 * (double)s->count);
    if (s->b > MAX_N)
        return app_usage(a,
                         "--each %llu..%llu: k! must fit in a GMP integer, so k is at most "
                         "2^32-1 = 4294967295",
                         (unsigned long long)s->a, (unsigned long long)s->b);
    double values = range_digits(s->a, s->b) * 3.33 / 8.0 + 48.0 * (double)s->count;
    return too_big(a, what, values * 2.0 + bytes_for(s->b, 0));
}

static int check_args(app *a, void *state) {
    fact_state *s = state;
    const char *why;
    if (app_output_add(a, &s->out, "output", s->output) != APP_OK)
        return APP_FAILED;
    if (s->each && a->nargs > 0)
        return app_usage(a, "give either N or --each A..B, not both");
    if (!s->each && a->nargs == 0)
        return app_usage(a, "missing N (for example 'factorial 100000' or "
                            "'factorial --each 1..10')");
    if (s->u64 && !s->each)
        return app_usage(a, "--u64 computes a range: use it with --each A..B");
    if (s->print && a->common.format != PK_FORMAT_TABLE)
        return app_usage(a, "--print writes the number after a table report; with --format "
                            "csv or json use --output FILE");
    if (!s->each && pk_parse_u64(a->args[0], &s->n, &why) != 0)
        return app_usage(a, "invalid N '%s': %s", a->args[0], why);
    return s->each ? check_range(a, s) : check_single(a, s);
}

/* ---- running ---- */

/* The heap a product of n! takes, mapped in at once at the start of a run, in
 * its time. A first write to a fresh page traps into the kernel, and on the
 * virtual machine of docs/PERFORMANCE.md a trap took about 11 us, where asking
 * for the whole range in one call took 0.5 us a page: 10^6! on one thread
 * touched 5000 fresh pages (20 MB, 8.7 times the result) and 10^7! on two
 * 53 000 (7.6 times). So the run takes, frees and keeps (keep_freed_blocks) as
 * many bytes as n! has bits, 8 times its size, once per size; the products
 * then find their pages mapped. Cold runs, three alternating pairs, time
 * after / before: 10^5! 0.84 (one thread) and 0.78 (two), 10^6! 0.85 and 0.87,
 * 10^7! 0.66 and 0.82. Below 1 MiB the traps cost less than the call; above
 * 255 MiB a block is mapped afresh whatever is done here. */
static void map_in_heap(uint64_t n) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE) && defined(M_ARENA_MAX)
    static size_t done;
    double bits = lgamma((double)n + 1.0) / log(2.0);
    size_t want = bits > (double)(255 << 20) ? (size_t)255 << 20 : (size_t)bits;
    if (want < (1 << 20) || want <= done)
        return;
    unsigned char *p = malloc(want);
    if (p == NULL)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)p + want) & ~(page - 1);
    if (b > a && madvise((void *)a, b - a, MADV_POPULATE_WRITE) == 0)
        done = want;
    free(p);
#else
    (void)n;
#endif
}

static int run_once(pk_ctx *ctx, void *arg) {
    fact_state *s = arg;
    if (!s->each) {
        map_in_heap(s->n);
        return pk_factorial(ctx, s->n, s->result);
    }
    if (s->u64)
        return pk_factorial_each_u64(ctx, s->a, s->b, s->results64);
    return pk_factorial_each(ctx, s->a, s->b, s->results);
}

/* The result on every rank (the kernels take it there), the values of a range
 * on rank 0. */
static int prepare(app *a, void *state) {
    fact_state *s = state;
    mpz_init(s->result);
    s->ready = 1;
    if (!s->each || !app_is_root(a))
        return APP_OK;
    if (s->u64) {
        s->results64 = calloc((size_t)s->count, sizeof *s->results64);
        return s->results64 ? APP_OK
                            : app_error(a, "no memory for %lld values", (long long)s->count);
    }
    s->results = malloc((size_t)s->count * sizeof *s->results);
    if (s->results == NULL)
        return app_error(a, "no memory for %lld values", (long long)s->count);
    for (int64_t i = 0; i < s->count; i++)
        mpz_init(s->results[i]);
    return APP_OK;
}

static void release(void *state) {
    fact_state *s = state;
    if (!s->ready)
        return;
    if (s->results != NULL)
        for (int64_t i = 0; i < s->count; i++)
            mpz_clear(s->results[i]);
    free(s->results);
    free(s->results64);
    mpz_clear(s->result);
}

/* ---- validation ---- */

__extension__ typedef unsigned __int128 u128;

static uint64_t mulmod(uint64_t x, uint64_t y, uint64_t p) {
    return (uint64_t)((u128)x * y % p);
}

/* Wilson: (p-1)! = -1 mod p, so for a prime p > n, n! * (n+1)...(p-1) = p - 1
 * mod p. The loop runs over the gap above n only, so any n is cheap. */
static int wilson_ok(const mpz_t x, uint64_t n, uint64_t p) {
    uint64_t tail = 1;
    for (uint64_t i = n + 1; i < p; i++)
        tail = mulmod(tail, i % p, p);
    return mulmod(mpz_fdiv_ui(x, p), tail, p) == p - 1;
}

/* n! mod q by a direct loop, q = 2^61 - 1 (a prime above every allowed n). */
static int direct_mod_ok(const mpz_t x, uint64_t n) {
    const uint64_t q = (UINT64_C(1) << 61) - 1;
    uint64_t r = 1;
    for (uint64_t i = 2; i <= n; i++)
        r = mulmod(r, i, q);
    return mpz_fdiv_ui(x, q) == r;
}

/* Residues of x against n! modulo the `count` primes just above n; names the
 * first failing prime in why. */
static int residues_ok(const mpz_t x, uint64_t n, int count, char *why, size_t len) {
    mpz_t p;
    mpz_init_set_ui(p, n);
    int ok = 1;
    for (int i = 0; i < count && ok; i++) {
        mpz_nextprime(p, p);
        if (!wilson_ok(x, n, mpz_get_ui(p))) {
            snprintf(why, len, "%llu! mod %lu is wrong", (unsigned long long)n, mpz_get_ui(p));
            ok = 0;
        }
    }
    mpz_clear(p);
    if (ok && n <= 100000000 && !direct_mod_ok(x, n)) {
        snprintf(why, len, "%llu! mod 2^61-1 is wrong", (unsigned long long)n);
        ok = 0;
    }
    return ok;
}

/* Digit count and first six digits against log10(n!) from log-gamma; a value
 * within rounding of a boundary accepts both neighbours. */
static int size_ok(uint64_t n, uint64_t digits, const char *lead, char *why, size_t len) {
    double e = log10_factorial(n), fl = floor(e), frac = e - fl;
    int edge = frac < 1e-7 || frac > 1 - 1e-7;
    double want = fl + 1;
    if (digits != (uint64_t)want && !(edge && fabs((double)digits - want) <= 1)) {
        snprintf(why, len, "%llu digits, log-gamma says %.0f", (unsigned long long)digits, want);
        return 0;
    }
    if (digits < 7 || edge)
        return 1;
    double six = floor(pow(10.0, frac + 5.0)), got = 0;
    for (int i = 0; i < 6; i++)
        got = got * 10 + (lead[i] - '0');
    if (fabs(six - got) > 1) {
        snprintf(why, len, "leading digits %.6s, log-gamma says %.0f", lead, six);
        return 0;
    }
    return 1;
}

static uint64_t legendre(uint64_t n, uint64_t p) {
    uint64_t e = 0;
    for (uint64_t q = n / p; q > 0; q /= p)
        e += q;
    return e;
}

/* Everything checked about one n! (x), short of recomputing it. */
static int value_ok(const mpz_t x, uint64_t n, char *why, size_t len) {
    uint64_t digits;
    char lead[16];
    if (n <= 20 && mpz_cmp_ui(x, (unsigned long)known[n]) != 0) {
        snprintf(why, len, "%llu! differs from the known value", (unsigned long long)n);
        return 0;
    }
    if (mpz_sgn(x) <= 0 || mpz_scan1(x, 0) != legendre(n, 2)) {
        snprintf(why, len, "%llu! has the wrong power of two", (unsigned long long)n);
        return 0;
    }
    if (!residues_ok(x, n, 4, why, len))
        return 0;
    if (pk_mpz_digits(x, &digits, lead, sizeof lead) != 0) {
        snprintf(why, len, "no memory to count digits");
        return 0;
    }
    return size_ok(n, digits, lead, why, len);
}

static int neighbours_ok(const fact_state *s, char *why, size_t len) {
    mpz_t t;
    mpz_init(t);
    int64_t bad = -1;
    for (int64_t i = 1; i < s->count && bad < 0; i++) {
        mpz_mul_ui(t, s->results[i - 1], (unsigned long)(s->a + (uint64_t)i));
        if (mpz_cmp(t, s->results[i]) != 0)
            bad = i;
    }
    mpz_clear(t);
    if (bad >= 0)
        snprintf(why, len, "%llu! is not %llu times %llu!",
                 (unsigned long long)(s->a + (uint64_t)bad),
                 (unsigned long long)(s->a + (uint64_t)bad),
                 (unsigned long long)(s->a + (uint64_t)bad - 1));
    return bad < 0;
}

static int u64_ok(const fact_state *s, char *why, size_t len) {
    for (int64_t i = 0; i < s->count; i++) {
        uint64_t k = s->a + (uint64_t)i;
        if (s->results64[i] != known[k]) {
            snprintf(why, len, "%llu! = %llu differs from the known value", (unsigned long long)k,
                     (unsigned long long)s->results64[i]);
            return 0;
        }
    }
    return 1;
}

/* ---- validation and report ---- */

static int validate(app *a, void *state, char *why, size_t len) {
    (void)a;
    const fact_state *s = state;
    if (!s->each)
        return value_ok(s->result, s->n, why, len);
    if (s->u64)
        return u64_ok(s, why, len);
    return neighbours_ok(s, why, len) && value_ok(s->results[0], s->a, why, len) &&
           value_ok(s->results[s->count - 1], s->b, why, len);
}

/* The trailing digits of x, `show` of them at most, as one report result. */
static int trailing_result(pk_report *r, const mpz_t x, uint64_t digits, int show) {
    mpz_t p10, tail;
    mpz_init(p10);
    mpz_init(tail);
    mpz_ui_pow_ui(p10, 10, (unsigned long)show);
    mpz_tdiv_r(tail, x, p10);
    int width = digits < (uint64_t)show ? (int)digits : show;
    char *text = NULL;
    int rc = PK_ENOMEM;
    if (gmp_asprintf(&text, "%0*Zd", width, tail) >= 0 && text != NULL) {
        rc = pk_report_result_str(r, "trailing digits", "%s", text);
        void (*release_text)(void *, size_t);
        mp_get_memory_functions(NULL, NULL, &release_text);
        release_text(text, strlen(text) + 1);
    }
    mpz_clear(p10);
    mpz_clear(tail);
    return rc;
}

static int digits_results(pk_report *r, const mpz_t x, uint64_t n, int show) {
    uint64_t digits = 0;
    char lead[SHOW_MAX + 1];
    int rc = pk_mpz_digits(x, &digits, lead, (size_t)show + 1);
    rc = app_first_error(rc, pk_report_result_num(r, "digits", "%llu", (unsigned long long)digits));
    rc = app_first_error(rc, pk_report_result_str(r, "leading digits", "%s", lead));
    rc = app_first_error(rc, trailing_result(r, x, digits, show));
    return app_first_error(
        rc, pk_report_result_num(r, "trailing zeros", "%llu", (unsigned long long)legendre(n, 5)));
}

/* --each: how many values and their digits in all. */
static int range_results(pk_report *r, const fact_state *s) {
    int rc = pk_report_result_num(r, "values", "%lld", (long long)s->count);
    if (s->u64)
        return rc;
    uint64_t total = 0, d;
    for (int64_t i = 0; i < s->count; i++)
        total += pk_mpz_digits(s->results[i], &d, NULL, 0) == 0 ? d : 0;
    return app_first_error(rc,
                           pk_report_result_num(r, "digits", "%llu", (unsigned long long)total));
}

static const char *checks_done(const fact_state *s) {
    if (s->u64)
        return "the known 0!..20!";
    if (s->each)
        return "k! = k (k-1)! between neighbours; A! and B! as for one N";
    return "power of 2; mod 4 primes > N (Wilson), mod 2^61-1 (N <= 1e8); digits and "
           "leading digits vs log-gamma";
}

static int report(app *a, void *state, pk_report *r) {
    (void)a;
    const fact_state *s = state;
    int rc = s->each ? pk_report_param(r, "range", "%llu..%llu", (unsigned long long)s->a,
                                       (unsigned long long)s->b)
                     : pk_report_param(r, "N", "%llu", (unsigned long long)s->n);
    rc = app_first_error(rc,
                         pk_report_param(r, "arithmetic", "%s", s->u64 ? "64-bit" : "exact (GMP)"));
    rc = app_first_error(rc, pk_report_param(r, "checks", "%s", checks_done(s)));
    rc = app_first_error(rc, s->each ? range_results(r, s)
                                     : digits_results(r, s->result, s->n, s->show));
    if (s->output_written)
        rc = app_first_error(
            rc, pk_report_note(r, "wrote %s in %.3f s (decimal conversion, not in the timings)",
                               s->output, s->output_seconds));
    return rc;
}

static double work(const app *a, const void *state) {
    (void)a;
    const fact_state *s = state;
    return s->u64    ? (double)s->count
           : s->each ? range_digits(s->a, s->b)
                     : floor(log10_factorial(s->n)) + 1;
}

static const char *rate_unit(const void *state) {
    return ((const fact_state *)state)->u64 ? "values/s" : "digits/s";
}

/* ---- output of the values (after the timings: decimal conversion of a big n!
 * costs several times computing it) ---- */

static int write_table(const fact_state *s, FILE *f) {
    for (int64_t i = 0; i < s->count; i++) {
        unsigned long long k = (unsigned long long)(s->a + (uint64_t)i);
        int rc = s->u64 ? fprintf(f, "Factorial of %llu is %llu\n", k,
                                  (unsigned long long)s->results64[i])
                        : gmp_fprintf(f, "Factorial of %llu is %Zd\n", k, s->results[i]);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int write_values(const fact_state *s, FILE *f) {
    if (s->each)
        return write_table(s, f);
    if (mpz_out_str(f, 10, s->result) == 0 || fputc('\n', f) == EOF)
        return -1;
    return 0;
}

/* Into the temporary file opened before the runs, then renamed over the path. */
static int write_output(app *a, fact_state *s) {
    double t0 = pk_time_now();
    if (write_values(s, app_output_file(&s->out)) != 0) /* the driver removes it */
        return app_error(a, "error writing '%s'", s->output);
    int rc = app_output_commit(a, &s->out);
    if (rc != APP_OK)
        return rc;
    s->output_seconds = pk_time_now() - t0;
    s->output_written = 1;
    return APP_OK;
}

/* --output FILE, else the --each table (table format), both before the report. */
static int before_report(app *a, void *state) {
    fact_state *s = state;
    if (s->output)
        return write_output(a, s);
    if (s->each && a->common.format == PK_FORMAT_TABLE && write_values(s, stdout) != 0)
        return app_error(a, "error writing the values");
    return APP_OK;
}

/* --print: the whole N! after the report. */
static int after_report(app *a, void *state, int code) {
    const fact_state *s = state;
    if (!s->each && s->print && !s->output && write_values(s, stdout) != 0)
        return app_error(a, "error writing the values");
    return code;
}

/* After the options: notes and examples. */
static const char help[] =
    "\n"
    "N, A and B accept expressions: 1e6, 2^20, 1e6+3. N is at most 2^32-1 and must\n"
    "fit in memory (N! has about N log2(N/e) bits). The report gives the digit count\n"
    "(result 'digits'), the leading and trailing digits, and times the computation\n"
    "alone: converting a big N! to decimal for --print or --output takes several\n"
    "times longer than computing it and is not timed. The rate is digits of the\n"
    "result per second (values per second with --u64).\n"
    "\nExamples:\n"
    "  factorial 100000\n"
    "  factorial 1e6 --threads 1,2\n"
    "  factorial --each 1..10\n"
    "  factorial --u64 --each 1..20\n"
    "  mpirun -n 4 factorial 10000000\n\n";

static fact_state state = {.show = SHOW_DEFAULT};

static const app_program factorial = {
    .name = "factorial",
    .usage = "[OPTION]... N | --each A..B",
    .summary = "Compute N! exactly (GMP), or k! for every k in A..B, on threads or ranks.",
    .options = options,
    .help = help,
    .max_args = 1,
    .root_only = 1, /* the values live on rank 0 */
    .state = &state,
    .state_size = sizeof state,
    .check = check_args,
    .prepare = prepare,
    .run_once = run_once,
    .work = work,
    .rate_unit = rate_unit,
    .validate = validate,
    .before_report = before_report,
    .report = report,
    .after_report = after_report,
    .release = release,
};

/* The big products and FLINT's transforms allocate and free blocks of megabytes
 * many times over. By default glibc maps each such block afresh and hands it
 * back at free, so every use pays the kernel's zeroing of its pages again
 * (about 2 us a page on a virtual machine). Here blocks up to 256 MiB come
 * from the heap and what is freed stays there for the next product: 10^6! on
 * one thread takes 5400 page faults instead of 8200, 10^7! on two 53k instead
 * of 98k. Every thread shares that one heap (one arena), so the pages that
 * map_in_heap maps in serve the pool's threads and FLINT's as well: with the
 * heap mapped in ahead, 10^6! on two threads took 0.100 s with one arena and
 * 0.110 - 0.114 s with one per thread, whose pages still trapped (2700 of the
 * 5300 faults left). */
static void keep_freed_blocks(void) {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
#if defined(M_ARENA_MAX)
    mallopt(M_ARENA_MAX, 1);
#endif
}

int main(int argc, char **argv) {
    keep_freed_blocks();
    return app_main(&factorial, argc, argv);
}
