/* A small strict JSON reader for the fuzz targets and their corpus replay; see
 * json_mini.h. Recursion is bounded so deep input cannot exhaust the stack. */
#include "json_mini.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64 };

typedef struct reader {
    const char *s;
    size_t len, pos;
    const char *err;
} reader;

static int fail(reader *r, const char *why) {
    if (r->err == NULL)
        r->err = why;
    return -1;
}

static void skip_ws(reader *r) {
    while (r->pos < r->len && strchr(" \t\r\n", r->s[r->pos]) != NULL && r->s[r->pos] != '\0')
        r->pos++;
}

static int peek(const reader *r) {
    return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

/* Bytes of the UTF-8 sequence at s (n bytes left), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    if (s[0] < 0x80)
        return 1;
    size_t need = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
                  : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                  : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                 : 0;
    if (need == 0 || n < need)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0; /* overlong, surrogate, above U+10FFFF */
    return need;
}

int json_utf8_valid(const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(s + i, len - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* Appends c to a growing buffer; -1 without memory. */
static int put(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t want = (*cap ? *cap * 2 : 32) + n;
        char *b = realloc(*buf, want);
        if (b == NULL)
            return -1;
        *buf = b;
        *cap = want;
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int hex4(reader *r, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(r);
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16)
            return fail(r, "bad \\u escape");
        *v = *v * 16 + d;
        r->pos++;
    }
    return 0;
}

/* The code point of a \u escape (r at the 'u'), pairing surrogates. */
static int unicode_escape(reader *r, unsigned *cp) {
    r->pos++;
    if (hex4(r, cp) != 0)
        return -1;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return fail(r, "lone low surrogate");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (peek(r) != '\\' || (r->pos++, peek(r)) != 'u')
            return fail(r, "high surrogate without its pair");
        r->pos++;
        if (hex4(r, &lo) != 0)
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(r, "high surrogate without its pair");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return 0;
}

static size_t encode_utf8(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after a backslash (r at the character after it) into the buffer. */
static int escape(reader *r, char **buf, size_t *len, size_t *cap) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    int c = peek(r);
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (hit != NULL) {
        r->pos++;
        return put(buf, len, cap, &to[hit - from], 1);
    }
    unsigned cp;
    char utf8[4];
    if (c != 'u')
        return fail(r, "bad escape");
    if (unicode_escape(r, &cp) != 0)
        return -1;
    if (cp == 0)
        return fail(r, "\\u0000 in a string");
    return put(buf, len, cap, utf8, encode_utf8(cp, utf8));
}

static int string(reader *r, char **out, size_t *out_len) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    r->pos++; /* the opening quote */
    int rc = put(&buf, &len, &cap, "", 0);
    while (rc == 0) {
        int c = peek(r);
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0)
            rc = fail(r, "unterminated string");
        else if (c < 0x20)
            rc = fail(r, "raw control character in a string");
        else if (c == '\\') {
            r->pos++;
            rc = escape(r, &buf, &len, &cap);
        } else {
            size_t k = utf8_seq((const unsigned char *)r->s + r->pos, r->len - r->pos);
            rc = k == 0 ? fail(r, "invalid UTF-8 in a string")
                        : put(&buf, &len, &cap, r->s + r->pos, k);
            r->pos += k;
        }
    }
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static size_t digits(reader *r) {
    size_t n = 0;
    while (peek(r) >= '0' && peek(r) <= '9')
        r->pos++, n++;
    return n;
}

