/* Command-line parsing shared by the programs: number expressions in the style
 * of primesieve ("1e10", "2^32", "1e10+7", "2^64-1"), lists, ranges, option
 * tables and their help text, and the table of the options every program takes.
 * Nothing here prints but pk_cli_help: callers get a reason. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

__extension__ typedef __int128 i128;
#define LIMIT ((i128)1 << 100) /* far above 2^64, far below overflow of i128 */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads decimal digits into *v (bounded); returns the number of digits. */
static int read_digits(const char **p, i128 *v, int *overflow) {
    int n = 0;
    *v = 0;
    while (isdigit((unsigned char)**p)) {
        if (*v < LIMIT)
            *v = *v * 10 + (**p - '0');
        else
            *overflow = 1;
        (*p)++;
        n++;
    }
    return n;
}

/* base^exp for base, exp >= 0; -1 when it passes LIMIT (checked before each
 * product: base may be up to 10 * LIMIT, and r * base must not overflow). */
static int pow_checked(i128 base, i128 exp, i128 *out) {
    i128 r = 1;
    for (i128 i = 0; i < exp && base > 1; i++) {
        if (r > LIMIT / base)
            return -1;
        r *= base;
    }
    *out = exp == 0 ? 1 : (base == 0 ? 0 : base == 1 ? 1 : r);
    return 0;
}

/* term := digits ['.' digits] [('e'|'E') digits] | digits '^' digits */
static int parse_term(const char **pp, i128 *out, const char **why) {
    const char *p = *pp;
    int overflow = 0;
    i128 ip, frac = 0;
    int nfrac = 0;
    if (read_digits(&p, &ip, &overflow) == 0) {
        *why = "expected a number";
        return PK_EINVAL;
    }
    if (*p == '^') {
        p++;
        i128 e;
        if (read_digits(&p, &e, &overflow) == 0) {
            *why = "expected an exponent after '^'";
            return PK_EINVAL;
        }
        if (overflow || e > 200 || pow_checked(ip, e, out) != 0) {
            *why = "number too large";
            return PK_ERANGE;
        }
        *pp = p;
        return 0;
    }
    if (*p == '.') {
        p++;
        nfrac = read_digits(&p, &frac, &overflow);
    }
    i128 e = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (read_digits(&p, &e, &overflow) == 0) {
            *why = "expected an exponent after 'e'";
            return PK_EINVAL;
        }
    }
    if (overflow || e > 40 || nfrac > 30) {
        *why = "number too large";
        return PK_ERANGE;
    }
    /* value = (ip * 10^nfrac + frac) * 10^(e - nfrac), which must be whole.
     * Without the fraction's trailing zeros, value >= ip * 10^nfrac. */
    while (nfrac > 0 && frac % 10 == 0) {
        frac /= 10;
        nfrac--;
    }
    i128 scale = 1;
    pow_checked(10, nfrac, &scale);
    if (ip > LIMIT / scale) {
        *why = "number too large";
        return PK_ERANGE;
    }
    i128 m = ip * scale + frac;
    if (e >= nfrac) {
        i128 f;
        if (pow_checked(10, e - nfrac, &f) != 0 || (m != 0 && f > LIMIT / m)) {
            *why = "number too large";
            return PK_ERANGE;
        }
        *out = m * f;
    } else {
        i128 d = 1;
        pow_checked(10, nfrac - e, &d);
        if (m % d != 0) {
            *why = "not a whole number";
            return PK_EINVAL;
        }
        *out = m / d;
    }
    *pp = p;
    return 0;
}

/* A leading '-' (allowed only when the caller takes signed values) negates the
 * first term alone, as in arithmetic: "-1e10+7" is -9999999993. */
static int parse_expr(const char *text, int allow_negative, i128 *out, const char **why) {
    if (text == NULL) {
        *why = "missing number";
        return PK_EINVAL;
    }
    const char *p = skip_ws(text);
    if (*p == '\0') {
        *why = "empty number";
        return PK_EINVAL;
    }
    int sign = 1;
    if (*p == '-' && !allow_negative) {
        *why = "negative numbers are not allowed";
        return PK_ERANGE;
    }
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    i128 total = 0;
    for (;;) {
        i128 t;
        int rc = parse_term(&p, &t, why);
        if (rc != 0)
            return rc;
        total += sign * t;
        if (total > LIMIT || total < -LIMIT) {
            *why = "number too large";
            return PK_ERANGE;
        }
        p = skip_ws(p);
        if (*p == '\0')
            break;
        if (*p != '+' && *p != '-') {
            *why = "unexpected character in number";
            return PK_EINVAL;
        }
        sign = *p == '+' ? 1 : -1;
        p = skip_ws(p + 1);
    }
    if (total < 0 && !allow_negative) {
        *why = "negative numbers are not allowed";
        return PK_ERANGE;
    }
    *out = total;
    return 0;
}

