/* Fuzz target: the number expressions and lists of parkit/cli.h ("1e10",
 * "2^64-1", "1e10+7", "1..4,8"). Besides not crashing (ASan, UBSan: overflow in
 * the 128-bit arithmetic), it checks what a caller relies on: a failure gives
 * PK_EINVAL or PK_ERANGE with a reason; a value read back from its decimal form is
 * the same value; the unsigned and signed parsers agree; plain digits read as
 * strtoull reads them; lists and ranges hold what they promise. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "fuzz_target.h"
#include "parkit/cli.h"
#include "parkit/error.h"

static void check_failure(int rc, const char *why) {
    FUZZ_CHECK(rc == PK_EINVAL || rc == PK_ERANGE);
    FUZZ_CHECK(why != NULL && why[0] != '\0');
}

static int only_digits(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 19)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int starts_negative(const char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '-';
}

static void check_u64(const char *s) {
    uint64_t u = 0, back = 0;
    int64_t i = 0;
    const char *why = NULL;
    int rc = pk_parse_u64(s, &u, &why);
    if (only_digits(s)) /* below 10^19: always in range */
        FUZZ_CHECK(rc == 0 && u == strtoull(s, NULL, 10));
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, u);
    FUZZ_CHECK(pk_parse_u64(text, &back, NULL) == 0 && back == u);
    if (u <= INT64_MAX)
        FUZZ_CHECK(pk_parse_i64(s, &i, NULL) == 0 && (uint64_t)i == u);
}

static void check_i64(const char *s) {
    int64_t v = 0, back = 0;
    uint64_t u = 0;
    const char *why = NULL;
    int rc = pk_parse_i64(s, &v, &why);
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, v);
    FUZZ_CHECK(pk_parse_i64(text, &back, NULL) == 0 && back == v);
    if (v >= 0 && !starts_negative(s))
        FUZZ_CHECK(pk_parse_u64(s, &u, NULL) == 0 && u == (uint64_t)v);
}

static void check_double(const char *s) {
    double d = -1;
    const char *why = NULL;
    int rc = pk_parse_double(s, &d, &why);
    if (rc != 0)
        check_failure(rc, why);
    else
        FUZZ_CHECK(isfinite(d) && d >= 0);
}

static void check_list(const char *s) {
    int values[PK_CLI_MAX_LIST], count = -1;
    const char *why = NULL;
    int rc = pk_parse_int_list(s, 1, 4096, values, PK_CLI_MAX_LIST, &count, &why);
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    FUZZ_CHECK(count >= 1 && count <= PK_CLI_MAX_LIST);
    for (int k = 0; k < count; k++)
        FUZZ_CHECK(values[k] >= 1 && values[k] <= 4096);
}

static void check_range(const char *s) {
    uint64_t a = 0, b = 0;
    const char *why = NULL;
    int rc = pk_parse_u64_range(s, &a, &b, &why);
    if (rc != 0)
        check_failure(rc, why);
    else
        FUZZ_CHECK(a <= b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstring(data, size);
    if (s == NULL)
        return 0;
    check_u64(s);
    check_i64(s);
    check_double(s);
    check_list(s);
    check_range(s);
    free(s);
    return 0;
}
