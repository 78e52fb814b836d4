/* The one report printer every program uses, so the format cannot drift:
 * a header of aligned "key = value" lines, a result block, one validation line
 * and a table with one row per pool size; or the same as CSV or one JSON object. */
#ifndef PARKIT_REPORT_H
#define PARKIT_REPORT_H

#include <stdio.h>

#include "parkit/timing.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pk_format { PK_FORMAT_TABLE = 0, PK_FORMAT_CSV = 1, PK_FORMAT_JSON = 2 };

typedef struct pk_report pk_report;

/* NULL when out of memory. */
pk_report *pk_report_new(const char *program, int format);
void pk_report_free(pk_report *r);

/* Header parameters, in order ("backend", "omp"). Value as printf. */
void pk_report_param(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Results. A string result is quoted in JSON; a number result is not. */
void pk_report_result_str(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void pk_report_result_num(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* passed: 1 or 0; detail says why it failed (or NULL). */
void pk_report_validation(pk_report *r, int passed, const char *detail);
/* The sweep's rows; rate_unit names the rate column ("GB/s", "numbers/s"). */
void pk_report_runs(pk_report *r, const pk_stats *rows, int n, const char *rate_unit);
/* A note printed after the table (table format) or in "notes" (JSON). */
void pk_report_note(pk_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Quiet: the table format prints only the results and the validation line. */
void pk_report_set_quiet(pk_report *r, int quiet);

/* Prints everything to out. PK_EIO on a write error. */
int pk_report_print(const pk_report *r, FILE *out);

/* Parses "table", "csv", "json"; -1 when none of them. */
int pk_format_parse(const char *s);

#ifdef __cplusplus
}
#endif

#endif
