/* Fuzz target: the report's JSON writer, as a round trip. The input drives a
 * report (parameters, results, notes, the validation, rows of doubles taken bit
 * for bit, so NaN and infinities come up) while the target keeps its own model
 * of what the report holds; the JSON written is then read back by a strict
 * reader (json_mini.c) and every value is compared with the model. What the
 * writer promises (parkit/report.h): keys and values are cut to their capacity;
 * bytes that are not UTF-8 become U+FFFD; a number result that is not a JSON
 * number is written as a string; a row's value that is not finite is null. The
 * table and CSV printers run on the same report too (no crash). */
#include <math.h>
#include <string.h>

#include "fuzz_target.h"
#include "json_mini.h"
#include "parkit/config.h"
#include "parkit/error.h"
#include "parkit/report.h"

enum { MAX_OPS = 160, MAX_ROWS = 6 };

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

typedef struct item {
    char *key, *value; /* as stored: cut to the report's capacity */
    int quoted;
} item;

typedef struct model {
    char program[64];
    item params[PK_REPORT_MAX_ITEMS], results[PK_REPORT_MAX_ITEMS], notes[PK_REPORT_MAX_NOTES];
    int nparams, nresults, nnotes;
    int validated; /* -1 not given */
    char *detail;
    pk_stats rows[MAX_ROWS];
    int nrows;
    char *rate_unit; /* NULL: never set */
} model;

static unsigned take_byte(input *in) {
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* A string of at most max bytes (its length from two bytes), NUL bytes left out. */
static char *take_string(input *in, size_t max) {
    size_t want = (take_byte(in) | (size_t)take_byte(in) << 8) % (max + 1);
    char *s = malloc(want + 1);
    size_t n = 0;
    if (s == NULL)
        abort();
    for (size_t i = 0; i < want && in->n > 0; i++) {
        unsigned c = take_byte(in);
        if (c != 0)
            s[n++] = (char)c;
    }
    s[n] = '\0';
    return s;
}

static double take_double(input *in) {
    uint8_t b[8] = {0};
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)take_byte(in);
    double d;
    memcpy(&d, b, sizeof d);
    return d;
}

static int take_int(input *in) {
    unsigned v = take_byte(in) | take_byte(in) << 8 | take_byte(in) << 16 | take_byte(in) << 24;
    int i;
    memcpy(&i, &v, sizeof i);
    return i;
}

/* A copy of s cut to cap - 1 bytes, as the report stores it; *cut set when it was. */
static char *stored(const char *s, size_t cap, int *cut) {
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        *cut = 1;
    }
    char *c = malloc(n + 1);
    if (c == NULL)
        abort();
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* What the JSON string of s must read back as: s with every byte that does not
 * start a valid UTF-8 sequence replaced by U+FFFD. */
static char *expected_text(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (out == NULL)
        abort();
    for (size_t i = 0; i < n;) {
        size_t k = 4;
        while (k > 0 && (i + k > n || !json_utf8_valid((const unsigned char *)s + i, k)))
            k--;
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3), o += 3, i++;
        } else {
            memcpy(o, s + i, k), o += k, i += k;
        }
    }
    *o = '\0';
    return out;
}

static int is_json_number(const char *s) {
    json v;
    const char *err;
    size_t at;
    size_t n = strlen(s);
    /* a JSON number starts with '-' or a digit and ends with a digit: the
     * parser would also take white space around it ("-1\n"), which the report
     * rightly keeps in a string */
    if (n == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || s[n - 1] < '0' || s[n - 1] > '9')
        return 0;
    if (json_parse(s, n, &v, &err, &at) != 0)
        return 0;
    int ok = v.kind == JSON_NUMBER;
    json_free(&v);
    return ok;
}

static void check_string(const json *v, const char *want) {
    FUZZ_CHECK(v != NULL && v->kind == JSON_STRING);
    char *text = expected_text(want);
    FUZZ_CHECK(strcmp(v->text, text) == 0);
    free(text);
}

/* ---- building the report and its model ---- */

