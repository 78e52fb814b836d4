/* sieve: counts the primes in [LO, HI] (any 64-bit bounds) on threads or ranks
 * with a pool-size sweep, and optionally lists them. The count is validated
 * against the published pi(10^k) when the interval is [0 or 1, 10^k], else by
 * Miller-Rabin (deterministic for 64 bits) on sub-intervals, or the whole
 * interval when it is small, plus the li(x) bound on the total. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "parkit/sieve.h"

__extension__ typedef unsigned __int128 u128;

/* Intervals up to WHOLE_CHECK numbers are checked prime by prime; larger ones
 * on three sub-intervals of SUB_CHECK numbers (start, middle, end). */
enum { WHOLE_CHECK = 1 << 20, SUB_CHECK = 1 << 16, PRINT_BUF = 1 << 16 };

typedef struct sieve_state {
    uint64_t lo, hi;
    int print;
    uint64_t count;
    char check[200]; /* how the count was validated, for the report */
} sieve_state;

static int set_print(void *p, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((sieve_state *)p)->print = 1;
    return 0;
}

static int set_count(void *p, const char *arg, const char **why) {
    (void)p, (void)arg, (void)why; /* counting is what the program does anyway */
    return 0;
}

static const pk_cli_option options[] = {
    {"count", 0, 0, NULL, "count the primes (the default)", set_count},
    {"print", 0, 0, NULL,
     "after the report, list the primes one per line in\n"
     "increasing order (an extra, untimed pass); with\n"
     "--quiet, print only the list. Needs --format table",
     set_print},
    {NULL, 0, 0, NULL, NULL, NULL},
};

static int run_once(pk_ctx *ctx, void *arg) {
    sieve_state *s = arg;
    return pk_sieve_count(ctx, s->lo, s->hi, &s->count);
}

/* ---- the independent check: Miller-Rabin ---- */

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t n) {
    return (uint64_t)((u128)a * b % n);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t n) {
    uint64_t r = 1;
    for (b %= n; e > 0; e >>= 1) {
        if (e & 1)
            r = mulmod(r, b, n);
        b = mulmod(b, b, n);
    }
    return r;
}

/* n odd > 1: n - 1 = d 2^s; a witnesses compositeness when a^d != 1 and no
 * a^(d 2^i) = n - 1. */
static int strong_probable_prime(uint64_t n, uint64_t a, uint64_t d, int s) {
    uint64_t x = powmod(a, d, n);
    if (x == 0 || x == 1 || x == n - 1)
        return 1;
    for (int i = 1; i < s; i++) {
        x = mulmod(x, x, n);
        if (x == n - 1)
            return 1;
    }
    return 0;
}

/* Deterministic for every n < 2^64 with these seven bases (a known set). */
static int is_prime(uint64_t n) {
    static const uint64_t bases[] = {2, 325, 9375, 28178, 450775, 9780504, 1795265022};
    static const unsigned small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        if (n % small[i] == 0)
            return n == small[i];
    if (n < 2)
        return 0;
    uint64_t d = n - 1;
    int s = 0;
    for (; (d & 1) == 0; d >>= 1)
        s++;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (!strong_probable_prime(n, bases[i], d, s))
            return 0;
    return 1;
}

static uint64_t count_by_test(uint64_t lo, uint64_t hi) {
    uint64_t n = 0;
    for (uint64_t x = lo;; x++) {
        n += (uint64_t)is_prime(x);
        if (x == hi)
            return n;
    }
}

/* ---- the li(x) bound ---- */

/* li(x) = gamma + ln ln x + sum (ln x)^k / (k k!), x > 1: all terms positive. */
static double li(double x) {
    double l = log(x), term = 1, sum = 0;
    for (int k = 1; k < 400; k++) {
        term *= l / k;
        sum += term / k;
        if (term / k < 1e-17 * sum)
            break;
    }
    return 0.57721566490153286 + log(l) + sum;
}

/* |pi(x) - li(x)| < sqrt(x) ln x / (8 pi) for 2657 <= x (a consequence of the
 * Riemann hypothesis, proven without it far beyond 2^64); below 2657 pi(x) is
 * counted exactly. */