int pk_parse_u64(const char *text, uint64_t *value, const char **why) {
    i128 v;
    const char *dummy;
    why = why ? why : &dummy;
    int rc = parse_expr(text, 0, &v, why);
    if (rc != 0)
        return rc;
    if (v > (i128)UINT64_MAX) {
        *why = "number larger than 2^64-1";
        return PK_ERANGE;
    }
    *value = (uint64_t)v;
    return 0;
}

int pk_parse_i64(const char *text, int64_t *value, const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    i128 v;
    int rc = parse_expr(text, 1, &v, why);
    if (rc != 0)
        return rc;
    if (v > (i128)INT64_MAX || v < (i128)INT64_MIN) {
        *why = "number outside the 64-bit signed range";
        return PK_ERANGE;
    }
    *value = (int64_t)v;
    return 0;
}

int pk_parse_double(const char *text, double *value, const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    if (text == NULL || *text == '\0') {
        *why = "empty number";
        return PK_EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end != '\0' || end == text || errno != 0 || !isfinite(v)) {
        *why = "not a number";
        return PK_EINVAL;
    }
    if (v < 0) {
        *why = "negative numbers are not allowed";
        return PK_ERANGE;
    }
    *value = v;
    return 0;
}

static int parse_list_item(const char *s, size_t len, int min, int max, int *lo, int *hi,
                           const char **why) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) {
        *why = len ? "list item too long" : "empty list item";
        return PK_EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *dots = strstr(buf, "..");
    uint64_t a, b;
    if (dots != NULL) {
        *dots = '\0';
        if (pk_parse_u64(buf, &a, why) != 0 || pk_parse_u64(dots + 2, &b, why) != 0)
            return PK_EINVAL;
    } else {
        if (pk_parse_u64(buf, &a, why) != 0)
            return PK_EINVAL;
        b = a;
    }
    if (a > b) {
        *why = "range runs backwards";
        return PK_EINVAL;
    }
    if (a < (uint64_t)min || b > (uint64_t)max) {
        *why = "value out of range";
        return PK_ERANGE;
    }
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

int pk_parse_int_list(const char *text, int min, int max, int *values, int cap, int *count,
                      const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    *count = 0;
    if (text == NULL || *text == '\0') {
        *why = "empty list";
        return PK_EINVAL;
    }
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int lo, hi;
        if (parse_list_item(p, len, min, max, &lo, &hi, why) != 0)
            return PK_EINVAL;
        for (int v = lo; v <= hi; v++) {
            if (*count == cap) {
                *why = "too many values in the list";
                return PK_ERANGE;
            }
            values[(*count)++] = v;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

int pk_parse_u64_range(const char *text, uint64_t *a, uint64_t *b, const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    const char *dots = text ? strstr(text, "..") : NULL;
    if (dots == NULL) {
        *why = "expected a range A..B";
        return PK_EINVAL;
    }
    char left[128];
    size_t len = (size_t)(dots - text);
    if (len >= sizeof left) {
        *why = "range bound too long";
        return PK_EINVAL;
    }
    memcpy(left, text, len);
    left[len] = '\0';
    int rc = pk_parse_u64(left, a, why);
    if (rc == 0)
        rc = pk_parse_u64(dots + 2, b, why);
    if (rc == 0 && *a > *b) {
        *why = "range runs backwards (A > B)";
        rc = PK_EINVAL;
    }
    return rc;
}

/* ---- option tables ---- */

const pk_cli_option *pk_cli_find(const pk_cli_option *table, const char *name) {
    for (; table != NULL && table->name != NULL; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}

int pk_cli_count(const pk_cli_option *table) {
    int n = 0;
    while (table != NULL && table[n].name != NULL)
        n++;
    return n;
}

enum { HELP_COLUMN = 24 }; /* where the text of a help line starts */

/* "      --name ARG    text", further lines of text under the first. */
static void help_entry(const pk_cli_option *o, FILE *out) {
    int width = o->short_name ? fprintf(out, "  -%c, ", o->short_name) : fprintf(out, "      ");
    width +=
        fprintf(out, "--%s%s%s", o->name, o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
    fprintf(out, "%*s", width + 2 > HELP_COLUMN ? 2 : HELP_COLUMN - width, "");
    for (const char *p = o->help; *p; p++) {
        fputc(*p, out);
        if (*p == '\n')
            fprintf(out, "%*s", HELP_COLUMN, "");
    }
    fputc('\n', out);
}

int pk_cli_help(const pk_cli_option *table, FILE *out) {
    for (; table != NULL && table->name != NULL; table++)
        if (table->help != NULL)
            help_entry(table, out);
    return ferror(out) ? PK_EIO : 0;
}

/* ---- common options ---- */

void pk_cli_common_defaults(pk_cli_common *c) {
    memset(c, 0, sizeof *c);
    c->repeat = 3;
    c->warmup = 1;
    c->format = PK_FORMAT_TABLE;
    c->progress = -1;
}

static int count_in(const char *arg, int min, int *out, const char **why) {
    uint64_t v;
    if (pk_parse_u64(arg, &v, why) != 0)
        return PK_EINVAL;
    if (v < (uint64_t)min || v > 1000000) {
        *why = min ? "must be between 1 and 1000000" : "must be between 0 and 1000000";
        return PK_EINVAL;
    }
    *out = (int)v;
    return 0;
}

static int set_backend(void *t, const char *arg, const char **why) {
    (void)why;
    ((pk_cli_common *)t)->backend = arg;
    return 0;
}

static int set_threads(void *t, const char *arg, const char **why) {
    pk_cli_common *c = t;
    return pk_parse_int_list(arg, 1, 4096, c->threads, PK_CLI_MAX_LIST, &c->nthreads, why)
               ? PK_EINVAL
               : 0;
}

static int set_ranks(void *t, const char *arg, const char **why) {
    pk_cli_common *c = t;
    return pk_parse_int_list(arg, 1, 1 << 20, c->ranks, PK_CLI_MAX_LIST, &c->nranks, why)
               ? PK_EINVAL
               : 0;
}

static int set_repeat(void *t, const char *arg, const char **why) {
    return count_in(arg, 1, &((pk_cli_common *)t)->repeat, why);
}

static int set_warmup(void *t, const char *arg, const char **why) {
    return count_in(arg, 0, &((pk_cli_common *)t)->warmup, why);
}

static int set_format(void *t, const char *arg, const char **why) {
    int format = pk_format_parse(arg);
    if (format < 0) {
        *why = "expected table, csv or json";
        return PK_EINVAL;
    }
    ((pk_cli_common *)t)->format = format;
    return 0;
}

static int set_plot(void *t, const char *arg, const char **why) {
    if (arg[0] == '\0') {
        *why = "expected a file name";
        return PK_EINVAL;
    }
    ((pk_cli_common *)t)->plot = arg;
    return 0;
}

static int set_quiet(void *t, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pk_cli_common *)t)->quiet = 1;
    return 0;
}

static int set_progress(void *t, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pk_cli_common *)t)->progress = 1;
    return 0;
}

static int set_no_progress(void *t, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pk_cli_common *)t)->progress = 0;
    return 0;
}