static void add_item(pk_report *r, model *m, input *in, int kind) {
    char *key = kind == 3 ? NULL : take_string(in, 60);
    char *value;
    char num[64];
    if (kind == 2 && take_byte(in) % 2 == 0) { /* a double as a program would print it */
        snprintf(num, sizeof num, "%.17g", take_double(in));
        value = stored(num, sizeof num, &(int){0});
    } else {
        value = take_string(in, 1100);
    }
    int rc = kind == 0   ? pk_report_param(r, key, "%s", value)
             : kind == 1 ? pk_report_result_str(r, key, "%s", value)
             : kind == 2 ? pk_report_result_num(r, key, "%s", value)
                         : pk_report_note(r, "%s", value);
    item *list = kind == 0 ? m->params : kind == 3 ? m->notes : m->results;
    int *n = kind == 0 ? &m->nparams : kind == 3 ? &m->nnotes : &m->nresults;
    int cap = kind == 3 ? PK_REPORT_MAX_NOTES : PK_REPORT_MAX_ITEMS;
    if (*n == cap) {
        FUZZ_CHECK(rc == PK_ERANGE);
    } else {
        int cut = 0;
        item *e = &list[(*n)++];
        e->key = stored(key ? key : "note", PK_REPORT_KEY_LEN, &cut);
        e->value = stored(value, PK_REPORT_VALUE_LEN, &cut);
        e->quoted = kind != 2;
        FUZZ_CHECK(rc == (cut ? PK_ERANGE : 0));
    }
    free(key);
    free(value);
}

static void set_validation(pk_report *r, model *m, input *in) {
    unsigned b = take_byte(in);
    char *detail = b & 2 ? take_string(in, 1100) : NULL;
    int cut = 0;
    int rc = pk_report_validation(r, (int)(b & 1), detail);
    m->validated = (int)(b & 1);
    free(m->detail);
    m->detail = stored(detail ? detail : "", PK_REPORT_VALUE_LEN, &cut);
    FUZZ_CHECK(rc == (cut ? PK_ERANGE : 0));
    free(detail);
}

static void set_runs(pk_report *r, model *m, input *in) {
    unsigned b = take_byte(in);
    int n = (int)(b % (MAX_ROWS + 1));
    pk_stats rows[MAX_ROWS];
    for (int i = 0; i < n; i++) {
        pk_stats *s = &rows[i];
        s->ranks = take_int(in), s->threads = take_int(in), s->threads_got = take_int(in);
        s->pool = take_int(in), s->runs = take_int(in);
        s->min = take_double(in), s->median = take_double(in), s->max = take_double(in);
        s->mean = take_double(in), s->speedup = take_double(in);
        s->efficiency = take_double(in), s->rate = take_double(in);
    }
    char *unit = b & 0x80 ? NULL : take_string(in, 30);
    int cut = 0;
    int rc = pk_report_runs(r, rows, n, unit);
    memcpy(m->rows, rows, (size_t)n * sizeof *rows);
    m->nrows = n;
    free(m->rate_unit);
    m->rate_unit = stored(unit ? unit : "items/s", 24, &cut);
    FUZZ_CHECK(rc == (cut ? PK_ERANGE : 0));
    free(unit);
}

/* The table and CSV printers on the same report: they must not fail or crash. */
static void print_other_formats(const model *m, input *in) {
    pk_report *r = NULL;
    int format = take_byte(in) % 2 ? PK_FORMAT_CSV : PK_FORMAT_TABLE;
    FUZZ_CHECK(pk_report_new(&r, m->program, format) == 0);
    for (int i = 0; i < m->nparams; i++)
        pk_report_param(r, m->params[i].key, "%s", m->params[i].value);
    for (int i = 0; i < m->nresults; i++)
        pk_report_result_str(r, m->results[i].key, "%s", m->results[i].value);
    pk_report_runs(r, m->rows, m->nrows, m->rate_unit);
    pk_report_set_quiet(r, take_byte(in) % 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(pk_report_print(r, f) == 0);
    fclose(f);
    free(buf);
    pk_report_free(r);
}

/* ---- checking the JSON against the model ---- */

static void check_items(const json *obj, const item *list, int n) {
    FUZZ_CHECK(obj != NULL && obj->kind == JSON_OBJECT && obj->n == (size_t)n);
    for (int i = 0; i < n; i++) {
        char *key = expected_text(list[i].key);
        FUZZ_CHECK(strcmp(obj->keys[i], key) == 0);
        free(key);
        const json *v = &obj->items[i];
        if (!list[i].quoted && is_json_number(list[i].value))
            FUZZ_CHECK(v->kind == JSON_NUMBER && strcmp(v->text, list[i].value) == 0);
        else
            check_string(v, list[i].value);
    }
}

static void check_double(const json *v, double want, double tolerance) {
    FUZZ_CHECK(v != NULL);
    if (!isfinite(want)) {
        FUZZ_CHECK(v->kind == JSON_NULL);
        return;
    }
    FUZZ_CHECK(v->kind == JSON_NUMBER);
    double got = strtod(v->text, NULL);
    FUZZ_CHECK(fabs(got - want) <= tolerance * fabs(want));
}

static void check_int(const json *v, int want) {
    FUZZ_CHECK(v != NULL && v->kind == JSON_NUMBER && strtol(v->text, NULL, 10) == want);
}

static void check_row(const json *o, const pk_stats *s) {
    static const char *keys[] = {
        "ranks",  "threads", "threads_obtained", "pool",       "runs", "min",
        "median", "max",     "speedup",          "efficiency", "rate"};
    FUZZ_CHECK(o->kind == JSON_OBJECT && o->n == sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < o->n; i++)
        FUZZ_CHECK(strcmp(o->keys[i], keys[i]) == 0);
    check_int(&o->items[0], s->ranks);
    check_int(&o->items[1], s->threads);
    check_int(&o->items[2], s->threads_got);
    check_int(&o->items[3], s->pool);
    check_int(&o->items[4], s->runs);
    check_double(&o->items[5], s->min, 1e-8);
    check_double(&o->items[6], s->median, 1e-8);
    check_double(&o->items[7], s->max, 1e-8);
    check_double(&o->items[8], s->speedup, 1e-5);
    check_double(&o->items[9], s->efficiency, 1e-5);
    check_double(&o->items[10], s->rate, 1e-5);
}

static const char *backend_of(const model *m) {
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].key, "backend") == 0)
            return m->params[i].value;
    return "";
}

