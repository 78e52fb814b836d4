/* A small strict JSON reader (RFC 8259) for checking what parkit writes: the
 * whole text must be one value; strings must be UTF-8 without raw control
 * characters, with valid escapes (surrogate pairs paired); numbers must follow
 * the JSON grammar (no NaN, no inf, no leading zeros, no '+'). */
#ifndef PARKIT_FUZZ_JSON_MINI_H
#define PARKIT_FUZZ_JSON_MINI_H

#include <stddef.h>

enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct json {
    enum json_kind kind;
    int boolean;
    char *text;         /* a string decoded (UTF-8, NUL-terminated), or a number as written */
    size_t len;         /* bytes of text */
    struct json *items; /* array items, or object member values */
    char **keys;        /* object member keys, decoded, in order */
    size_t n;           /* items (and keys) */
} json;

/* Parses text[0..len): 0 and *out, or -1 with *err pointing to a reason and
 * *at to the offset. Free *out with json_free. */
int json_parse(const char *text, size_t len, json *out, const char **err, size_t *at);
void json_free(json *v);

/* The member named key of an object (the first one), or NULL. */
const json *json_get(const json *obj, const char *key);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
int json_utf8_valid(const unsigned char *s, size_t len);

#endif