static int set_inject(void *t, const char *arg, const char **why) {
    (void)why;
    ((pk_cli_common *)t)->inject = arg;
    return 0;
}

static int set_help(void *t, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pk_cli_common *)t)->help = 1;
    return 0;
}

static int set_version(void *t, const char *arg, const char **why) {
    (void)arg, (void)why;
    ((pk_cli_common *)t)->version = 1;
    return 0;
}

/* clang-format off */
static const pk_cli_option common_options[] = {
    {"backend", 0, 1, "NAME", "serial, omp or mpi (default: PARKIT_BACKEND, else auto:\n"
                              "mpi under mpirun with more than one rank, else omp);\n"
                              "a list compares them: under mpirun -n K, omp,mpi runs\n"
                              "K threads in one process, then K ranks of one thread\n"
                              "(of --threads T each, against K*T threads), and prints\n"
                              "both rows, their time ratio and a verdict", set_backend},
    {"threads", 0, 1, "LIST", "threads per process to sweep, e.g. 1,2,4 or 1..4\n"
                              "(default: OMP_NUM_THREADS, else the cores available)", set_threads},
    {"ranks", 0, 1, "LIST", "MPI ranks to sweep inside one launch, e.g. 1,2,4,8; every\n"
                            "pool keeps the launch's threads per rank (or --threads)", set_ranks},
    {"repeat", 0, 1, "N", "timed runs per pool size (default 3)", set_repeat},
    {"warmup", 0, 1, "N", "untimed runs before them (default 1)", set_warmup},
    {"format", 0, 1, "FMT", "table, csv or json (default table)", set_format},
    {"plot", 0, 1, "FILE", "also draw the sweep (time, speedup and efficiency\n"
                           "against the pool, with the ideal) as SVG in FILE", set_plot},
    {"quiet", 0, 0, NULL, "print only the result and the validation line", set_quiet},
    {"progress", 0, 0, NULL, "show progress on stderr (default: when stderr is a\n"
                             "terminal); --no-progress turns it off", set_progress},
    {"no-progress", 0, 0, NULL, NULL, set_no_progress},
    {"inject-fault", 0, 1, "SPEC", "make one task fail, SPEC = kernel=K,rank=R,thread=T,\n"
                                   "task=I,fail=task|alloc (any subset; also\n"
                                   "PARKIT_INJECT); fail=alloc: its first allocation\n"
                                   "fails instead (out of memory)", set_inject},
    {"help", 'h', 0, NULL, "show this help and exit", set_help},
    {"version", 0, 0, NULL, "show the version and exit", set_version},
    {NULL, 0, 0, NULL, NULL, NULL},
};
/* clang-format on */

const pk_cli_option *pk_cli_common_options(void) {
    return common_options;
}

int pk_cli_common_apply(pk_cli_common *c, const char *name, const char *arg, const char **why) {
    const char *dummy;
    const pk_cli_option *o = pk_cli_find(common_options, name);
    if (o == NULL)
        return 0;
    return o->apply(c, arg, why ? why : &dummy) != 0 ? PK_EINVAL : 1;
}