static void check_top(const json *j, const model *m) {
    static const char *keys[] = {"program",    "version",   "backend", "params", "result",
                                 "validation", "rate_unit", "runs",    "notes"};
    size_t want = sizeof keys / sizeof keys[0] + (m->validated == 0);
    FUZZ_CHECK(j->kind == JSON_OBJECT && j->n == want);
    for (size_t i = 0, k = 0; i < j->n; i++) {
        const char *key = i == 6 && m->validated == 0 ? "validation_detail" : keys[k++];
        FUZZ_CHECK(strcmp(j->keys[i], key) == 0);
    }
    check_string(json_get(j, "program"), m->program);
    check_string(json_get(j, "version"), PARKIT_VERSION);
    check_string(json_get(j, "backend"), backend_of(m));
    check_items(json_get(j, "params"), m->params, m->nparams);
    check_items(json_get(j, "result"), m->results, m->nresults);
    check_string(json_get(j, "validation"), m->validated == 1   ? "PASSED"
                                            : m->validated == 0 ? "FAILED"
                                                                : "NOT RUN");
    if (m->validated == 0)
        check_string(json_get(j, "validation_detail"), m->detail);
    const char *unit = m->rate_unit != NULL && m->rate_unit[0] ? m->rate_unit : "items/s";
    check_string(json_get(j, "rate_unit"), unit);
    const json *runs = json_get(j, "runs");
    FUZZ_CHECK(runs != NULL && runs->kind == JSON_ARRAY && runs->n == (size_t)m->nrows);
    for (int i = 0; i < m->nrows; i++)
        check_row(&runs->items[i], &m->rows[i]);
    const json *notes = json_get(j, "notes");
    FUZZ_CHECK(notes != NULL && notes->kind == JSON_ARRAY && notes->n == (size_t)m->nnotes);
    for (int i = 0; i < m->nnotes; i++)
        check_string(&notes->items[i], m->notes[i].value);
}

static void check_json(const pk_report *r, const model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(pk_report_print(r, f) == 0);
    fclose(f);
    json j;
    const char *err = NULL;
    size_t at = 0;
    if (json_parse(buf, len, &j, &err, &at) != 0) {
        fprintf(stderr, "invalid JSON (%s at offset %zu):\n%s\n", err, at, buf);
        abort();
    }
    check_top(&j, m);
    json_free(&j);
    free(buf);
}

static void free_model(model *m) {
    for (int i = 0; i < m->nparams; i++)
        free(m->params[i].key), free(m->params[i].value);
    for (int i = 0; i < m->nresults; i++)
        free(m->results[i].key), free(m->results[i].value);
    for (int i = 0; i < m->nnotes; i++)
        free(m->notes[i].key), free(m->notes[i].value);
    free(m->detail);
    free(m->rate_unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input in = {data, size};
    static model m;
    memset(&m, 0, sizeof m);
    m.validated = -1;
    char *program = take_string(&in, 40);
    pk_report *r = NULL;
    int rc = pk_report_new(&r, program, PK_FORMAT_JSON);
    if (strlen(program) >= 32) {
        FUZZ_CHECK(rc == PK_EINVAL && r == NULL);
        free(program);
        return 0;
    }
    FUZZ_CHECK(rc == 0 && r != NULL);
    snprintf(m.program, sizeof m.program, "%s", program);
    free(program);
    for (int op = 0; op < MAX_OPS && in.n > 0; op++) {
        unsigned kind = take_byte(&in) % 6;
        if (kind <= 3)
            add_item(r, &m, &in, (int)kind);
        else if (kind == 4)
            set_validation(r, &m, &in);
        else
            set_runs(r, &m, &in);
    }
    check_json(r, &m);
    print_other_formats(&m, &in);
    pk_report_free(r);
    free_model(&m);
    return 0;
}
