/* Command-line parsing shared by the programs: number expressions in the style
 * of primesieve ("1e10", "2^32", "1e10+7", "2^64-1"), lists, ranges and the
 * options every program takes. Nothing here prints: callers get a reason. */
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

static int pow_checked(i128 base, i128 exp, i128 *out) {
    i128 r = 1;
    for (i128 i = 0; i < exp; i++) {
        r *= base;
        if (r > LIMIT)
            return -1;
        if (base <= 1)
            break;
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
    /* value = (ip * 10^nfrac + frac) * 10^(e - nfrac), which must be whole */
    i128 scale = 1;
    pow_checked(10, nfrac, &scale);
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

/* ---- common options ---- */

void pk_cli_common_defaults(pk_cli_common *c) {
    memset(c, 0, sizeof *c);
    c->repeat = 3;
    c->warmup = 1;
    c->format = PK_FORMAT_TABLE;
    c->progress = -1;
}

typedef struct common_opt {
    const char *name;
    int has_arg;
} common_opt;

static const common_opt common_opts[] = {
    {"backend", 1},     {"threads", 1},      {"ranks", 1}, {"repeat", 1},
    {"warmup", 1},      {"format", 1},       {"quiet", 0}, {"progress", 0},
    {"no-progress", 0}, {"inject-fault", 1}, {"help", 0},  {"version", 0},
};

int pk_cli_common_has_arg(const char *name) {
    for (size_t i = 0; i < sizeof common_opts / sizeof common_opts[0]; i++)
        if (strcmp(common_opts[i].name, name) == 0)
            return common_opts[i].has_arg;
    return -1;
}

static int apply_count(const char *arg, int min, int *out, const char **why) {
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

int pk_cli_common_apply(pk_cli_common *c, const char *name, const char *arg, const char **why) {
    const char *dummy;
    why = why ? why : &dummy;
    if (strcmp(name, "backend") == 0) {
        c->backend = arg;
    } else if (strcmp(name, "threads") == 0) {
        if (pk_parse_int_list(arg, 1, 4096, c->threads, PK_CLI_MAX_LIST, &c->nthreads, why))
            return PK_EINVAL;
    } else if (strcmp(name, "ranks") == 0) {
        if (pk_parse_int_list(arg, 1, 1 << 20, c->ranks, PK_CLI_MAX_LIST, &c->nranks, why))
            return PK_EINVAL;
    } else if (strcmp(name, "repeat") == 0) {
        return apply_count(arg, 1, &c->repeat, why) ? PK_EINVAL : 1;
    } else if (strcmp(name, "warmup") == 0) {
        return apply_count(arg, 0, &c->warmup, why) ? PK_EINVAL : 1;
    } else if (strcmp(name, "format") == 0) {
        int format = pk_format_parse(arg);
        if (format < 0) {
            *why = "expected table, csv or json";
            return PK_EINVAL;
        }
        c->format = format;
    } else if (strcmp(name, "quiet") == 0) {
        c->quiet = 1;
    } else if (strcmp(name, "progress") == 0) {
        c->progress = 1;
    } else if (strcmp(name, "no-progress") == 0) {
        c->progress = 0;
    } else if (strcmp(name, "inject-fault") == 0) {
        c->inject = arg;
    } else if (strcmp(name, "help") == 0) {
        c->help = 1;
    } else if (strcmp(name, "version") == 0) {
        c->version = 1;
    } else {
        return 0;
    }
    return 1;
}

const char *pk_cli_common_help(void) {
    return "Pool and run options:\n"
           "      --backend NAME    serial, omp or mpi (default: PARKIT_BACKEND, else auto:\n"
           "                        mpi under mpirun with more than one rank, else omp)\n"
           "      --threads LIST    threads per process to sweep, e.g. 1,2,4 or 1..4\n"
           "                        (default: OMP_NUM_THREADS, else the cores available)\n"
           "      --ranks LIST      MPI ranks to sweep inside one launch, e.g. 1,2,4,8\n"
           "      --repeat N        timed runs per pool size (default 3)\n"
           "      --warmup N        untimed runs before them (default 1)\n"
           "      --format FMT      table, csv or json (default table)\n"
           "      --quiet           print only the result and the validation line\n"
           "      --progress        show progress on stderr (default: when stderr is a\n"
           "                        terminal); --no-progress turns it off\n"
           "      --inject-fault SPEC  make one task fail, SPEC = kernel=K,rank=R,thread=T,\n"
           "                        task=I (any subset; also PARKIT_INJECT)\n"
           "  -h, --help            show this help and exit\n"
           "      --version         show the version and exit\n";
}
