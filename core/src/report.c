/* The report printer shared by every program: the same shape for every kernel
 * and backend, so runs are diffable. Table: aligned "key = value" header, the
 * results, one validation line, one row per pool size. CSV: the header as
 * "# key = value" comments, then the rows. JSON: one object. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

enum {
    MAX_ITEMS = PK_REPORT_MAX_ITEMS,
    MAX_NOTES = PK_REPORT_MAX_NOTES,
    KEY_LEN = PK_REPORT_KEY_LEN,
    VALUE_LEN = PK_REPORT_VALUE_LEN,
    PROGRAM_LEN = 32,
    UNIT_LEN = 24
};

typedef struct kv {
    char key[KEY_LEN];
    char value[VALUE_LEN];
    int quoted; /* JSON: a string */
} kv;

struct pk_report {
    char program[PROGRAM_LEN];
    int format;
    kv params[MAX_ITEMS];
    int nparams;
    kv results[MAX_ITEMS];
    int nresults;
    kv notes[MAX_NOTES];
    int nnotes;
    int validated; /* -1 not given, 0 failed, 1 passed */
    char detail[VALUE_LEN];
    pk_stats *rows;
    int nrows;
    char rate_unit[UNIT_LEN];
    int quiet;
};

int pk_report_new(pk_report **r, const char *program, int format) {
    if (r == NULL)
        return PK_EINVAL;
    *r = NULL;
    if (program == NULL || strlen(program) >= PROGRAM_LEN ||
        (format != PK_FORMAT_TABLE && format != PK_FORMAT_CSV && format != PK_FORMAT_JSON))
        return PK_EINVAL;
    pk_report *n = calloc(1, sizeof *n);
    if (n == NULL)
        return PK_ENOMEM;
    snprintf(n->program, sizeof n->program, "%s", program);
    n->format = format;
    n->validated = -1;
    *r = n;
    return 0;
}

void pk_report_free(pk_report *r) {
    if (r == NULL)
        return;
    free(r->rows);
    free(r);
}

/* Copies text into dst of size len: 0, or PK_ERANGE when it had to be cut. */
static int copy_text(char *dst, size_t len, const char *text) {
    return (size_t)snprintf(dst, len, "%s", text) < len ? 0 : PK_ERANGE;
}

/* Appends one item to list (cap items): PK_ERANGE when the list is full (nothing
 * stored) or the key or the value had to be cut (stored cut). */
static int add_kv(kv *list, int *n, int cap, const char *key, int quoted, const char *fmt,
                  va_list ap) {
    if (*n >= cap)
        return PK_ERANGE;
    kv *e = &list[(*n)++];
    int rc = copy_text(e->key, sizeof e->key, key);
    int len = vsnprintf(e->value, sizeof e->value, fmt, ap);
    e->quoted = quoted;
    if (len < 0 || (size_t)len >= sizeof e->value)
        rc = PK_ERANGE;
    return rc;
}

