/* Command-line helpers shared by the parkit programs: number expressions, lists
 * and ranges, option tables, and the options every program takes. Parsing never
 * prints; the caller gets a reason string to show.
 *
 * Conventions (as everywhere in parkit):
 * - every fallible function returns an int status: 0, or a negative PK_E* code
 *   of parkit/error.h, with *why set to a static reason where there is one;
 * - outputs are written through pointer arguments, and only on success;
 * - an option is described once, in a table of pk_cli_option: the table drives
 *   the parsing (the getopt_long array is built from it), the applying and the
 *   --help text. */
#ifndef PARKIT_CLI_H
#define PARKIT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A number expression: terms joined by + or -, each term a decimal integer
 * ("10000000"), a power ("2^32", "10^9") or a mantissa and exponent ("1e10",
 * "2.5e9", which must come out whole). Examples: "1e10+7", "2^64-1", "2^32 - 5".
 * Anything that does not parse, is negative or passes the type's range fails
 * with PK_EINVAL or PK_ERANGE and *why set to a static reason. */
int pk_parse_u64(const char *text, uint64_t *value, const char **why);
int pk_parse_i64(const char *text, int64_t *value, const char **why);
/* A non-negative decimal number of any form strtod takes (delays, seconds). */
int pk_parse_double(const char *text, double *value, const char **why);

/* "1,2,4,8", with ranges "1..4" (= 1,2,3,4) as items. Each value in [min, max];
 * at most cap values. */
int pk_parse_int_list(const char *text, int min, int max, int *values, int cap, int *count,
                      const char **why);

/* "A..B" with A <= B (each a number expression). */
int pk_parse_u64_range(const char *text, uint64_t *a, uint64_t *b, const char **why);

/* One command-line option. A table is an array ended by an entry whose name is NULL. */
typedef struct pk_cli_option {
    const char *name;     /* long name without "--" */
    char short_name;      /* one-letter alias ('h'), or 0 */
    int has_arg;          /* 1: takes an argument, 0: a flag */
    const char *arg_name; /* the argument as the help shows it ("LIST"), NULL for a flag */
    const char *help;     /* '\n' starts an indented line; NULL: described by another entry */
    /* Applies the option to the table's target (arg is NULL for a flag): 0, or
     * PK_EINVAL / PK_ERANGE with *why set. */
    int (*apply)(void *target, const char *arg, const char **why);
} pk_cli_option;

/* The entry of table named name; NULL when there is none. */
const pk_cli_option *pk_cli_find(const pk_cli_option *table, const char *name);

/* Entries in a table (before its NULL entry). */
int pk_cli_count(const pk_cli_option *table);

/* Writes the help lines of a table to out: "      --threads LIST    text", the
 * text's further lines indented under the first. 0, or PK_EIO on a write error. */
int pk_cli_help(const pk_cli_option *table, FILE *out);

/* Options every program takes. */
enum { PK_CLI_MAX_LIST = 64 };

typedef struct pk_cli_common {
    const char *backend;          /* NULL: PARKIT_BACKEND or auto */
    int threads[PK_CLI_MAX_LIST]; /* --threads LIST */
    int nthreads;                 /* 0: default */
    int ranks[PK_CLI_MAX_LIST];   /* --ranks LIST */
    int nranks;
    int repeat;         /* --repeat N (default 3) */
    int warmup;         /* --warmup N (default 1) */
    int format;         /* enum pk_format */
    const char *plot;   /* --plot FILE: the sweep as an SVG picture, NULL: none */
    int quiet;          /* --quiet */
    int progress;       /* -1 auto, 0 off, 1 on */
    const char *inject; /* --inject-fault SPEC, else PARKIT_INJECT */
    int help, version;
} pk_cli_common;

void pk_cli_common_defaults(pk_cli_common *c);

/* The table of the common options; the target of their apply is a pk_cli_common. */
const pk_cli_option *pk_cli_common_options(void);

/* If `name` is a common option, applies it (arg is its argument or NULL) and
 * returns 1; returns 0 when it is not one; PK_EINVAL with *why on a bad value. */
int pk_cli_common_apply(pk_cli_common *c, const char *name, const char *arg, const char **why);

#ifdef __cplusplus
}
#endif

#endif