static int number(reader *r, json *v) {
    size_t start = r->pos;
    if (peek(r) == '-')
        r->pos++;
    if (peek(r) == '0')
        r->pos++;
    else if (digits(r) == 0)
        return fail(r, "bad number");
    if (peek(r) == '.') {
        r->pos++;
        if (digits(r) == 0)
            return fail(r, "bad fraction");
    }
    if (peek(r) == 'e' || peek(r) == 'E') {
        r->pos++;
        if (peek(r) == '+' || peek(r) == '-')
            r->pos++;
        if (digits(r) == 0)
            return fail(r, "bad exponent");
    }
    v->kind = JSON_NUMBER;
    v->len = r->pos - start;
    v->text = malloc(v->len + 1);
    if (v->text == NULL)
        return fail(r, "no memory");
    memcpy(v->text, r->s + start, v->len);
    v->text[v->len] = '\0';
    return 0;
}

static int literal(reader *r, const char *word, json *v, enum json_kind kind, int b) {
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
        return fail(r, "unexpected character");
    r->pos += n;
    v->kind = kind;
    v->boolean = b;
    return 0;
}

static int value(reader *r, json *v, int depth);

/* Grows the items (and keys) of v by one: the new item, or NULL. */
static json *grow(json *v, int with_key) {
    json *items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (items == NULL)
        return NULL;
    v->items = items;
    if (with_key) {
        char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
        if (keys == NULL)
            return NULL;
        v->keys = keys;
        keys[v->n] = NULL;
    }
    memset(&items[v->n], 0, sizeof *items);
    return &items[v->n++];
}

static int member(reader *r, json *v, int depth) {
    skip_ws(r);
    if (peek(r) != '"')
        return fail(r, "expected a key");
    json *item = grow(v, 1);
    if (item == NULL)
        return fail(r, "no memory");
    size_t klen;
    if (string(r, &v->keys[v->n - 1], &klen) != 0)
        return -1;
    skip_ws(r);
    if (peek(r) != ':')
        return fail(r, "expected ':'");
    r->pos++;
    return value(r, item, depth + 1);
}

/* An array or an object (r at its opening bracket). */
static int container(reader *r, json *v, int depth, int is_object) {
    char close = is_object ? '}' : ']';
    v->kind = is_object ? JSON_OBJECT : JSON_ARRAY;
    r->pos++;
    skip_ws(r);
    if (peek(r) == close) {
        r->pos++;
        return 0;
    }
    for (;;) {
        json *item = is_object ? NULL : grow(v, 0);
        if (!is_object && item == NULL)
            return fail(r, "no memory");
        if ((is_object ? member(r, v, depth) : value(r, item, depth + 1)) != 0)
            return -1;
        skip_ws(r);
        int c = peek(r);
        r->pos++;
        if (c == close)
            return 0;
        if (c != ',')
            return fail(r, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(reader *r, json *v, int depth) {
    if (depth > MAX_DEPTH)
        return fail(r, "nested too deeply");
    skip_ws(r);
    int c = peek(r);
    if (c == '{' || c == '[')
        return container(r, v, depth, c == '{');
    if (c == '"') {
        v->kind = JSON_STRING;
        return string(r, &v->text, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return number(r, v);
    if (c == 't')
        return literal(r, "true", v, JSON_BOOL, 1);
    if (c == 'f')
        return literal(r, "false", v, JSON_BOOL, 0);
    if (c == 'n')
        return literal(r, "null", v, JSON_NULL, 0);
    return fail(r, c < 0 ? "unexpected end" : "unexpected character");
}

int json_parse(const char *text, size_t len, json *out, const char **err, size_t *at) {
    reader r = {.s = text, .len = len};
    memset(out, 0, sizeof *out);
    int rc = value(&r, out, 0);
    if (rc == 0) {
        skip_ws(&r);
        if (r.pos != r.len)
            rc = fail(&r, "trailing text");
    }
    if (rc != 0) {
        json_free(out);
        *err = r.err;
        *at = r.pos;
    }
    return rc;
}

void json_free(json *v) {
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys != NULL)
            free(v->keys[i]);
        json_free(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->text);
    memset(v, 0, sizeof *v);
}

const json *json_get(const json *obj, const char *key) {
    if (obj == NULL || obj->kind != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i] != NULL && strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}
