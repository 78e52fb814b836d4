/* The one report printer every program uses, so the format cannot drift:
 * a header of aligned "key = value" lines, a result block, one validation line
 * and a table with one row per pool size; or the same as CSV or one JSON object.
 *
 * Conventions (as everywhere in parkit):
 * - every fallible function returns an int status: 0, or a negative PK_E* code
 *   of parkit/error.h;
 * - a constructor is fallible too: its output argument comes first and is NULL
 *   on failure (int pk_report_new(pk_report **r, ...));
 * - nothing is dropped silently: a setter whose table is full, or whose key or
 *   value does not fit, returns PK_ERANGE (a value that does not fit is stored
 *   cut short, an item that does not fit is not stored). */
#ifndef PARKIT_REPORT_H
#define PARKIT_REPORT_H

#include <stdio.h>

#include "parkit/timing.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pk_format { PK_FORMAT_TABLE = 0, PK_FORMAT_CSV = 1, PK_FORMAT_JSON = 2 };

/* The capacities of a report: items per table (parameters, results), notes,
 * characters of a key and of a value (each with its terminating NUL). */
enum {
    PK_REPORT_MAX_ITEMS = 48,
    PK_REPORT_MAX_NOTES = 8,
    PK_REPORT_KEY_LEN = 40,
    PK_REPORT_VALUE_LEN = 1024
};

typedef struct pk_report pk_report;

/* A new, empty report. PK_EINVAL for a NULL argument, an unknown format or a
 * program name of 32 characters or more; PK_ENOMEM. *r is NULL on failure. */
int pk_report_new(pk_report **r, const char *program, int format);
void pk_report_free(pk_report *r);

/* Header parameters, in order ("backend", "omp"). Value as printf. 0 or PK_ERANGE. */
int pk_report_param(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Results. A string result is quoted in JSON; a number result is not. 0 or PK_ERANGE. */
int pk_report_result_str(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int pk_report_result_num(pk_report *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* passed: 1 or 0; detail says why it failed (or NULL). 0 or PK_ERANGE (detail cut). */
int pk_report_validation(pk_report *r, int passed, const char *detail);
/* The sweep's rows; rate_unit names the rate column ("GB/s", "numbers/s").
 * 0, PK_EINVAL (n < 0, or rows NULL with n > 0), PK_ENOMEM, or PK_ERANGE when
 * rate_unit does not fit (the rows are kept). */
int pk_report_runs(pk_report *r, const pk_stats *rows, int n, const char *rate_unit);
/* A note printed after the table (table format) or in "notes" (JSON). 0 or PK_ERANGE. */
int pk_report_note(pk_report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Quiet: the table format prints only the results and the validation line. */
void pk_report_set_quiet(pk_report *r, int quiet);

/* Prints everything to out. PK_EINVAL for a NULL argument, PK_EIO on a write error.
 * JSON is always valid JSON (RFC 8259): strings are escaped, and text that is not
 * UTF-8 has each byte that does not start a UTF-8 sequence written as U+FFFD; a
 * number result whose text is not a JSON number ("nan", "inf", a word) is written
 * as a string; a row's time, speedup, efficiency or rate that is NaN or infinite
 * is written as null. */
int pk_report_print(const pk_report *r, FILE *out);

/* Parses "table", "csv", "json"; -1 when none of them. */
int pk_format_parse(const char *s);

#ifdef __cplusplus
}
#endif

#endif