int pk_report_param(pk_report *r, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_kv(r->params, &r->nparams, MAX_ITEMS, key, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int pk_report_result_str(pk_report *r, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_kv(r->results, &r->nresults, MAX_ITEMS, key, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int pk_report_result_num(pk_report *r, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_kv(r->results, &r->nresults, MAX_ITEMS, key, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int pk_report_note(pk_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = add_kv(r->notes, &r->nnotes, MAX_NOTES, "note", 1, fmt, ap);
    va_end(ap);
    return rc;
}

int pk_report_validation(pk_report *r, int passed, const char *detail) {
    r->validated = passed ? 1 : 0;
    return copy_text(r->detail, sizeof r->detail, detail ? detail : "");
}

int pk_report_runs(pk_report *r, const pk_stats *rows, int n, const char *rate_unit) {
    if (n < 0 || (rows == NULL && n > 0))
        return PK_EINVAL;
    pk_stats *copy = NULL;
    if (n > 0 && (copy = malloc((size_t)n * sizeof *rows)) == NULL)
        return PK_ENOMEM;
    if (n > 0)
        memcpy(copy, rows, (size_t)n * sizeof *rows);
    free(r->rows);
    r->rows = copy;
    r->nrows = n;
    return copy_text(r->rate_unit, sizeof r->rate_unit, rate_unit ? rate_unit : "items/s");
}

int pk_format_parse(const char *s) {
    if (strcmp(s, "table") == 0)
        return PK_FORMAT_TABLE;
    if (strcmp(s, "csv") == 0)
        return PK_FORMAT_CSV;
    if (strcmp(s, "json") == 0)
        return PK_FORMAT_JSON;
    return -1;
}

static const char *validation_text(const pk_report *r) {
    return r->validated == 1 ? "PASSED" : r->validated == 0 ? "FAILED" : "NOT RUN";
}

static size_t key_width(const pk_report *r) {
    size_t w = 0;
    for (int i = 0; i < r->nparams; i++)
        w = strlen(r->params[i].key) > w ? strlen(r->params[i].key) : w;
    for (int i = 0; i < r->nresults; i++)
        w = strlen(r->results[i].key) > w ? strlen(r->results[i].key) : w;
    return w;
}

static void print_kvs(FILE *out, const kv *list, int n, size_t w, const char *prefix) {
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%-*s = %s\n", prefix, (int)w, list[i].key, list[i].value);
}

static void print_validation(const pk_report *r, FILE *out, const char *prefix) {
    if (r->validated == 0 && r->detail[0])
        fprintf(out, "%sValidation: FAILED (%s)\n", prefix, r->detail);
    else
        fprintf(out, "%sValidation: %s\n", prefix, validation_text(r));
}

void pk_report_set_quiet(pk_report *r, int quiet) {
    r->quiet = quiet;
}

static void print_table(const pk_report *r, FILE *out) {
    size_t w = key_width(r);
    if (r->quiet) {
        print_kvs(out, r->results, r->nresults, w, "");
        print_validation(r, out, "");
        return;
    }
    print_kvs(out, r->params, r->nparams, w, "");
    print_kvs(out, r->results, r->nresults, w, "");
    print_validation(r, out, "");
    if (r->nrows > 0) {
        fprintf(out, "%5s %7s %5s %11s %11s %11s %8s %10s %12s\n", "ranks", "threads", "pool",
                "min(s)", "median(s)", "max(s)", "speedup", "efficiency", r->rate_unit);
        for (int i = 0; i < r->nrows; i++) {
            const pk_stats *s = &r->rows[i];
            fprintf(out, "%5d %7d %5d %11.6f %11.6f %11.6f %8.2f %9.1f%% %12.4g\n", s->ranks,
                    s->threads_got, s->pool, s->min, s->median, s->max, s->speedup,
                    100.0 * s->efficiency, s->rate);
        }
    }
    for (int i = 0; i < r->nnotes; i++)
        fprintf(out, "Note: %s\n", r->notes[i].value);
}

static void print_csv(const pk_report *r, FILE *out) {
    size_t w = key_width(r);
    print_kvs(out, r->params, r->nparams, w, "# ");
    print_kvs(out, r->results, r->nresults, w, "# ");
    print_validation(r, out, "# ");
    for (int i = 0; i < r->nnotes; i++)
        fprintf(out, "# Note: %s\n", r->notes[i].value);
    fprintf(out, "program,ranks,threads,threads_obtained,pool,runs,min,median,max,speedup,"
                 "efficiency,rate,rate_unit\n");
    for (int i = 0; i < r->nrows; i++) {
        const pk_stats *s = &r->rows[i];
        fprintf(out, "%s,%d,%d,%d,%d,%d,%.9f,%.9f,%.9f,%.6f,%.6f,%.6g,%s\n", r->program, s->ranks,
                s->threads, s->threads_got, s->pool, s->runs, s->min, s->median, s->max, s->speedup,
                s->efficiency, s->rate, r->rate_unit);
    }
}

/* Bytes of the UTF-8 sequence that starts at s, or 0 when it is not one (a
 * stray or cut sequence, an overlong form, a surrogate, past U+10FFFF). */
static size_t utf8_length(const unsigned char *s) {
    static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] >= 0xC0 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF7 ? 4
                                              : 0;
    if (n == 0)
        return 0;
    unsigned long cp = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) { /* stops at the NUL: it is no continuation byte */
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped, UTF-8
 * passed through, every byte that does not start a UTF-8 sequence as U+FFFD. */
static void json_string(FILE *out, const char *text) {
    const unsigned char *s = (const unsigned char *)text;
    fputc('"', out);
    while (*s) {
        size_t n = *s < 0x80 ? 1 : utf8_length(s);
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s < 0x20)
            fprintf(out, "\\u%04x", *s);
        else if (n == 0)
            fputs("\\ufffd", out);
        else
            fwrite(s, 1, n, out);
        s += n ? n : 1;
    }
    fputc('"', out);
}

static size_t skip_digits(const char **s) {
    size_t n = 0;
    for (; **s >= '0' && **s <= '9'; (*s)++)
        n++;
    return n;
}

/* 1 when s is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number(const char *s) {
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (skip_digits(&s) == 0)
        return 0;
    if (*s == '.' && (s++, skip_digits(&s) == 0))
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (skip_digits(&s) == 0)
            return 0;
    }
    return *s == '\0';
}

/* A number result is written bare when it is a JSON number, else as a string
 * ("nan", "inf" or a word would make the whole object unreadable). */
static void json_object(FILE *out, const kv *list, int n) {
    fputc('{', out);
    for (int i = 0; i < n; i++) {
        fprintf(out, "%s", i ? ", " : "");
        json_string(out, list[i].key);
        fputs(": ", out);
        if (list[i].quoted || !json_number(list[i].value))
            json_string(out, list[i].value);
        else
            fputs(list[i].value, out);
    }
    fputc('}', out);
}

/* ", "name": v" with digits significant digits; null for NaN and infinities. */
static void json_double(FILE *out, const char *name, double v, int digits) {
    if (isfinite(v))
        fprintf(out, ", \"%s\": %.*g", name, digits, v);
    else
        fprintf(out, ", \"%s\": null", name);
}

static const char *param(const pk_report *r, const char *key) {
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].key, key) == 0)
            return r->params[i].value;
    return "";
}

static void json_runs(const pk_report *r, FILE *out) {
    fputs("[", out);
    for (int i = 0; i < r->nrows; i++) {
        const pk_stats *s = &r->rows[i];
        fprintf(out,
                "%s\n    {\"ranks\": %d, \"threads\": %d, \"threads_obtained\": %d, \"pool\": %d, "
                "\"runs\": %d",
                i ? "," : "", s->ranks, s->threads, s->threads_got, s->pool, s->runs);
        json_double(out, "min", s->min, 9);
        json_double(out, "median", s->median, 9);
        json_double(out, "max", s->max, 9);
        json_double(out, "speedup", s->speedup, 6);
        json_double(out, "efficiency", s->efficiency, 6);
        json_double(out, "rate", s->rate, 6);
        fputc('}', out);
    }
    fputs(r->nrows ? "\n  ]" : "]", out);
}

static void print_json(const pk_report *r, FILE *out) {
    fputs("{\n  \"program\": ", out);
    json_string(out, r->program);
    fputs(",\n  \"version\": ", out);
    json_string(out, PARKIT_VERSION);
    fputs(",\n  \"backend\": ", out);
    json_string(out, param(r, "backend"));
    fputs(",\n  \"params\": ", out);
    json_object(out, r->params, r->nparams);
    fputs(",\n  \"result\": ", out);
    json_object(out, r->results, r->nresults);
    fputs(",\n  \"validation\": ", out);
    json_string(out, validation_text(r));
    if (r->validated == 0) {
        fputs(",\n  \"validation_detail\": ", out);
        json_string(out, r->detail);
    }
    fputs(",\n  \"rate_unit\": ", out);
    json_string(out, r->rate_unit[0] ? r->rate_unit : "items/s");
    fputs(",\n  \"runs\": ", out);
    json_runs(r, out);
    fputs(",\n  \"notes\": [", out);
    for (int i = 0; i < r->nnotes; i++) {
        fputs(i ? ", " : "", out);
        json_string(out, r->notes[i].value);
    }
    fputs("]\n}\n", out);
}

int pk_report_print(const pk_report *r, FILE *out) {
    if (r == NULL || out == NULL)
        return PK_EINVAL;
    if (r->format == PK_FORMAT_JSON)
        print_json(r, out);
    else if (r->format == PK_FORMAT_CSV)
        print_csv(r, out);
    else
        print_table(r, out);
    return fflush(out) == 0 && !ferror(out) ? 0 : PK_EIO;
}