static void pi_estimate(uint64_t x, double *pi, double *err) {
    if (x < 2657) {
        *pi = x < 2 ? 0 : (double)count_by_test(2, x);
        *err = 0;
        return;
    }
    double dx = (double)x;
    *pi = li(dx);
    *err = sqrt(dx) * log(dx) / (8 * 3.14159265358979323846) + 1;
}

/* ---- validation ---- */

static int is_power_of_ten(uint64_t x, int *k) {
    uint64_t p = 1;
    for (*k = 0; *k < 20; (*k)++, p *= 10)
        if (p == x)
            return 1;
    return 0;
}

static int check_sub(app *a, uint64_t lo, uint64_t hi, char *detail, size_t n) {
    uint64_t got = 0;
    int rc = pk_sieve_count(a->ctx, lo, hi, &got);
    if (rc != 0) {
        snprintf(detail, n, "counting [%llu, %llu] failed: %s", (unsigned long long)lo,
                 (unsigned long long)hi, pk_strerror(rc));
        return 0;
    }
    uint64_t want = count_by_test(lo, hi);
    if (got != want)
        snprintf(detail, n, "the sieve counts %llu primes in [%llu, %llu], Miller-Rabin %llu",
                 (unsigned long long)got, (unsigned long long)lo, (unsigned long long)hi,
                 (unsigned long long)want);
    return got == want;
}

static int check_li(const sieve_state *s, char *detail, size_t n) {
    double ph, eh, pl = 0, el = 0;
    pi_estimate(s->hi, &ph, &eh);
    if (s->lo > 0)
        pi_estimate(s->lo - 1, &pl, &el);
    double est = ph - pl, tol = eh + el;
    if (fabs((double)s->count - est) <= tol)
        return 1;
    snprintf(detail, n, "count %llu is outside li(x) bounds %.0f +- %.0f",
             (unsigned long long)s->count, est, tol);
    return 0;
}

/* Three sub-intervals at the start, middle and end, recounted by the sieve and
 * by Miller-Rabin, then the li bound on the total. */
static int check_large(app *a, sieve_state *s, char *check, size_t cn, char *detail, size_t dn) {
    uint64_t w = SUB_CHECK, span = s->hi - s->lo;
    uint64_t starts[3] = {s->lo, s->lo + span / 2 - w / 2, s->hi - (w - 1)};
    snprintf(check, cn,
             "Miller-Rabin on 3 sub-intervals of %llu numbers (start, middle, end) "
             "against the sieve, and the li(x) bound on the count",
             (unsigned long long)w);
    for (int i = 0; i < 3; i++)
        if (!check_sub(a, starts[i], starts[i] + (w - 1), detail, dn))
            return 0;
    return check_li(s, detail, dn);
}

static int validate(app *a, void *state, char *detail, size_t len) {
    sieve_state *s = state;
    int k;
    if (s->lo <= 1 && is_power_of_ten(s->hi, &k)) {
        snprintf(s->check, sizeof s->check, "pi(10^%d) from the table of published values", k);
        uint64_t want = pk_prime_pi_pow10(k);
        if (s->count != want)
            snprintf(detail, len, "count %llu, pi(10^%d) = %llu", (unsigned long long)s->count, k,
                     (unsigned long long)want);
        return s->count == want;
    }
    if (s->hi - s->lo < WHOLE_CHECK) {
        snprintf(s->check, sizeof s->check, "Miller-Rabin on every number of the interval");
        uint64_t want = count_by_test(s->lo, s->hi);
        if (s->count != want)
            snprintf(detail, len, "count %llu, Miller-Rabin finds %llu",
                     (unsigned long long)s->count, (unsigned long long)want);
        return s->count == want;
    }
    return check_large(a, s, s->check, sizeof s->check, detail, len);
}

/* ---- --print: own formatting into a big buffer ---- */

typedef struct printer {
    char *buf;
    size_t n;
    int failed;
} printer;

static int printer_flush(printer *p) {
    if (p->n > 0 && fwrite(p->buf, 1, p->n, stdout) != p->n)
        p->failed = 1;
    p->n = 0;
    return p->failed ? PK_EIO : 0;
}

static size_t format_u64(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\n';
    return n + 1;
}

static int print_batch(void *arg, const uint64_t *primes, size_t count) {
    printer *p = arg;
    for (size_t i = 0; i < count; i++) {
        if (p->n + 21 > PRINT_BUF && printer_flush(p) != 0)
            return PK_EIO;
        p->n += format_u64(p->buf + p->n, primes[i]);
    }
    return 0;
}

/* The untimed listing pass after the report (when it validated); its count must
 * agree with the timed counts. */
static int print_primes(app *a, void *state, int code) {
    sieve_state *s = state;
    if (code != APP_OK || !s->print)
        return code;
    printer p = {.buf = malloc(PRINT_BUF)};
    if (p.buf == NULL)
        return app_error(a, "out of memory");
    uint64_t listed = 0;
    int rc = pk_sieve_primes(a->ctx, s->lo, s->hi, print_batch, &p, &listed);
    if (rc == 0 && app_is_root(a))
        rc = printer_flush(&p);
    free(p.buf);
    if (rc == PK_EIO || (rc == 0 && fflush(stdout) != 0))
        return app_error(a, "error writing the primes");
    if (rc != 0)
        return app_fail(a, rc);
    if (listed != s->count)
        return app_error(a, "listed %llu primes but counted %llu", (unsigned long long)listed,
                         (unsigned long long)s->count);
    return APP_OK;
}

/* ---- arguments and the run ---- */

static int parse_bound(app *a, const char *text, const char *name, uint64_t *v) {
    const char *why;
    if (pk_parse_u64(text, v, &why) != 0)
        return app_usage(a, "invalid %s '%s': %s", name, text, why);
    return APP_OK;
}

static int parse_bounds(app *a, void *state) {
    sieve_state *s = state;
    if (a->nargs == 0)
        return app_usage(a, "missing HI (the upper bound of the interval)");
    int rc = APP_OK;
    if (a->nargs == 2)
        rc = parse_bound(a, a->args[0], "LO", &s->lo);
    if (rc == APP_OK)
        rc = parse_bound(a, a->args[a->nargs - 1], "HI", &s->hi);
    if (rc == APP_OK && s->lo > s->hi)
        return app_usage(a, "LO = %llu is above HI = %llu", (unsigned long long)s->lo,
                         (unsigned long long)s->hi);
    if (rc == APP_OK && s->print && a->common.format != PK_FORMAT_TABLE)
        return app_usage(a, "--print lists plain numbers after the report; it needs --format "
                            "table");
    a->hide_report = s->print && a->common.quiet; /* --print --quiet: only the list */
    return rc;
}

static double work(const app *a, const void *state) {
    (void)a;
    const sieve_state *s = state;
    return (double)(s->hi - s->lo) + 1.0;
}

static const char *rate_unit(const void *state) {
    (void)state;
    return "numbers/s";
}

static int report(app *a, void *state, pk_report *r) {
    (void)a;
    const sieve_state *s = state;
    int rc = pk_report_param(r, "LO", "%llu", (unsigned long long)s->lo);
    rc = app_first_error(rc, pk_report_param(r, "HI", "%llu", (unsigned long long)s->hi));
    rc = app_first_error(rc, pk_report_param(r, "check", "%s", s->check));
    return app_first_error(rc,
                           pk_report_result_num(r, "count", "%llu", (unsigned long long)s->count));
}

static sieve_state state;

static const app_program sieve = {
    .name = "sieve",
    .usage = "[OPTION]... [LO] HI",
    .summary = "Count the primes in [LO, HI] (LO defaults to 0; both up to 2^64-1) with a "
               "segmented\nsieve of Eratosthenes on threads or MPI ranks.",
    .options = options,
    .help = "\nLO and HI accept expressions: 1e10, 2^32, 1e10+2^32, 2^64-1.\n"
            "Validation: pi(10^k) from a table when the interval is [0 or 1, 10^k]; else\n"
            "Miller-Rabin on every number (intervals below 2^20 numbers) or on three\n"
            "sub-intervals recounted by the sieve, plus the li(x) bound on the count.\n"
            "Examples:\n"
            "  sieve 1e10 --threads 1,2\n"
            "  sieve 2^64-1e6 2^64-1\n"
            "  sieve 100 200 --print --quiet\n\n",
    .max_args = 2,
    .state = &state,
    .state_size = sizeof state,
    .check = parse_bounds,
    .run_once = run_once,
    .work = work,
    .rate_unit = rate_unit,
    .validate = validate,
    .report = report,
    .after_report = print_primes,
};

int main(int argc, char **argv) {
    return app_main(&sieve, argc, argv);
}
